"""The outbox on a calendar: every post with a time, placed on its local day and hour.

Published posts sit at the time they went out, queued posts at the time they are due, failed posts
at the time they were due (or failed), drafts at the time they keep for when they are approved;
drafts without a time have no place on a calendar.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core import clock
from core.delivery.outbox.posts import OutboxError, OutboxState, Post, list_posts
from core.workspace import Workspace

__all__ = ["VIEWS", "CalendarEntry", "calendar_entries", "post_time", "view_days"]

VIEWS = ("days", "week", "month")  # the seven days from a day on, its calendar week, its month


@dataclass(frozen=True)
class CalendarEntry:
    """One post on the calendar, at ``local`` (its time in the operator's zone)."""

    post: Post
    local: datetime

    @property
    def day(self) -> date:
        """The local day it sits on."""
        return self.local.date()

    @property
    def hour(self) -> float:
        """The local hour with minutes as a fraction (08:30 → 8.5)."""
        return self.local.hour + self.local.minute / 60


def post_time(post: Post) -> str | None:
    """The UTC ISO time a post sits at on the calendar (None: it has no time)."""
    if post.state == OutboxState.PUBLISHED:
        return post.published_at
    if post.state in (OutboxState.APPROVED, OutboxState.SCHEDULED, OutboxState.PUBLISHING):
        return post.due_at
    if post.state == OutboxState.FAILED:
        return post.scheduled_at or post.updated_at
    return post.scheduled_at


def view_days(anchor: date, view: str) -> tuple[date, int]:
    """(first day, number of days): the seven days from ``anchor`` on ("days", what "Approve the week"
    sends when ``anchor`` is today), or the week (Monday first) or month that holds it."""
    if view == "days":
        return anchor, 7
    if view == "week":
        return anchor - timedelta(days=anchor.weekday()), 7
    if view == "month":
        return anchor.replace(day=1), _calendar.monthrange(anchor.year, anchor.month)[1]
    raise OutboxError(f"view={view!r} must be one of {', '.join(VIEWS)}")


def calendar_entries(ws: Workspace, first_day: date, days: int, tz: str) -> list[CalendarEntry]:
    """Every post with a time on the ``days`` local days from ``first_day`` on, earliest first."""
    if days < 1:
        raise OutboxError(f"days={days} must be at least 1")
    clock.validate_timezone(tz)
    last_day = first_day + timedelta(days=days)
    entries = []
    for post in list_posts(ws):
        when = post_time(post)
        if not when:
            continue
        local = clock.to_local(when, tz)
        if first_day <= local.date() < last_day:
            entries.append(CalendarEntry(post, local))
    return sorted(entries, key=lambda e: (e.local, e.post.id))
