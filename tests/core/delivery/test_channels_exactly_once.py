"""Mastodon and Bluesky through their real client libraries and fake servers: every post exactly once.

Each test runs for both channels: a 429 storm, 5xx, a timeout after the network stored the post, a
publishing process killed while the network holds its request, concurrent runs; the length rules;
replies in the right thread; metrics and mentions; no secret in a log line or an error.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.delivery import outbox as publish
from core.delivery.outbox import OutboxState, PreflightError, PublishSettings
from core.feedback import inbox
from core.feedback.results import refresh_metrics, results
from core.workspace import Workspace
from tests.conftest import FAKE_BLUESKY_PASSWORD, FAKE_MASTODON_TOKEN

REPO = Path(__file__).resolve().parents[3]
CHANNELS = ["mastodon", "bluesky"]


@pytest.fixture(params=CHANNELS)
def net(request: pytest.FixtureRequest, no_x_keys: None):
    """(channel name, its fake server with the environment pointing at it)."""
    fake = request.getfixturevalue(f"{request.param}_env")
    return request.param, fake


@pytest.fixture
def fast(workspace: Workspace) -> Workspace:
    """Short timeouts and no backoff wait, so retries happen on the next run."""
    PublishSettings.load(workspace).save(
        workspace, retry_base_seconds=0.0, request_timeout_seconds=0.5, claim_lease_seconds=5.0
    )
    return workspace


def _clear_holds(ws: Workspace) -> None:
    with ws.connect() as con:
        con.execute("UPDATE outbox SET not_before = NULL")


def test_publishes_with_the_networks_own_id(fast: Workspace, net) -> None:
    channel, fake = net
    post = publish.add_post(fast, "Golden milk before bed https://shop.example/turmeric", channel=channel, approve=True)
    assert publish.publish_due(fast).published == [post.id]
    post = publish.get_post(fast, post.id)
    assert fake.texts() == ["Golden milk before bed https://shop.example/turmeric"]
    assert post.remote_id == fake.remote_ids()[0]
    if channel == "bluesky":
        assert post.remote_id.startswith("at://did:plc:") and "/app.bsky.feed.post/" in post.remote_id
        assert post.url.startswith(f"https://bsky.app/profile/{fake.handle}/post/")
        # the link is a facet, so it is clickable
        facets = fake.records[0].value["facets"]
        assert [f["features"][0]["uri"] for f in facets] == ["https://shop.example/turmeric"]
    else:
        assert post.remote_id.isdigit() and post.url.endswith(f"/@reach_test/{post.remote_id}")
        assert fake.idempotency_keys == [f"reach-{fast.get_setting('publish.workspace_key')}-{post.id}"]
    assert publish.connected_account(fast, channel) == f"@{fake.handle if channel == 'bluesky' else 'reach_test'}"


def test_429_storm_defers_until_the_networks_reset_and_posts_once(fast: Workspace, net) -> None:
    channel, fake = net
    first = publish.add_post(fast, "Seed cycling explained", channel=channel, approve=True)
    second = publish.add_post(fast, "Three salads for hot days", channel=channel, approve=True)
    fake.fail_next(429, count=4, reset_in=600)
    report = publish.publish_due(fast)
    assert report.deferred == [first.id, second.id]
    assert fake.creates() == 1  # the second post was held back without a call
    held = publish.get_post(fast, second.id)
    reset = datetime.fromisoformat(held.not_before)
    assert timedelta(minutes=9) < reset - datetime.now(UTC) <= timedelta(minutes=10, seconds=2)
    label = "Mastodon" if channel == "mastodon" else "Bluesky"
    assert held.last_error.startswith(f"{label} rate limit: posting resumes at")
    for _ in range(3):
        _clear_holds(fast)
        assert publish.publish_due(fast).published == []
    _clear_holds(fast)
    assert publish.publish_due(fast).published == [first.id, second.id]
    assert fake.texts() == ["Seed cycling explained", "Three salads for hot days"]
    assert [publish.get_post(fast, i).remote_id for i in (first.id, second.id)] == fake.remote_ids()


def test_5xx_is_retried_then_posted_once(fast: Workspace, net) -> None:
    channel, fake = net
    post = publish.add_post(fast, "Fermented foods 101", channel=channel, approve=True)
    fake.fail_next(503, count=2)
    results = [publish.publish_due(fast).as_json() for _ in range(3)]
    assert [r["deferred"] for r in results] == [[post.id], [post.id], []]
    assert results[-1]["published"] == [post.id]
    assert fake.texts() == ["Fermented foods 101"]


def test_timeout_after_the_network_stored_the_post_is_reconciled_not_resent(fast: Workspace, net) -> None:
    channel, fake = net
    post = publish.add_post(fast, "Sourdough starter day 1", channel=channel, approve=True)
    fake.delay_next(3)  # the post is stored, then answered after our 0.5 s timeout
    assert publish.publish_due(fast).deferred == [post.id]
    assert "did not answer in time" in publish.get_post(fast, post.id).last_error
    assert publish.publish_due(fast).published == [post.id]
    post = publish.get_post(fast, post.id)
    assert fake.texts() == ["Sourdough starter day 1"] and post.remote_id == fake.remote_ids()[0]
    assert fake.creates() == 1  # found by the lookup, not sent again
    assert publish.post_attempts(fast, post.id)[-1]["outcome"] == "reconciled"


def test_a_repeated_send_of_one_post_makes_one_post(fast: Workspace, net) -> None:
    """Even when the lookup cannot see it, a second send with the post's key makes no second post."""
    channel, fake = net
    post = publish.add_post(fast, "Kombucha at home", channel=channel, approve=True)
    assert publish.publish_due(fast).published == [post.id]
    # as if the result had been lost: queued again without the lookup
    with fast.connect() as con:
        con.execute(
            "UPDATE outbox SET state = 'scheduled', remote_id = NULL, needs_lookup = 0 WHERE id = ?", (post.id,)
        )
    assert publish.publish_due(fast).published == [post.id]
    assert fake.texts() == ["Kombucha at home"] and fake.creates() == 2
    assert publish.get_post(fast, post.id).remote_id == fake.remote_ids()[0]


def test_concurrent_runs_post_once(fast: Workspace, net) -> None:
    channel, fake = net
    texts = ["Swap soda for sparkling tea", "Walk after lunch", "Sleep beats supplements", "Eat the rainbow"]
    ids = [publish.add_post(fast, text, channel=channel, approve=True).id for text in texts]
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(publish.publish_due(fast))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(i for r in reports for i in r.published) == ids
    assert sorted(fake.texts()) == sorted(texts)


def test_publisher_killed_mid_request_is_reconciled(fast: Workspace, net, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILL while the network holds the request: the next run finds the post; one post on the network."""
    channel, fake = net
    post = publish.add_post(fast, "Our spring menu is live", channel=channel, approve=True)
    PublishSettings.load(fast).save(fast, request_timeout_seconds=20.0, claim_lease_seconds=60.0)
    fake.hold_next_post()
    env = {**os.environ, "REACH_HOME": str(fast.home), "REACH_DEMO": "0", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "publish-due", "--json"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert fake.post_received.wait(60), proc.stderr.read() if proc.poll() is not None else "no post arrived"
        claimed = publish.get_post(fast, post.id)
        assert (claimed.state, claimed.claim_pid) == ("publishing", proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        fake.release()
    assert publish.publish_due(fast).published == [post.id]
    post = publish.get_post(fast, post.id)
    assert fake.texts() == ["Our spring menu is live"] and post.remote_id == fake.remote_ids()[0]
    assert fake.creates() == 1
    assert [a["outcome"] for a in publish.post_attempts(fast, post.id)] == ["interrupted", "reconciled"]


# -- lengths: counted as each network counts, refused before anything is sent ---------------------
def _limit_texts(channel: str) -> list[tuple[str, str]]:
    """(text exactly at the limit, the same with one grapheme more) in CJK, emoji with skin tones and URLs."""
    if channel == "bluesky":  # 300 grapheme clusters, links as written
        url = "https://shop.example/" + "a" * 29  # 50
        return [
            ("健" * 300, "健" * 301),
            ("Hi " + "👍🏽" * 297, "Hi " + "👍🏽" * 298),
            ("Hi " + "👨‍👩‍👧" * 150 + "🇨🇳" * 147, "Hi " + "👨‍👩‍👧" * 150 + "🇨🇳" * 148),
            (url + " " + "x" * 249, url + " " + "x" * 250),
        ]
    url = "https://shop.example/" + "a" * 120  # counts 23
    return [
        ("健" * 500, "健" * 501),
        ("Hi " + "👍🏽" * 497, "Hi " + "👍🏽" * 498),
        (url + " " + "字" * 476, url + " " + "字" * 477),
    ]


def test_exactly_at_the_limit_is_accepted_and_one_grapheme_more_refused_before_sending(fast: Workspace, net) -> None:
    channel, fake = net
    for at_limit, over in _limit_texts(channel):
        with pytest.raises(PreflightError, match=r"over the limit of (300|500) by 1"):
            publish.add_post(fast, over, channel=channel, approve=True)
        ok = publish.add_post(fast, at_limit, channel=channel, approve=True)
        assert ok.state == OutboxState.APPROVED
        assert publish.publish_now(fast, ok.id).result == "published"
        with fast.connect() as con:  # the next text is a near copy of this one: let it be old
            con.execute("UPDATE outbox SET published_at = '2000-01-01T00:00:00+00:00' WHERE id = ?", (ok.id,))
    assert fake.creates() == len(_limit_texts(channel))  # nothing over the limit reached the network


# -- replies, metrics, mentions ---------------------------------------------------------------------
def test_mentions_come_in_and_the_reply_lands_in_their_thread(fast: Workspace, net) -> None:
    channel, fake = net
    original = publish.add_post(fast, "New granola flavours this week", channel=channel, approve=True)
    publish.publish_due(fast)
    if channel == "bluesky":
        mine = fake.records[0]
        mention = fake.add_mention("@reach-test.bsky.social is the granola gluten free?", reply_to=mine)
    else:
        mention = fake.add_mention("@reach_test is the granola gluten free?")
    report = inbox.refresh_mentions(fast)
    assert (report.fetched, report.new) == (1, 1)
    [item] = inbox.list_mentions(fast)
    assert item.channel == channel and "gluten free" in item.text
    result = inbox.reply(fast, item.id, text="Yes, it is made without gluten.")
    assert result.post.state == "published" and result.post.channel == channel
    assert fake.texts()[-1] == "Yes, it is made without gluten."
    if channel == "bluesky":
        reply = fake.records[-1].value["reply"]
        assert reply["parent"]["uri"] == mention.uri  # answering the mention …
        assert reply["root"]["uri"] == mine.uri  # … in the thread our post started
        assert item.id == mention.uri
    else:
        assert fake.statuses[-1].in_reply_to_id == mention.id == item.id
    assert inbox.refresh_mentions(fast).new == 0  # asked again: nothing new
    assert publish.get_post(fast, original.id).state == "published"


def test_metrics_come_back_per_channel(fast: Workspace, net) -> None:
    channel, fake = net
    post = publish.add_post(fast, "Matcha vs coffee", channel=channel, approve=True, segment="young women")
    publish.publish_due(fast)
    remote = publish.get_post(fast, post.id).remote_id
    if channel == "bluesky":
        fake.set_metrics(remote, likes=7, reposts=2, replies=1, quotes=3)
        expected = (7, 2, 1, 3)
    else:
        fake.set_metrics(remote, favourites_count=7, reblogs_count=2, replies_count=1)
        expected = (7, 2, 1, 0)
    assert refresh_metrics(fast).updated == 1
    with fast.connect() as con:
        row = con.execute(
            "SELECT likes, reposts, replies, quotes FROM post_metrics WHERE post_id = ?", (post.id,)
        ).fetchone()
    assert tuple(row) == expected
    [line] = results(fast).by_channel.to_dict("records")
    assert (line["channel"], line["posts"], line["likes"], line["engagements"]) == (channel, 1, 7, sum(expected))


def test_no_secret_reaches_a_log_line_an_error_or_the_workspace(
    fast: Workspace, net, caplog: pytest.LogCaptureFixture
) -> None:
    channel, fake = net
    secret = FAKE_MASTODON_TOKEN if channel == "mastodon" else FAKE_BLUESKY_PASSWORD
    caplog.set_level(logging.DEBUG)
    post = publish.add_post(fast, "Oat milk, three ways", channel=channel, approve=True)
    fake.fail_next(500)
    publish.publish_due(fast)
    fake.fail_next(401)
    failed = publish.publish_due(fast)
    assert failed.failed == [post.id]
    message = publish.get_post(fast, post.id).last_error
    assert "Reconnect" in message
    dump = "\n".join(fast.home.joinpath("reach.db").read_bytes().decode("latin-1").splitlines())
    assert secret not in caplog.text and secret not in message and secret not in dump


def test_a_reply_is_checked_by_its_own_channels_count(workspace: Workspace, net) -> None:
    channel, _ = net
    long_chinese = "谢" * 290  # 290 graphemes; X counts 580
    assert any(p.startswith("too long") for p in inbox.check_reply(workspace, long_chinese))
    assert inbox.check_reply(workspace, long_chinese, channel=channel) == []
    limit = 300 if channel == "bluesky" else 500
    [problem] = inbox.check_reply(workspace, "谢" * (limit + 1), channel=channel)
    assert problem.startswith(f"too long for {channel.title()}: {limit + 1:,} of {limit:,} characters")
