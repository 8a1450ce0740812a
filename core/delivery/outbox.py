"""The outbox: posts from draft to published, exactly once, with every change in the audit log.

A post moves ``draft → approved → scheduled → publishing → published``, or ends ``failed`` with
a reason the operator can act on. ``approved`` means "due as soon as possible", ``scheduled``
"due at ``scheduled_at``" (or held back until ``not_before`` by a rate limit, the daily budget or a
retry backoff).

Exactly once: a run *claims* a post — state ``publishing``, its process id, host and a short
lease — in a committed transaction before the network call. A claim whose process died (or whose
lease ran out) is released by the next run with ``needs_lookup`` set; any send whose outcome is
unknown (timeout, 5xx, a duplicate-content refusal) sets it too. A post with ``needs_lookup`` is
first looked up among the account's recent posts and marked published with the id found there;
it is sent again only when it is not there. Claims are compare-and-set updates, so a double click
or two concurrent ``publish-due`` runs cannot both send.

Times are stored as UTC ISO text (seconds) and shown in the operator's time zone (a setting).
"""

from __future__ import annotations

import difflib
import html
import json
import logging
import os
import re
import socket
import sqlite3
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import available_timezones

from core import clock
from core.content.checks import weighted_length
from core.delivery.channels.base import (
    DryRunPublisher,
    ErrorKind,
    Publisher,
    PublishError,
    SentPost,
    XPublisher,
    load_x_credentials,
    publisher_for,
)
from core.workspace import Workspace

__all__ = [
    "CHANNELS",
    "Budget",
    "DueReport",
    "OutboxError",
    "OutboxState",
    "Outcome",
    "Post",
    "PreflightError",
    "PublishSettings",
    "add_post",
    "approve",
    "budget",
    "check_connection",
    "connected_account",
    "default_channel",
    "delete_post",
    "delivery_status",
    "edit_post",
    "get_post",
    "known_timezones",
    "list_posts",
    "post_attempts",
    "preflight",
    "publish_due",
    "publish_now",
    "retry",
    "schedule",
    "unapprove",
    "weighted_length",
]

log = logging.getLogger(__name__)

CHANNELS = (XPublisher.channel, DryRunPublisher.channel)
NEAR_DUPLICATE_RATIO = 0.9
NEAR_DUPLICATE_DAYS = 30
RATE_LIMIT_FALLBACK = timedelta(minutes=15)  # when a 429 comes without x-rate-limit-reset
LOOKUP_MARGIN = timedelta(minutes=10)  # clock skew between us and X


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
    S.PUBLISHING: (S.PUBLISHED, S.FAILED, S.SCHEDULED),
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


# -- settings -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PublishSettings:
    """Publishing settings, stored in the workspace under ``publish.*``."""

    timezone: str = "UTC"
    char_limit: int = 280  # 25,000 for premium accounts
    daily_budget: int = 17  # posts per rolling 24 h (X's free tier)
    retry_base_seconds: float = 30.0  # backoff after a 5xx or timeout: base, 2·base, 4·base, …
    max_attempts: int = 5  # 5xx/timeouts before a post is failed
    request_timeout_seconds: float = 20.0
    claim_lease_seconds: float = 120.0

    @classmethod
    def load(cls, ws: Workspace) -> PublishSettings:
        """The stored settings (defaults for unset ones)."""
        with ws.connect() as con:
            rows = dict(con.execute("SELECT key, value FROM settings WHERE key LIKE 'publish.%'").fetchall())
        values = {}
        for name, default in asdict(cls()).items():
            raw = rows.get(f"publish.{name}")
            if raw is not None:
                values[name] = type(default)(raw)
        return cls(**values)

    def validate(self) -> None:
        """Raise :class:`OutboxError` naming the bad value."""
        try:
            clock.validate_timezone(self.timezone)
        except clock.TimeError as exc:
            raise OutboxError(str(exc)) from None
        if self.char_limit not in (280, 25_000):
            raise OutboxError(f"char_limit={self.char_limit} must be 280 or 25000 (premium)")
        if not 1 <= self.daily_budget <= 10_000:
            raise OutboxError(f"daily_budget={self.daily_budget} must be between 1 and 10000")
        if self.retry_base_seconds < 0 or self.max_attempts < 1:
            raise OutboxError(
                f"retry_base_seconds={self.retry_base_seconds} must be ≥ 0 and max_attempts={self.max_attempts} ≥ 1"
            )
        if self.request_timeout_seconds <= 0 or self.claim_lease_seconds <= self.request_timeout_seconds:
            raise OutboxError(
                f"claim_lease_seconds={self.claim_lease_seconds} must exceed "
                f"request_timeout_seconds={self.request_timeout_seconds} > 0"
            )

    def save(self, ws: Workspace, **changes: object) -> PublishSettings:
        """Validate and store changed settings; return the new settings."""
        new = PublishSettings(**{**asdict(self), **changes})
        new.validate()
        with ws.connect() as con:
            for name, value in asdict(new).items():
                if value != getattr(self, name) or name in changes:
                    ws.set_setting(f"publish.{name}", str(value), con=con)
            ws.audit("publish.settings", {k: v for k, v in changes.items()}, con=con)
        return new


# -- times ------------------------------------------------------------------------------------------
# -- text checks ----------------------------------------------------------------------------------
_URL = re.compile(r"https?://\S+")


def _normalise(text: str) -> str:
    # X answers with HTML entities, t.co links and normalised Unicode; compare what is left
    text = unicodedata.normalize("NFC", html.unescape(text))
    return " ".join(_URL.sub("<url>", text).split()).casefold()


def preflight(
    ws: Workspace,
    text: str,
    *,
    exclude_post_id: int | None = None,
    settings: PublishSettings | None = None,
    queued_too: bool = True,
    in_reply_to: str | None = None,
) -> list[str]:
    """Why ``text`` cannot go out (empty list when it can): length, near-duplicates.

    Parameters
    ----------
    exclude_post_id
        The post being checked, so it is not compared with itself.
    queued_too
        Compare with approved and scheduled posts as well as with published ones.
    in_reply_to
        For a reply: compare only with other replies to the same post (two customers may both get
        "thanks!"); posts are compared only with posts that are not replies.
    """
    settings = settings or PublishSettings.load(ws)
    problems = []
    if not text.strip():
        problems.append("the text is empty")
        return problems
    length = weighted_length(text)
    if length > settings.char_limit:
        problems.append(
            f"{length:,} characters by X's count (links count 23, Chinese/Japanese/Korean "
            f"characters 2) — over the limit of {settings.char_limit:,} by {length - settings.char_limit:,}"
        )
    states = [S.PUBLISHED, S.PUBLISHING] + ([S.APPROVED, S.SCHEDULED] if queued_too else [])
    since = clock.iso(clock.now() - timedelta(days=NEAR_DUPLICATE_DAYS))
    marks = ",".join("?" * len(states))
    with ws.connect() as con:
        rows = con.execute(
            f"SELECT id, text, state FROM outbox WHERE state IN ({marks}) AND id != ? "
            "AND COALESCE(published_at, updated_at) >= ? AND COALESCE(in_reply_to, '') = ? ORDER BY id DESC",
            (*states, exclude_post_id or -1, since, in_reply_to or ""),
        ).fetchall()
    mine = _normalise(text)
    for row in rows:
        ratio = difflib.SequenceMatcher(None, mine, _normalise(row["text"]), autojunk=False).ratio()
        if ratio >= NEAR_DUPLICATE_RATIO:
            problems.append(
                f"nearly the same as post {row['id']} ({row['state']}); X refuses duplicate "
                "posts, so change the wording"
            )
            break
    return problems


# -- posts ------------------------------------------------------------------------------------------
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


def _post(row: sqlite3.Row) -> Post:
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
    )


def get_post(ws: Workspace, post_id: int) -> Post:
    """One post; :class:`OutboxError` when there is none with that id."""
    with ws.connect() as con:
        row = con.execute("SELECT * FROM outbox WHERE id = ?", (int(post_id),)).fetchone()
    if row is None:
        raise OutboxError(f"post {post_id} does not exist")
    return _post(row)


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
        return [_post(r) for r in con.execute(sql + " ORDER BY id DESC", params).fetchall()]


def post_attempts(ws: Workspace, post_id: int) -> list[dict]:
    """Every send attempt of a post, oldest first: started_at, finished_at, outcome, detail."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT started_at, finished_at, outcome, detail FROM publish_attempts WHERE post_id = ? ORDER BY id",
            (int(post_id),),
        ).fetchall()
    return [dict(r) for r in rows]


def default_channel() -> str:
    """ "x" when X keys are set (even incomplete ones: publishing then says what is missing), else "dry-run"."""
    try:
        return XPublisher.channel if load_x_credentials() is not None else DryRunPublisher.channel
    except PublishError:
        return XPublisher.channel


def _update(
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


def _queue_state(at: datetime | None, now: datetime) -> tuple[OutboxState, str]:
    if at is None or at <= now:
        return S.APPROVED, clock.iso(at or now)
    return S.SCHEDULED, clock.iso(at)


def add_post(
    ws: Workspace,
    text: str,
    *,
    channel: str | None = None,
    segment: str | None = None,
    template: str | None = None,
    at: datetime | None = None,
    approve: bool = False,
    in_reply_to: str | None = None,
) -> Post:
    """A new post: a draft, or with ``approve`` an approved post due at ``at`` (UTC; default now);
    with ``in_reply_to`` (a remote post id) it goes out as a reply to that post.

    Raises
    ------
    PreflightError
        With ``approve``, when the text fails pre-flight; nothing is stored then.
    """
    channel = channel or default_channel()
    if channel not in CHANNELS:
        raise OutboxError(f"channel={channel!r} must be one of {', '.join(CHANNELS)}")
    if at is not None and at.tzinfo is None:
        raise OutboxError("at must be an aware UTC time (use to_utc for a wall-clock time)")
    if approve:
        problems = preflight(ws, text, in_reply_to=in_reply_to)
        if problems:
            raise PreflightError(problems)
    elif not text.strip():
        raise OutboxError("the text is empty")
    now = clock.now()
    state, scheduled = _queue_state(at, now) if approve else (S.DRAFT, clock.iso(at) if at else None)
    with ws.connect() as con:
        cur = con.execute(
            "INSERT INTO outbox (text, channel, segment, template, state, scheduled_at, created_at, updated_at, "
            "approved_at, in_reply_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                text,
                channel,
                segment or None,
                template or None,
                str(state),
                scheduled,
                clock.iso(now),
                clock.iso(now),
                clock.iso(now) if approve else None,
                in_reply_to or None,
            ),
        )
        post_id = cur.lastrowid
        ws.audit(
            "post.add",
            {
                "post_id": post_id,
                "state": str(state),
                "channel": channel,
                "segment": segment,
                "template": template,
                "scheduled_at": scheduled,
                "in_reply_to": in_reply_to,
            },
            con=con,
        )
    return get_post(ws, post_id)


def edit_post(
    ws: Workspace,
    post_id: int,
    *,
    text: str | None = None,
    channel: str | None = None,
    segment: str | None = None,
    template: str | None = None,
) -> Post:
    """Change a post that has not gone out; an approved or failed post goes back to draft."""
    post = get_post(ws, post_id)
    if post.state in (S.PUBLISHING, S.PUBLISHED):
        raise OutboxError(f"post {post.id} is {post.state}; it can no longer be edited")
    if text is not None and not text.strip():
        raise OutboxError("the text is empty")
    if channel is not None and channel not in CHANNELS:
        raise OutboxError(f"channel={channel!r} must be one of {', '.join(CHANNELS)}")
    changes = {"text": text, "channel": channel, "segment": segment, "template": template}
    changes = {k: v for k, v in changes.items() if v is not None and v != getattr(post, k)}
    if not changes:
        return post
    with ws.connect() as con:
        _update(
            ws,
            con,
            post,
            S.DRAFT,
            "post.edit",
            {"changed": sorted(changes)},
            approved_at=None,
            not_before=None,
            **changes,
        )
    return get_post(ws, post_id)


def approve(ws: Workspace, post_id: int, *, at: datetime | None = None) -> Post:
    """Approve a draft (or a failed post) after pre-flight; due at ``at`` (UTC) or now.

    Raises
    ------
    PreflightError
        When the text fails pre-flight; the post stays as it was.
    """
    post = get_post(ws, post_id)
    if post.state not in (S.DRAFT, S.FAILED):
        raise OutboxError(f"post {post.id} is {post.state}; only drafts and failed posts can be approved")
    problems = preflight(ws, post.text, exclude_post_id=post.id, in_reply_to=post.in_reply_to)
    if problems:
        raise PreflightError(problems)
    if at is None and post.scheduled_at and clock.from_iso(post.scheduled_at) > clock.now():
        at = clock.from_iso(post.scheduled_at)  # a draft saved with a time keeps it
    state, scheduled = _queue_state(at, clock.now())
    with ws.connect() as con:
        _update(
            ws,
            con,
            post,
            state,
            "post.approve",
            {"scheduled_at": scheduled},
            scheduled_at=scheduled,
            approved_at=clock.iso(clock.now()),
            not_before=None,
            last_error=None,
        )
    return get_post(ws, post_id)


def schedule(ws: Workspace, post_id: int, at: datetime | None) -> Post:
    """Set when an approved post goes out (UTC; None or a past time: now). Drafts keep the time for later."""
    post = get_post(ws, post_id)
    if at is not None and at.tzinfo is None:
        raise OutboxError("at must be an aware UTC time (use to_utc for a wall-clock time)")
    with ws.connect() as con:
        if post.state == S.DRAFT:
            _update(
                ws,
                con,
                post,
                S.DRAFT,
                "post.schedule",
                {"scheduled_at": clock.iso(at) if at else None},
                scheduled_at=clock.iso(at) if at else None,
            )
        elif post.state in QUEUED:
            state, scheduled = _queue_state(at, clock.now())
            _update(ws, con, post, state, "post.schedule", {"scheduled_at": scheduled}, scheduled_at=scheduled)
        else:
            raise OutboxError(f"post {post.id} is {post.state}; only drafts and queued posts can be scheduled")
    return get_post(ws, post_id)


def unapprove(ws: Workspace, post_id: int) -> Post:
    """Take a queued post back to draft."""
    post = get_post(ws, post_id)
    if post.state not in QUEUED:
        raise OutboxError(f"post {post.id} is {post.state}; only approved or scheduled posts go back to draft")
    with ws.connect() as con:
        _update(ws, con, post, S.DRAFT, "post.unapprove", approved_at=None, not_before=None)
    return get_post(ws, post_id)


def retry(ws: Workspace, post_id: int) -> Post:
    """Queue a failed post again, due now (pre-flight runs again). A post that may be on X is looked up first."""
    post = get_post(ws, post_id)
    if post.state != S.FAILED:
        raise OutboxError(f"post {post.id} is {post.state}; only failed posts can be retried")
    problems = preflight(ws, post.text, exclude_post_id=post.id, in_reply_to=post.in_reply_to)
    if problems:
        raise PreflightError(problems)
    with ws.connect() as con:
        _update(
            ws,
            con,
            post,
            S.APPROVED,
            "post.retry",
            scheduled_at=clock.iso(clock.now()),
            not_before=None,
            transient_failures=0,
        )
    return get_post(ws, post_id)


def delete_post(ws: Workspace, post_id: int) -> None:
    """Remove a post that has not gone out (drafts, queued and failed posts)."""
    post = get_post(ws, post_id)
    if post.state in (S.PUBLISHING, S.PUBLISHED):
        raise OutboxError(f"post {post.id} is {post.state}; it stays in the history")
    with ws.connect() as con:
        con.execute("DELETE FROM publish_attempts WHERE post_id = ?", (post.id,))
        cur = con.execute("DELETE FROM outbox WHERE id = ? AND state = ?", (post.id, str(post.state)))
        if cur.rowcount != 1:
            raise OutboxError(f"post {post.id} changed meanwhile; nothing was deleted")
        ws.audit("post.delete", {"post_id": post.id, "state": str(post.state)}, con=con)


# -- budget -----------------------------------------------------------------------------------------
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


# -- delivery ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What happened to one post in a publishing run."""

    post_id: int
    result: str  # "published", "deferred", "failed" or "skipped" (someone else has it)
    message: str
    url: str | None = None


@dataclass
class DueReport:
    """Post ids by result, as ``python -m core publish-due --json`` prints them."""

    published: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        """Record one outcome."""
        self.outcomes.append(outcome)
        bucket = getattr(self, outcome.result, None)
        if isinstance(bucket, list):
            bucket.append(outcome.post_id)

    def as_json(self) -> dict:
        """``{"published", "deferred", "failed"}``."""
        return {"published": self.published, "deferred": self.deferred, "failed": self.failed}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _release_stale_claims(ws: Workspace, now: datetime) -> None:
    """Claims whose process died or whose lease ran out go back to the queue, to be looked up first."""
    host = socket.gethostname()
    with ws.connect() as con:
        rows = con.execute("SELECT * FROM outbox WHERE state = 'publishing'").fetchall()
        for row in rows:
            expired = row["claim_until"] is None or row["claim_until"] < clock.iso(now)
            dead = row["claim_host"] == host and row["claim_pid"] is not None and not _pid_alive(row["claim_pid"])
            if not (expired or dead):
                continue
            reason = (
                f"the publishing process (pid {row['claim_pid']}) stopped before it finished; X is checked "
                "for this post before it is sent again"
            )
            cur = con.execute(
                "UPDATE outbox SET state = 'scheduled', needs_lookup = 1, claim_pid = NULL, claim_token = NULL, "
                "claim_until = NULL, last_error = ?, updated_at = ? WHERE id = ? AND claim_token = ? "
                "AND state = 'publishing'",
                (reason, clock.iso(now), row["id"], row["claim_token"]),
            )
            if cur.rowcount == 1:
                con.execute(
                    "UPDATE publish_attempts SET finished_at = ?, outcome = 'interrupted' "
                    "WHERE post_id = ? AND finished_at IS NULL",
                    (clock.iso(now), row["id"]),
                )
                ws.audit(
                    "post.claim_released",
                    {"post_id": row["id"], "pid": row["claim_pid"], "lease_expired": expired},
                    con=con,
                )
                log.warning("post %s: released the claim of pid %s", row["id"], row["claim_pid"])


def _claim(
    ws: Workspace, post: Post, settings: PublishSettings, now: datetime, *, require_due: bool
) -> tuple[str | None, Outcome | None]:
    """Take ``post`` for this process, inside the daily budget: (claim token, None) or (None, why not)."""
    token = uuid.uuid4().hex
    with ws.connect() as con:
        # One writer at a time from here to commit, so two runs cannot both take the last budget slot.
        # (SQLite's BEGIN IMMEDIATE; a server database would SELECT … FOR UPDATE.)
        con.execute("BEGIN IMMEDIATE")
        row = con.execute("SELECT * FROM outbox WHERE id = ?", (post.id,)).fetchone()
        if row is None or row["state"] not in QUEUED:
            state = row["state"] if row else "deleted"
            return None, Outcome(post.id, "skipped", f"post {post.id} is {state}; nothing to do")
        current = _post(row)
        if current.not_before and current.not_before > clock.iso(now):
            return None, Outcome(post.id, "deferred", current.last_error or f"held back until {current.not_before}")
        if require_due and current.scheduled_at and current.scheduled_at > clock.iso(now):
            return None, Outcome(post.id, "skipped", f"post {post.id} is not due yet")
        spent = budget(ws, current.channel, now=now, settings=settings, con=con)
        if spent.remaining == 0:
            message = (
                f"daily budget of {spent.limit} posts used; it goes out when the budget frees up "
                f"at {clock.format_local(spent.resets_at, settings.timezone)}"
            )
            con.execute(
                "UPDATE outbox SET state = 'scheduled', not_before = ?, last_error = ?, updated_at = ? WHERE id = ?",
                (spent.resets_at, message, clock.iso(now), post.id),
            )
            ws.audit("post.deferred", {"post_id": post.id, "reason": "budget", "until": spent.resets_at}, con=con)
            return None, Outcome(post.id, "deferred", message)
        lease = now + timedelta(seconds=settings.claim_lease_seconds)
        con.execute(
            "UPDATE outbox SET state = 'publishing', claim_pid = ?, claim_host = ?, claim_token = ?, claimed_at = ?, "
            "claim_until = ?, attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, ?), "
            "updated_at = ? WHERE id = ? AND state = ?",
            (
                os.getpid(),
                socket.gethostname(),
                token,
                clock.iso(now),
                clock.iso(lease),
                clock.iso(now),
                clock.iso(now),
                post.id,
                row["state"],
            ),
        )
        con.execute(
            "INSERT INTO publish_attempts (post_id, started_at, pid) VALUES (?, ?, ?)",
            (post.id, clock.iso(now), os.getpid()),
        )
        ws.audit(
            "post.claim", {"post_id": post.id, "from": row["state"], "to": "publishing", "pid": os.getpid()}, con=con
        )
    return token, None


def _finish(
    ws: Workspace, post_id: int, token: str, state: OutboxState, outcome: str, detail: str, **columns: object
) -> None:
    """End a claim: write the result only if the claim is still ours."""
    now = clock.iso(clock.now())
    columns = {
        "state": str(state),
        "claim_pid": None,
        "claim_token": None,
        "claim_until": None,
        "updated_at": now,
        **columns,
    }
    assignments = ", ".join(f"{name} = ?" for name in columns)
    with ws.connect() as con:
        cur = con.execute(
            f"UPDATE outbox SET {assignments} WHERE id = ? AND claim_token = ?", (*columns.values(), post_id, token)
        )
        if cur.rowcount != 1:
            # our lease ran out and another run took over; it looks the post up before any resend
            log.warning("post %s: claim lost before the result (%s) was written", post_id, outcome)
            return
        con.execute(
            "UPDATE publish_attempts SET finished_at = ?, outcome = ?, detail = ? WHERE post_id = ? "
            "AND finished_at IS NULL",
            (now, outcome, detail, post_id),
        )
        ws.audit(f"post.{outcome}", {"post_id": post_id, "to": str(state), "detail": detail}, con=con)


def _lookup(publisher: Publisher, post: Post, first_attempt_at: str | None, taken: set[str]) -> SentPost | None:
    since = (clock.from_iso(first_attempt_at) or clock.now() - timedelta(hours=24)) - LOOKUP_MARGIN
    mine = _normalise(post.text)
    for sent in publisher.recent_posts(since=since):
        if sent.remote_id not in taken and _normalise(sent.text) == mine:
            return sent
    return None


def _deliver(ws: Workspace, post: Post, token: str, publisher: Publisher, settings: PublishSettings) -> Outcome:
    """Send (or find) one claimed post and record the result. Never raises PublishError."""
    tz = settings.timezone
    with ws.connect() as con:
        row = con.execute("SELECT first_attempt_at, transient_failures FROM outbox WHERE id = ?", (post.id,)).fetchone()
        taken = {
            r[0]
            for r in con.execute(
                "SELECT remote_id FROM outbox WHERE remote_id IS NOT NULL AND id != ?", (post.id,)
            ).fetchall()
        }
    failures = row["transient_failures"]
    phase = "lookup"
    try:
        if post.needs_lookup:
            found = _lookup(publisher, post, row["first_attempt_at"], taken)
            if found is not None:
                return _published(ws, post, token, found, publisher, reconciled=True)
            with ws.connect() as con:  # looked: it is not there, a send is safe now
                con.execute("UPDATE outbox SET needs_lookup = 0 WHERE id = ? AND claim_token = ?", (post.id, token))
        problems = preflight(
            ws, post.text, exclude_post_id=post.id, settings=settings, queued_too=False, in_reply_to=post.in_reply_to
        )
        if problems:
            message = "not sent: " + "; ".join(problems)
            _finish(ws, post.id, token, S.FAILED, "failed", message, last_error=message, error_kind="rejected")
            return Outcome(post.id, "failed", message)
        phase = "send"
        sent = publisher.send(post.text, in_reply_to=post.in_reply_to)
        return _published(ws, post, token, sent, publisher, reconciled=False)
    except PublishError as exc:
        if exc.kind == ErrorKind.DUPLICATE and phase == "send":
            return _after_duplicate(ws, post, token, publisher, exc, taken, settings)
        if exc.kind == ErrorKind.RATE_LIMITED:
            until = exc.retry_at or clock.now() + RATE_LIMIT_FALLBACK
            message = f"X rate limit: posting resumes at {clock.format_local(until, tz)}"
            _finish(
                ws,
                post.id,
                token,
                S.SCHEDULED,
                "deferred",
                message,
                not_before=clock.iso(until),
                last_error=message,
                error_kind=str(exc.kind),
            )
            return Outcome(post.id, "deferred", message)
        if exc.kind == ErrorKind.TRANSIENT:
            failures += 1
            unsure = phase == "send" or post.needs_lookup
            if failures >= settings.max_attempts:
                message = f"gave up after {failures} tries: {exc.message}" + (
                    "; it may have reached X, so Retry looks for it there first" if unsure else ""
                )
                _finish(
                    ws,
                    post.id,
                    token,
                    S.FAILED,
                    "failed",
                    message,
                    last_error=message,
                    error_kind=str(exc.kind),
                    transient_failures=failures,
                    needs_lookup=int(unsure),
                )
                return Outcome(post.id, "failed", message)
            until = clock.now() + timedelta(seconds=settings.retry_base_seconds * 2 ** (failures - 1))
            message = f"{exc.message}; try {failures + 1} of {settings.max_attempts} at {clock.format_local(until, tz)}"
            _finish(
                ws,
                post.id,
                token,
                S.SCHEDULED,
                "deferred",
                message,
                not_before=clock.iso(until),
                last_error=message,
                error_kind=str(exc.kind),
                transient_failures=failures,
                needs_lookup=int(unsure),
            )
            return Outcome(post.id, "deferred", message)
        # auth, rejected, or a duplicate refusal during lookup (cannot happen): the operator must act
        _finish(ws, post.id, token, S.FAILED, "failed", exc.message, last_error=exc.message, error_kind=str(exc.kind))
        return Outcome(post.id, "failed", exc.message)


def _after_duplicate(
    ws: Workspace,
    post: Post,
    token: str,
    publisher: Publisher,
    exc: PublishError,
    taken: set[str],
    settings: PublishSettings,
) -> Outcome:
    """X says this text is already there: find it; only if it is not ours to find, fail with the reason."""
    try:
        with ws.connect() as con:
            first = con.execute("SELECT first_attempt_at FROM outbox WHERE id = ?", (post.id,)).fetchone()[0]
        found = _lookup(publisher, post, first, taken)
    except PublishError as lookup_error:
        message = f"X refused the post as a duplicate and the check failed ({lookup_error.message}); checking again"
        until = lookup_error.retry_at or clock.now() + timedelta(seconds=settings.retry_base_seconds)
        _finish(
            ws,
            post.id,
            token,
            S.SCHEDULED,
            "deferred",
            message,
            not_before=clock.iso(until),
            last_error=message,
            error_kind=str(ErrorKind.DUPLICATE),
            needs_lookup=1,
        )
        return Outcome(post.id, "deferred", message)
    if found is not None:
        return _published(ws, post, token, found, publisher, reconciled=True)
    message = (
        "X refused this text as a duplicate of an earlier post on the account (not one Reach sent in this "
        "attempt); edit the wording, then approve it again"
    )
    _finish(ws, post.id, token, S.FAILED, "failed", message, last_error=message, error_kind=str(exc.kind))
    return Outcome(post.id, "failed", message)


def _published(
    ws: Workspace, post: Post, token: str, sent: SentPost, publisher: Publisher, *, reconciled: bool
) -> Outcome:
    detail = f"{'found on' if reconciled else 'sent to'} {publisher.channel} as {sent.remote_id}"
    _finish(
        ws,
        post.id,
        token,
        S.PUBLISHED,
        "reconciled" if reconciled else "published",
        detail,
        remote_id=sent.remote_id,
        url=sent.url,
        published_at=clock.iso(clock.now()),
        last_error=None,
        error_kind=None,
        not_before=None,
        needs_lookup=0,
    )
    if isinstance(publisher, XPublisher):
        _remember_account(ws, publisher)
    log.info(
        "post %s published on %s as %s%s",
        post.id,
        publisher.channel,
        sent.remote_id,
        " (found by lookup)" if reconciled else "",
    )
    message = f"post {post.id} is live" + (" (it had gone out already; found on X)" if reconciled else "")
    return Outcome(post.id, "published", message, sent.url)


PublisherFactory = Callable[[str], Publisher]


def _publisher_cache(
    ws: Workspace, settings: PublishSettings, factory: PublisherFactory | None
) -> Callable[[str], Publisher]:
    made: dict[str, Publisher] = {}

    def get(channel: str) -> Publisher:
        if channel not in made:
            made[channel] = (
                factory(channel) if factory else publisher_for(ws, channel, timeout=settings.request_timeout_seconds)
            )
        return made[channel]

    return get


def _run_one(
    ws: Workspace,
    post: Post,
    settings: PublishSettings,
    publishers: Callable[[str], Publisher],
    now: datetime,
    *,
    require_due: bool,
) -> Outcome:
    try:
        publisher = publishers(post.channel)
    except PublishError as exc:  # no or incomplete keys: fail it with what to do; never drop it silently
        fresh = get_post(ws, post.id)
        if fresh.state in QUEUED:
            with ws.connect() as con:
                _update(
                    ws,
                    con,
                    fresh,
                    S.FAILED,
                    "post.failed",
                    {"detail": exc.message},
                    last_error=exc.message,
                    error_kind=str(exc.kind),
                )
        return Outcome(post.id, "failed", exc.message)
    token, refused = _claim(ws, post, settings, now, require_due=require_due)
    if token is None:
        return refused
    return _deliver(ws, get_post(ws, post.id), token, publisher, settings)


def publish_now(ws: Workspace, post_id: int, *, publishers: PublisherFactory | None = None) -> Outcome:
    """Publish one approved or scheduled post now (its schedule is overridden; budget and rate limits are not).

    A second call while the first is sending, or after it, does nothing and says why.
    """
    settings = PublishSettings.load(ws)
    now = clock.now()
    _release_stale_claims(ws, now)
    post = get_post(ws, post_id)
    if post.state == S.PUBLISHED:
        return Outcome(post.id, "skipped", f"post {post.id} is already published", post.url)
    if post.state == S.PUBLISHING:
        return Outcome(post.id, "skipped", f"post {post.id} is being published right now")
    if post.state not in QUEUED:
        raise OutboxError(f"post {post.id} is {post.state}; approve it first")
    return _run_one(ws, post, settings, _publisher_cache(ws, settings, publishers), now, require_due=False)


def publish_due(ws: Workspace, *, publishers: PublisherFactory | None = None) -> DueReport:
    """Publish every approved or scheduled post whose time has come; what cron runs.

    Stale claims are released first (their posts are looked up before any resend). After a rate
    limit on a channel, its remaining due posts are deferred to the same reset time without a call.
    """
    settings = PublishSettings.load(ws)
    now = clock.now()
    _release_stale_claims(ws, now)
    report = DueReport()
    with ws.connect() as con:
        rows = con.execute(
            "SELECT * FROM outbox WHERE state IN ('approved', 'scheduled') AND scheduled_at <= ? "
            "ORDER BY scheduled_at, id",
            (clock.iso(now),),
        ).fetchall()
    get_publisher = _publisher_cache(ws, settings, publishers)
    limited: dict[str, Outcome] = {}
    for post in map(_post, rows):
        if post.channel in limited:
            report.add(_defer_like(ws, post, limited[post.channel]))
            continue
        outcome = _run_one(ws, post, settings, get_publisher, now, require_due=True)
        if outcome.result == "skipped":
            continue
        report.add(outcome)
        if outcome.result == "deferred" and outcome.message.startswith("X rate limit"):
            limited[post.channel] = outcome
    return report


def _defer_like(ws: Workspace, post: Post, limited: Outcome) -> Outcome:
    """Hold ``post`` back until the rate limit that ``limited`` hit resets."""
    until = get_post(ws, limited.post_id).not_before
    with ws.connect() as con:
        if post.not_before is None or (until and post.not_before < until):
            _update(
                ws,
                con,
                post,
                S.SCHEDULED,
                "post.deferred",
                {"reason": "rate limit", "until": until},
                not_before=until,
                last_error=limited.message,
            )
    return Outcome(post.id, "deferred", limited.message)


# -- account and status ------------------------------------------------------------------------------
def _remember_account(ws: Workspace, publisher: XPublisher) -> None:
    try:
        account = publisher.account()
    except PublishError:
        return
    value = json.dumps({"user_id": account.user_id, "username": account.username})
    if ws.get_setting("publish.x_account") != value:
        ws.set_setting("publish.x_account", value)


def connected_account(ws: Workspace) -> str | None:
    """The X handle last seen with the current keys (``@name``), without a network call."""
    raw = ws.get_setting("publish.x_account")
    return f"@{json.loads(raw)['username']}" if raw else None


def check_connection(ws: Workspace) -> str:
    """Ask X who the keys belong to; return ``@handle`` (stored for the pages).

    Raises
    ------
    PublishError
        When no keys are set, or X refuses them.
    """
    publisher = publisher_for(ws, XPublisher.channel, timeout=PublishSettings.load(ws).request_timeout_seconds)
    assert isinstance(publisher, XPublisher)
    publisher.account()
    _remember_account(ws, publisher)
    with ws.connect() as con:
        ws.audit("publish.connection_checked", {"account": publisher.account().username}, con=con)
    return f"@{publisher.account().username}"


def delivery_status(ws: Workspace) -> tuple[int, int]:
    """(posts queued, posts published today in the operator's time zone) — one cheap query."""
    tz = PublishSettings.load(ws).timezone
    start = clock.to_local(clock.now(), tz).replace(hour=0, minute=0, second=0, microsecond=0)
    with ws.connect() as con:
        row = con.execute(
            "SELECT SUM(CASE WHEN state IN ('approved', 'scheduled', 'publishing') THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN state = 'published' AND published_at >= ? THEN 1 ELSE 0 END) FROM outbox",
            (clock.iso(start),),
        ).fetchone()
    return int(row[0] or 0), int(row[1] or 0)


def known_timezones() -> list[str]:
    """IANA time-zone names, sorted, for the settings picker."""
    return sorted(available_timezones())
