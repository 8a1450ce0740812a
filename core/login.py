"""Password guessing meets a growing wait: per client, and for everyone at once.

Every failed login is an audit entry (``login.failed`` with the client's address, never the
password); a successful one is ``login.ok``. From those entries, :func:`login_wait` says how long
a client must wait before its next try is even checked: after :data:`FREE_TRIES_PER_CLIENT`
failures since its last success, 2, 4, 8 … seconds (up to :data:`MAX_WAIT_SECONDS`) from its last
failure; and once :data:`FREE_TRIES_GLOBAL` failures from anyone pile up, everyone waits the same
way, so guessing from many addresses (or many browser sessions) gains nothing. The entries live
in the workspace, so a new browser session or a restart resets nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import clock
from core.workspace import Workspace

__all__ = ["FREE_TRIES_GLOBAL", "FREE_TRIES_PER_CLIENT", "MAX_WAIT_SECONDS", "LoginWait", "login_wait", "record_login"]

FREE_TRIES_PER_CLIENT = 3
FREE_TRIES_GLOBAL = 20
MAX_WAIT_SECONDS = 15 * 60
# Failures older than this are forgotten.
WINDOW = timedelta(hours=1)


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
