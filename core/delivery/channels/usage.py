"""What Reach's own calls to a pay-per-use network cost it: one row per billable unit, in the workspace.

A network that bills per call (X since 2026) is handed a :class:`UsageLedger` and writes down each
answered call as it is billed: a post created, or each post and user an answer returned. Reads of
the same resource on the same UTC day are billed once, so the ledger keeps them once (a unique key
on channel, day, kind and resource); creates are always new resources. Refused calls (429, 402,
5xx) cost nothing and are not written. Prices and the month's spend are read from this table by
:mod:`core.delivery.outbox.costs`.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterable

from core import clock
from core.workspace import Workspace

__all__ = [
    "KINDS",
    "POST_CREATE",
    "POST_CREATE_WITH_URL",
    "POST_READ",
    "USER_READ",
    "UsageLedger",
    "create_kind",
]

log = logging.getLogger(__name__)

POST_CREATE = "post_create"
POST_CREATE_WITH_URL = "post_create_with_url"
POST_READ = "post_read"
USER_READ = "user_read"
KINDS = (POST_CREATE, POST_CREATE_WITH_URL, POST_READ, USER_READ)
_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


def create_kind(text: str) -> str:
    """How creating ``text`` is billed: a post with a link is X's dearer "Content: Create (with URL)"."""
    return POST_CREATE_WITH_URL if _LINK.search(text) else POST_CREATE


class UsageLedger:
    """Writes one channel's billable units into ``api_usage``."""

    def __init__(self, ws: Workspace, channel: str) -> None:
        self.ws = ws
        self.channel = channel

    def record(self, kind: str, resource_ids: Iterable[str]) -> int:
        """Write down ``kind`` for each resource (today, UTC); return how many were new (billed).

        Never raises: a busy database must not turn a post that went out into a failure; the
        miss is logged instead.
        """
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r} must be one of {', '.join(KINDS)}")
        ids = [str(i) for i in resource_ids if str(i)]
        if not ids:
            return 0
        now = clock.now()
        day, at = now.date().isoformat(), clock.iso(now)
        try:
            with self.ws.connect() as con:
                before = con.total_changes
                con.executemany(
                    "INSERT INTO api_usage (channel, day, kind, resource_id, at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (channel, day, kind, resource_id) DO NOTHING",
                    [(self.channel, day, kind, i, at) for i in ids],
                )
                return con.total_changes - before
        except sqlite3.Error as exc:
            log.warning("could not count %d %s on %s: %s", len(ids), kind, self.channel, exc)
            return 0
