"""``python -m core costs``: what Reach's own X calls cost this month (or another), at the price settings."""

from __future__ import annotations

import argparse

from core.cli.output import print_json, say
from core.delivery.outbox import CostSettings, OutboxError, month_costs
from core.delivery.outbox.credits import paused
from core.delivery.outbox.settings import PublishSettings
from core.demo import open_workspace

__all__ = ["USER_ERRORS", "register"]

USER_ERRORS: tuple[type[Exception], ...] = (OutboxError,)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``costs``."""
    p = sub.add_parser("costs", help="X posts and reads Reach made in a month, and their estimated cost")
    p.add_argument("--month", metavar="YYYY-MM", help="the UTC month (default: this one)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_costs)


def _costs(args: argparse.Namespace) -> int:
    ws = open_workspace()
    settings = CostSettings.load(ws)
    found = month_costs(ws, args.month, settings=settings)
    if args.json:
        print_json(found.as_json())
        return 0
    say(found.line())
    for kind, price in settings.prices().items():
        say(f"  {kind:<22} {found.counts[kind]:>7} × ${price:.3f}")
    say(
        f"prices checked {settings.prices_checked}: compare them with the X Developer Console and change them "
        "under Publish → Costs and reading"
    )
    pause = paused(ws, "x")
    if pause is not None:
        say(pause.message_in(PublishSettings.load(ws).timezone))
    return 0
