"""Replying to a mention through the outbox, exactly once.

A reply is queued as a reply to the mention (approved, due now) and published at once, so the
outbox's exactly-once delivery and fault handling apply. The mention is linked to its reply post;
a compare-and-set claim on the mention means two calls (a double click, two terminals) create one
post, and a repeated call returns that post. Replying marks the mention handled.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from core import clock
from core.clock import utc_now
from core.delivery import outbox as publish
from core.delivery.outbox import OutboxState, Outcome, Post, PublisherFactory
from core.feedback.inbox.errors import InboxError, InboxValidationError
from core.feedback.inbox.mentions import InboxItem, get_mention
from core.feedback.inbox.suggest import check_reply, suggest_reply
from core.workspace import Workspace

CLAIM_SECONDS = 60  # a reply claim older than this was left by a process that died
WAIT_FOR_OTHER_SECONDS = 15  # how long a second call waits for the first to link its post


@dataclass(frozen=True)
class ReplyResult:
    """The reply post of a mention and what happened to it on this call."""

    mention_id: str
    post: Post
    created: bool  # False: the mention had its reply already; nothing new was made
    outcome: Outcome | None  # None when nothing was sent on this call
    message: str

    def as_json(self) -> dict:
        """``{"post_id", "state"}`` as ``python -m core inbox reply --json`` prints it."""
        return {"post_id": self.post.id, "state": str(self.post.state)}


def _claim_reply(ws: Workspace, mention: InboxItem) -> tuple[int | None, str | None]:
    """(existing reply post, None), (None, our claim token) or (None, None) while another call holds it."""
    now = clock.now()
    key = (mention.channel, mention.id)
    with ws.connect() as con:
        con.execute("BEGIN IMMEDIATE")  # one writer from the check to the claim
        row = con.execute(
            "SELECT reply_post_id, reply_claim, reply_claimed_at FROM mentions WHERE channel = ? AND id = ?", key
        ).fetchone()
        linked = row["reply_post_id"]
        if linked is not None and con.execute("SELECT 1 FROM outbox WHERE id = ?", (linked,)).fetchone():
            return linked, None
        # a post made for this mention whose link was never written (the process died in between)
        orphan = con.execute(
            "SELECT id FROM outbox WHERE channel = ? AND in_reply_to = ? ORDER BY id LIMIT 1", key
        ).fetchone()
        if orphan is not None:
            con.execute(
                "UPDATE mentions SET reply_post_id = ?, reply_claim = NULL WHERE channel = ? AND id = ?",
                (orphan[0], *key),
            )
            return orphan[0], None
        fresh = clock.iso(now - timedelta(seconds=CLAIM_SECONDS))
        if row["reply_claim"] and (row["reply_claimed_at"] or "") > fresh:
            return None, None
        token = uuid.uuid4().hex
        con.execute(
            "UPDATE mentions SET reply_claim = ?, reply_claimed_at = ?, reply_post_id = NULL "
            "WHERE channel = ? AND id = ?",
            (token, clock.iso(now), *key),
        )
    return None, token


def _release_claim(ws: Workspace, mention: InboxItem, token: str) -> None:
    with ws.connect() as con:
        con.execute(
            "UPDATE mentions SET reply_claim = NULL, reply_claimed_at = NULL "
            "WHERE channel = ? AND id = ? AND reply_claim = ?",
            (mention.channel, mention.id, token),
        )


def _send_existing(ws: Workspace, mention: InboxItem, post_id: int, publishers: PublisherFactory | None) -> ReplyResult:
    """The mention has its reply post: publish it if it is still queued, otherwise just report it."""
    post = publish.get_post(ws, post_id)
    outcome = None
    if post.state in (OutboxState.APPROVED, OutboxState.SCHEDULED):
        outcome = publish.publish_now(ws, post.id, publishers=publishers)
        post = publish.get_post(ws, post.id)
    if outcome is not None and outcome.result != "skipped":
        message = f"Reply to {mention.ref}: {outcome.message}"
    elif post.state == OutboxState.PUBLISHED:
        message = f"Mention {mention.ref} was answered already (post {post.id}); nothing new was sent"
    elif post.state == OutboxState.FAILED:
        message = (
            f"The reply to {mention.ref} (post {post.id}) failed: {post.last_error}. Retry it here or on "
            "the Publish page"
        )
    else:
        message = f"Mention {mention.ref} has its reply already: post {post.id} is {post.state}"
    return ReplyResult(mention.ref, post, False, outcome, message)


def reply(
    ws: Workspace, mention_id: str, *, text: str | None = None, publishers: PublisherFactory | None = None
) -> ReplyResult:
    """Answer a mention: queue the reply (approved, due now) in the outbox and publish it now.

    A mention gets one reply post. A second call — a double click, a repeated command, two
    processes at once — creates nothing: it returns that post (publishing it if it is still
    queued, e.g. after a 5xx). A failed reply is retried with :func:`retry_reply` or on the
    Publish page. The mention is marked handled.

    Parameters
    ----------
    text
        The reply as the operator wrote it; the suggested reply when None.
    publishers
        ``channel -> Channel`` passed on to :func:`core.delivery.outbox.publish_now`.

    Raises
    ------
    InboxError
        For an unknown mention id.
    InboxValidationError
        When the text fails the reply checks (length, banned words) or the outbox pre-flight;
        nothing is stored then.
    """
    mention = get_mention(ws, mention_id)
    deadline = time.monotonic() + WAIT_FOR_OTHER_SECONDS
    while True:
        post_id, token = _claim_reply(ws, mention)
        if post_id is not None:
            return _send_existing(ws, mention, post_id, publishers)
        if token is not None:
            break
        if time.monotonic() > deadline:
            raise InboxError(f"another reply to mention {mention.ref} is being prepared right now; try again shortly")
        time.sleep(0.1)
    post = _queue_reply(ws, mention, text, token)
    outcome = publish.publish_now(ws, post.id, publishers=publishers)
    return ReplyResult(
        mention.ref, publish.get_post(ws, post.id), True, outcome, f"Reply to {mention.ref}: {outcome.message}"
    )


def _queue_reply(ws: Workspace, mention: InboxItem, text: str | None, token: str) -> Post:
    """Check and queue the reply (approved) under our claim and link it to the mention, marked handled.

    The claim is released when the reply cannot be queued.
    """
    try:
        body = text if text is not None else suggest_reply(ws, mention).text
        problems = check_reply(ws, body, channel=mention.channel)
        if problems:
            raise InboxValidationError([f"not sent: {p}" for p in problems])
        try:
            post = publish.add_post(ws, body, channel=mention.channel, approve=True, in_reply_to=mention.id)
        except publish.PreflightError as exc:
            raise InboxValidationError([f"not sent: {p}" for p in exc.problems]) from None
    except BaseException:
        _release_claim(ws, mention, token)
        raise
    with ws.connect() as con:
        con.execute(
            "UPDATE mentions SET reply_post_id = ?, reply_claim = NULL, reply_claimed_at = NULL, handled = 1, "
            "handled_at = ? WHERE channel = ? AND id = ? AND reply_claim = ?",
            (post.id, utc_now(), mention.channel, mention.id, token),
        )
        ws.audit("inbox.reply", {"mention_id": mention.ref, "post_id": post.id}, con=con)
    return post


def retry_reply(ws: Workspace, mention_id: str, *, publishers: PublisherFactory | None = None) -> ReplyResult:
    """Queue a mention's failed reply again and publish it now (a reply that may be on X is looked up first).

    Raises
    ------
    InboxError
        When the mention has no failed reply.
    """
    mention = get_mention(ws, mention_id)
    if mention.reply_post_id is None or mention.reply_state != OutboxState.FAILED:
        state = mention.reply_state or "not answered yet"
        raise InboxError(f"mention {mention.ref} has no failed reply to retry ({state})")
    try:
        publish.retry(ws, mention.reply_post_id)
    except publish.PreflightError as exc:
        raise InboxValidationError([f"not sent: {p}" for p in exc.problems]) from None
    outcome = publish.publish_now(ws, mention.reply_post_id, publishers=publishers)
    return ReplyResult(
        mention.ref,
        publish.get_post(ws, mention.reply_post_id),
        False,
        outcome,
        f"Reply to {mention.ref}: {outcome.message}",
    )
