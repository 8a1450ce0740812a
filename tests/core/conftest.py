"""Fixtures shared by the core tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``REACH_HOME`` for the command line: a fresh workspace folder, without the demo."""
    home = tmp_path / "workspace"
    monkeypatch.setenv("REACH_HOME", str(home))
    monkeypatch.setenv("REACH_DEMO", "0")
    return home


def cli_json(capsys: pytest.CaptureFixture, argv: list[str]) -> object:
    """Run ``python -m core ARGV`` in process; it must exit 0; its stdout parsed as JSON."""
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)
