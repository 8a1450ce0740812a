"""The Publish page in a real browser: approve a draft, publish it to the fake X, see it in history."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.delivery import outbox as publish
from core.demo import open_workspace
from tests.e2e.conftest import wait_for_app
from tests.fakes.fake_x import FakeX

pytestmark = pytest.mark.e2e


def test_approve_publish_and_see_it_in_history(page: Page, x_app: tuple[str, Path], x_server: FakeX) -> None:
    url, home = x_app
    draft = publish.add_post(
        open_workspace(home),
        "Overnight oats, five minutes tonight, breakfast tomorrow",
        channel="x",
        segment="young women",
    )
    page.goto(url)
    wait_for_app(page)
    # exact: before app.py's first st.navigation, Streamlit lists the pages/ files ("publish")
    publish_link = page.get_by_test_id("stSidebarNav").get_by_role("link", name="Publish", exact=True)
    expect(publish_link).to_be_visible()
    publish_link.click()
    wait_for_app(page)
    expect(page.get_by_text("X keys are set.")).to_be_visible()

    page.locator(f".st-key-approve_{draft.id} button").click()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text(f"Post {draft.id} approved")
    wait_for_app(page)
    page.locator(f".st-key-publish_{draft.id} button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("This posts to X")
    expect(dialog).to_contain_text("Overnight oats, five minutes tonight")
    dialog.get_by_role("button", name="Publish", exact=True).click()

    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text(f"Post {draft.id} is live")
    wait_for_app(page)
    [tweet] = x_server.tweets
    link = f"https://x.com/reach_test/status/{tweet.id}"
    history = (
        page.get_by_test_id("stMarkdown")
        .filter(has_text="Overnight oats, five minutes tonight")
        .filter(has=page.get_by_role("link", name="View on X"))
    )
    expect(history.get_by_role("link", name="View on X")).to_have_attribute("href", link)
    expect(page.get_by_text("connected as @reach_test")).to_be_visible()
    # the post is published: nothing on the page can send it again
    expect(page.locator(f".st-key-publish_{draft.id}")).to_have_count(0)
    assert x_server.texts() == ["Overnight oats, five minutes tonight, breakfast tomorrow"]
