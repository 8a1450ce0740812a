"""What every command prints: one JSON object with ``--json``, short lines for people otherwise."""

from __future__ import annotations

import json
import sys

__all__ = ["print_json", "say"]


def print_json(obj: object) -> None:
    """One JSON object on stdout (the ``--json`` output of every command)."""
    print(json.dumps(obj, ensure_ascii=False, default=str))


def say(line: str) -> None:
    """One line for people on stdout (``--json`` output goes through :func:`print_json`)."""
    sys.stdout.write(line + "\n")
