"""``python -m core outbox …`` and ``python -m core publish-due``: the outbox without a browser.

``publish-due`` is what cron runs; it exits 0 whenever it ran, even if posts were deferred or
failed (their reasons are in ``outbox list``).
"""

from __future__ import annotations

import argparse

from core import clock
from core.cli.output import print_json, say
from core.delivery.channels import registry
from core.delivery.channels.base import ErrorKind, PublishError
from core.delivery.outbox import (
    OutboxError,
    PublishSettings,
    add_post,
    list_posts,
    publish_due,
)
from core.demo import open_workspace

__all__ = ["USER_ERRORS", "register"]

USER_ERRORS: tuple[type[Exception], ...] = (OutboxError, PublishError)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``outbox add``, ``outbox list`` and ``publish-due``."""
    outbox = sub.add_parser("outbox", help="add posts to the outbox and list it")
    actions = outbox.add_subparsers(dest="outbox_command", required=True)

    p = actions.add_parser("add", help="add a post (a draft, or approved with --approve)")
    p.add_argument("text", metavar="TEXT")
    p.add_argument(
        "--channel",
        choices=list(registry.channel_names()),
        help="where it goes (default: the first channel whose keys are set, else dry-run)",
    )
    p.add_argument("--segment", metavar="NAME")
    p.add_argument("--template", metavar="NAME")
    p.add_argument(
        "--at", metavar="ISO8601", help="when it goes out; without an offset, in the time-zone setting (default: now)"
    )
    p.add_argument("--approve", action="store_true", help="approve it (refused with exit 2 if pre-flight fails)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_add)

    p = actions.add_parser("list", help="every post, newest first")
    p.add_argument("--json", action="store_true", help="print one JSON list")
    p.set_defaults(run=_list)

    p = sub.add_parser("publish-due", help="publish every approved post whose time has come (for cron)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_publish_due)


def _add(args: argparse.Namespace) -> int:
    ws = open_workspace()
    at = clock.parse_local_time(args.at, PublishSettings.load(ws).timezone) if args.at else None
    post = add_post(
        ws, args.text, channel=args.channel, segment=args.segment, template=args.template, at=at, approve=args.approve
    )
    if args.json:
        print_json({"post_id": post.id, "state": str(post.state)})
        return 0
    when = clock.format_local(post.scheduled_at, PublishSettings.load(ws).timezone)
    say(f"post {post.id}: {post.state} on {post.channel}" + (f", due {when}" if post.state != "draft" else ""))
    return 0


def _list(args: argparse.Namespace) -> int:
    ws = open_workspace()
    posts = list_posts(ws)
    if args.json:
        print_json([p.as_json() for p in posts])
        return 0
    tz = PublishSettings.load(ws).timezone
    if not posts:
        say("the outbox is empty: python -m core outbox add TEXT")
    for p in posts:
        when = clock.format_local(p.published_at or p.due_at, tz)
        line = f"{p.id:>4}  {p.state:<10} {p.channel:<7} {when:<22} {p.text[:60]!r}"
        if p.url:
            line += f"  {p.url}"
        say(line)
        if p.last_error and p.state != "published":
            say(f"      {p.last_error}")
    return 0


def _publish_due(args: argparse.Namespace) -> int:
    ws = open_workspace()
    report = publish_due(ws)
    if args.json:
        print_json(report.as_json())
        return 0
    if not report.outcomes:
        say("nothing due")
    top_up: list[str] = []  # out of credits: one message for all the posts it holds back
    for outcome in report.outcomes:
        if outcome.kind == ErrorKind.CREDITS:
            say(f"post {outcome.post_id}: deferred — waiting for credits")
            top_up += [outcome.message] if outcome.message not in top_up else []
            continue
        say(
            f"post {outcome.post_id}: {outcome.result} — {outcome.message}" + (f" {outcome.url}" if outcome.url else "")
        )
    for message in top_up:
        say(message)
    return 0
