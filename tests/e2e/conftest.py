"""A real ``streamlit run`` on 127.0.0.1 and a real headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

expect.set_options(timeout=30_000)

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("REACH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_app(home: Path, env: dict[str, str] | None = None, *, script: str = "app.py") -> Iterator[str]:
    """``streamlit run app.py`` (or ``script``) on a free port of 127.0.0.1 with ``REACH_HOME=home``; yields its URL."""
    port = _free_port()
    log_path = home.parent / f"streamlit-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                script,
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
            ],
            cwd=REPO,
            env={**os.environ, **(env or {}), "REACH_HOME": str(home)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"streamlit did not start: {log_path.read_text()[-2000:]}") from None
                    time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_for_app(page: Page, timeout_ms: int = 120_000) -> None:
    """Wait until the page is drawn and the script has finished running."""
    page.wait_for_selector("[data-testid='stApp']")
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=timeout_ms)


def open_page(page: Page, url: str, path: str = "", timeout_ms: int = 120_000) -> None:
    """Open the app's page at ``url/path`` by its address and wait until it has run."""
    page.goto(f"{url}/{path}")
    wait_for_app(page, timeout_ms)


def click_page(page: Page, name: str) -> None:
    """Open a page from the sidebar, as a user does, and wait until it has run."""
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True)
    expect(link).to_be_visible()
    link.click()
    wait_for_app(page)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served by ``streamlit run app.py`` on a demo workspace of its own."""
    with streamlit_app(tmp_path_factory.mktemp("e2e-workspace") / "workspace") as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless; never a browser downloaded by Playwright."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (see README)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser page, large enough to show the wide layout."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def x_server() -> Iterator:
    """A fake X server for one test module (``tests.fakes.fake_x``)."""
    from tests.conftest import FAKE_X_KEYS
    from tests.fakes.fake_x import FakeX

    with FakeX(consumer_key=FAKE_X_KEYS["X_CONSUMER_KEY"]) as fake:
        yield fake


@pytest.fixture(scope="module")
def x_app(tmp_path_factory: pytest.TempPathFactory, x_server) -> Iterator[tuple[str, Path]]:
    """``streamlit run app.py`` on an empty workspace with X keys pointing at ``x_server``; (url, workspace)."""
    from core.demo import open_workspace
    from tests.conftest import FAKE_X_KEYS

    home = tmp_path_factory.mktemp("e2e-x") / "workspace"
    open_workspace(home, with_demo=False)
    env = {**FAKE_X_KEYS, "REACH_DEMO": "0", "REACH_X_API_BASE": x_server.base_url}
    with streamlit_app(home, env) as url:
        yield url, home
