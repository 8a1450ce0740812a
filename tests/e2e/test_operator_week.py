"""The operator's week on the demo, as a new user does it in a real browser: answer the time-zone
question, plan the week on Targeting, approve it in one click on Publish and find it on the
Calendar. Then every page at 1280 px wide: nothing sticks out of the window and no chart label is
cut at the chart's edge or hidden under its key."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import open_page, streamlit_app, wait_for_app
from tests.e2e.layout import CLIPPED, CUT_LABELS

pytestmark = pytest.mark.e2e

# page address → its title
PAGES = {"": "Reach", **{name: name.capitalize() for name in ("data", "segments", "interests", "studio")}}
PAGES |= {name: name.capitalize() for name in ("targeting", "publish", "calendar", "results", "inbox", "settings")}
WITH_CHARTS = {"data", "segments", "interests", "targeting", "results"}  # and the calendar once a post is due


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo workspace as a first start brings it, with its published history."""
    with streamlit_app(tmp_path_factory.mktemp("e2e-week") / "workspace", {"REACH_DEMO_HISTORY": "1"}) as url:
        yield url


def test_the_week_is_planned_approved_in_one_click_and_on_the_calendar(page: Page, demo_app: str) -> None:
    open_page(page, demo_app, "")
    prompt = page.locator(".st-key-timezone_prompt")
    expect(prompt).to_contain_text("Which time zone are you in?")
    prompt.get_by_role("combobox").click()
    page.keyboard.type("Asia/Shanghai")
    page.keyboard.press("Enter")
    prompt.get_by_role("button", name="Use this time zone").click()
    expect(prompt).to_have_count(0)

    open_page(page, demo_app, "segments")  # step 2 before step 4, as the pages are numbered
    expect(page.get_by_role("heading", name="Profiles")).to_be_visible(timeout=240_000)
    open_page(page, demo_app, "targeting")
    accept = page.get_by_role("button", name="Accept and save the proposals")
    expect(accept).to_be_visible(timeout=120_000)
    accept.click()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text(re.compile(r"Saved \d+ rules"))
    queue = page.get_by_role("button", name=re.compile(r"^Queue the week \(\d+ posts\)$"))
    expect(queue).to_be_enabled()
    n = int(re.search(r"\((\d+) posts\)", queue.inner_text()).group(1))
    assert n > 1
    queue.click()
    expect(page.get_by_text(f"{n} posts added to the outbox as drafts")).to_be_visible()

    open_page(page, demo_app, "publish")
    page.get_by_role("button", name=f"Approve the week ({n})").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"{n} of {n} drafts will be approved")
    expect(dialog.get_by_text("passes pre-flight")).to_have_count(n)  # what goes out, each post listed
    dialog.get_by_role("button", name=f"Approve {n}", exact=True).click()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text(f"{n} posts approved for the week.")
    expect(page.get_by_role("button", name="Approve the week (0)")).to_be_disabled()
    expect(page.get_by_text(f"Nothing left to approve: {n} posts are queued for the next seven days.")).to_be_visible()

    open_page(page, demo_app, "calendar")
    expect(page.get_by_text("Times in Asia/Shanghai")).to_be_visible()
    # the calendar opens on the seven days just approved: every post of the week is on it
    expect(page.get_by_text(re.compile(rf"(^|· ){n} scheduled\."))).to_be_visible()
    expect(page.locator(".js-plotly-plot .scatterlayer .trace path.point")).not_to_have_count(0)


def test_no_page_cuts_anything_off_at_1280_px(browser: Browser, demo_app: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    faults = {}
    try:
        for name, title in PAGES.items():
            open_page(page, demo_app, name)
            # a first start imports the demo before any page is drawn
            expect(page.get_by_role("heading", name=title, level=1, exact=True)).to_be_visible(timeout=240_000)
            ticks = page.locator(".js-plotly-plot .xtick text")
            if name in WITH_CHARTS:
                expect(ticks.first).to_be_attached(timeout=120_000)
            elif name == "calendar":  # a chart, or the words saying there is nothing to show
                expect(ticks.or_(page.get_by_text("Nothing on the calendar")).first).to_be_attached()
            expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
            wait_for_app(page)
            found = page.evaluate(CUT_LABELS)
            assert name not in WITH_CHARTS or found["checked"] > 0
            if bad := page.evaluate(CLIPPED) + found["out"]:
                faults[name or "home"] = bad
    finally:
        context.close()
    assert faults == {}
