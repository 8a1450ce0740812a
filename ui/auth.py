"""The login gate: a password form when a password hash is configured."""

from __future__ import annotations

import os

import streamlit as st

from core.auth import verify_password
from ui import state


def _password_hash() -> str | None:
    try:
        configured = st.secrets.get("auth", {}).get("password_hash")
    except Exception:  # no secrets file at all: nothing configured there
        configured = None
    return configured or os.environ.get("REACH_PASSWORD_HASH") or None


def gate() -> bool:
    """True when the visitor may see the app; otherwise renders the login form."""
    stored = _password_hash()
    if stored is None or state.get("authenticated"):
        return True
    st.title("Reach")
    with st.form("login"):
        password = st.text_input("Password", type="password")
        if st.form_submit_button("Sign in", type="primary"):
            if verify_password(password, stored):
                state.put("authenticated", True)
                st.rerun()
            st.error("That password is not right.")
    return False
