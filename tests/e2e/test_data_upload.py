"""The Data page in a real browser: the demo on first start, an upload, a broken file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_for_app

pytestmark = pytest.mark.e2e

GBK_EXPORT = (
    "用户ID;时间;行为;话题;平台\n"
    "w001;2026-09-01 08:15:00;点赞;健身;weibo\n"
    "w001;2026-09-01 08:15:00;点赞;健身;weibo\n"
    "w002;2026-09-02 21:40:00;评论;护肤;weibo\n"
    "\n"
    "w003;2026-02-30 10:00:00;转发;养生茶;weibo\n"
    ";2026-09-03 12:00:00;点赞;健身;weibo\n"
    "w004;2026-09-04 19:05:00;购买;蛋白粉;weibo\n"
)


def test_first_start_opens_on_demo(page: Page, app_url: str) -> None:
    page.goto(app_url)
    wait_for_app(page)
    expect(page.get_by_text("Demo · health-food shop: 245,703 events, 6,000 users").first).to_be_visible()


def test_gbk_upload_through_the_page(page: Page, app_url: str, tmp_path: Path) -> None:
    export = tmp_path / "weibo_export.csv"
    export.write_bytes(GBK_EXPORT.encode("gbk"))
    page.goto(f"{app_url}/data")
    wait_for_app(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(export))
    expect(page.get_by_text("Encoding gb18030")).to_be_visible()
    expect(page.get_by_text("delimiter semicolon")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Import 1 file$")).click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(
        re.compile(r"Imported weibo_export as dataset #\d+: 3 events, 3 users")
    )
    wait_for_app(page)
    for label, value in {"Rows read": "6", "Accepted": "3", "Rejected": "2", "Duplicates removed": "1"}.items():
        metric = page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")
        expect(metric).to_have_text(value)
    expect(page.get_by_text("unparseable timestamp").first).to_be_visible()


def test_broken_file_says_what_to_fix(page: Page, app_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "notes.csv"
    broken.write_text("colour,size\nred,3\nblue,4\n", encoding="utf-8")
    page.goto(f"{app_url}/data")
    wait_for_app(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(broken))
    alert = page.get_by_test_id("stAlertContentError")
    expect(alert).to_contain_text("no user column found")
    expect(alert).to_contain_text("columns seen: colour, size")
    expect(page.get_by_role("button", name=re.compile("^Import"))).to_be_disabled()
