"""The outbox: state machine, pre-flight, budget, time zones, and exactly-once delivery to a fake X."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.delivery import outbox as publish
from core.delivery.outbox import OutboxError, OutboxState, PreflightError, PublishSettings
from core.workspace import Workspace

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def fast(workspace: Workspace) -> Workspace:
    """The workspace with short timeouts and no backoff wait, so retries happen on the next run."""
    PublishSettings.load(workspace).save(
        workspace, retry_base_seconds=0.0, request_timeout_seconds=0.5, claim_lease_seconds=5.0
    )
    return workspace


def _run_until_settled(ws: Workspace, post_id: int, runs: int = 10) -> list[dict]:
    reports = []
    for _ in range(runs):
        reports.append(publish.publish_due(ws).as_json())
        if publish.get_post(ws, post_id).state in (OutboxState.PUBLISHED, OutboxState.FAILED):
            break
    return reports


def _clear_holds(ws: Workspace) -> None:
    """Let time pass for held-back posts (rate-limit resets in the past)."""
    with ws.connect() as con:
        con.execute("UPDATE outbox SET not_before = NULL")


# -- state machine -------------------------------------------------------------------------------
def test_draft_to_published_with_every_change_audited(workspace: Workspace, no_x_keys: None) -> None:
    post = publish.add_post(workspace, "Overnight oats, three ways")
    assert (post.state, post.channel) == ("draft", "dry-run")
    later = datetime(2031, 5, 1, 8, 0, tzinfo=UTC)
    post = publish.approve(workspace, post.id, at=later)
    assert (post.state, post.scheduled_at) == ("scheduled", "2031-05-01T08:00:00+00:00")
    assert publish.publish_due(workspace).as_json() == {"published": [], "deferred": [], "failed": []}
    post = publish.schedule(workspace, post.id, None)  # "publish as soon as possible"
    assert post.state == "approved"
    assert publish.publish_due(workspace).as_json() == {"published": [post.id], "deferred": [], "failed": []}
    post = publish.get_post(workspace, post.id)
    assert post.state == "published" and post.remote_id.startswith("dry-") and post.attempts == 1
    actions = [e["action"] for e in reversed(workspace.audit_entries())]
    assert actions == ["post.add", "post.approve", "post.schedule", "post.claim", "post.published"]


def test_actions_refused_in_the_wrong_state(workspace: Workspace, no_x_keys: None) -> None:
    post = publish.add_post(workspace, "Kombucha basics", approve=True)
    with pytest.raises(OutboxError, match="only drafts and failed posts can be approved"):
        publish.approve(workspace, post.id)
    with pytest.raises(OutboxError, match="only failed posts can be retried"):
        publish.retry(workspace, post.id)
    publish.publish_due(workspace)
    with pytest.raises(OutboxError, match="published; it can no longer be edited"):
        publish.edit_post(workspace, post.id, text="changed")
    with pytest.raises(OutboxError, match="stays in the history"):
        publish.delete_post(workspace, post.id)
    with pytest.raises(OutboxError, match="post 99 does not exist"):
        publish.get_post(workspace, 99)


def test_editing_a_queued_post_takes_it_back_to_draft(workspace: Workspace, no_x_keys: None) -> None:
    post = publish.add_post(workspace, "Matcha latte recipe", approve=True)
    post = publish.edit_post(workspace, post.id, text="Matcha latte recipe, no sugar")
    assert (post.state, post.text) == ("draft", "Matcha latte recipe, no sugar")
    assert publish.publish_due(workspace).published == []
    post = publish.unapprove(workspace, publish.approve(workspace, post.id).id)
    assert post.state == "draft"
    publish.delete_post(workspace, post.id)
    assert publish.list_posts(workspace) == []


# -- pre-flight ----------------------------------------------------------------------------------
def test_over_length_is_refused_by_weighted_length(workspace: Workspace) -> None:
    assert publish.weighted_length("https://example.com/" + "a" * 200) == 23
    assert publish.weighted_length("健康饮食") == 8
    with pytest.raises(PreflightError, match=r"282 characters by X's count .* over the limit of 280 by 2"):
        publish.add_post(workspace, "绿" * 141, channel="dry-run", approve=True)
    assert publish.list_posts(workspace) == []  # refused means not stored
    assert publish.add_post(workspace, "绿" * 140, channel="dry-run", approve=True).state == "approved"
    PublishSettings.load(workspace).save(workspace, char_limit=25_000)
    assert publish.add_post(workspace, "a" * 3000, channel="dry-run", approve=True).state == "approved"


def test_unpublishable_text_is_refused_before_approval(workspace: Workspace) -> None:
    with pytest.raises(PreflightError, match=r"an unfilled placeholder \(\{link\}\)"):
        publish.add_post(workspace, "New bundle is live: {link} #skincare", channel="dry-run", approve=True)
    with pytest.raises(PreflightError, match="starts with RT"):
        publish.add_post(workspace, "RT @someone our oat bars are back", channel="dry-run", approve=True)
    assert publish.list_posts(workspace) == []
    # the owner's own wording is theirs: no style rules on a typed post
    assert publish.add_post(workspace, "Chia pudding, 3 ways and", channel="dry-run", approve=True).state == "approved"


def test_near_duplicate_of_a_recent_post_is_refused(workspace: Workspace) -> None:
    publish.add_post(
        workspace, "Try our new protein granola today! https://shop.example/granola", channel="dry-run", approve=True
    )
    with pytest.raises(PreflightError, match="nearly the same as post 1"):
        publish.add_post(
            workspace, "Try our new protein granola today!! https://shop.example/g2", channel="dry-run", approve=True
        )
    assert (
        publish.add_post(workspace, "Five breakfasts under 300 kcal", channel="dry-run", approve=True).state
        == "approved"
    )


# -- budget --------------------------------------------------------------------------------------
def test_daily_budget_defers_then_resets(workspace: Workspace, no_x_keys: None) -> None:
    publish.save_daily_caps(workspace, {"dry-run": 2})
    ids = [
        publish.add_post(workspace, text, approve=True).id
        for text in ("Chia pudding", "Green juice myths", "Protein after a run")
    ]
    report = publish.publish_due(workspace)
    assert (report.published, report.deferred) == (ids[:2], [ids[2]])
    meter = publish.budget(workspace, "dry-run")
    first = publish.get_post(workspace, ids[0]).published_at
    assert (meter.used, meter.remaining) == (2, 0)
    assert meter.resets_at == (datetime.fromisoformat(first) + timedelta(hours=24)).isoformat()
    waiting = publish.get_post(workspace, ids[2])
    assert waiting.state == "scheduled" and waiting.not_before == meter.resets_at
    assert "daily budget of 2 posts used on Dry run" in waiting.last_error
    assert publish.publish_due(workspace).deferred == [ids[2]]  # still full: stays queued, not failed
    with workspace.connect() as con:  # a day passes
        con.execute("UPDATE outbox SET published_at = '2020-01-01T00:00:00+00:00' WHERE state = 'published'")
    _clear_holds(workspace)
    assert publish.budget(workspace, "dry-run").used == 0
    assert publish.publish_due(workspace).published == [ids[2]]


def test_each_channel_has_its_own_daily_cap(workspace: Workspace, no_x_keys: None, mastodon_env) -> None:
    assert publish.daily_caps(workspace) == {"x": 17, "mastodon": 300, "bluesky": 1_666, "dry-run": 10_000}
    with pytest.raises(OutboxError, match=r"daily cap on Bluesky \(0\) must be a whole number of posts between 1"):
        publish.save_daily_caps(workspace, {"mastodon": 5, "bluesky": 0})
    assert publish.daily_caps(workspace)["mastodon"] == 300  # nothing saved
    caps = publish.save_daily_caps(workspace, {"x": 40, "dry-run": 1})
    assert caps == {"x": 40, "mastodon": 300, "bluesky": 1_666, "dry-run": 1}
    assert PublishSettings.load(workspace).daily_budget == 40  # X's cap is the setting it always was
    dry = [
        publish.add_post(
            workspace, ("Overnight oats with chia", "Kale chips in ten minutes")[i - 1], channel="dry-run", approve=True
        ).id
        for i in (1, 2)
    ]
    toots = [
        publish.add_post(
            workspace,
            ("Kefir smoothie after the gym", "Miso soup on a cold evening")[i - 1],
            channel="mastodon",
            approve=True,
        ).id
        for i in (1, 2)
    ]
    report = publish.publish_due(workspace)
    assert sorted(report.published) == sorted([dry[0], *toots]) and report.deferred == [dry[1]]
    assert len(mastodon_env.texts()) == 2  # the dry run's full cap holds back no Mastodon post
    assert (publish.budget(workspace, "dry-run").used, publish.budget(workspace, "mastodon").used) == (1, 2)
    assert publish.budget(workspace, "mastodon").remaining == 298


# -- exactly once against the fake X ----------------------------------------------------------------
def test_publishes_to_x_with_link(fast: Workspace, x_env) -> None:
    post = publish.add_post(fast, "Golden milk before bed https://shop.example/turmeric", approve=True)
    assert post.channel == "x"
    assert publish.publish_due(fast).published == [post.id]
    post = publish.get_post(fast, post.id)
    [tweet] = x_env.tweets
    assert post.remote_id == tweet.id
    assert post.url == f"https://x.com/reach_test/status/{tweet.id}"
    assert publish.connected_account(fast) == "@reach_test"


def test_429_storm_defers_until_reset_and_posts_once(fast: Workspace, x_env) -> None:
    first = publish.add_post(fast, "Seed cycling explained", approve=True)
    second = publish.add_post(fast, "Three salads for hot days", approve=True)
    x_env.fail_next(429, count=4, reset_in=600)
    report = publish.publish_due(fast)
    assert report.deferred == [first.id, second.id]
    # the second post was held back without a call: one refused request
    assert x_env.requests.count(("POST", "/2/tweets")) == 1
    held = publish.get_post(fast, second.id)
    reset = datetime.fromisoformat(held.not_before)
    assert timedelta(minutes=9) < reset - datetime.now(UTC) <= timedelta(minutes=10)
    assert held.last_error.startswith("X rate limit: posting resumes at")
    assert publish.publish_due(fast).deferred == [first.id, second.id]  # still held: no call to X
    assert x_env.requests.count(("POST", "/2/tweets")) == 1
    for _ in range(3):  # the storm goes on after each reset
        _clear_holds(fast)
        assert publish.publish_due(fast).published == []
    _clear_holds(fast)
    assert publish.publish_due(fast).published == [first.id, second.id]
    assert x_env.texts() == ["Seed cycling explained", "Three salads for hot days"]
    assert [publish.get_post(fast, i).remote_id for i in (first.id, second.id)] == [t.id for t in x_env.tweets]


def test_5xx_is_retried_with_backoff_then_fails_with_reason(fast: Workspace, x_env) -> None:
    post = publish.add_post(fast, "Fermented foods 101", approve=True)
    x_env.fail_next(503, count=2)
    reports = _run_until_settled(fast, post.id)
    assert [r["deferred"] for r in reports] == [[post.id], [post.id], []]
    assert reports[-1]["published"] == [post.id]
    assert x_env.texts() == ["Fermented foods 101"]
    assert publish.get_post(fast, post.id).attempts == 3

    PublishSettings.load(fast).save(fast, max_attempts=2)
    doomed = publish.add_post(fast, "Why we skip seed oils", approve=True)
    x_env.fail_next(500, count=5)
    _run_until_settled(fast, doomed.id)
    doomed = publish.get_post(fast, doomed.id)
    assert doomed.state == "failed"
    assert doomed.last_error.startswith("gave up after 2 tries: X had a server error (500)")


def test_backoff_grows_exponentially(workspace: Workspace, x_env) -> None:
    PublishSettings.load(workspace).save(workspace, retry_base_seconds=60.0)
    post = publish.add_post(workspace, "Iron-rich breakfasts", approve=True)
    x_env.fail_next(502, count=2)
    waits = []
    for _ in range(2):
        before = datetime.now(UTC)
        publish.publish_due(workspace)
        held = publish.get_post(workspace, post.id)
        waits.append(round((datetime.fromisoformat(held.not_before) - before).total_seconds() / 60))
        _clear_holds(workspace)
    assert waits == [1, 2]
    assert "try 3 of 5 at" in held.last_error


def test_timeout_after_x_created_the_post_is_reconciled_not_resent(fast: Workspace, x_env) -> None:
    post = publish.add_post(fast, "Sourdough starter day 1", approve=True)
    x_env.delay_next(3)  # X creates the post, then answers after our 0.5 s timeout
    first = publish.publish_due(fast)
    assert first.deferred == [post.id]
    assert "did not answer in time" in publish.get_post(fast, post.id).last_error
    second = publish.publish_due(fast)
    assert second.published == [post.id]
    [tweet] = x_env.tweets
    post = publish.get_post(fast, post.id)
    assert post.remote_id == tweet.id and post.last_error is None
    assert x_env.requests.count(("POST", "/2/tweets")) == 1
    assert publish.post_attempts(fast, post.id)[-1]["outcome"] == "reconciled"


def test_duplicate_refusal_is_reconciled_when_the_post_is_ours(fast: Workspace, x_env) -> None:
    tweet = x_env.add_tweet("Hydration tips for summer")  # e.g. sent by an attempt nobody recorded
    post = publish.add_post(fast, "Hydration tips for summer", approve=True)
    assert publish.publish_due(fast).published == [post.id]
    assert publish.get_post(fast, post.id).remote_id == tweet.id
    assert len(x_env.tweets) == 1


def test_duplicate_of_an_old_post_fails_with_what_to_do(fast: Workspace, x_env) -> None:
    x_env.add_tweet("Hydration tips for summer", created_at=datetime.now(UTC) - timedelta(days=40))
    post = publish.add_post(fast, "Hydration tips for summer", approve=True)
    assert publish.publish_due(fast).failed == [post.id]
    post = publish.get_post(fast, post.id)
    assert post.state == "failed" and "duplicate of an earlier post" in post.last_error
    assert "edit the wording" in post.last_error


@pytest.mark.parametrize("status", [401, 403])
def test_auth_refusals_fail_with_an_actionable_message(fast: Workspace, x_env, status: int) -> None:
    post = publish.add_post(fast, "Adaptogens: what the studies say", approve=True)
    x_env.fail_next(status)
    assert publish.publish_due(fast).failed == [post.id]
    post = publish.get_post(fast, post.id)
    assert f"({status}" in post.last_error and "Reconnect your X keys" in post.last_error
    assert not x_env.tweets
    # once the keys are fixed, Retry sends it
    publish.retry(fast, post.id)
    assert publish.publish_due(fast).published == [post.id]
    assert len(x_env.tweets) == 1


def test_x_post_without_keys_fails_instead_of_waiting_forever(workspace: Workspace, no_x_keys: None) -> None:
    post = publish.add_post(workspace, "Walnuts and your brain", channel="x", approve=True)
    assert publish.publish_due(workspace).failed == [post.id]
    assert "no X keys are set" in publish.get_post(workspace, post.id).last_error


def test_double_click_posts_once(fast: Workspace, x_env) -> None:
    post = publish.add_post(fast, "Beet hummus in 5 minutes", approve=True)
    PublishSettings.load(fast).save(fast, request_timeout_seconds=10.0, claim_lease_seconds=30.0)
    x_env.hold_next_post()
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", publish.publish_now(fast, post.id)))
    first.start()
    assert x_env.post_received.wait(10)
    second = publish.publish_now(fast, post.id)  # the second click arrives while the first is sending
    x_env.release()
    first.join(10)
    assert second.result == "skipped" and "being published right now" in second.message
    assert results["first"].result == "published"
    third = publish.publish_now(fast, post.id)
    assert third.result == "skipped" and "already published" in third.message
    assert x_env.texts() == ["Beet hummus in 5 minutes"]


def test_concurrent_runs_post_once(fast: Workspace, x_env) -> None:
    texts = ["Swap soda for sparkling tea", "Walk after lunch", "Sleep beats supplements", "Eat the rainbow"]
    ids = [publish.add_post(fast, text, approve=True).id for text in texts]
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(publish.publish_due(fast))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(i for r in reports for i in r.published) == ids
    assert len(x_env.tweets) == 4


def test_publisher_killed_mid_request_is_reconciled(fast: Workspace, x_env) -> None:
    """SIGKILL while X holds the request: the next run finds the post and records its id; one post on X."""
    post = publish.add_post(fast, "Our spring menu is live", approve=True)
    x_env.hold_next_post()
    env = {**os.environ, "REACH_HOME": str(fast.home), "REACH_DEMO": "0", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "publish-due", "--json"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert x_env.post_received.wait(30), proc.stderr.read() if proc.poll() is not None else "no post arrived"
        claimed = publish.get_post(fast, post.id)
        assert (claimed.state, claimed.claim_pid) == ("publishing", proc.pid)  # committed before the call
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        x_env.release()
    report = publish.publish_due(fast)
    assert report.published == [post.id]
    [tweet] = x_env.tweets
    post = publish.get_post(fast, post.id)
    assert (post.state, post.remote_id, post.url) == (
        "published",
        tweet.id,
        f"https://x.com/reach_test/status/{tweet.id}",
    )
    assert x_env.requests.count(("POST", "/2/tweets")) == 1
    assert [a["outcome"] for a in publish.post_attempts(fast, post.id)] == ["interrupted", "reconciled"]


def test_delivery_status_counts_queued_and_published_today(workspace: Workspace, no_x_keys: None) -> None:
    assert publish.delivery_status(workspace) == (0, 0)
    publish.add_post(workspace, "One", approve=True)
    publish.publish_due(workspace)
    publish.add_post(workspace, "Two, later", approve=True, at=datetime(2031, 1, 1, tzinfo=UTC))
    publish.add_post(workspace, "Three, a draft")
    assert publish.delivery_status(workspace) == (1, 1)


def test_a_run_whose_next_post_another_run_took_reports_it_held(fast: Workspace, x_env) -> None:
    first = publish.add_post(fast, "Oat milk, made at home", approve=True)
    second = publish.add_post(fast, "Three breakfasts under 5 minutes", approve=True)
    x_env.fail_next(429, hold=True)  # the first run's post is rate limited, answered only once released
    reports = []
    first_run = threading.Thread(target=lambda: reports.append(publish.publish_due(fast)))
    first_run.start()
    assert x_env.fault_received.wait(30)
    # meanwhile another run takes the second post (its answer held too)
    x_env.hold_next_post()
    other = threading.Thread(target=lambda: publish.publish_now(fast, second.id))
    other.start()
    assert x_env.post_received.wait(30)
    x_env.release()
    first_run.join(30)
    other.join(30)

    [report] = reports
    assert report.as_json() == {"published": [], "deferred": [first.id], "failed": []}
    held = [o for o in report.outcomes if o.result == "held"]
    assert [(o.post_id, o.message.split(" (")[0]) for o in held] == [
        (second.id, f"post {second.id} is handled by another run")
    ]
    assert x_env.texts() == ["Three breakfasts under 5 minutes"]
