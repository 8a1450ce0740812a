"""X, Mastodon and Bluesky together in a real browser, against the three fakes.

The walk-through: the channels connected in Settings, a week queued on Targeting for all three,
published through a 429, a 5xx and a timeout after the network stored the post — each post on its
network once — then metrics from all three in Results, mentions from all three in the Inbox (a reply
goes back where its mention came from) and the month's X spend on screen. Then X out of credits:
posts stay approved with one message to top up, reads wait, and publishing resumes on its own.

Time cannot be faked in a running app, so where the story needs time to pass (the week's posts
come due, the pause's retry time arrives) the test moves the stored time back, as the core tests do.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core import clock
from core.audience.segments import run_segments, save_run
from core.delivery import outbox as publish
from core.delivery import targeting
from core.delivery.outbox import PublishSettings
from core.demo import open_workspace
from tests.conftest import FAKE_BLUESKY_PASSWORD, FAKE_MASTODON_TOKEN, FAKE_X_KEYS
from tests.e2e.conftest import REPO, click_page, streamlit_app, wait_for_app
from tests.fakes.fake_bluesky import FakeBluesky
from tests.fakes.fake_mastodon import FakeMastodon
from tests.fakes.fake_x import FakeX

pytestmark = pytest.mark.e2e

RULE_CHANNELS = ("x", "mastodon+bluesky", "x+mastodon+bluesky")  # one rule per segment of three


@dataclasses.dataclass
class Setup:
    url: str
    home: Path
    env: dict[str, str]
    x: FakeX
    mastodon: FakeMastodon
    bluesky: FakeBluesky


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """The demo segmented into three, a saved rule per segment, the three fakes and the app pointing at them."""
    home = tmp_path_factory.mktemp("e2e-three-channels") / "workspace"
    ws = open_workspace(home, with_demo=True)
    save_run(ws, run_segments(ws, k=3))
    aud = targeting.audience(ws)
    proposed = targeting.propose_rules(aud, targeting.template_names(ws))
    rules = [dataclasses.replace(r, channel=c) for r, c in zip(proposed, RULE_CHANNELS, strict=True)]
    targeting.save_rules(ws, rules, aud)
    # retries come at once, and a network that takes 2 s to answer has timed out
    PublishSettings.load(ws).save(ws, retry_base_seconds=0.0, request_timeout_seconds=1.0)
    with (
        FakeX(consumer_key=FAKE_X_KEYS["X_CONSUMER_KEY"], rate_limit_reset_in=1) as x,
        FakeMastodon(token=FAKE_MASTODON_TOKEN) as mastodon,
        FakeBluesky(app_password=FAKE_BLUESKY_PASSWORD) as bluesky,
    ):
        env = {
            **FAKE_X_KEYS,
            "REACH_DEMO": "0",
            "REACH_X_API_BASE": x.base_url,
            "REACH_MASTODON_BASE_URL": mastodon.base_url,
            "MASTODON_ACCESS_TOKEN": FAKE_MASTODON_TOKEN,
            "REACH_BLUESKY_PDS": bluesky.base_url,
            "BLUESKY_HANDLE": bluesky.handle,
            "BLUESKY_APP_PASSWORD": FAKE_BLUESKY_PASSWORD,
        }
        with streamlit_app(home, env) as url:
            yield Setup(url, home, env, x, mastodon, bluesky)


def _core(setup: Setup, *argv: str) -> str:
    """``python -m core …`` on the app's workspace, as cron would run it; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "core", *argv],
        cwd=REPO,
        env={**os.environ, **setup.env, "REACH_HOME": str(setup.home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _time_passes(setup: Setup, sql: str) -> None:
    """Move a stored time to a minute ago (the clock of a running app cannot be set)."""
    with open_workspace(setup.home, with_demo=False).connect() as con:
        con.execute(sql, (clock.iso(clock.now() - timedelta(minutes=1)),))


def _posts(setup: Setup) -> list[publish.Post]:
    return publish.list_posts(open_workspace(setup.home, with_demo=False))


def _success(page: Page):
    return page.get_by_test_id("stAlertContentSuccess").first


def test_a_week_on_three_networks_from_settings_to_the_inbox(page: Page, setup: Setup) -> None:
    x, mastodon, bluesky = setup.x, setup.mastodon, setup.bluesky
    page.goto(setup.url)
    wait_for_app(page)

    # Settings: each channel's keys are set, and a connection test says whose account they are
    click_page(page, "Settings")
    for name, handle in (("x", "@reach_test"), ("mastodon", "@reach_test"), ("bluesky", f"@{bluesky.handle}")):
        card = page.locator(f".st-key-settings_channel_{name}")
        card.get_by_role("button", name="Test connection").click()
        expect(card).to_contain_text(f"Connected as {handle}.")
        wait_for_app(page)
    assert x.texts() == [] and mastodon.creates() == 0 and bluesky.records == []

    # Targeting: the week for X, Mastodon + Bluesky, and all three; X's cost before queueing
    click_page(page, "Targeting")
    estimate = page.get_by_test_id("stAlertContentInfo").filter(has_text="on X this week")
    expect(estimate).to_contain_text("on X this week: 2 posts")  # the rules for "x" and "x+mastodon+bluesky"
    page.get_by_text("Approve and schedule them").click()
    wait_for_app(page)
    page.locator(".st-key-targeting_queue button").filter(has_text="Queue the week (6 posts)").click()
    expect(page.get_by_test_id("stAlertContentSuccess").filter(has_text="added to the outbox")).to_contain_text(
        "6 posts added to the outbox"
    )
    wait_for_app(page)
    posts = _posts(setup)
    assert sorted(p.channel for p in posts) == ["bluesky", "bluesky", "mastodon", "mastodon", "x", "x"]
    assert {p.state for p in posts} == {publish.OutboxState.SCHEDULED}

    # the week comes due; every network stumbles once: X 429, Mastodon 503, Bluesky stores the post, answers late
    _time_passes(setup, "UPDATE outbox SET scheduled_at = ? WHERE state = 'scheduled'")
    x.fail_next(429)
    mastodon.fail_next(503)
    bluesky.delay_next(2.0)
    click_page(page, "Publish")
    page.get_by_role("button", name="Publish due now (6)").click()
    report = page.get_by_test_id("stAlertContentWarning").first
    expect(report).to_contain_text("failed 0.")
    expect(report).to_contain_text("X rate limit: posting resumes at")
    expect(report).to_contain_text("Mastodon had a server error (503)")
    expect(report).to_contain_text("Bluesky did not answer in time")
    wait_for_app(page)
    assert len(bluesky.records) == 2  # both Bluesky posts are stored, one of them answered too late
    # cron's next runs (here back to back): the rate limit's second is over, retries are due at once
    for _ in range(5):
        if {p.state for p in _posts(setup)} == {publish.OutboxState.PUBLISHED}:
            break
        _core(setup, "publish-due", "--json")
    posts = _posts(setup)
    assert {p.state for p in posts} == {publish.OutboxState.PUBLISHED}
    for channel, texts in (("x", x.texts()), ("mastodon", mastodon.texts()), ("bluesky", bluesky.texts())):
        assert sorted(texts) == sorted(p.text for p in posts if p.channel == channel), channel  # each once
    assert sorted(p.remote_id for p in posts if p.channel == "bluesky") == sorted(r.uri for r in bluesky.records)

    # Results: metrics from all three networks
    for n, tweet in enumerate(x.tweets):
        x.set_metrics(tweet.id, like_count=7 + n, retweet_count=2, impression_count=400)
    for n, status in enumerate(mastodon.statuses):
        mastodon.set_metrics(status.id, favourites_count=5 + n, reblogs_count=1)
    for n, record in enumerate(bluesky.records):
        record.likes, record.reposts = 9 + n, 3
    click_page(page, "Results")
    page.locator(".st-key-results_refresh button").click()
    expect(_success(page)).to_contain_text("6 posts updated")
    wait_for_app(page)
    expect(page.get_by_text("Metrics are read from X, Mastodon and Bluesky for their posts")).to_be_visible()
    expect(page.get_by_text("4 posts have no impressions (Bluesky and Mastodon show none)")).to_be_visible()
    # the By channel table: posts, likes and reposts per network, the sums of what each fake holds
    by_channel = page.get_by_test_id("stDataFrame").filter(has=page.locator("[role=gridcell]", has_text="Mastodon"))
    cells = by_channel.locator("[role=gridcell]")
    for label, likes, reposts in (("X", "15", "4"), ("Mastodon", "11", "2"), ("Bluesky", "19", "6")):
        expect(cells).to_contain_text([re.compile(f"^{v}$") for v in (label, "2", likes, reposts)])

    # the month's X spend, as `python -m core costs` counts it
    spend = json.loads(_core(setup, "costs", "--json"))["channels"]["x"]
    assert spend["posts"] == 2
    shown = re.compile(rf"X in \d{{4}}-\d\d: 2 posts and \d+ reads by Reach ≈ \${spend['estimated_usd']:.2f}")
    expect(page.get_by_text(shown)).to_be_visible()
    click_page(page, "Home")
    expect(page.get_by_text(f"X ≈ ${spend['estimated_usd']:.2f} this month")).to_be_visible()

    # Inbox: a mention on each network, each with its badge; a reply goes back through Mastodon
    x.add_mention("@reach_test is the collagen unflavoured?", username="xena")
    asked = mastodon.add_mention("@reach_test do you ship to Lyon?", username="lily")
    bluesky.add_mention(f"@{bluesky.handle} loved the protein tip!", handle="jason.bsky.social")
    click_page(page, "Inbox")
    page.locator(".st-key-inbox_refresh button").click()
    expect(_success(page)).to_contain_text("3 new mentions (X 1, Mastodon 1, Bluesky 1).")
    wait_for_app(page)
    for who, badge in (("@xena", "X"), ("@lily@elsewhere.example", "Mastodon"), ("@jason.bsky.social", "Bluesky")):
        card = page.locator("[class*='st-key-inbox_card_']").filter(has_text=who)
        expect(card.get_by_text(badge, exact=True)).to_be_visible()
    card = page.locator(f".st-key-inbox_card_mastodon_{asked.id}")
    expect(card.get_by_role("textbox")).to_have_value(re.compile(r"^@lily@elsewhere\.example "))
    card.locator(f".st-key-inbox_send_mastodon_{asked.id}").get_by_role("button", name="Reply", exact=True).click()
    expect(_success(page)).to_contain_text(f"Reply to mastodon:{asked.id}: post 7 is live")
    assert [s.in_reply_to_id for s in mastodon.statuses if s.in_reply_to_id] == [asked.id]
    assert len(x.tweets) == 2 and len(bluesky.records) == 2  # the reply went nowhere else
    assert FAKE_MASTODON_TOKEN not in page.content() and FAKE_BLUESKY_PASSWORD not in page.content()


def test_x_out_of_credits_waits_with_one_message_then_resumes_on_its_own(page: Page, setup: Setup) -> None:
    x = setup.x
    ws = open_workspace(setup.home, with_demo=False)
    texts = ("Oat milk chai for grey mornings", "Two-minute overnight oats, three toppings")
    ids = [publish.add_post(ws, text, channel="x", approve=True).id for text in texts]
    before, sends = len(x.tweets), x.requests.count(("POST", "/2/tweets"))
    x.out_of_credits = True

    page.goto(setup.url)
    wait_for_app(page)
    click_page(page, "Publish")
    page.get_by_role("button", name=re.compile(r"Publish due now \(\d+\)")).click()
    report = page.get_by_test_id("stAlertContentWarning").first
    expect(report).to_contain_text(f"post {ids[0]}: waits in the queue until X has credits again")
    wait_for_app(page)
    banner = page.get_by_test_id("stAlertContentError").filter(has_text="top up your X API credits")
    expect(banner).to_have_count(1)
    expect(banner).to_contain_text("X Developer Console")
    expect(banner).to_contain_text("queued posts stay approved and nothing is lost")
    assert x.requests.count(("POST", "/2/tweets")) == sends + 1  # one try; the other post waited without a call
    assert len(x.tweets) == before
    assert {p.state for p in _posts(setup) if p.id in ids} == {publish.OutboxState.APPROVED}
    assert all("top up your X API credits" in (p.last_error or "") for p in _posts(setup) if p.id in ids)

    # reads wait too: no metrics or mentions are asked of X while it is paused
    reads = len([r for r in x.requests if r[0] == "GET"])
    click_page(page, "Results")
    expect(page.get_by_test_id("stAlertContentError").filter(has_text="top up your X API credits")).to_have_count(1)
    page.locator(".st-key-results_refresh button").click()
    wait_for_app(page)
    click_page(page, "Home")
    expect(page.get_by_test_id("stAlertContentError").filter(has_text="top up your X API credits")).to_have_count(1)
    _core(setup, "inbox", "--refresh")
    assert len([r for r in x.requests if r[0] == "GET"]) == reads

    # topped up; when the pause's retry time comes, cron's run publishes by itself
    x.out_of_credits = False
    _time_passes(setup, "UPDATE settings SET value = ? WHERE key = 'credits.x.retry_at'")
    assert json.loads(_core(setup, "publish-due", "--json"))["published"] == ids
    assert x.texts()[before:] == list(texts)  # each once, in order
    page.reload()
    wait_for_app(page)
    expect(page.get_by_text("top up your X API credits")).to_have_count(0)
