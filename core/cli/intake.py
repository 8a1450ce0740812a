"""``python -m core ingest``, ``datasets`` and ``hash-password``: step 1 of the pipeline without a browser.

``ingest --json`` prints ``{"dataset_id", "kind", "rows_read", "rows_accepted", "rows_rejected",
"duplicates_removed", "reasons", "encoding", "delimiter", "mapping"}`` (with ``"files"`` for
several files); ``datasets --json`` prints ``{"active", "datasets": [...]}``.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from core.auth import hash_password
from core.cli.output import print_json
from core.demo import open_workspace
from core.intake.ingest import IngestError, ingest
from core.intake.mapping import parse_mapping_overrides

__all__ = ["USER_ERRORS", "register"]

USER_ERRORS: tuple[type[Exception], ...] = (IngestError,)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``ingest``, ``datasets`` and ``hash-password``."""
    p = sub.add_parser("ingest", help="import behaviour CSVs as one dataset (it becomes the active one)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--kind", choices=["auto", "events", "users", "baskets"], default="auto")
    p.add_argument("--name", help="dataset name (default: the first file's name)")
    p.add_argument(
        "--map",
        action="extend",
        nargs="+",
        default=[],
        metavar="CANONICAL=COLUMN",
        help="map a source column onto a canonical one, e.g. --map user_id=UID",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_ingest)

    p = sub.add_parser("datasets", help="list the dataset catalogue")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_datasets)

    p = sub.add_parser("hash-password", help="make a password hash for the login gate ([auth] password_hash)")
    p.set_defaults(run=_hash_password)


def _ingest(args: argparse.Namespace) -> int:
    mapping = parse_mapping_overrides(args.map)
    ws = open_workspace()
    report = ingest(ws, args.paths, kind=args.kind, name=args.name, mapping=mapping or None)
    out = report.as_json()
    if args.json:
        print_json(out)
        return 0
    print(f"dataset {out['dataset_id']} ({out['kind']}): {report.name} — now active")
    print(
        f"  rows read {out['rows_read']:,} = accepted {out['rows_accepted']:,} + rejected "
        f"{out['rows_rejected']:,} + duplicates {out['duplicates_removed']:,}"
    )
    for reason, count in sorted(out["reasons"].items(), key=lambda kv: -kv[1]):
        print(f"  rejected, {reason}: {count:,}")
    for f in report.files:
        mapping_text = ", ".join(f"{k}←{v}" for k, v in f.mapping.items()) or "one basket per line"
        print(f"  {f.file}: {f.kind}, {f.encoding}, {f.delimiter!r}; {mapping_text}")
        for note in f.notes:
            print(f"    note: {note}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    ws = open_workspace()
    datasets = ws.datasets()
    if args.json:
        print_json({"active": ws.active_dataset_id(), "datasets": [d.as_json() for d in datasets]})
        return 0
    if not datasets:
        print("no datasets yet: python -m core ingest PATH")
    for d in datasets:
        mark = "*" if d.active else " "
        print(f"{mark} {d.id:>3}  {d.name}  ({d.kind}; {d.n_events:,} events, {d.n_users:,} users; {d.created_at})")
    return 0


def _hash_password(args: argparse.Namespace) -> int:

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise ValueError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    print(hash_password(password))
    return 0
