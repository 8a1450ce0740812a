# Shared pytest configuration for Reach; fixtures live next to the tests that use them.
"""Fixtures shared by the core tests: an empty workspace and a way to see all of it at once."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from core.demo import open_workspace
from core.workspace import Workspace

# Tests start from the demo as it was before its published history: an empty outbox. Tests of the
# history ask for it (``install_demo(..., with_history=True)``); apps they start inherit this.
os.environ.setdefault("REACH_DEMO_HISTORY", "0")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh, migrated workspace without the demo dataset."""
    return open_workspace(tmp_path / "workspace", with_demo=False)


@pytest.fixture(scope="session")
def demo_workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the demo imported, built once per test session."""
    home = tmp_path_factory.mktemp("demo-template") / "workspace"
    open_workspace(home, with_demo=True)
    return home


@pytest.fixture
def workspace_home(demo_workspace_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the demo workspace, set as REACH_HOME."""
    home = tmp_path / "workspace"
    shutil.copytree(demo_workspace_template, home)
    monkeypatch.setenv("REACH_HOME", str(home))
    return home


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, bytes | str], Path]:
    """Write bytes (or UTF-8 text) to a file under ``tmp_path/inputs`` and return its path."""
    folder = tmp_path / "inputs"

    def write(name: str, content: bytes | str) -> Path:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return write


def workspace_state(ws: Workspace) -> tuple[list[dict], dict[str, bytes], int | None]:
    """Everything an import could change: catalogue, every file and folder under the workspace, active id.

    The SQLite file itself is compared through the catalogue (its bytes change on any read-only
    connection's journal housekeeping, which is not a change the operator could see).
    """
    entries = {
        str(path.relative_to(ws.home)): (path.read_bytes() if path.is_file() else b"<folder>")
        for path in sorted(ws.home.rglob("*"))
        if not path.name.startswith("reach.db")
    }
    return [d.as_json() for d in ws.datasets()], entries, ws.active_dataset_id()


@pytest.fixture(scope="session")
def snapshot() -> Callable[[Workspace], tuple[list[dict], dict[str, bytes], int | None]]:
    """``snapshot(ws)``: the catalogue, the workspace's files and the active dataset, for before/after checks."""
    return workspace_state


# -- the fake X API: a real HTTP server that tweepy reaches through REACH_X_API_BASE -----
# Distinctive values, so a test can prove none of them is ever rendered or logged.
FAKE_X_KEYS = {
    "X_CONSUMER_KEY": "ck-SECRET-7f3a9c",
    "X_CONSUMER_SECRET": "cs-SECRET-41d2e8b6",
    "X_ACCESS_TOKEN": "at-SECRET-9b0c77e1",
    "X_ACCESS_TOKEN_SECRET": "ats-SECRET-c5e6f012",
}


# Mastodon's and Bluesky's settings, cleared wherever a test needs no channel connected.
CHANNEL_SETTINGS = (
    "REACH_MASTODON_BASE_URL",
    "MASTODON_ACCESS_TOKEN",
    "REACH_BLUESKY_PDS",
    "BLUESKY_HANDLE",
    "BLUESKY_APP_PASSWORD",
)


@pytest.fixture
def fake_x():
    """A fresh fake X server on 127.0.0.1 that accepts only ``FAKE_X_KEYS``."""
    from tests.fakes.fake_x import FakeX

    with FakeX(consumer_key=FAKE_X_KEYS["X_CONSUMER_KEY"]) as server:
        yield server


@pytest.fixture
def x_env(fake_x, monkeypatch: pytest.MonkeyPatch):
    """X keys and ``REACH_X_API_BASE`` in the environment, pointing at ``fake_x``; returns the fake."""
    monkeypatch.setenv("REACH_X_API_BASE", fake_x.base_url)
    for name, value in FAKE_X_KEYS.items():
        monkeypatch.setenv(name, value)
    return fake_x


@pytest.fixture
def no_x_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No keys for any channel anywhere: not in the environment, and no secrets.toml in the working directory."""
    for name in (*FAKE_X_KEYS, "REACH_X_API_BASE", *CHANNEL_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


# -- the fake Mastodon instance and Bluesky PDS, reached by Mastodon.py and atproto over HTTP -----
FAKE_MASTODON_TOKEN = "mt-SECRET-5e1f0a77c3"
FAKE_BLUESKY_PASSWORD = "bsky-SECRET-pass-9q2w"


@pytest.fixture
def fake_mastodon():
    """A fresh fake Mastodon instance on 127.0.0.1 that accepts only ``FAKE_MASTODON_TOKEN``."""
    from tests.fakes.fake_mastodon import FakeMastodon

    with FakeMastodon(token=FAKE_MASTODON_TOKEN) as server:
        yield server


@pytest.fixture
def mastodon_env(fake_mastodon, monkeypatch: pytest.MonkeyPatch):
    """``REACH_MASTODON_BASE_URL`` and ``MASTODON_ACCESS_TOKEN`` pointing at ``fake_mastodon``; returns the fake."""
    monkeypatch.setenv("REACH_MASTODON_BASE_URL", fake_mastodon.base_url)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", FAKE_MASTODON_TOKEN)
    return fake_mastodon


@pytest.fixture
def fake_bluesky():
    """A fresh fake Bluesky PDS on 127.0.0.1 that accepts only ``FAKE_BLUESKY_PASSWORD``."""
    from tests.fakes.fake_bluesky import FakeBluesky

    with FakeBluesky(app_password=FAKE_BLUESKY_PASSWORD) as server:
        yield server


@pytest.fixture
def bluesky_env(fake_bluesky, monkeypatch: pytest.MonkeyPatch):
    """``REACH_BLUESKY_PDS``, ``BLUESKY_HANDLE`` and ``BLUESKY_APP_PASSWORD`` for ``fake_bluesky``; returns the fake."""
    monkeypatch.setenv("REACH_BLUESKY_PDS", fake_bluesky.base_url)
    monkeypatch.setenv("BLUESKY_HANDLE", fake_bluesky.handle)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", FAKE_BLUESKY_PASSWORD)
    return fake_bluesky
