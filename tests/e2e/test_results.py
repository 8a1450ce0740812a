"""The Results page in a real browser: refresh simulated metrics, read the cards, import an engagement CSV."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.delivery import outbox as publish
from core.demo import open_workspace
from tests.conftest import FAKE_X_KEYS
from tests.e2e.conftest import streamlit_app, wait_for_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dry_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``streamlit run app.py`` without X keys (posts go to the dry run); (url, workspace folder)."""
    home = tmp_path_factory.mktemp("e2e-results") / "workspace"
    ws = open_workspace(home, with_demo=False)
    publish.add_post(
        ws,
        "Overnight oats with chia, five minutes tonight",
        channel="dry-run",
        segment="55+",
        template="Tip",
        approve=True,
    )
    publish.add_post(
        ws,
        "Kefir smoothie after the gym, nothing added",
        channel="dry-run",
        segment="55+",
        template="Offer",
        approve=True,
    )
    publish.publish_due(ws)
    env = {**dict.fromkeys(FAKE_X_KEYS, ""), "REACH_X_API_BASE": "", "REACH_DEMO": "0"}
    with streamlit_app(home, env) as url:
        yield url, home


def test_refresh_then_import_an_engagement_csv(page: Page, dry_app: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = dry_app
    page.goto(url)
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Results", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_text("2 published posts have no metrics yet")).to_be_visible()

    page.locator(".st-key-results_refresh button").click()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text(
        "2 posts updated, 2 with simulated metrics (dry-run posts)."
    )
    wait_for_app(page)
    expect(page.get_by_text("Metrics of dry-run posts are simulated")).to_be_visible()
    expect(page.get_by_text("Too early to tell.").first).to_be_visible()

    export = tmp_path / "export.csv"
    export.write_text(
        "text;created_at;favorites;retweets;views\nMiso soup for cold evenings;2026-03-01 20:00;12;3;900\n"
        "Matcha at four;2026-03-02 16:00;4;0;\n",
        encoding="utf-8-sig",
    )
    # opened while there was nothing to show, the import stays open after the refresh
    expect(page.get_by_text("Engagement export of posts made elsewhere")).to_be_visible()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(export))
    expect(page.get_by_text("2 rows · utf-8-sig · delimiter ';'")).to_be_visible()
    page.locator(".st-key-results_import button").click()
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_contain_text(
        "export.csv: 2 posts imported; 1 has no impressions"
    )
    wait_for_app(page)
    expect(page.get_by_text("1 post has no impressions")).to_be_visible()
