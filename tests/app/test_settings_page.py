"""The Settings page through Streamlit's AppTest: every channel, connected or not; a test that never posts."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.test_publish_page import _rendered
from tests.conftest import CHANNEL_SETTINGS, FAKE_BLUESKY_PASSWORD, FAKE_MASTODON_TOKEN, FAKE_X_KEYS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No channel's keys in the environment (the app keeps its working directory and config)."""
    for name in (*FAKE_X_KEYS, "REACH_X_API_BASE", *CHANNEL_SETTINGS):
        monkeypatch.delenv(name, raising=False)


def _open_settings(workspace_home: Path) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/settings.py").run()
    assert not at.exception, at.exception
    return at


def _texts(app: AppTest) -> str:
    return " ".join(str(e.value) for kind in (app.success, app.info, app.warning, app.error, app.caption) for e in kind)


def test_channels_not_connected_say_how_to_connect(workspace_home: Path, no_keys: None) -> None:
    at = _open_settings(workspace_home)
    text = _texts(at)
    for label in ("X", "Mastodon", "Bluesky"):
        assert any(m.value == f"**{label}**" for m in at.markdown)
    assert "Not connected. To connect, put your instance and access token" in text
    assert "Always on: posts are recorded in Reach" in text
    assert "Posts up to 300 characters by Bluesky's count" in text
    assert all(b.disabled for b in at.button if b.label == "Test connection")


def test_test_connection_names_the_accounts_and_posts_nothing(
    workspace_home: Path, no_keys: None, mastodon_env, bluesky_env
) -> None:
    mastodon_env.max_characters = 1000
    at = _open_settings(workspace_home)
    assert "Keys are set. Test the connection" in _texts(at)
    buttons = [b for b in at.button if b.label == "Test connection" and not b.disabled]
    assert len(buttons) == 2
    buttons[0].click().run()  # Mastodon
    assert "Mastodon: connected as **@reach_test**." in _texts(at)
    next(b for b in at.button if b.key == "settings_test_bluesky").click().run()
    text = _texts(at)
    assert "Bluesky: connected as **@reach-test.bsky.social**." in text
    assert "Connected as **@reach_test**." in text
    assert "Posts up to 1,000 characters by Mastodon's count" in text  # read from the instance
    assert mastodon_env.creates() == 0 and bluesky_env.creates() == 0
    rendered = _rendered(at)
    assert FAKE_MASTODON_TOKEN not in rendered and FAKE_BLUESKY_PASSWORD not in rendered


def test_a_refused_token_is_said_without_the_token(
    workspace_home: Path, no_keys: None, mastodon_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "wrong-SECRET-token-123")
    at = _open_settings(workspace_home)
    next(b for b in at.button if b.key == "settings_test_mastodon").click().run()
    errors = " ".join(e.value for e in at.error)
    assert "Mastodon did not accept the access token (401)" in errors and "Reconnect Mastodon" in errors
    assert "wrong-SECRET-token-123" not in _rendered(at)
