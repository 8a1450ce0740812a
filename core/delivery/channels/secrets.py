"""Reading a channel's settings: the environment first, else a section of ``.streamlit/secrets.toml``.

``core`` does not import Streamlit, so the file is read with tomllib, in the places Streamlit reads
it (the project's ``.streamlit/secrets.toml``, then the user's). Values are returned, never logged.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

__all__ = ["read_settings", "secrets_files"]


def secrets_files() -> list[Path]:
    """The secrets files Streamlit reads, project first."""
    return [Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]


def read_settings(
    section: str,
    names: dict[str, str],
    *,
    environ: dict[str, str] | None = None,
    files: list[Path] | None = None,
) -> tuple[dict[str, str], str]:
    """``({key: value}, where they came from)`` for ``names`` (environment variable -> key in
    ``[section]``): each key from the environment when set there, else from the first secrets file
    whose section has it; empty strings for unset keys. The source is ``"environment"``,
    ``"secrets.toml"`` or both joined by " and "."""
    environ = os.environ if environ is None else environ
    found = {key: environ.get(env, "").strip() for env, key in names.items()}
    sources = {"environment"} if any(found.values()) else set()
    for path in files if files is not None else secrets_files():
        if all(found.values()):
            break
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get(section, {})
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if not isinstance(table, dict):
            continue
        for key in names.values():
            if not found[key] and str(table.get(key, "")).strip():
                found[key] = str(table[key]).strip()
                sources.add("secrets.toml")
    return found, " and ".join(sorted(sources)) or "secrets.toml"
