"""The Inbox with Mastodon and Bluesky connected: mentions merged with their channel's badge, replies
through the channel each came from (AppTest against the fakes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.test_publish_page import _rendered
from tests.conftest import CHANNEL_SETTINGS, FAKE_BLUESKY_PASSWORD, FAKE_MASTODON_TOKEN, FAKE_X_KEYS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def connected(workspace_home: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    for name in (*FAKE_X_KEYS, "REACH_X_API_BASE", *CHANNEL_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    return request.getfixturevalue("mastodon_env"), request.getfixturevalue("bluesky_env")


def test_mentions_from_both_networks_are_merged_and_answered_where_they_came_from(connected) -> None:
    mastodon, bluesky = connected
    mastodon.add_mention("@reach_test do you deliver to Chengdu?", username="lily")
    asked = bluesky.add_mention("@reach-test.bsky.social where can I buy the collagen?", handle="jason.bsky.social")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/inbox.py").run()
    assert not at.exception, at.exception
    assert any("Mentions come from Mastodon and Bluesky" in i.value for i in at.info)
    at.button(key="inbox_refresh").click().run()
    assert any("2 new mentions (Mastodon 1, Bluesky 1)." in s.value for s in at.success), [s.value for s in at.success]
    cards = " ".join(m.value for m in at.markdown)
    assert ":blue-badge[Mastodon]" in cards and ":blue-badge[Bluesky]" in cards
    # a remote Mastodon handle reads like an e-mail address: shown as code, so Markdown never makes it a link
    assert "@`lily@elsewhere.example`" in cards and "@jason.bsky.social" in cards
    at.button(key=f"inbox_send_bluesky_{asked.uri}").click().run()
    assert not at.exception, at.exception
    assert len(bluesky.records) == 1 and mastodon.texts() == []
    assert bluesky.records[0].value["reply"]["parent"]["uri"] == asked.uri
    rendered = _rendered(at)
    assert FAKE_MASTODON_TOKEN not in rendered and FAKE_BLUESKY_PASSWORD not in rendered
