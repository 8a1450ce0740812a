"""The Inbox in a real browser: fetch a mention from the fake X, answer it with the suggested reply, once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_for_app
from tests.fakes.fake_x import FakeX

pytestmark = pytest.mark.e2e


def test_answer_a_mention_through_the_inbox(page: Page, x_app: tuple[str, Path], x_server: FakeX) -> None:
    url, _home = x_app
    mention = x_server.add_mention(
        "@reach_test hi! do you deliver on weekends?", author_id="77", username="weekend_wendy"
    )
    page.goto(url)
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
    # the box is filled as the page finishes drawing: wait for the suggestion, then read it
    expect(reply_box).to_have_value(re.compile(r"^@weekend_wendy Thanks for asking!"))
    suggested = reply_box.input_value()

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
        "href", f"https://x.com/reach_test/status/{tweet.id}"
    )
    assert len(x_server.tweets) == 1 and x_server.requests.count(("POST", "/2/tweets")) == 1
