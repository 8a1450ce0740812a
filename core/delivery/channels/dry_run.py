"""The dry run: posts are recorded in the workspace, nothing is sent; the default without keys.

It applies X's rules (length and limits, refusing near-duplicates), so the outbox, the budget and
the results can be tried as they will behave on X before any keys are connected.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from core import clock
from core.clock import utc_now
from core.delivery.channels.base import Account, Mention, SentPost
from core.delivery.channels.x import XPublisher
from core.workspace import Workspace

__all__ = ["DryRunPublisher"]

log = logging.getLogger(__name__)


class DryRunPublisher:
    """Records what would be sent, in the workspace."""

    name = "dry-run"
    label = "Dry run"
    live = False
    # the dry run previews X, so it counts and limits as X does
    char_limits = XPublisher.char_limits
    length_rule = XPublisher.length_rule
    engagements_read = "simulated likes + reposts + replies + quotes"
    daily_cap = 10_000  # nothing leaves Reach: as good as no cap
    duplicate_rule = XPublisher.duplicate_rule
    weighted_length = XPublisher.weighted_length
    connect_hint = ""  # nothing to connect

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    @classmethod
    def configured(cls) -> bool:
        """Always: the dry run needs no keys."""
        return True

    @classmethod
    def connect(cls, ws: Workspace, *, timeout: float) -> DryRunPublisher:
        """A dry run recording into ``ws`` (nothing goes over the network, so ``timeout`` is unused)."""
        return cls(ws)

    def send(self, text: str, *, in_reply_to: str | None = None) -> SentPost:
        """Record ``text`` as sent."""
        remote_id = f"dry-{uuid.uuid4().hex[:12]}"
        with self.ws.connect() as con:
            con.execute(
                "INSERT INTO dry_run_posts (remote_id, text, created_at) VALUES (?, ?, ?)", (remote_id, text, utc_now())
            )
        log.info("dry run: recorded post %s (%d characters), nothing sent", remote_id, len(text))
        return SentPost(remote_id, text, None, datetime.now(UTC))

    def recent_posts(self, *, since: datetime) -> list[SentPost]:
        """Posts recorded since ``since``."""
        with self.ws.connect() as con:
            rows = con.execute(
                "SELECT remote_id, text, created_at FROM dry_run_posts WHERE created_at >= ? ORDER BY id DESC",
                (clock.iso(since),),
            ).fetchall()
        return [SentPost(r["remote_id"], r["text"], None, datetime.fromisoformat(r["created_at"])) for r in rows]

    def account(self) -> Account:
        """A pseudo-account: nothing is connected."""
        return Account("dry-run", "dry-run")

    def public_metrics(self, remote_ids: list[str]) -> dict[str, dict[str, int]]:
        """Nothing was really posted, so nothing was seen."""
        return {}

    def mentions(self, *, since_id: str | None = None) -> list[Mention]:
        """Nobody can mention an account that does not exist."""
        return []
