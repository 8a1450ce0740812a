"""The Targeting page in a real browser: fill the week from the writer, queue it, find the drafts on Publish."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.audience.segments import run_segments, save_run
from core.delivery import outbox as publish
from core.delivery import targeting
from core.demo import open_workspace
from tests.e2e.conftest import click_page, streamlit_app, wait_for_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def targeting_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The demo workspace (with its writer) segmented into five with the proposed rules saved; (url, home)."""
    home = tmp_path_factory.mktemp("e2e-targeting") / "workspace"
    ws = open_workspace(home, with_demo=True)
    save_run(ws, run_segments(ws, k=5))
    aud = targeting.audience(ws)
    targeting.save_rules(ws, targeting.propose_rules(aud, targeting.template_names(ws)), aud)
    with streamlit_app(home, {"REACH_DEMO": "0"}) as url:
        yield url, home


def test_fill_the_week_from_the_writer_queue_it_and_see_the_drafts_on_publish(
    page: Page, targeting_app: tuple[str, Path]
) -> None:
    url, home = targeting_app
    page.goto(url)
    wait_for_app(page)
    click_page(page, "Targeting")
    expect(page.get_by_role("heading", name="Fill the week")).to_be_visible()
    expect(page.locator(".st-key-targeting_queue button")).to_contain_text("Queue the week (5 posts)")

    page.locator(".st-key-targeting_fill").get_by_text("Writer", exact=True).click()
    wait_for_app(page)
    expect(page.locator(".st-key-targeting_per_segment input")).to_have_value("3")
    queue = page.locator(".st-key-targeting_queue button")
    expect(queue).to_contain_text("Queue the week (15 posts)")
    expect(page.get_by_text("written by the writer").first).to_be_visible()
    expect(page.get_by_role("tab")).to_have_count(15)

    queue.click()
    expect(
        page.get_by_test_id("stAlertContentSuccess").filter(has_text="15 posts added to the outbox as drafts")
    ).to_contain_text("review and approve them on the Publish page.")
    wait_for_app(page)
    expect(page.locator(".st-key-targeting_queue button")).to_contain_text("Queue the week (0 posts)")

    posts = publish.list_posts(open_workspace(home, with_demo=False))
    assert len(posts) == 15 and {p.state for p in posts} == {publish.OutboxState.DRAFT}
    assert {p.template for p in posts} == {None}  # written by the writer, not a template
    click_page(page, "Publish")
    newest = posts[0]
    expect(page.locator(f"[class*='st-key-edit_text_{newest.id}_'] textarea")).to_have_value(newest.text)
    expect(page.get_by_text(f"segment {newest.segment}").first).to_be_visible()
