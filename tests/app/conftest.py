"""AppTest fixtures: a demo workspace made once per session, copied for each test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.workspace import open_workspace

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the demo imported, built once."""
    home = tmp_path_factory.mktemp("demo-template") / "workspace"
    open_workspace(home, with_demo=True)
    return home


@pytest.fixture
def workspace_home(demo_workspace_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the demo workspace, set as REACH_HOME for the app under test."""
    home = tmp_path / "workspace"
    shutil.copytree(demo_workspace_template, home)
    monkeypatch.setenv("REACH_HOME", str(home))
    return home


@pytest.fixture
def app(workspace_home: Path) -> AppTest:
    """The whole app (app.py routes every page), run once on the demo workspace."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at
