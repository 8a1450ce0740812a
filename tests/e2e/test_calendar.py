"""The Calendar and "Approve the week" in a real browser, on the dry run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core import clock
from core.delivery import outbox as publish
from core.delivery.outbox import OutboxState, PublishSettings
from core.demo import open_workspace
from tests.e2e.conftest import click_page, open_page, streamlit_app, wait_for_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def calendar_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An empty workspace (dry run, no dataset); (url, home)."""
    home = tmp_path_factory.mktemp("e2e-calendar") / "workspace"
    open_workspace(home, with_demo=False)
    with streamlit_app(home, {"REACH_DEMO": "0"}) as url:
        yield url, home


def test_open_a_post_from_the_calendar_and_move_it(page: Page, calendar_app: tuple[str, Path]) -> None:
    url, home = calendar_app
    ws = open_workspace(home)
    tz = PublishSettings.load(ws).timezone
    at = (clock.now() + timedelta(hours=2)).replace(minute=0)
    first = publish.add_post(ws, "Golden milk: turmeric, ginger, oat milk", segment="young women", at=at, approve=True)
    clicked = publish.add_post(
        ws, "Kefir with honey and cinnamon", segment="seniors", at=at + timedelta(hours=1), approve=True
    )
    open_page(page, url)
    click_page(page, "Calendar")  # it opens on the seven days from today: the posts are on it
    chart = page.locator(".js-plotly-plot")
    expect(chart.locator(".scatterlayer .trace path.point")).to_have_count(2)
    opened = page.locator(".st-key-calendar_opened")
    expect(opened).to_contain_text(f"#{first.id}")  # the earliest post is open at first

    # segments are sorted by name: the first trace is the seniors' post; clicking it opens it
    point = chart.locator(".scatterlayer .trace").first.locator("path.point")
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # plotly hit-tests the pointer
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(opened).to_contain_text(f"#{clicked.id}")
    expect(opened).to_contain_text("Kefir with honey and cinnamon")
    wait_for_app(page)

    # move it two days later with the date field; pre-flight passes and it stays scheduled
    target = clock.to_local(clicked.scheduled_at, tz).date() + timedelta(days=2)
    day_field = opened.locator(f".st-key-calendar_move_{clicked.id}_date")
    year = day_field.get_by_role("spinbutton", name=re.compile("^year"))
    expect(year).to_be_visible()
    year.click()
    page.keyboard.type(f"{target:%Y%m%d}")  # year, month and day segments, each moving to the next
    page.keyboard.press("Tab")
    wait_for_app(page)
    opened.get_by_role("button", name="Move here", exact=True).click()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text(
        re.compile(rf"Post {clicked.id} moved to {target.isoformat()} \d\d:\d\d")
    )
    moved = publish.get_post(ws, clicked.id)
    assert (moved.state, clock.to_local(moved.scheduled_at, tz).date()) == (OutboxState.SCHEDULED, target)


def test_approve_the_week_in_one_click_with_one_confirmation(page: Page, calendar_app: tuple[str, Path]) -> None:
    url, home = calendar_app
    ws = open_workspace(home)
    soon = clock.now() + timedelta(days=1)
    week = [
        publish.add_post(ws, "Overnight oats, five minutes tonight", segment="young women", at=soon),
        publish.add_post(ws, "A walk after lunch helps your sleep", segment="seniors", at=soon + timedelta(days=2)),
    ]
    open_page(page, url)
    click_page(page, "Publish")
    page.get_by_role("button", name="Approve the week (2)").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("2 of 2 drafts will be approved")
    for post in week:  # the confirmation lists what will go out
        expect(dialog).to_contain_text(post.text)
    dialog.get_by_role("button", name="Approve 2", exact=True).click()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text("2 posts approved for the week.")
    assert [publish.get_post(ws, p.id).state for p in week] == [OutboxState.SCHEDULED] * 2
    expect(page.get_by_role("button", name="Approve the week (0)")).to_be_disabled()
