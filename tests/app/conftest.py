"""AppTest fixtures: the whole app on a private copy of the demo workspace (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(workspace_home: Path) -> AppTest:
    """The whole app (app.py routes every page), run once on the demo workspace."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at
