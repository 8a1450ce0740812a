"""The upload gate: with a password set, Streamlit takes uploads only from sessions that logged in.

Streamlit's upload endpoint (``PUT /_stcore/upload_file/<session>/<file>``) accepts a file from
any open session, including one that only shows the login form. :class:`UploadGate` is an ASGI
middleware in front of it (``serve.py`` runs the app through ``st.App`` with it): while a
password is configured, an upload for a session that has not logged in is answered 403 before a
byte of it is read. :func:`allow_session` is what the login form calls once the password was
right.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from streamlit.runtime.scriptrunner import get_script_run_ctx

__all__ = ["UploadGate", "allow_session", "gate_installed"]

_UPLOAD_PATH = "/_stcore/upload_file/"
_logged_in: set[str] = set()
_lock = threading.Lock()
_installed = threading.Event()


def allow_session() -> None:
    """Let the current browser session upload files (call it once its login succeeded)."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        with _lock:
            _logged_in.add(ctx.session_id)


def session_allowed(session_id: str) -> bool:
    """Whether ``session_id`` logged in."""
    with _lock:
        return session_id in _logged_in


def gate_installed() -> bool:
    """Whether this server runs with :class:`UploadGate` in front (started through ``serve.py``)."""
    return _installed.is_set()


class UploadGate:
    """ASGI middleware: refuse uploads from sessions that have not logged in, while a password is set.

    ``password_required`` is asked on every upload, so a password set while the server runs counts.
    """

    def __init__(self, app: ASGIApp, *, password_required: Callable[[], bool]) -> None:
        self.app = app
        self.password_required = password_required
        _installed.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("PUT", "POST") and _UPLOAD_PATH in scope["path"]:
            session_id = scope["path"].split(_UPLOAD_PATH, 1)[1].split("/", 1)[0]
            if self.password_required() and not session_allowed(session_id):
                response = PlainTextResponse("log in before uploading", status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
