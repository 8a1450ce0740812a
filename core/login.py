"""Password guessing meets a growing wait: per client, and for everyone at once.

Every failed login is an audit entry (``login.failed`` with the client's address, never the
password); a successful one is ``login.ok``. From those entries, :func:`login_wait` says how long
a client must wait before its next try is even checked: after :data:`FREE_TRIES_PER_CLIENT`
failures since its last success, 2, 4, 8 … seconds (up to :data:`MAX_WAIT_SECONDS`) from its last
failure; and once :data:`FREE_TRIES_GLOBAL` failures from anyone pile up, everyone waits the same
way, so guessing from many addresses (or many browser sessions) gains nothing. The entries live
in the workspace, so a new browser session or a restart resets nothing.

A login survives a reload of the page: :func:`issue_login_token` signs an expiry time (HMAC with
a random key kept in the workspace, over the password hash too, so a new password ends every
login) for the browser to keep in a cookie, and :func:`login_token_valid` checks it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import clock
from core.workspace import Workspace

__all__ = [
    "FREE_TRIES_GLOBAL",
    "FREE_TRIES_PER_CLIENT",
    "LOGIN_TOKEN_SECONDS",
    "MAX_WAIT_SECONDS",
    "LoginWait",
    "issue_login_token",
    "login_token_valid",
    "login_wait",
    "record_login",
]

FREE_TRIES_PER_CLIENT = 3
FREE_TRIES_GLOBAL = 20
MAX_WAIT_SECONDS = 15 * 60
# Failures older than this are forgotten.
WINDOW = timedelta(hours=1)
#: How long a login lasts in a browser.
LOGIN_TOKEN_SECONDS = 12 * 3600
_KEY_SETTING = "auth.login_token_key"


@dataclass(frozen=True)
class LoginWait:
    """How long before the next try is checked, and whose failures caused it."""

    seconds: int
    reason: str = ""  # "this address" or "every address"

    @property
    def message(self) -> str:
        """What the login form says."""
        return f"Too many attempts from {self.reason}; wait {self.seconds} s before trying again."


def record_login(ws: Workspace, client: str, *, ok: bool) -> None:
    """Audit one login attempt of ``client`` (its address); the password is never recorded."""
    with ws.connect() as con:
        ws.audit("login.ok" if ok else "login.failed", {"client": client}, con=con)


def login_wait(ws: Workspace, client: str, *, now: datetime | None = None) -> LoginWait:
    """The wait ``client`` must sit out before its next try (``seconds == 0``: it may try now)."""
    now = now or clock.now()
    since = clock.iso(now - WINDOW)
    with ws.connect() as con:
        rows = con.execute(
            "SELECT at, action, detail FROM audit_log WHERE action IN ('login.failed', 'login.ok') AND at >= ? "
            "ORDER BY id",
            (since,),
        ).fetchall()
    attempts = [(clock.from_iso(r["at"]), r["action"], json.loads(r["detail"]).get("client")) for r in rows]
    own = _failures_since_success([a for a in attempts if a[2] == client])
    everyone = _failures_since_success(attempts)
    waits = [
        LoginWait(_remaining(own, FREE_TRIES_PER_CLIENT, now), "this address"),
        LoginWait(_remaining(everyone, FREE_TRIES_GLOBAL, now), "every address"),
    ]
    return max(waits, key=lambda w: w.seconds)


def _failures_since_success(attempts: list[tuple[datetime, str, str | None]]) -> list[datetime]:
    failures: list[datetime] = []
    for at, action, _client in attempts:
        if action == "login.ok":
            failures = []
        else:
            failures.append(at)
    return failures


def _remaining(failures: list[datetime], free: int, now: datetime) -> int:
    """Seconds left of the wait that ``failures`` earn past ``free`` tries: 2, 4, 8 … from the last one."""
    extra = len(failures) - free + 1
    if extra <= 0:
        return 0
    wait = min(2**extra, MAX_WAIT_SECONDS)
    return max(0, int((failures[-1] + timedelta(seconds=wait) - now).total_seconds()))


def issue_login_token(ws: Workspace, password_hash: str, *, now: datetime | None = None) -> str:
    """A token that proves a login until :data:`LOGIN_TOKEN_SECONDS` from ``now``: ``expiry.signature``."""
    expires = int((now or clock.now()).timestamp()) + LOGIN_TOKEN_SECONDS
    return f"{expires}.{_signature(ws, password_hash, expires)}"


def login_token_valid(ws: Workspace, token: str, password_hash: str, *, now: datetime | None = None) -> bool:
    """Whether ``token`` came from :func:`issue_login_token` for this password and has not expired."""
    expires_text, _, signature = token.partition(".")
    if not expires_text.isdigit() or int(expires_text) < (now or clock.now()).timestamp():
        return False
    return hmac.compare_digest(signature, _signature(ws, password_hash, int(expires_text)))


def _signature(ws: Workspace, password_hash: str, expires: int) -> str:
    return hmac.new(_key(ws), f"{expires}|{password_hash}".encode(), hashlib.sha256).hexdigest()


def _key(ws: Workspace) -> bytes:
    """The workspace's signing key, made on first use (the first of two racing sessions wins)."""
    with ws.connect() as con:
        con.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            (_KEY_SETTING, secrets.token_hex(32)),
        )
        return bytes.fromhex(con.execute("SELECT value FROM settings WHERE key = ?", (_KEY_SETTING,)).fetchone()[0])
