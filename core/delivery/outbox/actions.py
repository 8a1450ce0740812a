"""What the operator does with a post before it goes out: add, edit, approve, schedule, take back,
retry, delete. Each is one compare-and-set state change (:func:`~core.delivery.outbox.posts.update_state`);
approving runs pre-flight first."""

from __future__ import annotations

from datetime import datetime

from core import clock
from core.delivery.channels import registry
from core.delivery.outbox.posts import QUEUED, OutboxError, OutboxState, Post, PreflightError, get_post, update_state
from core.delivery.outbox.posts import OutboxState as S
from core.delivery.outbox.preflight import preflight
from core.workspace import Workspace

__all__ = ["add_post", "add_to_channels", "approve", "delete_post", "edit_post", "retry", "schedule", "unapprove"]


def _check_channel(name: str) -> None:
    """:class:`OutboxError` naming the registered channels when ``name`` is none of them."""
    if name not in registry.channel_names():
        raise OutboxError(f"channel={name!r} must be one of {', '.join(registry.channel_names())}")


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
    channel = channel or registry.default_channel()
    _check_channel(channel)
    if at is not None and at.tzinfo is None:
        raise OutboxError("at must be an aware UTC time (use to_utc for a wall-clock time)")
    if approve:
        problems = preflight(ws, text, in_reply_to=in_reply_to, channel=channel)
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


def add_to_channels(
    ws: Workspace,
    text: str,
    channels: list[str],
    *,
    segment: str | None = None,
    template: str | None = None,
    at: datetime | None = None,
    approve: bool = False,
) -> list[Post]:
    """One text for several channels: one post per channel (each published once), linked by ``draft_id``.

    Raises
    ------
    PreflightError
        With ``approve``, when the text fails pre-flight on any of them (each problem names its
        channel); nothing is stored then.
    OutboxError
        When no channel or an unknown one is given.
    """
    channels = list(dict.fromkeys(channels))
    if not channels:
        raise OutboxError("choose at least one channel")
    for name in channels:
        _check_channel(name)
    if approve:
        problems = [
            f"{registry.label(name)}: {problem}" if len(channels) > 1 else problem
            for name in channels
            for problem in preflight(ws, text, channel=name)
        ]
        if problems:
            raise PreflightError(problems)
    posts = [
        add_post(ws, text, channel=name, segment=segment, template=template, at=at, approve=approve)
        for name in channels
    ]
    if len(posts) > 1:
        with ws.connect() as con:
            con.executemany("UPDATE outbox SET draft_id = ? WHERE id = ?", [(posts[0].id, p.id) for p in posts])
        posts = [get_post(ws, p.id) for p in posts]
    return posts


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
    if channel is not None:
        _check_channel(channel)
    changes = {"text": text, "channel": channel, "segment": segment, "template": template}
    changes = {k: v for k, v in changes.items() if v is not None and v != getattr(post, k)}
    if not changes:
        return post
    with ws.connect() as con:
        update_state(
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
    problems = preflight(ws, post.text, exclude_post_id=post.id, in_reply_to=post.in_reply_to, channel=post.channel)
    if problems:
        raise PreflightError(problems)
    if at is None and post.scheduled_at and clock.from_iso(post.scheduled_at) > clock.now():
        at = clock.from_iso(post.scheduled_at)  # a draft saved with a time keeps it
    state, scheduled = _queue_state(at, clock.now())
    with ws.connect() as con:
        update_state(
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
            update_state(
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
            update_state(ws, con, post, state, "post.schedule", {"scheduled_at": scheduled}, scheduled_at=scheduled)
        else:
            raise OutboxError(f"post {post.id} is {post.state}; only drafts and queued posts can be scheduled")
    return get_post(ws, post_id)


def unapprove(ws: Workspace, post_id: int) -> Post:
    """Take a queued post back to draft."""
    post = get_post(ws, post_id)
    if post.state not in QUEUED:
        raise OutboxError(f"post {post.id} is {post.state}; only approved or scheduled posts go back to draft")
    with ws.connect() as con:
        update_state(ws, con, post, S.DRAFT, "post.unapprove", approved_at=None, not_before=None)
    return get_post(ws, post_id)


def retry(ws: Workspace, post_id: int, *, at: datetime | None = None) -> Post:
    """Queue a failed post again, due at ``at`` (UTC) or now (pre-flight runs again). A post that may
    be on its channel already is looked up there first."""
    post = get_post(ws, post_id)
    if post.state != S.FAILED:
        raise OutboxError(f"post {post.id} is {post.state}; only failed posts can be retried")
    problems = preflight(ws, post.text, exclude_post_id=post.id, in_reply_to=post.in_reply_to, channel=post.channel)
    if problems:
        raise PreflightError(problems)
    state, scheduled = _queue_state(at, clock.now())
    with ws.connect() as con:
        update_state(
            ws,
            con,
            post,
            state,
            "post.retry",
            scheduled_at=scheduled,
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
