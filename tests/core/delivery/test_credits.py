"""X out of credits (402): X work pauses with nothing lost, one message says to top up, and it resumes."""

from __future__ import annotations

import pytest

from core.delivery import outbox as publish
from core.delivery.outbox import PublishSettings, credits
from core.feedback.inbox import refresh_mentions
from core.feedback.results import refresh_metrics
from core.workspace import Workspace
from tests.conftest import FAKE_X_KEYS
from tests.core.conftest import cli_json

TEXTS = ("Chia pudding, three ways", "Why we love fermented oats", "A salad for hot evenings")


@pytest.fixture
def fast(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The workspace with no backoff wait, also as the command line's REACH_HOME."""
    PublishSettings.load(workspace).save(
        workspace, retry_base_seconds=0.0, request_timeout_seconds=2.0, claim_lease_seconds=10.0
    )
    monkeypatch.setenv("REACH_HOME", str(workspace.home))
    monkeypatch.setenv("REACH_DEMO", "0")
    return workspace


def _let_the_pause_pass(ws: Workspace) -> None:
    """Time passes: the paused channel's next try is due (no sleeping in tests)."""
    with ws.connect() as con:
        con.execute("UPDATE settings SET value = '2000-01-01T00:00:00+00:00' WHERE key = 'credits.x.retry_at'")


def test_402_keeps_posts_approved_then_resumes_with_nothing_lost(fast: Workspace, x_env, capsys) -> None:
    posts = [publish.add_post(fast, text, approve=True) for text in TEXTS]
    ids = [p.id for p in posts]
    x_env.out_of_credits = True

    report = publish.publish_due(fast)
    assert (report.published, report.failed, report.deferred) == ([], [], ids)
    assert x_env.requests.count(("POST", "/2/tweets")) == 1  # one try; the others wait without a call
    listed = {row["post_id"]: row for row in cli_json(capsys, ["outbox", "list", "--json"])}
    for post_id in ids:
        assert listed[post_id]["state"] == "approved"
        assert "out of credits" in listed[post_id]["last_error"]
        assert "top up" in listed[post_id]["last_error"]
    pause = credits.paused(fast, "x")
    assert pause is not None and "Developer Console" in pause.message

    # still paused: the next runs ask X nothing, and nothing fails
    assert publish.publish_due(fast).deferred == ids
    assert x_env.requests.count(("POST", "/2/tweets")) == 1
    # the pause period passes, still no credits: one more try, still paused
    _let_the_pause_pass(fast)
    assert publish.publish_due(fast).deferred == ids
    assert x_env.requests.count(("POST", "/2/tweets")) == 2

    x_env.out_of_credits = False  # the operator topped up
    _let_the_pause_pass(fast)
    assert publish.publish_due(fast).published == ids
    assert x_env.texts() == list(TEXTS)  # each exactly once, in order
    assert credits.paused(fast, "x") is None
    assert all(publish.get_post(fast, i).last_error is None for i in ids)


def test_one_top_up_message_in_the_cli_and_no_key_in_it(fast: Workspace, x_env, capsys) -> None:
    for text in TEXTS:
        publish.add_post(fast, text, approve=True)
    x_env.out_of_credits = True
    from core.cli import main

    assert main(["publish-due"]) == 0
    out = capsys.readouterr().out
    assert out.count("top up") == 1, out
    assert "deferred" in out
    assert not any(value in out for value in FAKE_X_KEYS.values())


def test_metrics_and_mentions_wait_while_x_is_out_of_credits(fast: Workspace, x_env) -> None:
    post = publish.add_post(fast, TEXTS[0], approve=True)
    assert publish.publish_due(fast).published == [post.id]
    x_env.add_mention("@reach_test when is the next batch?")
    x_env.out_of_credits = True
    metrics = refresh_metrics(fast)
    assert metrics.updated == 0 and "top up" in metrics.message()
    calls = len(x_env.requests)
    # paused now: neither metrics nor mentions ask X
    assert "top up" in refresh_metrics(fast).message()
    assert "top up" in refresh_mentions(fast).message
    assert len(x_env.requests) == calls

    x_env.out_of_credits = False
    _let_the_pause_pass(fast)
    assert refresh_mentions(fast).new == 1
    assert refresh_metrics(fast).updated == 1
    assert credits.paused(fast, "x") is None


def test_try_now_lifts_the_wait_at_once(fast: Workspace, x_env) -> None:
    post = publish.add_post(fast, TEXTS[1], approve=True)
    x_env.out_of_credits = True
    publish.publish_due(fast)
    x_env.out_of_credits = False
    assert publish.publish_due(fast).deferred == [post.id]  # paused: not asked
    credits.try_now(fast, "x")
    assert publish.publish_due(fast).published == [post.id]


def test_any_answered_call_ends_the_pause_and_its_notes(fast: Workspace, x_env) -> None:
    post = publish.add_post(fast, TEXTS[2], approve=True)
    x_env.out_of_credits = True
    publish.publish_due(fast)
    assert "out of credits" in publish.get_post(fast, post.id).last_error
    x_env.out_of_credits = False
    _let_the_pause_pass(fast)
    assert refresh_mentions(fast).message == "No new mentions."  # the inbox's fetch is the try, and X answers
    assert credits.paused(fast, "x") is None
    waiting = publish.get_post(fast, post.id)
    assert (waiting.state, waiting.last_error) == ("approved", None)  # no stale note; it goes on the next run
