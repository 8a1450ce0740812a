"""``python -m core segments`` and ``python -m core rules``: step 2 of the pipeline without a browser.

Registered through ``core.cli.EXTENSIONS``. Output contract (``--json``):

* ``segments`` → ``{"k", "silhouette", "segments": [{"id", "name", "size", "top_topics"}]}``;
  ``--assignments-out PATH`` writes ``user_id,segment`` for every segmented user.
* ``rules`` → ``{"n_transactions", "rules": [{"antecedents", "consequents", "support",
  "confidence", "lift", "leverage", "conviction"}]}`` (``conviction`` is null when infinite).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.audience.rules import RulesError, angles, run_rules
from core.audience.segments import ENGINES, SegmentError, run_segments, save_run
from core.cli.output import print_json
from core.demo import open_workspace
from core.safe_csv import safe_csv

__all__ = ["USER_ERRORS", "register"]

USER_ERRORS: tuple[type[Exception], ...] = (SegmentError, RulesError)

ENGINE_HELP = (
    "where the step runs: local (default) or spark (pip install -r requirements-spark.txt); "
    "default: the workspace setting audience.engine"
)


def _support(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 (exclusive) and 1")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``segments`` and ``rules`` subcommands."""
    p = subparsers.add_parser("segments", help="find audience segments (KMeans; k by silhouette unless --k)")
    p.add_argument("--dataset", type=int, metavar="ID", help="dataset id (default: the active dataset)")
    p.add_argument("--k", type=int, metavar="K", help="number of segments (default: chosen by silhouette, 2..12)")
    p.add_argument("--assignments-out", type=Path, metavar="PATH", help="write user_id,segment as CSV")
    p.add_argument("--engine", choices=ENGINES, help=ENGINE_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_segments)

    p = subparsers.add_parser("rules", help="mine interest rules (FP-growth + association rules)")
    p.add_argument("--dataset", type=int, metavar="ID", help="dataset id (default: the active dataset)")
    p.add_argument("--min-support", type=_support, default=0.05, metavar="S", help="default 0.05")
    p.add_argument("--min-confidence", type=_share, default=0.3, metavar="C", help="default 0.3")
    p.add_argument("--max-len", type=int, default=3, metavar="N", help="longest itemset (default 3)")
    p.add_argument(
        "--segment",
        type=int,
        metavar="ID",
        help="only users of this segment (ids of the dataset's latest segmentation)",
    )
    p.add_argument("--engine", choices=ENGINES, help=ENGINE_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_rules)


def _segments(args: argparse.Namespace) -> int:
    ws = open_workspace()
    report = run_segments(ws, args.dataset, k=args.k, engine=args.engine)
    save_run(ws, report)
    if args.assignments_out is not None:
        args.assignments_out.parent.mkdir(parents=True, exist_ok=True)
        args.assignments_out.write_bytes(safe_csv(report.assignments()))
    if args.json:
        print_json(report.as_json())
        return 0
    how = "chosen by silhouette" if report.segmentation.auto else "fixed"
    out = [
        f"dataset {report.dataset_id}: {report.k} segments ({how}; silhouette "
        f"{report.segmentation.silhouette:.3f}) over {len(report.user_ids):,} users"
    ]
    for p in report.profiles:
        hours = ", ".join(f"{h:02d}h" for h in p.best_hours) or "no timestamps"
        out.append(f"  {p.id}  {p.name}  — {p.size:,} users ({p.share:.0%}); best hours {hours}")
    if args.assignments_out is not None:
        out.append(f"assignments written to {args.assignments_out}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _rules(args: argparse.Namespace) -> int:
    ws = open_workspace()
    report = run_rules(
        ws,
        args.dataset,
        min_support=args.min_support,
        min_confidence=args.min_confidence,
        max_len=args.max_len,
        segment=args.segment,
        engine=args.engine,
    )
    if args.json:
        print_json(report.as_json())
        return 0
    where = f" in segment {report.segment} ({report.segment_name})" if report.segment is not None else ""
    out = [
        f"dataset {report.dataset_id}{where}: {len(report.rules):,} rules from {report.n_itemsets:,} "
        f"frequent itemsets in {report.n_transactions:,} transactions"
    ]
    for row in report.rules.head(15).itertuples(index=False):
        out.append(
            f"  {' + '.join(row.antecedents)} → {' + '.join(row.consequents)}  support {row.support:.3f}, "
            f"confidence {row.confidence:.2f}, lift {row.lift:.2f}"
        )
    ideas = angles(report.rules, kind=report.kind)
    if ideas:
        out.append("angles:")
        out += [f"  {a.text} {' '.join(a.hashtags)}" for a in ideas]
    sys.stdout.write("\n".join(out) + "\n")
    return 0
