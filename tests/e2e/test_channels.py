"""Mastodon and Bluesky in a real browser: connect the Mastodon fake in Settings, then publish one
post to two channels, each once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from core.demo import open_workspace
from tests.conftest import FAKE_BLUESKY_PASSWORD, FAKE_MASTODON_TOKEN
from tests.e2e.conftest import click_page, streamlit_app, wait_for_app
from tests.fakes.fake_bluesky import FakeBluesky
from tests.fakes.fake_mastodon import FakeMastodon

pytestmark = pytest.mark.e2e

TEXT = "Golden milk tonight: turmeric, ginger and oat milk https://shop.example/golden"


@pytest.fixture(scope="module")
def networks() -> Iterator[tuple[FakeMastodon, FakeBluesky]]:
    with FakeMastodon(token=FAKE_MASTODON_TOKEN) as mastodon, FakeBluesky(app_password=FAKE_BLUESKY_PASSWORD) as bsky:
        yield mastodon, bsky


@pytest.fixture(scope="module")
def channels_app(tmp_path_factory: pytest.TempPathFactory, networks) -> Iterator[str]:
    """The app on an empty workspace with Mastodon and Bluesky settings pointing at the fakes, no X keys."""
    mastodon, bsky = networks
    home = tmp_path_factory.mktemp("e2e-channels") / "workspace"
    open_workspace(home, with_demo=False)
    env = {
        "REACH_DEMO": "0",
        "REACH_MASTODON_BASE_URL": mastodon.base_url,
        "MASTODON_ACCESS_TOKEN": FAKE_MASTODON_TOKEN,
        "REACH_BLUESKY_PDS": bsky.base_url,
        "BLUESKY_HANDLE": bsky.handle,
        "BLUESKY_APP_PASSWORD": FAKE_BLUESKY_PASSWORD,
        **{name: "" for name in ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")},
    }
    with streamlit_app(home, env) as url:
        yield url


def test_connect_mastodon_in_settings_then_publish_one_post_to_two_channels(
    page: Page, channels_app: str, networks
) -> None:
    mastodon, bsky = networks
    page.goto(channels_app)
    wait_for_app(page)
    click_page(page, "Settings")
    card = page.locator(".st-key-settings_channel_mastodon")
    expect(card).to_contain_text("Keys are set. Test the connection")
    card.get_by_role("button", name="Test connection").click()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text("Mastodon: connected as @reach_test")
    wait_for_app(page)
    expect(page.locator(".st-key-settings_channel_mastodon")).to_contain_text("Connected as @reach_test")
    assert mastodon.creates() == 0  # the test posted nothing

    click_page(page, "Publish")
    page.locator("summary").filter(has_text="New post").click()
    box = page.get_by_role("textbox", name="Text")
    box.fill(TEXT)
    channels = page.get_by_test_id("stMultiSelect").filter(has_text="Channels")
    expect(channels).to_contain_text("Mastodon")
    channels.click()
    page.get_by_role("option", name="Bluesky").click()
    page.keyboard.press("Escape")
    expect(page.get_by_text("Bluesky: ", exact=False).first).to_be_visible()
    page.locator(".st-key-compose_approve button").click()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text(
        "Post #1 on Mastodon, #2 on Bluesky approved and due now."
    )
    wait_for_app(page)
    page.get_by_role("button", name="Publish due now (2)").click()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text("Published 2, deferred 0, failed 0.")
    wait_for_app(page)
    assert mastodon.texts() == [TEXT] and bsky.texts() == [TEXT]
    expect(page.get_by_role("button", name="Publish due now (0)")).to_be_disabled()
    assert FAKE_MASTODON_TOKEN not in page.content() and FAKE_BLUESKY_PASSWORD not in page.content()
