"""Publishing: each due post goes out exactly once, and a crash is reconciled, never resent blindly.

A run *claims* a post — state ``publishing``, its process id, host and a short lease — in a
committed transaction before the network call. A claim whose process died (or whose lease ran
out) is released by the next run with ``needs_lookup`` set; any send whose outcome is unknown
(timeout, 5xx, a duplicate-content refusal) sets it too. A post with ``needs_lookup`` is first
looked up among the account's recent posts on its channel and marked published with the id found
there (by its key, where the channel can look a post up by one); it is sent again only when it is
not there. Channels that take an idempotency key get one derived from the post with every send,
so even a resend cannot make a second post there. Claims are compare-and-set updates, so a double
click or two concurrent ``publish-due`` runs cannot both send.

Failures follow the channel's :class:`~core.delivery.channels.base.ErrorKind`: a rate limit defers
the post (and the rest of its channel's run) to the reset time, transient errors back off
exponentially up to ``max_attempts``, running out of paid credits pauses the channel
(:mod:`~core.delivery.outbox.credits`: its posts stay queued with the reason, and the first run
after the pause period tries again), the others fail the post with what to do.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core import clock
from core.delivery.channels import registry
from core.delivery.channels.base import Channel, ErrorKind, PublishError, SendKey, SentPost, finds_by_key, is_keyed
from core.delivery.outbox import credits
from core.delivery.outbox.budget import budget
from core.delivery.outbox.posts import QUEUED, OutboxError, OutboxState, Post, get_post, post_from_row, update_state
from core.delivery.outbox.posts import OutboxState as S
from core.delivery.outbox.preflight import normalise, preflight
from core.delivery.outbox.settings import PublishSettings
from core.workspace import Workspace

__all__ = [
    "DueReport",
    "Outcome",
    "PublisherFactory",
    "check_connection",
    "connected_account",
    "publish_due",
    "publish_now",
]

log = logging.getLogger(__name__)

RATE_LIMIT_FALLBACK = timedelta(minutes=15)  # when a 429 comes without a reset time
LOOKUP_MARGIN = timedelta(minutes=10)  # clock skew between us and the network


@dataclass(frozen=True)
class Outcome:
    """What happened to one post in a publishing run."""

    post_id: int
    result: str  # "published", "deferred", "failed", "skipped" or "held" (another run has it)
    message: str
    url: str | None = None
    kind: ErrorKind | None = None  # why it was deferred or failed, when the channel said so


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
                f"the publishing process (pid {row['claim_pid']}) stopped before it finished; "
                f"{registry.label(row['channel'])} is checked for this post before it is sent again"
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
) -> tuple[str | None, Outcome | None, OutboxState | None]:
    """Take ``post`` for this process, inside the daily budget: (claim token, None, the state it was in)
    or (None, why not, None)."""
    token = uuid.uuid4().hex
    with ws.connect() as con:
        # One writer at a time from here to commit, so two runs cannot both take the last budget slot.
        # (SQLite's BEGIN IMMEDIATE; a server database would SELECT … FOR UPDATE.)
        con.execute("BEGIN IMMEDIATE")
        row = con.execute("SELECT * FROM outbox WHERE id = ?", (post.id,)).fetchone()
        if row is None or row["state"] not in QUEUED:
            state = row["state"] if row else "deleted"
            return None, Outcome(post.id, "skipped", f"post {post.id} is {state}; nothing to do"), None
        current = post_from_row(row)
        if current.not_before and current.not_before > clock.iso(now):
            why = f"held back until {current.not_before}"
            kind = ErrorKind(row["error_kind"]) if row["error_kind"] else None
            return None, Outcome(post.id, "deferred", current.last_error or why, kind=kind), None
        if require_due and current.scheduled_at and current.scheduled_at > clock.iso(now):
            return None, Outcome(post.id, "skipped", f"post {post.id} is not due yet"), None
        spent = budget(ws, current.channel, now=now, settings=settings, con=con)
        if spent.remaining == 0:
            message = (
                f"daily budget of {spent.limit} posts used on {registry.label(spent.channel)}; it goes out when "
                "the budget frees up "
                f"at {clock.format_local(spent.resets_at, settings.timezone)}"
            )
            con.execute(
                "UPDATE outbox SET state = 'scheduled', not_before = ?, last_error = ?, error_kind = NULL, "
                "updated_at = ? WHERE id = ?",
                (spent.resets_at, message, clock.iso(now), post.id),
            )
            ws.audit("post.deferred", {"post_id": post.id, "reason": "budget", "until": spent.resets_at}, con=con)
            return None, Outcome(post.id, "deferred", message), None
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
    return token, None, OutboxState(row["state"])


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


WORKSPACE_KEY_SETTING = "publish.workspace_key"


def send_key(ws: Workspace, post: Post) -> SendKey:
    """The idempotency key of ``post``: this workspace's random id, the post's id and creation time."""
    with ws.connect() as con:  # the first caller makes the workspace's id; a concurrent one reads the same
        con.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            (WORKSPACE_KEY_SETTING, uuid.uuid4().hex[:12]),
        )
        workspace = con.execute("SELECT value FROM settings WHERE key = ?", (WORKSPACE_KEY_SETTING,)).fetchone()[0]
    return SendKey(workspace, post.id, clock.from_iso(post.created_at) or clock.now())


def _send(ws: Workspace, publisher: Channel, post: Post) -> SentPost:
    if is_keyed(publisher):
        return publisher.send(post.text, in_reply_to=post.in_reply_to, key=send_key(ws, post))  # type: ignore[call-arg]
    return publisher.send(post.text, in_reply_to=post.in_reply_to)


def _lookup(
    publisher: Channel, post: Post, first_attempt_at: str | None, taken: set[str], ws: Workspace | None = None
) -> SentPost | None:
    """The post on its channel, if it went out: by its key where the channel can look one up, else the
    same text sent since the first attempt; never another post's."""
    if ws is not None and finds_by_key(publisher):
        found = publisher.find_sent(send_key(ws, post))  # type: ignore[attr-defined]
        return found if found is not None and found.remote_id not in taken else None
    since = (clock.from_iso(first_attempt_at) or clock.now() - timedelta(hours=24)) - LOOKUP_MARGIN
    mine = normalise(post.text)
    for sent in publisher.recent_posts(since=since):
        if sent.remote_id not in taken and normalise(sent.text) == mine:
            return sent
    return None


def _deliver(
    ws: Workspace, post: Post, token: str, publisher: Channel, settings: PublishSettings, queued: OutboxState
) -> Outcome:
    """Send (or find) one claimed post (taken from state ``queued``) and record the result. Never raises
    PublishError."""
    with ws.connect() as con:
        row = con.execute("SELECT first_attempt_at, transient_failures FROM outbox WHERE id = ?", (post.id,)).fetchone()
        taken = {
            r[0]
            for r in con.execute(
                "SELECT remote_id FROM outbox WHERE remote_id IS NOT NULL AND id != ?", (post.id,)
            ).fetchall()
        }
    phase = "lookup"
    try:
        if post.needs_lookup:
            found = _lookup(publisher, post, row["first_attempt_at"], taken, ws)
            if found is not None:
                return _published(ws, post, token, found, publisher, reconciled=True)
            with ws.connect() as con:  # looked: it is not there, a send is safe now
                con.execute("UPDATE outbox SET needs_lookup = 0 WHERE id = ? AND claim_token = ?", (post.id, token))
        problems = preflight(
            ws,
            post.text,
            exclude_post_id=post.id,
            settings=settings,
            queued_too=False,
            in_reply_to=post.in_reply_to,
            channel=post.channel,
        )
        if problems:
            message = "not sent: " + "; ".join(problems)
            _finish(ws, post.id, token, S.FAILED, "failed", message, last_error=message, error_kind="rejected")
            return Outcome(post.id, "failed", message)
        phase = "send"
        sent = _send(ws, publisher, post)
        return _published(ws, post, token, sent, publisher, reconciled=False)
    except PublishError as exc:
        if exc.kind == ErrorKind.DUPLICATE and phase == "send":
            return _after_duplicate(ws, post, token, publisher, exc, taken, settings)
        if exc.kind == ErrorKind.RATE_LIMITED:
            return _after_rate_limit(ws, post, token, publisher, exc, settings)
        if exc.kind == ErrorKind.CREDITS:
            return _after_credits(ws, post, token, publisher, exc, settings, queued)
        if exc.kind == ErrorKind.TRANSIENT:
            unsure = phase == "send" or post.needs_lookup
            return _after_transient(ws, post, token, publisher, exc, settings, row["transient_failures"] + 1, unsure)
        # auth, rejected, or a duplicate refusal during lookup (cannot happen): the operator must act
        _finish(ws, post.id, token, S.FAILED, "failed", exc.message, last_error=exc.message, error_kind=str(exc.kind))
        return Outcome(post.id, "failed", exc.message, kind=exc.kind)


def _defer(
    ws: Workspace, post: Post, token: str, exc: PublishError, message: str, until: datetime, **columns
) -> Outcome:
    """End the claim with the post scheduled again, held back until ``until``."""
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
        **columns,
    )
    return Outcome(post.id, "deferred", message, kind=exc.kind)


def _after_rate_limit(
    ws: Workspace, post: Post, token: str, publisher: Channel, exc: PublishError, settings: PublishSettings
) -> Outcome:
    """The channel's rate limit: hold the post until the reset time the channel gave (or a fallback)."""
    until = exc.retry_at or clock.now() + RATE_LIMIT_FALLBACK
    message = f"{publisher.label} rate limit: posting resumes at {clock.format_local(until, settings.timezone)}"
    return _defer(ws, post, token, exc, message, until)


def _after_credits(
    ws: Workspace,
    post: Post,
    token: str,
    publisher: Channel,
    exc: PublishError,
    settings: PublishSettings,
    queued: OutboxState,
) -> Outcome:
    """Out of credits: pause the channel; the post goes back to the queue as it was, with the reason."""
    message = credits.pause(ws, publisher.name, exc.message).message_in(settings.timezone)
    _finish(ws, post.id, token, queued, "deferred", message, last_error=message, error_kind=str(exc.kind))
    return Outcome(post.id, "deferred", message, kind=exc.kind)


def _after_transient(
    ws: Workspace,
    post: Post,
    token: str,
    publisher: Channel,
    exc: PublishError,
    settings: PublishSettings,
    failures: int,
    unsure: bool,
) -> Outcome:
    """A 5xx, timeout or lost connection: back off (base, 2·base, …) or, after ``max_attempts``, fail.

    ``unsure``: the post may have gone out, so the next try (or Retry) looks it up first.
    """
    if failures >= settings.max_attempts:
        message = f"gave up after {failures} tries: {exc.message}" + (
            f"; it may have reached {publisher.label}, so Retry looks for it there first" if unsure else ""
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
        return Outcome(post.id, "failed", message, kind=exc.kind)
    until = clock.now() + timedelta(seconds=settings.retry_base_seconds * 2 ** (failures - 1))
    message = (
        f"{exc.message}; try {failures + 1} of {settings.max_attempts} at "
        f"{clock.format_local(until, settings.timezone)}"
    )
    return _defer(ws, post, token, exc, message, until, transient_failures=failures, needs_lookup=int(unsure))


def _after_duplicate(
    ws: Workspace,
    post: Post,
    token: str,
    publisher: Channel,
    exc: PublishError,
    taken: set[str],
    settings: PublishSettings,
) -> Outcome:
    """The channel says this text is already there: find it; only if it is not ours to find, fail with the reason."""
    try:
        with ws.connect() as con:
            first = con.execute("SELECT first_attempt_at FROM outbox WHERE id = ?", (post.id,)).fetchone()[0]
        found = _lookup(publisher, post, first, taken, ws)
    except PublishError as lookup_error:
        message = (
            f"{publisher.label} refused the post as a duplicate and the check failed ({lookup_error.message}); "
            "checking again"
        )
        until = lookup_error.retry_at or clock.now() + timedelta(seconds=settings.retry_base_seconds)
        return _defer(ws, post, token, exc, message, until, needs_lookup=1)
    if found is not None:
        return _published(ws, post, token, found, publisher, reconciled=True)
    message = (
        f"{publisher.label} refused this text as a duplicate of an earlier post on the account (not one Reach "
        "sent in this attempt); edit the wording, then approve it again"
    )
    _finish(ws, post.id, token, S.FAILED, "failed", message, last_error=message, error_kind=str(exc.kind))
    return Outcome(post.id, "failed", message, kind=exc.kind)


def _published(
    ws: Workspace, post: Post, token: str, sent: SentPost, publisher: Channel, *, reconciled: bool
) -> Outcome:
    detail = f"{'found on' if reconciled else 'sent to'} {publisher.name} as {sent.remote_id}"
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
    if publisher.live:
        _remember_account(ws, publisher)
        credits.lift(ws, publisher.name)
    log.info(
        "post %s published on %s as %s%s",
        post.id,
        publisher.name,
        sent.remote_id,
        " (found by lookup)" if reconciled else "",
    )
    if not publisher.live:
        return Outcome(post.id, "published", f"post {post.id} recorded on the dry run (nothing was sent)", sent.url)
    message = f"post {post.id} is live" + (
        f" (it had gone out already; found on {publisher.label})" if reconciled else ""
    )
    return Outcome(post.id, "published", message, sent.url)


PublisherFactory = Callable[[str], Channel]
"""``channel name -> connected channel``; tests pass one that reaches a fake network."""


def _publisher_cache(ws: Workspace, settings: PublishSettings, factory: PublisherFactory | None) -> PublisherFactory:
    """Connect each channel once per run (default: through the registry, with the settings' timeout)."""
    made: dict[str, Channel] = {}

    def get(channel: str) -> Channel:
        if channel not in made:
            made[channel] = (
                factory(channel)
                if factory
                else registry.publisher_for(ws, channel, timeout=settings.request_timeout_seconds)
            )
        return made[channel]

    return get


def _run_one(
    ws: Workspace,
    post: Post,
    settings: PublishSettings,
    publishers: PublisherFactory,
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
                update_state(
                    ws,
                    con,
                    fresh,
                    S.FAILED,
                    "post.failed",
                    {"detail": exc.message},
                    last_error=exc.message,
                    error_kind=str(exc.kind),
                )
        return Outcome(post.id, "failed", exc.message, kind=exc.kind)
    token, refused, queued = _claim(ws, post, settings, now, require_due=require_due)
    if token is None:
        return refused
    return _deliver(ws, get_post(ws, post.id), token, publisher, settings, queued)


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
    limit on a channel, its remaining due posts are deferred to the same reset time without a call;
    while a channel is paused for credits, its due posts wait in the queue without a call.
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
    for post in map(post_from_row, rows):
        try:
            if post.channel in limited:
                report.add(_defer_like(ws, post, limited[post.channel]))
                continue
            pause = credits.waiting(ws, post.channel, now=now)
            if pause is not None:
                report.add(_wait_for_credits(ws, post, pause.message_in(settings.timezone)))
                continue
            outcome = _run_one(ws, post, settings, get_publisher, now, require_due=True)
        except OutboxError:  # another run took the post between our read and our write: it is theirs
            state = get_post(ws, post.id).state
            report.add(Outcome(post.id, "held", f"post {post.id} is handled by another run ({state} now)"))
            continue
        if outcome.result == "skipped":
            continue
        report.add(outcome)
        if outcome.result == "deferred" and outcome.kind == ErrorKind.RATE_LIMITED:
            limited[post.channel] = outcome
    return report


def _wait_for_credits(ws: Workspace, post: Post, message: str) -> Outcome:
    """Leave ``post`` queued as it is, with the pause's message as its last error (no call)."""
    if post.last_error != message:
        with ws.connect() as con:
            con.execute(
                "UPDATE outbox SET last_error = ?, error_kind = ?, updated_at = ? WHERE id = ? AND state = ?",
                (message, str(ErrorKind.CREDITS), clock.iso(clock.now()), post.id, str(post.state)),
            )
    return Outcome(post.id, "deferred", message, kind=ErrorKind.CREDITS)


def _defer_like(ws: Workspace, post: Post, limited: Outcome) -> Outcome:
    """Hold ``post`` back until the rate limit that ``limited`` hit resets."""
    until = get_post(ws, limited.post_id).not_before
    with ws.connect() as con:
        if post.not_before is None or (until and post.not_before < until):
            update_state(
                ws,
                con,
                post,
                S.SCHEDULED,
                "post.deferred",
                {"reason": "rate limit", "until": until},
                not_before=until,
                last_error=limited.message,
                error_kind=str(ErrorKind.RATE_LIMITED),
            )
    return Outcome(post.id, "deferred", limited.message, kind=ErrorKind.RATE_LIMITED)


# -- account ------------------------------------------------------------------------------------
def _account_setting(channel: str) -> str:
    return f"publish.{channel}_account"


def _remember_account(ws: Workspace, publisher: Channel) -> None:
    """Store who a live channel posts as, so the pages can say it without a network call."""
    try:
        account = publisher.account()
    except PublishError:
        return
    value = json.dumps({"user_id": account.user_id, "username": account.username})
    if ws.get_setting(_account_setting(publisher.name)) != value:
        ws.set_setting(_account_setting(publisher.name), value)


def connected_account(ws: Workspace, channel: str | None = None) -> str | None:
    """The handle (``@name``) last seen on ``channel`` (default: the default channel) with the current
    keys, without a network call; None before the first post or connection check, and for the dry run."""
    raw = ws.get_setting(_account_setting(channel or registry.default_channel()))
    return f"@{json.loads(raw)['username']}" if raw else None


def check_connection(ws: Workspace, channel: str | None = None) -> str:
    """Ask ``channel`` (default: the default channel) who the keys belong to; return ``@handle``
    (stored for the pages).

    Raises
    ------
    PublishError
        When no keys are set, or the channel refuses them.
    """
    publisher = registry.publisher_for(
        ws, channel or registry.default_channel(), timeout=PublishSettings.load(ws).request_timeout_seconds
    )
    if not publisher.live:
        raise PublishError(ErrorKind.AUTH, "no keys are set, so posts go to the dry run: there is no account to check")
    account = publisher.account()
    _remember_account(ws, publisher)
    with ws.connect() as con:
        ws.audit("publish.connection_checked", {"account": account.username}, con=con)
    return f"@{account.username}"
