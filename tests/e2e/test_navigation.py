"""Navigation in a real browser: a deep link on a freshly started server is framed by app.py, and
nothing the app shows is fetched from outside this machine."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.demo import open_workspace
from tests.e2e.conftest import streamlit_app, wait_for_app

pytestmark = pytest.mark.e2e


def test_first_visit_by_a_page_address_gets_the_sections(page: Page, tmp_path: Path) -> None:
    home = tmp_path / "workspace"
    open_workspace(home, with_demo=False)
    # A server of its own: the first visit it ever sees is the deep link.
    with streamlit_app(home, {"REACH_DEMO": "0"}) as url:
        outside: list[str] = []  # what the browser asks of any other host (the favicon once came from Google)
        page.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:")) else outside.append(r.url))
        page.goto(f"{url}/publish")
        wait_for_app(page)
        expect(page.get_by_role("heading", name="Publish", exact=True)).to_be_visible(timeout=60_000)
        nav = page.get_by_test_id("stSidebarNav")
        expect(nav).to_contain_text("5 · Delivery")
        expect(nav).to_contain_text("6 · Interaction")
        expect(nav.get_by_role("link", name="Publish", exact=True)).to_be_visible()
        expect(nav).not_to_contain_text("targeting")  # Streamlit's fallback lists raw file names
        nav.get_by_role("link", name="Data", exact=True).click()
        expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible(timeout=60_000)
        wait_for_app(page)
        assert outside == []
