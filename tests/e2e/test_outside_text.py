"""Text from outside the app stays text: Markdown images in a mention, a topic and a dataset name fetch nothing,
and addresses in a mention are not links."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.demo import open_workspace
from core.feedback.inbox import refresh_mentions
from core.intake.ingest import ingest
from tests.conftest import FAKE_X_KEYS
from tests.e2e.conftest import open_page, streamlit_app

pytestmark = pytest.mark.e2e


class _Logged(BaseHTTPRequestHandler):
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 that records every request; (base URL, paths requested)."""
    seen: list[str] = []
    handler = type("Handler", (_Logged,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _events(image_topic: str) -> str:
    """Two groups of 30 users; one group's interests include ``image_topic`` (two events per topic, as rules need)."""
    rows = ["user_id,action,topic,timestamp"]
    for group, action, hour, topics in (
        ("a", "like", 8, ("yoga", image_topic, "herbal tea")),
        ("b", "view", 19, ("fitness", "protein", "running")),
    ):
        for u in range(30):
            for day, topic in enumerate(topics * 2):
                rows.append(f'{group}{u},{action},"{topic}",2026-09-0{1 + day} {hour:02d}:{u:02d}:00')
    return "\n".join(rows) + "\n"


def test_markdown_images_from_outside_are_shown_as_text_and_never_fetched(
    page: Page, tmp_path: Path, image_server, fake_x, monkeypatch
) -> None:
    base, seen = image_server
    home = tmp_path / "workspace"
    ws = open_workspace(home, with_demo=False)
    events = tmp_path / "events.csv"
    events.write_text(_events(f"![t]({base}/topic.png)"), encoding="utf-8")
    ingest(ws, [events], name=f"Shop ![d]({base}/dataset.png)")
    monkeypatch.setenv("REACH_X_API_BASE", fake_x.base_url)
    for name, value in FAKE_X_KEYS.items():
        monkeypatch.setenv(name, value)
    addresses = "write to lily@elsewhere.example, www.elsewhere.example or http://elsewhere.example/x"
    fake_x.add_mention(f"@reach_test hi ![p]({base}/mention.png) :red[urgent] {addresses}", username="stranger")
    assert refresh_mentions(ws).new == 1

    with streamlit_app(home, {"REACH_DEMO": "0"}) as url:
        open_page(page, url, "", 180_000)
        open_page(page, url, "data", 180_000)
        expect(page.get_by_role("heading", name=f"Validation report · Shop ![d]({base}/dataset.png)")).to_be_visible()
        open_page(page, url, "segments", 180_000)
        expect(page.get_by_text("Best posting hours:").first).to_be_visible(timeout=180_000)
        open_page(page, url, "interests", 180_000)
        expect(page.get_by_text(f"![t]({base}/topic.png)").first).to_be_visible(timeout=180_000)
        open_page(page, url, "inbox", 180_000)
        expect(page.get_by_text(f"hi ![p]({base}/mention.png) :red[urgent] {addresses}")).to_be_visible()
        expect(page.locator("img[src^='http://127.0.0.1']")).to_have_count(0)
        # bare addresses in a mention are text, not links to click
        expect(page.locator("a[href*='elsewhere.example']")).to_have_count(0)

    assert seen == []
