"""The Segments and Interests pages in a real browser: the segment map and the rules scatter."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_for_app

pytestmark = pytest.mark.e2e


def test_segments_page_shows_its_map(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/segments")
    wait_for_app(page, 180_000)
    chart = page.get_by_test_id("stPlotlyChart").filter(has_text="Segment map (all 6,000 users, PCA)")
    expect(chart).to_be_visible(timeout=180_000)
    expect(chart.locator("image")).to_have_count(1)  # the dots, drawn as one picture
    expect(chart.locator(".annotation-text")).to_have_count(5)  # each segment's number at its centre
    # the map has no key: the bars of Segment sizes, in the same colours, name the segments
    sizes = page.get_by_test_id("stPlotlyChart").filter(has_text="Segment sizes")
    expect(sizes.get_by_text(re.compile(r"^0 · Women 18–29 ·")).first).to_be_visible()
    expect(page.get_by_text("Best posting hours:")).to_have_count(5)


def test_interests_page_shows_its_scatter(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/interests")
    wait_for_app(page, 180_000)
    chart = page.get_by_test_id("stPlotlyChart").filter(has_text="Rules: support × confidence, coloured by lift")
    expect(chart).to_be_visible(timeout=180_000)
    expect(chart.locator("canvas").first).to_be_attached()
    expect(chart.get_by_text("lift", exact=True)).to_be_visible()  # the colour bar
    expect(page.get_by_text(re.compile(r"^People into .+ also follow .+ more than average")).first).to_be_visible()
