"""The Studio in a real browser: the demo's writer writes at once; train a tiny one, write drafts, edit one."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def _wait_for_app(page: Page) -> None:
    page.wait_for_selector("[data-testid='stApp']")
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=120_000)


def test_train_generate_and_edit_a_draft(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/studio")
    _wait_for_app(page)
    # the demo comes with its writer: drafts can be written before any training
    page.get_by_role("button", name=re.compile("Write drafts")).click()
    _wait_for_app(page)
    expect(page.locator("[class*='st-key-studio_draft_'] textarea")).to_have_count(5)
    expect(page.get_by_text("passes the checks").first).to_be_visible()

    # A tiny model: 16 units, one epoch, on the demo posts.
    page.get_by_role("tab", name="Model").click()
    page.get_by_text("Training settings").click()
    page.get_by_role("slider", name="LSTM units").focus()
    page.keyboard.press("Home")
    page.get_by_role("spinbutton", name="Most epochs").fill("1")
    page.get_by_role("spinbutton", name="Most epochs").press("Enter")
    _wait_for_app(page)
    page.get_by_role("button", name=re.compile("^Train$")).click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(
        re.compile(r"Model [\d-]+ trained: \d\.\d{3} bits/char \(n-gram \d\.\d{3}\)"), timeout=180_000
    )
    page.get_by_role("tab", name="Model").click()
    expect(page.get_by_text("Learned your voice from")).to_be_visible()
    page.get_by_text("Technical figures").click()  # the figures for the curious, behind an expander
    expect(page.get_by_text("Held-out bits per character")).to_be_visible()
    expect(page.get_by_text("16 LSTM units", exact=False)).to_be_visible()

    page.get_by_role("tab", name="Drafts").click()
    page.get_by_role("button", name=re.compile("Write drafts")).click()
    # the demo writer's drafts (seed 0) are still on the page: wait for the new ones (seed 1)
    expect(page.get_by_text(re.compile(r"^Written with seed 1\."))).to_be_visible(timeout=60_000)
    _wait_for_app(page)
    editors = page.locator("[class*='st-key-studio_draft_'] textarea")
    expect(editors).to_have_count(5)

    first = editors.first
    first.fill("A warm cup of chamomile and a slow walk in the garden: the calmest evening ritual.")
    first.press("Control+Enter")
    _wait_for_app(page)
    expect(page.get_by_text(re.compile(r"^82/280$")).first).to_be_visible()
    expect(page.get_by_text("passes the checks").first).to_be_visible()

    first.fill("This tea is a miracle cure!")
    first.press("Control+Enter")
    _wait_for_app(page)
    expect(page.get_by_text(re.compile("banned word: cure")).first).to_be_visible()
