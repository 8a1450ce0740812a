"""Every session-state key the app uses, with its default, in one place."""

from __future__ import annotations

from typing import Any

import streamlit as st

# key -> default
DEFAULTS: dict[str, Any] = {
    "authenticated": False,
    "last_import": None,        # message about the import just made, shown once
    "uploader_round": 0,        # bumped after an import so the uploader starts empty
    "upload_mappings": {},      # file id -> {canonical: source}, edits in the mapping editor
    "upload_kinds": {},         # file id -> kind chosen in the import form
    "confirm_delete": None,     # dataset id waiting for confirmation
    "sidebar_dataset": None,    # widget: the active-dataset selector in the sidebar
}


def init() -> None:
    """Put every default into ``st.session_state`` once per session."""
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if isinstance(value, dict) else value


def get(key: str) -> Any:
    """A session value (its default if unset)."""
    if key not in DEFAULTS:
        raise KeyError(f"unknown session key {key!r}; add it to ui.state.DEFAULTS")
    return st.session_state.get(key, DEFAULTS[key])


def put(key: str, value: Any) -> None:
    """Set a session value."""
    if key not in DEFAULTS:
        raise KeyError(f"unknown session key {key!r}; add it to ui.state.DEFAULTS")
    st.session_state[key] = value
