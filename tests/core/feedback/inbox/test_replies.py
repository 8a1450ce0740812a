"""Replies through the fake X, exactly once: after a 5xx, a timeout, two calls at once or a process that died."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from core.delivery import outbox as publish
from core.delivery.outbox import PublishSettings
from core.feedback import inbox
from core.feedback.inbox import InboxError
from core.workspace import Workspace
from tests.core.feedback.inbox.conftest import PRAISE, QUESTION


@pytest.fixture
def fast(workspace: Workspace) -> Workspace:
    """Short timeouts and no backoff wait, so a retry happens on the next call."""
    PublishSettings.load(workspace).save(
        workspace, retry_base_seconds=0.0, request_timeout_seconds=0.5, claim_lease_seconds=5.0
    )
    return workspace


def _mention(fake, ws: Workspace, text: str = QUESTION, *, author_id: str = "7", username: str = "ana") -> str:
    tweet = fake.add_mention(f"@reach_test {text}", author_id=author_id, username=username)
    inbox.refresh_mentions(ws)
    return tweet.id


def test_reply_goes_out_once_as_a_reply_and_marks_the_mention_handled(fast: Workspace, x_env) -> None:
    mention_id = _mention(x_env, fast)
    result = inbox.reply(fast, mention_id)
    assert result.created and result.post.state == "published"
    [tweet] = x_env.tweets
    assert tweet.in_reply_to_tweet_id == mention_id and tweet.text.startswith("@ana Thanks for asking!")
    assert result.post.url == f"https://x.com/reach_test/status/{tweet.id}"
    item = inbox.get_mention(fast, mention_id)
    assert item.handled and (item.reply_post_id, item.reply_state) == (result.post.id, "published")
    again = inbox.reply(fast, mention_id, text="@ana something else")
    assert (again.created, again.post.id, again.outcome) == (False, result.post.id, None)
    assert "answered already" in again.message
    assert len(x_env.tweets) == 1 and x_env.requests.count(("POST", "/2/tweets")) == 1


def test_5xx_then_success_posts_one_reply(fast: Workspace, x_env) -> None:
    mention_id = _mention(x_env, fast)
    x_env.fail_next(503)
    first = inbox.reply(fast, mention_id)
    assert first.outcome.result == "deferred" and first.post.state == "scheduled"
    assert "server error (503)" in first.post.last_error
    second = inbox.reply(fast, mention_id)  # the same post, published now
    assert (second.created, second.post.id, second.post.state) == (False, first.post.id, "published")
    [tweet] = x_env.tweets
    assert tweet.in_reply_to_tweet_id == mention_id
    assert len(publish.list_posts(fast)) == 1


def test_timeout_after_x_created_the_reply_is_reconciled_not_resent(fast: Workspace, x_env) -> None:
    mention_id = _mention(x_env, fast)
    x_env.delay_next(3)  # X creates the reply, then answers after our 0.5 s timeout
    first = inbox.reply(fast, mention_id)
    assert first.outcome.result == "deferred" and "did not answer in time" in first.post.last_error
    second = inbox.reply(fast, mention_id)
    assert second.post.state == "published" and second.post.id == first.post.id
    [tweet] = x_env.tweets
    assert (second.post.remote_id, tweet.in_reply_to_tweet_id) == (tweet.id, mention_id)
    assert x_env.requests.count(("POST", "/2/tweets")) == 1
    assert publish.post_attempts(fast, first.post.id)[-1]["outcome"] == "reconciled"


def test_two_calls_at_once_for_one_mention_create_one_reply(fast: Workspace, x_env) -> None:
    mention_id = _mention(x_env, fast)
    PublishSettings.load(fast).save(fast, request_timeout_seconds=10.0, claim_lease_seconds=30.0)
    x_env.hold_next_post()
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", inbox.reply(fast, mention_id)))
    first.start()
    try:
        assert x_env.post_received.wait(10)
        second = inbox.reply(fast, mention_id)  # the second click, while the first is sending
    finally:
        x_env.release()
        first.join(15)
    assert (second.created, second.post.state) == (False, "publishing")
    assert results["first"].created and results["first"].post.state == "published"
    assert second.post.id == results["first"].post.id
    assert len(x_env.tweets) == 1 and x_env.tweets[0].in_reply_to_tweet_id == mention_id
    assert len(publish.list_posts(fast)) == 1


def test_the_same_thanks_to_two_customers_goes_out_twice(fast: Workspace, x_env) -> None:
    first = _mention(x_env, fast, PRAISE, author_id="7", username="ana")
    second = _mention(x_env, fast, PRAISE + "!", author_id="8", username="bo")
    thanks = "Thank you so much, that made our whole team smile today!"
    assert inbox.reply(fast, first, text=f"@ana {thanks}").post.state == "published"
    assert inbox.reply(fast, second, text=f"@bo {thanks}").post.state == "published"
    assert [(t.text, t.in_reply_to_tweet_id) for t in x_env.tweets] == [
        (f"@ana {thanks}", first),
        (f"@bo {thanks}", second),
    ]
    # standalone posts are still compared with each other
    publish.add_post(fast, "Thank you so much, that made our whole team smile today", approve=True)
    with pytest.raises(publish.PreflightError, match="nearly the same as post"):
        publish.add_post(fast, "Thank you so much, that made our whole team smile today!", approve=True)


def test_a_failed_reply_is_retried_once_the_problem_is_fixed(fast: Workspace, x_env) -> None:
    mention_id = _mention(x_env, fast)
    x_env.fail_next(401)
    failed = inbox.reply(fast, mention_id)
    assert failed.post.state == "failed" and "Reconnect your X keys" in failed.post.last_error
    repeat = inbox.reply(fast, mention_id)  # nothing new: the failed post is reported
    assert (repeat.post.id, repeat.post.state, repeat.outcome) == (failed.post.id, "failed", None)
    assert not x_env.tweets
    retried = inbox.retry_reply(fast, mention_id)
    assert (retried.post.id, retried.post.state) == (failed.post.id, "published")
    assert [t.in_reply_to_tweet_id for t in x_env.tweets] == [mention_id]
    with pytest.raises(InboxError, match="no failed reply to retry"):
        inbox.retry_reply(fast, mention_id)


def test_a_reply_made_by_a_process_that_died_before_linking_it_is_found_not_duplicated(fast: Workspace, x_env) -> None:
    mention_id = _mention(x_env, fast)
    # the process queued the reply, then died before writing the link (and left its claim behind)
    orphan = publish.add_post(fast, "@ana Orders ship within 24 hours.", approve=True, in_reply_to=mention_id)
    with fast.connect() as con:
        con.execute(
            "UPDATE mentions SET reply_claim = 'dead', reply_claimed_at = ? WHERE id = ?",
            ((datetime.now(UTC) - timedelta(minutes=5)).isoformat(), mention_id),
        )
    result = inbox.reply(fast, mention_id)
    assert (result.created, result.post.id, result.post.state) == (False, orphan.id, "published")
    assert [(t.text, t.in_reply_to_tweet_id) for t in x_env.tweets] == [
        ("@ana Orders ship within 24 hours.", mention_id)
    ]
    assert inbox.get_mention(fast, mention_id).reply_post_id == orphan.id


def test_a_deleted_failed_reply_leaves_the_mention_answerable_again(fast: Workspace, x_env) -> None:
    mention_id = _mention(x_env, fast)
    x_env.fail_next(403)
    failed = inbox.reply(fast, mention_id)
    assert failed.post.state == "failed"
    publish.delete_post(fast, failed.post.id)  # the outbox may delete it: no foreign key holds it
    assert inbox.get_mention(fast, mention_id).reply_post_id is None
    again = inbox.reply(fast, mention_id, text="@ana We deliver every day, weekends too.")
    assert again.created and again.post.state == "published"
    assert [t.in_reply_to_tweet_id for t in x_env.tweets] == [mention_id]
