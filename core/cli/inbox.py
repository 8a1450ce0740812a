"""``python -m core inbox [--refresh] [--json]`` and ``python -m core inbox reply MENTION_ID [--text TEXT] [--json]``.

``inbox`` lists the stored mentions (after fetching new ones with ``--refresh``) with their intent
and suggested reply; ``inbox reply`` answers one through the outbox, once: repeating it prints
the same post and sends nothing new.
"""

from __future__ import annotations

import argparse

from core.cli.output import print_json, say
from core.content.templates import TemplateError
from core.delivery.channels.base import PublishError
from core.delivery.outbox import OutboxError
from core.demo import open_workspace
from core.feedback.inbox import INTENT_LABELS, InboxError, list_mentions, refresh_mentions, reply

__all__ = ["USER_ERRORS", "register"]

USER_ERRORS: tuple[type[Exception], ...] = (InboxError, OutboxError, PublishError, TemplateError)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``inbox`` and its optional ``reply`` subcommand."""
    inbox = sub.add_parser("inbox", help="mentions with their intent and a suggested reply; answer one")
    inbox.add_argument("--refresh", action="store_true", help="fetch new mentions from X first")
    inbox.add_argument("--json", action="store_true", help="print one JSON object")
    inbox.set_defaults(run=_list)
    # optional: `inbox` alone lists; `inbox reply ID` answers
    actions = inbox.add_subparsers(dest="inbox_command", required=False, metavar="{reply}")
    p = actions.add_parser("reply", help="answer a mention through the outbox (approved, due now, published now)")
    p.add_argument("mention_id", metavar="MENTION_ID", help="as `inbox` lists it: the id, or channel:id")
    p.add_argument("--text", metavar="TEXT", help="the reply (default: the suggested reply)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_reply)


def _list(args: argparse.Namespace) -> int:
    ws = open_workspace()
    note = refresh_mentions(ws, respect_cadence=True).message if args.refresh else None
    mentions = list_mentions(ws)
    if args.json:
        print_json({"mentions": [m.as_json() for m in mentions]})
        return 0
    if note:
        say(note)
    if not mentions:
        say("no mentions yet" + ("" if args.refresh else ": python -m core inbox --refresh"))
    for m in mentions:
        who = f"@{m.author_username}" if m.author_username else (m.author_id or "?")
        mark = "✓" if m.handled else "•"
        say(f"{mark} {m.ref}  {who}  [{INTENT_LABELS[m.intent]} {m.confidence:.0%}]  {m.text}")
        if m.reply_post_id is not None:
            say(f"    replied: post {m.reply_post_id} ({m.reply_state})" + (f" {m.reply_url}" if m.reply_url else ""))
        else:
            say(f"    suggested: {m.suggested_reply}")
    return 0


def _reply(args: argparse.Namespace) -> int:
    ws = open_workspace()
    result = reply(ws, args.mention_id, text=args.text)
    if args.json:
        print_json(result.as_json())
        return 0
    say(result.message + (f" {result.post.url}" if result.post.url else ""))
    return 0
