"""Reach's command line: the same core functions as the app, for scripts and cron.

Every command prints something short for people, or one JSON object with ``--json``. Input
the operator must fix exits with code 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence

from core.auth import hash_password
from core.demo import open_workspace
from core.intake.ingest import IngestError, ingest, parse_mapping_overrides
from core.workspace import WorkspaceError

__all__ = ["build_parser", "main", "print_json", "user_errors"]

log = logging.getLogger(__name__)

# Modules that add their own subcommands: each has ``register(subparsers)`` and ``USER_ERRORS``.
EXTENSIONS: tuple[str, ...] = (
    "core.cli.audience",
    "core.cli.delivery",
    "core.cli.content",
    "core.cli.results",
    "core.cli.inbox",
)
# Which extension owns which command, so a call imports only what it runs (scikit-learn and
# TensorFlow cost seconds to import; `python -m core datasets` or cron's `publish-due` should not pay).
COMMAND_MODULES: dict[str, str] = {
    "segments": "core.cli.audience",
    "rules": "core.cli.audience",
    "outbox": "core.cli.delivery",
    "publish-due": "core.cli.delivery",
    "train": "core.cli.content",
    "score": "core.cli.content",
    "generate": "core.cli.content",
    "metrics-refresh": "core.cli.results",
    "results": "core.cli.results",
    "inbox": "core.cli.inbox",
}
CORE_COMMANDS = ("ingest", "datasets", "hash-password")


def _extensions(command: str | None = None) -> list:
    """The extension modules a command needs: none for a core command, one for its owner, else all."""
    if command in CORE_COMMANDS:
        return []
    if command in COMMAND_MODULES:
        return [importlib.import_module(COMMAND_MODULES[command])]
    return [importlib.import_module(name) for name in EXTENSIONS]


def _command_of(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def user_errors(command: str | None = None) -> tuple[type[Exception], ...]:
    """Exceptions that mean "the input needs fixing": exit 2 with one line, no traceback."""
    errors: list[type[Exception]] = [IngestError, WorkspaceError, ValueError]
    for module in _extensions(command):
        errors.extend(getattr(module, "USER_ERRORS", ()))
    return tuple(errors)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every subcommand, or the core ones plus the owner of ``command``."""
    parser = argparse.ArgumentParser(prog="python -m core", description="Reach: from audience data to published posts.")
    sub = parser.add_subparsers(dest="command", required=True)

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

    for module in _extensions(command):
        module.register(sub)
    return parser


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


def print_json(obj: object) -> None:
    """One JSON object on stdout (the ``--json`` output of every command)."""
    print(json.dumps(obj, ensure_ascii=False, default=str))


def say(line: str) -> None:
    """One line for people on stdout (``--json`` output goes through :func:`print_json`)."""
    sys.stdout.write(line + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(argv)
    args = build_parser(command).parse_args(argv)
    try:
        return args.run(args)
    except user_errors(command) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left early (`… | head`): not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
