"""The login gate: a password form when a password hash is configured."""

from __future__ import annotations

import os

import streamlit as st

from core.auth import verify_password
from core.login import LOGIN_TOKEN_SECONDS, issue_login_token, login_token_valid, login_wait, record_login
from core.workspace import Workspace
from ui import state
from ui.upload_gate import allow_session, gate_installed

LOGIN_COOKIE = "reach_login"


def _password_hash() -> str | None:
    try:
        configured = st.secrets.get("auth", {}).get("password_hash")
    except Exception:  # no secrets file at all: nothing configured there
        configured = None
    return configured or os.environ.get("REACH_PASSWORD_HASH") or None


def password_configured() -> bool:
    """Whether a login is required (a password hash is configured)."""
    return _password_hash() is not None


def gate(ws: Workspace) -> bool:
    """True when the visitor may see the app; otherwise renders the login form.

    A wrong password is an audit entry; after a few, the form makes this address (and, after
    many from anywhere, everyone) wait longer each time before a password is even checked.
    """
    stored = _password_hash()
    if stored is None:
        return True
    if state.get("authenticated"):
        _keep_login_in_browser()
        return True
    cookie = st.context.cookies.get(LOGIN_COOKIE)
    if isinstance(cookie, str) and login_token_valid(ws, cookie, stored):  # a reload, or a new tab
        state.put("authenticated", True)
        allow_session()
        return True
    address = st.context.ip_address
    client = address if isinstance(address, str) and address else "unknown"  # none in tests, behind some proxies
    st.title("Reach")
    with st.form("login"):
        password = st.text_input("Password", type="password")
        if st.form_submit_button("Sign in", type="primary"):
            wait = login_wait(ws, client)
            if wait.seconds:
                st.error(wait.message)
            elif verify_password(password, stored):
                record_login(ws, client, ok=True)
                state.put("authenticated", True)
                state.put("login_token", issue_login_token(ws, stored))
                allow_session()
                st.rerun()
            else:
                record_login(ws, client, ok=False)
                wait = login_wait(ws, client)
                st.error("That password is not right." + (f" {wait.message}" if wait.seconds else ""))
    return False


def _keep_login_in_browser() -> None:
    """After a login in this session: the browser keeps its signed, expiring token in a cookie.

    Written on every run of the session, as a run that a page switch supersedes never reaches
    the browser; the session's own cookies (read when it opened) cannot tell whether it has.
    """
    token = state.get("login_token")
    if token:
        st.html(
            f"<script>document.cookie = '{LOGIN_COOKIE}={token}; path=/; max-age={LOGIN_TOKEN_SECONDS}; "
            "samesite=strict';</script>",
            unsafe_allow_javascript=True,
        )


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def exposed_without_login() -> bool:
    """True when the server listens beyond this machine and no password is configured.

    An unset ``server.address`` means every interface, so it counts as exposed.
    """
    return not _loopback() and _password_hash() is None


def _loopback() -> bool:
    """Whether the server listens on this machine only (an unset ``server.address`` means every interface)."""
    address = (st.get_option("server.address") or "").strip().strip("[]")
    return address in LOOPBACK or address.startswith("127.")


def exposed_without_upload_gate() -> bool:
    """True when the server listens beyond this machine but was not started through ``serve.py``.

    Only the upload gate keeps a visitor who has not logged in from uploading files.
    """
    return not _loopback() and not gate_installed()


def explain_upload_gate() -> None:
    """The only page served while the app is exposed without the upload gate."""
    st.title("Start Reach with serve.py")
    st.error(
        "This server listens on a network address other than 127.0.0.1 but was started with "
        "`streamlit run app.py`, which lets visitors who have not logged in upload files. "
        "Start it with `streamlit run serve.py` (see the README's security section)."
    )


def explain_login_setup() -> None:
    """The only page served while the app is exposed without a login."""
    st.title("Reach needs a login first")
    st.error(
        "This server listens on a network address other than 127.0.0.1, and no login is set. "
        "Reach can publish and shows your audience data, so it serves nothing until one is set."
    )
    st.markdown(
        "1. Make a password hash: `python -m core hash-password`\n"
        "2. Put it in `.streamlit/secrets.toml`:\n\n"
        '   ```toml\n   [auth]\n   password_hash = "scrypt$…"\n   ```\n\n'
        "   or set the environment variable `REACH_PASSWORD_HASH`.\n"
        '3. Restart Reach. Or keep it private: set `server.address = "127.0.0.1"` in '
        "`.streamlit/config.toml` (the default)."
    )


def page_allowed() -> bool:
    """Whether a page may render: checked by every page, not only by ``app.py``.

    Until some session has called ``st.navigation``, Streamlit runs a deep link such as
    ``/publish`` straight from the ``pages/`` folder (its multipage v1 fallback), without
    ``app.py`` and so without the gate above; the pages must therefore check for themselves.
    """
    return (
        not exposed_without_login()
        and not exposed_without_upload_gate()
        and (_password_hash() is None or bool(state.get("authenticated")))
    )
