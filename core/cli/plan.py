"""``python -m core plan``: the week's posts per segment, from the writer or the templates, and queueing them.

Registered through ``core.cli.EXTENSIONS``; a module of its own so that cron's ``publish-due`` does
not import the audience step. Output contract (``--json``): ``{"slots": [{"segment", "text",
"source", "channel", "scheduled_at", "passes", "reasons"}]}`` with ``scheduled_at`` in UTC and
``source`` ``writer`` or ``template``; ``reasons`` holds notes on how the text was made (a writer
slot filled from the template, and why) and the checks it fails. With ``--queue`` the passing slots
go into the outbox as drafts, each slot once, and the count goes to stderr; without saved rules,
``--queue`` saves the proposed ones first (as accepting them on the Targeting page does).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from core import clock
from core.cli.output import print_json, say
from core.content.registry import ContentError
from core.delivery.channels import registry
from core.delivery.outbox import PublishSettings, week_estimate
from core.delivery.outbox.costs import PRICED_CHANNEL
from core.delivery.targeting import (
    MAX_PER_SEGMENT,
    SOURCES,
    TargetingError,
    audience,
    load_rules,
    propose_rules,
    queue_plan,
    save_rules,
    template_names,
    weekly_plan,
)
from core.demo import open_workspace
from core.feedback.results import recommended_template_names

__all__ = ["USER_ERRORS", "register"]

USER_ERRORS: tuple[type[Exception], ...] = (TargetingError, ContentError)

DEFAULT_PER_SEGMENT = 3


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``plan``."""
    p = sub.add_parser("plan", help="plan the week's posts per segment (writer or templates) and queue them")
    p.add_argument("--week", metavar="YYYY-MM-DD", help="any day of the week to plan (default: the next seven days)")
    p.add_argument(
        "--per-segment",
        type=int,
        default=DEFAULT_PER_SEGMENT,
        metavar="N",
        help=f"posts per segment in the week, 1-{MAX_PER_SEGMENT} (default {DEFAULT_PER_SEGMENT})",
    )
    p.add_argument("--source", metavar="|".join(SOURCES), help="fill every slot from this (default: each rule's)")
    p.add_argument("--queue", action="store_true", help="put the passing slots into the outbox as drafts (once)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_plan)


def _week(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise TargetingError(f"--week {text!r} must be a date such as 2026-03-02 (YYYY-MM-DD)") from None


def _plan(args: argparse.Namespace) -> int:
    ws = open_workspace()
    week = _week(args.week)
    if args.source is not None and args.source not in SOURCES:
        raise TargetingError(f"--source {args.source!r} must be one of {', '.join(SOURCES)}")
    recommended = recommended_template_names(ws)
    aud = audience(ws)
    if args.queue and aud is not None and not load_rules(ws, aud):
        # queueing from the command line accepts the proposals, as "Save" does on the page
        save_rules(ws, propose_rules(aud, template_names(ws), recommended=recommended), aud)
    plan = weekly_plan(
        ws, aud=aud, per_segment=args.per_segment, source=args.source, week=week, recommended=recommended
    )
    report = queue_plan(ws, plan) if args.queue else None
    if args.json:
        print_json({"slots": [item.as_json() for item in plan.items]})
        if report is not None:
            sys.stderr.write(report.summary() + "\n")
        return 0
    tz = PublishSettings.load(ws).timezone
    if plan.proposed:
        say("no saved rules: planned from the proposals (save them on the Targeting page to queue the week)")
    for item in plan.items:
        mark = "ok" if item.passes else "FAILS"
        say(f"{clock.format_local(item.scheduled_at, tz):<22} {item.source:<8} {mark:<5} {item.segment}: {item.text}")
        for reason in item.reasons:
            say(f"      - {reason}")
    for seg in plan.unreached:
        say(f"no rule reaches {seg.label}")
    on_x = [(i.text, i.scheduled_at) for i in plan.items if i.passes and PRICED_CHANNEL in registry.split(i.channel)]
    if on_x:
        say(week_estimate(ws, on_x, start=plan.start, end=plan.end).line())
    if report is not None:
        say(report.summary())
    return 0
