"""Stored mentions as the inbox shows them: each with its intent, a suggested reply and its reply post.

A mention is known by its channel and its id there (:attr:`InboxItem.ref`: ``channel:id``, the id
alone on X and in the demo); a bare id finds a mention when only one channel has it.

Mentions stored without an intent (fetched or seeded before the model ran) are classified when
first listed; the operator can correct an intent (:func:`set_intent`) or mark a mention handled by
hand (:func:`mark_handled`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from core.clock import utc_now
from core.delivery.channels import registry
from core.feedback.inbox.errors import InboxError
from core.feedback.inbox.intents import INTENTS, IntentGuess, classify, detect_language
from core.feedback.inbox.suggest import ReplyContext, suggest_reply
from core.workspace import Workspace


def _ref(channel: str, mention_id: str) -> str:
    """X was the first channel and the demo's ids are its own: their mentions keep their bare ids."""
    return mention_id if channel == "x" or not registry.is_live(channel) else f"{channel}:{mention_id}"


@dataclass(frozen=True)
class InboxItem:
    """One stored mention with its intent, suggested reply and reply post (if any)."""

    id: str
    text: str
    author_id: str | None
    author_username: str | None
    created_at: str | None
    lang: str
    channel: str
    is_demo: bool
    intent: str
    confidence: float
    handled: bool
    handled_at: str | None
    reply_post_id: int | None
    reply_state: str | None
    reply_url: str | None
    suggested_reply: str = ""
    faq_question: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """How to name this mention (``inbox reply REF``): ``channel:id``, or the id alone on X and in the demo."""
        return _ref(self.channel, self.id)

    def as_json(self) -> dict:
        """The mention as ``python -m core inbox --json`` prints it."""
        return {
            "id": self.id,
            "text": self.text,
            "author_id": self.author_id,
            "intent": self.intent,
            "suggested_reply": self.suggested_reply,
            "handled": self.handled,
        }


_SELECT = (
    "SELECT m.*, o.state AS reply_state, o.url AS reply_url FROM mentions m "
    "LEFT JOIN outbox o ON o.id = m.reply_post_id"
)


def _classify_missing(ws: Workspace, rows: list) -> dict[tuple[str, str], IntentGuess]:
    """Intents of rows stored without one (fetched or seeded before the model ran), stored now;
    keyed by (channel, id)."""
    missing = [r for r in rows if not r["intent"]]
    keys = [(r["channel"], r["id"]) for r in missing]
    guesses = dict(zip(keys, classify([r["text"] for r in missing]), strict=True))
    if guesses:
        with ws.connect() as con:
            con.executemany(
                "UPDATE mentions SET intent = ?, intent_confidence = ? WHERE channel = ? AND id = ? AND intent IS NULL",
                [(g.intent, g.confidence, channel, mention_id) for (channel, mention_id), g in guesses.items()],
            )
    return guesses


def _item(row, guess: IntentGuess | None) -> InboxItem:
    intent = guess.intent if guess else row["intent"]
    confidence = guess.confidence if guess else row["intent_confidence"]
    return InboxItem(
        id=row["id"],
        text=row["text"],
        author_id=row["author_id"],
        author_username=row["author_username"],
        created_at=row["created_at"],
        lang=detect_language(row["text"], hint=row["lang"]),
        channel=row["channel"],
        is_demo=bool(row["is_demo"]),
        intent=intent,
        confidence=float(confidence or 0.0),
        handled=bool(row["handled"]),
        handled_at=row["handled_at"],
        reply_post_id=row["reply_post_id"] if row["reply_state"] else None,
        reply_state=row["reply_state"],
        reply_url=row["reply_url"],
    )


def list_mentions(
    ws: Workspace,
    *,
    handled: bool | None = None,
    intents: Iterable[str] | None = None,
    suggest: bool = True,
    limit: int | None = None,
) -> list[InboxItem]:
    """Stored mentions, newest first, each with its intent and (with ``suggest``) a suggested reply.

    Parameters
    ----------
    handled
        Only handled (True) or unhandled (False) mentions; all when None.
    intents
        Only these intents; all when None (or empty).
    limit
        At most this many (the newest) after filtering; all when None.
    """
    if limit is not None and limit < 1:
        raise InboxError(f"limit={limit} must be at least 1")
    intents = set(intents or ())
    unknown = intents - set(INTENTS)
    if unknown:
        raise InboxError(f"intents {sorted(unknown)} are not among {', '.join(INTENTS)}")
    with ws.connect() as con:
        rows = con.execute(_SELECT + " ORDER BY m.created_at DESC, m.fetched_at DESC, m.id DESC, m.channel").fetchall()
    guesses = _classify_missing(ws, rows)
    items = [_item(r, guesses.get((r["channel"], r["id"]))) for r in rows]
    items = [i for i in items if (handled is None or i.handled == handled) and (not intents or i.intent in intents)]
    items = items[:limit] if limit is not None else items
    if not suggest or not items:
        return items
    context = ReplyContext.load(ws)
    out = []
    for item in items:
        suggestion = suggest_reply(ws, item, _context=context)
        out.append(
            InboxItem(
                **{
                    **item.__dict__,
                    "suggested_reply": suggestion.text,
                    "faq_question": suggestion.faq_question,
                    "problems": suggestion.problems,
                }
            )
        )
    return out


def _find(con, ref: str) -> list:
    """Rows named by ``ref``: ``channel:id`` (a stored channel's name before the colon) or an id on any channel."""
    channel, sep, rest = ref.partition(":")
    if sep and rest:
        rows = con.execute(_SELECT + " WHERE m.channel = ? AND m.id = ?", (channel, rest)).fetchall()
        if rows:
            return rows
    return con.execute(_SELECT + " WHERE m.id = ? ORDER BY m.channel", (ref,)).fetchall()


def get_mention(ws: Workspace, mention_id: str, *, suggest: bool = False) -> InboxItem:
    """One stored mention, named by its :attr:`InboxItem.ref` (or its bare id, when one channel has it).

    Raises
    ------
    InboxError
        When no mention has that id (the message lists a few that exist), or when several channels
        have one with that id (the message names each).
    """
    mention_id = str(mention_id).strip()
    with ws.connect() as con:
        rows = _find(con, mention_id)
        if not rows:
            known = [
                _ref(r[0], r[1])
                for r in con.execute("SELECT channel, id FROM mentions ORDER BY created_at DESC LIMIT 5")
            ]
    if not rows:
        hint = f"known ids include {', '.join(known)}" if known else "the inbox is empty"
        raise InboxError(f"unknown mention id {mention_id!r} ({hint}; `python -m core inbox` lists them)")
    if len(rows) > 1:
        refs = " or ".join(_ref(r["channel"], r["id"]) for r in rows)
        raise InboxError(f"mention id {mention_id!r} is on several channels: say which, {refs}")
    row = rows[0]
    item = _item(row, _classify_missing(ws, [row]).get((row["channel"], row["id"])))
    if not suggest:
        return item
    suggestion = suggest_reply(ws, item)
    return InboxItem(
        **{
            **item.__dict__,
            "suggested_reply": suggestion.text,
            "faq_question": suggestion.faq_question,
            "problems": suggestion.problems,
        }
    )


def inbox_status(ws: Workspace) -> tuple[int, int]:
    """(mentions waiting for an answer, all mentions) — one cheap query for the Home page."""
    with ws.connect() as con:
        row = con.execute("SELECT SUM(CASE WHEN handled = 0 THEN 1 ELSE 0 END), COUNT(*) FROM mentions").fetchone()
    return int(row[0] or 0), int(row[1] or 0)


def mark_handled(ws: Workspace, mention_id: str, *, handled: bool = True) -> InboxItem:
    """Mark a mention handled (or, with ``handled=False``, waiting again)."""
    item = get_mention(ws, mention_id)
    with ws.connect() as con:
        con.execute(
            "UPDATE mentions SET handled = ?, handled_at = ? WHERE channel = ? AND id = ?",
            (int(handled), utc_now() if handled else None, item.channel, item.id),
        )
        ws.audit("inbox.handled" if handled else "inbox.unhandled", {"mention_id": item.ref}, con=con)
    return get_mention(ws, item.ref)


def set_intent(ws: Workspace, mention_id: str, intent: str) -> InboxItem:
    """Correct a mention's intent (the suggested reply follows it); stored with confidence 1.

    Raises
    ------
    InboxError
        For an unknown mention id or intent.
    """
    if intent not in INTENTS:
        raise InboxError(f"intent {intent!r} is not one of {', '.join(INTENTS)}")
    item = get_mention(ws, mention_id)
    with ws.connect() as con:
        con.execute(
            "UPDATE mentions SET intent = ?, intent_confidence = 1.0 WHERE channel = ? AND id = ?",
            (intent, item.channel, item.id),
        )
        ws.audit("inbox.intent", {"mention_id": item.ref, "from": item.intent, "to": intent}, con=con)
    return get_mention(ws, item.ref)
