"""The daily budget: posts per channel in the rolling 24 hours, against the ``daily_budget`` setting."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import clock
from core.delivery.outbox.settings import PublishSettings
from core.workspace import Workspace

__all__ = ["Budget", "budget"]


@dataclass(frozen=True)
class Budget:
    """Posts on one channel in the rolling 24 hours, against the daily budget."""

    channel: str
    used: int
    limit: int
    resets_at: str | None  # UTC ISO: when the oldest post in the window drops out (None if none)

    @property
    def remaining(self) -> int:
        """Posts that may still go out now."""
        return max(0, self.limit - self.used)


def budget(
    ws: Workspace,
    channel: str,
    *,
    now: datetime | None = None,
    settings: PublishSettings | None = None,
    con: sqlite3.Connection | None = None,
) -> Budget:
    """The daily budget of ``channel``: published (and in-flight) posts in the last 24 hours.

    Each channel has its own count, so the dry run shows what X's budget would do.
    """
    settings = settings or PublishSettings.load(ws)
    now = now or clock.now()
    since = clock.iso(now - timedelta(hours=24))
    sql = (
        "SELECT COALESCE(published_at, claimed_at) AS at FROM outbox WHERE channel = ? AND "
        "((state = 'published' AND published_at > ?) OR state = 'publishing') ORDER BY at"
    )

    def read(c: sqlite3.Connection) -> Budget:
        times = [r["at"] for r in c.execute(sql, (channel, since)).fetchall()]
        resets = None
        if times:
            # the window frees a slot when its oldest post is 24 h old; when full, name the slot we wait for
            index = max(0, len(times) - settings.daily_budget) if len(times) >= settings.daily_budget else 0
            resets = clock.iso(datetime.fromisoformat(times[index]) + timedelta(hours=24))
        return Budget(channel, len(times), settings.daily_budget, resets)

    if con is not None:
        return read(con)
    with ws.connect() as own:
        return read(own)
