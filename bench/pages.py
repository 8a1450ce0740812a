"""How fast every page of the demo answers in a real browser, the first time and when revisited.

    .venv/bin/python bench/pages.py                    # a fresh demo workspace, two passes over the pages
    .venv/bin/python bench/pages.py --passes 3 --shots /tmp/shots --width 420

It starts ``streamlit run app.py`` on a free port of 127.0.0.1 with a new workspace (so the first
start imports the demo), opens it in headless Chromium (Playwright, Debian's ``/usr/bin/chromium``)
and times:

* **first start**: from opening the app's address until Home has finished drawing (this includes
  the demo import and the server's own start of the session);
* **cold**: each page reached for the first time from the sidebar, in the order of the sidebar;
* **warm**: the same pages visited again (pass 2, and more with ``--passes``).

A visit is timed from the click on the sidebar link until the script run it starts has finished
(``stApp``'s ``data-test-script-state`` goes from ``running`` to ``notRunning``) and neither a spinner
nor a skeleton (the grey box Streamlit shows while a chart or table is still being drawn) is left on
the page: that is when the page's main content is on screen. The page is polled every animation frame. The load average is printed
with every pass because the machine may be shared: figures are only comparable at a similar load.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("REACH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
_SERVER_FLAGS = ("--server.address", "127.0.0.1", "--server.headless", "true")
PAGES = [
    "Home",
    "Data",
    "Segments",
    "Interests",
    "Studio",
    "Targeting",
    "Publish",
    "Calendar",
    "Results",
    "Inbox",
    "Settings",
]

# Records every change of the script state with its time, so a run that starts and ends between
# two polls is not missed.
_WATCH = """() => {
  window.__runs = [];
  if (window.__watch) window.__watch.disconnect();
  // the whole document, not one element: the app's root may be drawn anew
  window.__watch = new MutationObserver(records => {
    for (const r of records) window.__runs.push([r.target.getAttribute("data-test-script-state"), performance.now()]);
  });
  window.__watch.observe(document.body, {attributes: true, subtree: true, attributeFilter: ["data-test-script-state"]});
}"""
_DONE = """() => {
  const runs = window.__runs || [];
  if (!runs.length) return null;
  // a run so short that its two changes reached the observer together shows only "notRunning"
  const started = Math.max(0, runs.findIndex(r => r[0] === "running"));
  const ended = runs.slice(started).find(r => r[0] === "notRunning");
  // lazily loaded elements (charts, tables) show a grey skeleton until their code has run and drawn
  if (!ended || document.querySelector("[data-testid='stSpinner'], [data-testid='stSkeleton']")) return null;
  return Math.max(ended[1], performance.now());
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(home: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), *_SERVER_FLAGS],
        cwd=REPO,
        env={**os.environ, "REACH_HOME": str(home)},
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start: {log_path.read_text()[-2000:]}") from None
            time.sleep(0.2)


def _wait_done(page: Page, timeout_s: float = 180.0) -> float:
    """Milliseconds (page clock) at which the run that followed the last ``_WATCH`` ended."""
    try:
        handle = page.wait_for_function(_DONE, timeout=timeout_s * 1000, polling="raf")
    except PlaywrightError:
        page.screenshot(path="bench-pages-timeout.png")
        print("script states seen:", page.evaluate("() => window.__runs"), "screenshot: bench-pages-timeout.png")
        raise
    return float(handle.json_value())


def _visit(page: Page, name: str) -> float:
    """Seconds from clicking ``name`` in the sidebar until its page has finished drawing."""
    page.evaluate(_WATCH)
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True)
    start = page.evaluate("() => performance.now()")
    link.click()
    return (_wait_done(page) - start) / 1000


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=2, help="visits of every page (the first is cold)")
    parser.add_argument("--width", type=int, default=1280, help="browser window width in px")
    parser.add_argument("--shots", type=Path, help="save a full-page screenshot of every page here")
    parser.add_argument("--home", type=Path, help="an existing workspace to use (default: a new demo one)")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds to wait after the first start")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="reach-bench-pages-") as tmp:
        home = args.home or Path(tmp) / "workspace"
        proc, url = _start_server(home, Path(tmp) / "streamlit.log")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": args.width, "height": 900})
                page.set_default_timeout(180_000)
                print(f"load average before: {_load()}  (cores: {os.cpu_count()})")
                start = time.monotonic()
                page.goto(url)
                page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
                page.wait_for_function(
                    "() => !document.querySelector(\"[data-testid='stSpinner'], [data-testid='stSkeleton']\")"
                )
                print(f"first start (Home drawn, demo imported): {time.monotonic() - start:.2f} s")
                time.sleep(args.settle)
                figures: dict[str, list[float]] = {name: [] for name in PAGES}
                for n in range(args.passes):
                    for name in PAGES[1:] + PAGES[:1]:
                        print(f"  {name}…", end=" ", flush=True)
                        figures[name].append(_visit(page, name))
                        if args.shots and n == args.passes - 1:
                            args.shots.mkdir(parents=True, exist_ok=True)
                            page.screenshot(path=args.shots / f"{name.lower()}-{args.width}.png", full_page=True)
                    print(f"\npass {n + 1} done, load average: {_load()}")
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    header = "page".ljust(10) + "cold s".rjust(8) + "".join(f"warm{n} s".rjust(9) for n in range(1, args.passes))
    print(header)
    for name, times in figures.items():
        print(name.ljust(10) + "".join(f"{t:9.2f}" if i else f"{t:8.2f}" for i, t in enumerate(times)))
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
