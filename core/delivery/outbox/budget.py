"""The daily cap: posts per channel in the rolling 24 hours, against that channel's own cap.

Each channel has a cap of its own (the operator's limit, not the network's). Until the operator sets
one it is the channel's ``daily_cap``: X 17 (every post costs credits), Mastodon 300 (its servers
allow 300 posts per 3 hours), Bluesky 1,666 (its PDS allows 1,666 posts an hour), the dry run
10,000 (nothing leaves Reach). X's cap is stored as ``publish.daily_budget`` (the setting it always
was); every other channel's as ``publish.daily_cap.<channel>``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import clock
from core.delivery.channels import registry
from core.delivery.outbox.posts import OutboxError
from core.delivery.outbox.settings import PublishSettings
from core.workspace import Workspace

__all__ = ["MAX_DAILY_CAP", "Budget", "budget", "daily_cap", "daily_caps", "save_daily_caps"]

MAX_DAILY_CAP = 10_000
CAP_KEY = "publish.daily_cap.{}"
SETTINGS_CAP_CHANNEL = "x"  # whose cap is PublishSettings.daily_budget


@dataclass(frozen=True)
class Budget:
    """Posts on one channel in the rolling 24 hours, against that channel's daily cap."""

    channel: str
    used: int
    limit: int
    resets_at: str | None  # UTC ISO: when the oldest post in the window drops out (None if none)

    @property
    def remaining(self) -> int:
        """Posts that may still go out now."""
        return max(0, self.limit - self.used)


def daily_cap(
    ws: Workspace, channel: str, *, settings: PublishSettings | None = None, con: sqlite3.Connection | None = None
) -> int:
    """``channel``'s daily cap: the one the operator set, else the channel's default (see the module)."""
    if channel == SETTINGS_CAP_CHANNEL:
        return (settings or PublishSettings.load(ws)).daily_budget

    def read(c: sqlite3.Connection) -> int:
        row = c.execute("SELECT value FROM settings WHERE key = ?", (CAP_KEY.format(channel),)).fetchone()
        if row is not None:
            return int(row[0])
        if channel in registry.channel_names():
            return registry.channel(channel).daily_cap
        return (settings or PublishSettings.load(ws)).daily_budget

    if con is not None:
        return read(con)
    with ws.connect() as own:
        return read(own)


def daily_caps(ws: Workspace, *, settings: PublishSettings | None = None) -> dict[str, int]:
    """Every channel's daily cap, in registry order."""
    settings = settings or PublishSettings.load(ws)
    with ws.connect() as con:
        return {name: daily_cap(ws, name, settings=settings, con=con) for name in registry.channel_names()}


def save_daily_caps(ws: Workspace, caps: Mapping[str, int]) -> dict[str, int]:
    """Store the daily caps in ``caps`` (channel name → posts per 24 h); return every channel's.

    Raises
    ------
    OutboxError
        Naming the channel when it is unknown or its cap is not between 1 and 10,000 (nothing is saved then).
    """
    for name, cap in caps.items():
        if name not in registry.channel_names():
            raise OutboxError(f"channel={name!r} must be one of {', '.join(registry.channel_names())}")
        if not isinstance(cap, int) or not 1 <= cap <= MAX_DAILY_CAP:
            raise OutboxError(
                f"the daily cap on {registry.label(name)} ({cap!r}) must be a whole number of posts "
                f"between 1 and {MAX_DAILY_CAP:,}"
            )
    settings = PublishSettings.load(ws)
    if SETTINGS_CAP_CHANNEL in caps and caps[SETTINGS_CAP_CHANNEL] != settings.daily_budget:
        settings = settings.save(ws, daily_budget=caps[SETTINGS_CAP_CHANNEL])
    others = {n: c for n, c in caps.items() if n != SETTINGS_CAP_CHANNEL}
    if others:
        with ws.connect() as con:
            for name, cap in others.items():
                ws.set_setting(CAP_KEY.format(name), str(cap), con=con)
            ws.audit("publish.daily_caps", others, con=con)
    return daily_caps(ws, settings=settings)


def budget(
    ws: Workspace,
    channel: str,
    *,
    now: datetime | None = None,
    settings: PublishSettings | None = None,
    con: sqlite3.Connection | None = None,
) -> Budget:
    """The daily cap of ``channel`` and its use: published (and in-flight) posts in the last 24 hours."""
    settings = settings or PublishSettings.load(ws)
    now = now or clock.now()
    since = clock.iso(now - timedelta(hours=24))
    sql = (
        "SELECT COALESCE(published_at, claimed_at) AS at FROM outbox WHERE channel = ? AND "
        "((state = 'published' AND published_at > ?) OR state = 'publishing') ORDER BY at"
    )

    def read(c: sqlite3.Connection) -> Budget:
        limit = daily_cap(ws, channel, settings=settings, con=c)
        times = [r["at"] for r in c.execute(sql, (channel, since)).fetchall()]
        resets = None
        if times:
            # the window frees a slot when its oldest post is 24 h old; when full, name the slot we wait for
            index = max(0, len(times) - limit) if len(times) >= limit else 0
            resets = clock.iso(datetime.fromisoformat(times[index]) + timedelta(hours=24))
        return Budget(channel, len(times), limit, resets)

    if con is not None:
        return read(con)
    with ws.connect() as own:
        return read(own)
