"""Many posts at once: approve, schedule over the segments' best hours, delete, approve the week, move.

Each bulk action runs the single-post action (:mod:`~core.delivery.outbox.actions`) on every post,
so pre-flight and the state machine are the same as for one post; a post that cannot follow is
left as it was and its reason is reported, and the others still go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core import clock
from core.delivery.outbox.actions import approve, delete_post, retry, schedule
from core.delivery.outbox.posts import QUEUED, OutboxError, OutboxState, Post, PreflightError, get_post, list_posts
from core.delivery.outbox.preflight import preflight
from core.workspace import Workspace

__all__ = [
    "FALLBACK_HOURS",
    "BulkReport",
    "approve_many",
    "delete_many",
    "move_post",
    "schedule_many",
    "spread_over_best_hours",
    "week_drafts",
]

FALLBACK_HOURS = (9,)  # a post without a segment, or a segment without best hours, goes out at 09:00
WEEK_DAYS = 7


@dataclass
class BulkReport:
    """What a bulk action did: the posts it changed, and why each other post was left as it was."""

    done: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)

    def summary(self, verb: str) -> str:
        """``"3 posts approved; 1 left as it was"`` — one line for a page or the CLI."""
        line = f"{len(self.done)} post{'s' if len(self.done) != 1 else ''} {verb}"
        if self.refused:
            line += f"; {len(self.refused)} left as {'it was' if len(self.refused) == 1 else 'they were'}"
        return line


def _each(post_ids: Iterable[int], action) -> BulkReport:
    """Run ``action(post_id)`` on every id (each once, in order); readable failures are reported, not raised."""
    report = BulkReport()
    for post_id in dict.fromkeys(int(i) for i in post_ids):
        try:
            action(post_id)
        except PreflightError as exc:
            report.refused[post_id] = "; ".join(exc.problems)
        except OutboxError as exc:
            report.refused[post_id] = str(exc)
        else:
            report.done.append(post_id)
    return report


def approve_many(ws: Workspace, post_ids: Iterable[int]) -> BulkReport:
    """Approve every draft in ``post_ids`` after its pre-flight; each keeps its time (or is due now)."""
    return _each(post_ids, lambda i: approve(ws, i))


def delete_many(ws: Workspace, post_ids: Iterable[int]) -> BulkReport:
    """Delete every post in ``post_ids`` that has not gone out (published posts stay in the history)."""
    return _each(post_ids, lambda i: delete_post(ws, i))


def spread_over_best_hours(
    posts: Sequence[Post],
    best_hours: Mapping[str, Sequence[int]],
    *,
    start: datetime,
    tz: str,
) -> dict[int, datetime]:
    """post id → UTC time: each segment's posts one a day from ``start`` on, at its best hours in turn.

    The n-th post of a segment (by id) goes out on the n-th day that still has its hour ahead of
    ``start``, at the segment's ``(n mod len(hours))``-th best hour (local time in ``tz``). Posts of
    different segments may share a day; two posts of one segment never do. A post without a segment,
    or of a segment without best hours, takes ``FALLBACK_HOURS``.
    """
    if start.tzinfo is None:
        raise OutboxError("start must be an aware UTC time")
    clock.validate_timezone(tz)
    zone = ZoneInfo(tz)
    first_day = start.astimezone(zone).date()
    times: dict[int, datetime] = {}
    by_segment: dict[str, list[Post]] = {}
    for post in sorted(posts, key=lambda p: p.id):
        by_segment.setdefault(post.segment or "", []).append(post)
    for segment, mine in by_segment.items():
        hours = [int(h) % 24 for h in best_hours.get(segment, ())] or list(FALLBACK_HOURS)
        day = first_day
        for n, post in enumerate(mine):
            hour = hours[n % len(hours)]
            while True:
                wall = datetime(day.year, day.month, day.day, hour)
                try:
                    moment = clock.to_utc(wall, tz)
                except clock.TimeError:  # the clocks skip this hour: an hour later
                    moment = clock.to_utc(wall + timedelta(hours=1), tz)
                day += timedelta(days=1)
                if moment > start:
                    break
            times[post.id] = moment
    return times


def schedule_many(
    ws: Workspace,
    post_ids: Iterable[int],
    best_hours: Mapping[str, Sequence[int]],
    *,
    tz: str,
    start: datetime | None = None,
) -> BulkReport:
    """Approve and schedule the posts in ``post_ids`` over their segments' best hours (see
    :func:`spread_over_best_hours`), from ``start`` (default: now) on.

    Drafts and failed posts are approved at their time (pre-flight first); queued posts are moved
    to it. Published posts are refused.
    """
    start = start or clock.now()
    report = BulkReport()
    posts = []
    for post_id in dict.fromkeys(int(i) for i in post_ids):
        try:
            posts.append(get_post(ws, post_id))
        except OutboxError as exc:
            report.refused[post_id] = str(exc)
    times = spread_over_best_hours(posts, best_hours, start=start, tz=tz)
    moved = _each((p.id for p in posts), lambda i: move_post(ws, i, times[i], approve_it=True))
    report.done += moved.done
    report.refused.update(moved.refused)
    return report


def week_drafts(ws: Workspace, *, start: datetime | None = None, days: int = WEEK_DAYS) -> list[Post]:
    """Drafts that have a time within ``days`` days after ``start`` (default: now), soonest first —
    what "Approve the week" sends out."""
    start = start or clock.now()
    end = clock.iso(start + timedelta(days=days))
    drafts = [
        p
        for p in list_posts(ws, states=[OutboxState.DRAFT])
        if p.scheduled_at and clock.iso(start) < p.scheduled_at <= end
    ]
    return sorted(drafts, key=lambda p: (p.scheduled_at, p.id))


def move_post(ws: Workspace, post_id: int, at: datetime, *, approve_it: bool = False) -> Post:
    """Give a post another time (UTC, in the future), with the same pre-flight as approving it.

    A draft keeps the time for when it is approved (with ``approve_it``, it is approved at that
    time); a queued post is rescheduled; a failed post is queued again at that time. A published
    post cannot move.

    Raises
    ------
    PreflightError
        When a queued, failed or to-be-approved post no longer passes pre-flight; it stays as it was.
    OutboxError
        When ``at`` is not in the future, or the post has gone out.
    """
    if at.tzinfo is None:
        raise OutboxError("at must be an aware UTC time (use to_utc for a wall-clock time)")
    if at <= clock.now():
        raise OutboxError(f"{clock.iso(at)} is in the past; pick a time that is still ahead")
    post = get_post(ws, post_id)
    if post.state in (OutboxState.PUBLISHED, OutboxState.PUBLISHING):
        raise OutboxError(f"post {post.id} is {post.state}; it can no longer move")
    if post.state == OutboxState.DRAFT and not approve_it:
        return schedule(ws, post.id, at)
    if post.state == OutboxState.FAILED:
        return retry(ws, post.id, at=at)
    if post.state == OutboxState.DRAFT:
        return approve(ws, post.id, at=at)
    if post.state in QUEUED:
        problems = preflight(ws, post.text, exclude_post_id=post.id, in_reply_to=post.in_reply_to, channel=post.channel)
        if problems:
            raise PreflightError(problems)
    return schedule(ws, post.id, at)
