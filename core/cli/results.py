"""``python -m core metrics-refresh`` and ``python -m core results``: measuring and learning without a browser.

``metrics-refresh`` is what cron runs after ``publish-due``; it exits 0 whenever it ran, even when
X's rate limit deferred part of it (the line on stderr says until when). ``results import PATH``
adds an engagement export of posts made elsewhere.
"""

from __future__ import annotations

import argparse
import sys

from core import clock
from core.cli.output import print_json, say
from core.delivery.channels import registry
from core.delivery.channels.base import PublishError
from core.delivery.outbox import PublishSettings
from core.demo import open_workspace
from core.feedback.results import (
    ResultsError,
    channel_title,
    import_engagement_csv,
    measured,
    refresh_metrics,
    results,
)

__all__ = ["USER_ERRORS", "register"]

USER_ERRORS: tuple[type[Exception], ...] = (ResultsError, PublishError)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``metrics-refresh``, ``results`` and ``results import``."""
    p = sub.add_parser("metrics-refresh", help="read the metrics of published posts (simulated for dry-run posts)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_refresh)

    p = sub.add_parser("results", help="performance by template and segment, and the next template per segment")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--seed", type=int, default=0, help="seed of the Thompson sampling draws (default 0)")
    p.set_defaults(run=_results)
    actions = p.add_subparsers(dest="results_command", required=False)
    i = actions.add_parser("import", help="import an engagement CSV of posts made elsewhere")
    i.add_argument("path", metavar="PATH")
    i.add_argument(
        "--map",
        action="extend",
        nargs="+",
        default=[],
        metavar="COLUMN=SOURCE",
        help="read a column under another name, e.g. --map likes=Favs impressions=Views",
    )
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(run=_import)


def _refresh(args: argparse.Namespace) -> int:
    ws = open_workspace()
    report = refresh_metrics(ws, respect_cadence=True)
    tz = PublishSettings.load(ws).timezone
    if report.deferred_until or report.problem or report.next_read_at or report.paused:
        sys.stderr.write(report.message(tz) + "\n")
    if args.json:
        print_json(report.as_json())
        return 0
    say(report.message(tz))
    return 0


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.2%}"


def _results(args: argparse.Namespace) -> int:
    ws = open_workspace()
    found = results(ws, random_state=args.seed)
    out = found.as_json()
    if args.json:
        print_json(out)
        return 0
    tz = PublishSettings.load(ws).timezone
    if found.posts.empty:
        say(
            "no measured posts yet: publish posts, then run `python -m core metrics-refresh` "
            "(or import an engagement CSV: `python -m core results import PATH`)"
        )
        return 0
    network = " or ".join(c.label for c in registry.live_channels())
    if found.simulated:
        say(f"note: dry-run posts have SIMULATED metrics (nothing was posted); connect {network} for real ones")
    if found.unmeasured:
        n = found.unmeasured
        say(f"{n} published post{'s have' if n != 1 else ' has'} no metrics yet: python -m core metrics-refresh")
    if found.not_before:
        say(f"{network} metrics are rate limited until {clock.format_local(found.not_before, tz)}")
    say("by template:")
    for row in out["by_template"]:
        say(f"  {row['template']:<20} {row['posts']:>5} posts  {_pct(row['engagement_rate']):>7}")
    say("by segment:")
    for row in out["by_segment"]:
        say(f"  {row['segment']:<40} {row['posts']:>5} posts  {_pct(row['engagement_rate']):>7}")
    if found.without_impressions:
        n = found.without_impressions
        say(f"{n} post{'s have' if n != 1 else ' has'} no impressions: counted, but not in engagement rates")
    say("next template per segment (Thompson sampling):")
    channel = None
    for rec in found.recommendations:
        if rec.channel != channel:
            channel = rec.channel
            say(f"  on {channel_title(channel)} (measured: {measured(rec)}):")
        word = "settled" if rec.settled else "too early to tell"
        say(
            f"    {rec.segment}: {rec.template} ({rec.probability_best:.0%} chance it is best; {rec.posts} posts; {word})"
        )
    return 0


def _import(args: argparse.Namespace) -> int:
    mapping = {}
    for pair in args.map:
        column, sep, source = pair.partition("=")
        if not sep or not column.strip() or not source.strip():
            raise ResultsError(f"--map takes COLUMN=SOURCE, got {pair!r}")
        mapping[column.strip()] = source.strip()
    ws = open_workspace()
    report = import_engagement_csv(ws, args.path, mapping=mapping or None)
    if args.json:
        print_json(
            {
                "imported": report.imported,
                "already_there": report.already_there,
                "rejected": [{"line": line, "reason": why} for line, why in report.rejected],
                "without_impressions": report.without_impressions,
            }
        )
        return 0
    say(report.summary())
    for line, why in report.rejected[:20]:
        say(f"  line {line}: {why}")
    return 0
