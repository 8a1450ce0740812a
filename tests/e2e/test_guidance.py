"""What a real browser shows where the analysis is weak, and what a narrow screen leaves usable.

A dataset with no structure (everyone follows random topics) and dates without times: Segments
must warn about the low silhouette and claim no best hour. At 420 px wide, no element of a page
may stick out of the window unless it sits in a box that scrolls sideways, and no chart label may be
cut at the chart's edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect

from core.demo import open_workspace
from core.intake.ingest import ingest
from tests.e2e.conftest import open_page, streamlit_app
from tests.e2e.layout import CLIPPED, CUT_LABELS

pytestmark = pytest.mark.e2e

TOPICS = ["tea", "yoga", "oats", "kefir", "miso", "chia", "rice", "figs"]


@pytest.fixture(scope="module")
def weak_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A workspace whose only dataset has random interests and dates without a time of day."""
    home = tmp_path_factory.mktemp("e2e-guidance") / "workspace"
    ws = open_workspace(home, with_demo=False)
    rng = np.random.default_rng(3)
    lines = ["user_id,topic,date"]
    for user in range(300):
        for _ in range(6):
            lines.append(f"u{user:03d},{rng.choice(TOPICS)},2026-03-{rng.integers(1, 29):02d}")
    export = home.parent / "orders.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest(ws, [export], name="Orders by day")
    with streamlit_app(home, {"REACH_DEMO": "0"}) as url:
        yield url


def test_segments_warn_about_a_low_silhouette_and_claim_no_best_hour(page: Page, weak_app: str) -> None:
    open_page(page, weak_app, "segments")
    warning = page.get_by_test_id("stAlertContentWarning").filter(has_text="The silhouette is")
    expect(warning).to_contain_text("below 0.2")
    expect(warning).to_contain_text("Automatic already chose the number with the best silhouette")
    expect(warning).to_contain_text("import more data")
    expect(page.get_by_text("Your timestamps carry dates only").first).to_be_visible()
    expect(page.get_by_text("Best posting hours")).to_have_count(0)


@pytest.mark.parametrize("name", ["segments", "publish", "results", "data"])
def test_nothing_is_cut_off_at_420_px(browser: Browser, weak_app: str, name: str, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 420, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        open_page(page, weak_app, name)
        page.screenshot(path=tmp_path / f"{name}-420.png", full_page=True)
        assert page.evaluate(CLIPPED) == []
        assert page.evaluate(CUT_LABELS)["out"] == []  # nor a chart label cut at the chart's edge or under its key
    finally:
        context.close()
