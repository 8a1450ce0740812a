"""Outbox posts: their states, the row as a :class:`Post`, reading them, and the one way a state changes.

A post moves ``draft → approved → scheduled → publishing → published``, or ends ``failed`` with
a reason the operator can act on. ``approved`` means "due as soon as possible", ``scheduled``
"due at ``scheduled_at``" (or held back until ``not_before`` by a rate limit, the daily budget or a
retry backoff). Every change is a compare-and-set (:func:`update_state`) written to the audit log.

Times are stored as UTC ISO text (seconds) and shown in the operator's time zone (a setting).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from core import clock
from core.workspace import Workspace

__all__ = [
    "QUEUED",
    "TRANSITIONS",
    "OutboxError",
    "OutboxState",
    "Post",
    "PreflightError",
    "delivery_status",
    "get_post",
    "list_posts",
    "outbox_counts",
    "post_attempts",
    "post_from_row",
    "update_state",
]


class OutboxState(StrEnum):
    """Where a post is."""

    DRAFT = "draft"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"


S = OutboxState
QUEUED = (S.APPROVED, S.SCHEDULED)
# state -> states an operator action may move it to (publishing is entered and left by claims only)
TRANSITIONS: dict[OutboxState, tuple[OutboxState, ...]] = {
    S.DRAFT: (S.APPROVED, S.SCHEDULED),
    S.APPROVED: (S.SCHEDULED, S.DRAFT, S.PUBLISHING, S.FAILED),  # failed: no publisher (missing keys)
    S.SCHEDULED: (S.APPROVED, S.SCHEDULED, S.DRAFT, S.PUBLISHING, S.FAILED),
    S.PUBLISHING: (S.PUBLISHED, S.FAILED, S.SCHEDULED, S.APPROVED),  # approved again: out of credits
    S.PUBLISHED: (),
    S.FAILED: (S.APPROVED, S.SCHEDULED, S.DRAFT),
}


class OutboxError(Exception):
    """An outbox action that cannot happen (unknown post, wrong state, bad time); the message says why."""


class PreflightError(OutboxError):
    """The text cannot go out as it is; ``problems`` lists each reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Post:
    """One outbox row."""

    id: int
    text: str
    channel: str
    segment: str | None
    template: str | None
    state: OutboxState
    created_at: str
    updated_at: str
    scheduled_at: str | None
    not_before: str | None
    attempts: int
    last_error: str | None
    remote_id: str | None
    url: str | None
    published_at: str | None
    needs_lookup: bool
    claim_pid: int | None
    in_reply_to: str | None = None
    draft_id: int | None = None  # the first entry of a text queued for several channels

    @property
    def due_at(self) -> str | None:
        """When the post goes out next (UTC ISO): its time, or later if held back."""
        times = [t for t in (self.scheduled_at, self.not_before) if t]
        return max(times) if times else None

    def as_json(self) -> dict:
        """The row as ``python -m core outbox list --json`` prints it."""
        return {
            "post_id": self.id,
            "state": str(self.state),
            "text": self.text,
            "channel": self.channel,
            "segment": self.segment,
            "template": self.template,
            "remote_id": self.remote_id,
            "url": self.url,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "scheduled_at": self.scheduled_at,
            "published_at": self.published_at,
        }


def post_from_row(row: sqlite3.Row) -> Post:
    """The :class:`Post` of an ``outbox`` row."""
    return Post(
        id=row["id"],
        text=row["text"],
        channel=row["channel"],
        segment=row["segment"],
        template=row["template"],
        state=OutboxState(row["state"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        scheduled_at=row["scheduled_at"],
        not_before=row["not_before"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        remote_id=row["remote_id"],
        url=row["url"],
        published_at=row["published_at"],
        needs_lookup=bool(row["needs_lookup"]),
        claim_pid=row["claim_pid"],
        in_reply_to=row["in_reply_to"],
        draft_id=row["draft_id"],
    )


def get_post(ws: Workspace, post_id: int) -> Post:
    """One post; :class:`OutboxError` when there is none with that id."""
    with ws.connect() as con:
        row = con.execute("SELECT * FROM outbox WHERE id = ?", (int(post_id),)).fetchone()
    if row is None:
        raise OutboxError(f"post {post_id} does not exist")
    return post_from_row(row)


def list_posts(ws: Workspace, *, states: Iterable[str] | None = None) -> list[Post]:
    """Posts, newest first; only those in ``states`` when given."""
    sql, params = "SELECT * FROM outbox", []
    if states is not None:
        states = [str(OutboxState(s)) for s in states]
        if not states:
            return []
        sql += f" WHERE state IN ({','.join('?' * len(states))})"
        params = states
    with ws.connect() as con:
        return [post_from_row(r) for r in con.execute(sql + " ORDER BY id DESC", params).fetchall()]


def post_attempts(ws: Workspace, post_id: int) -> list[dict]:
    """Every send attempt of a post, oldest first: started_at, finished_at, outcome, detail."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT started_at, finished_at, outcome, detail FROM publish_attempts WHERE post_id = ? ORDER BY id",
            (int(post_id),),
        ).fetchall()
    return [dict(r) for r in rows]


def update_state(
    ws: Workspace,
    con: sqlite3.Connection,
    post: Post,
    to: OutboxState,
    action: str,
    detail: dict | None = None,
    **columns: object,
) -> None:
    """Compare-and-set: move ``post`` from the state we read to ``to``, or explain who was faster."""
    if to not in TRANSITIONS[post.state] and to != post.state:
        raise OutboxError(f"post {post.id} is {post.state}; it cannot become {to}")
    columns = {"state": str(to), "updated_at": clock.iso(clock.now()), **columns}
    assignments = ", ".join(f"{name} = ?" for name in columns)
    cur = con.execute(
        f"UPDATE outbox SET {assignments} WHERE id = ? AND state = ?", (*columns.values(), post.id, str(post.state))
    )
    if cur.rowcount != 1:
        current = con.execute("SELECT state FROM outbox WHERE id = ?", (post.id,)).fetchone()
        now_state = current["state"] if current else "deleted"
        raise OutboxError(f"post {post.id} changed meanwhile (it is {now_state} now); nothing was done")
    ws.audit(action, {"post_id": post.id, "from": str(post.state), "to": str(to), **(detail or {})}, con=con)


def delivery_status(ws: Workspace) -> tuple[int, int]:
    """(posts queued, posts published today in the operator's time zone) — one cheap query."""
    counts = outbox_counts(ws)
    return counts["queued"], counts["published_today"]


def outbox_counts(ws: Workspace) -> dict[str, int]:
    """``{"drafts", "queued", "published_today", "failed"}`` — the outbox at a glance, one cheap query.

    ``drafts`` are posts waiting for approval; ``published_today`` counts the operator's day.
    """
    tz = clock.operator_timezone(ws)
    start = clock.to_local(clock.now(), tz).replace(hour=0, minute=0, second=0, microsecond=0)
    with ws.connect() as con:
        row = con.execute(
            "SELECT SUM(CASE WHEN state = 'draft' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN state IN ('approved', 'scheduled', 'publishing') THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN state = 'published' AND published_at >= ? THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) FROM outbox",
            (clock.iso(start),),
        ).fetchone()
    names = ("drafts", "queued", "published_today", "failed")
    return {name: int(value or 0) for name, value in zip(names, row, strict=True)}
