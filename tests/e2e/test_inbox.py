"""The Inbox in a real browser: fetch a mention from the fake X, answer it with the suggested reply, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from core.workspace import open_workspace
from tests.conftest import FAKE_X_KEYS
from tests.e2e.conftest import streamlit_app, wait_for_app
from tests.fakes.fake_x import FakeX

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def x_server() -> Iterator[FakeX]:
    with FakeX(consumer_key=FAKE_X_KEYS["X_CONSUMER_KEY"]) as fake:
        yield fake


@pytest.fixture(scope="module")
def x_app(tmp_path_factory: pytest.TempPathFactory, x_server: FakeX) -> Iterator[str]:
    """``streamlit run app.py`` with X keys pointing at the fake."""
    home = tmp_path_factory.mktemp("e2e-inbox") / "workspace"
    open_workspace(home, with_demo=False)
    env = {**FAKE_X_KEYS, "REACH_DEMO": "0", "REACH_X_API_BASE": x_server.base_url}
    with streamlit_app(home, env) as url:
        yield url


def test_answer_a_mention_through_the_inbox(page: Page, x_app: str, x_server: FakeX) -> None:
    mention = x_server.add_mention("@reach_test hi! do you deliver on weekends?", author_id="77",
                                   username="weekend_wendy")
    page.goto(x_app)
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Inbox", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    page.locator(".st-key-inbox_refresh button").click()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text("1 new mention.")
    wait_for_app(page)

    card = page.locator(f".st-key-inbox_card_{mention.id}")
    expect(card).to_contain_text("@weekend_wendy")
    expect(card).to_contain_text("do you deliver on weekends?")
    expect(card).to_contain_text("question")
    reply_box = card.get_by_role("textbox")
    suggested = reply_box.input_value()
    assert suggested.startswith("@weekend_wendy Thanks for asking!")

    # an impatient double click: one reply reaches X
    card.locator(f".st-key-inbox_send_{mention.id}").get_by_role("button", name="Reply", exact=True).dblclick()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text(f"Reply to {mention.id}: post 1 is live")
    wait_for_app(page)
    [tweet] = x_server.tweets
    assert (tweet.text, tweet.in_reply_to_tweet_id) == (suggested, mention.id)
    expect(page.locator(f".st-key-inbox_send_{mention.id}")).to_have_count(0)

    # answered mentions are under "Handled", with the link to the reply
    handled_filter = page.locator(".st-key-inbox_show").get_by_role("radio", name="Handled")
    expect(handled_filter).to_have_count(1)
    handled_filter.click()
    wait_for_app(page)
    handled = page.locator(f".st-key-inbox_card_{mention.id}")
    expect(handled.get_by_role("link", name="View on X")).to_have_attribute(
        "href", f"https://x.com/reach_test/status/{tweet.id}")
    assert len(x_server.tweets) == 1 and x_server.requests.count(("POST", "/2/tweets")) == 1
