"""Reach's command line: the same core functions as the app, for scripts and cron.

Every command prints something short for people, or one JSON object with ``--json``. Input
the operator must fix exits with code 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from core.workspace import WorkspaceError

__all__ = ["build_parser", "main", "user_errors"]

log = logging.getLogger(__name__)

# One module per pipeline step adds its subcommands: each has ``register(subparsers)`` and
# ``USER_ERRORS``. They are imported by name, and only the one a command needs, because scikit-learn
# and TensorFlow cost seconds to import and cron's `publish-due` runs every minute.
EXTENSIONS: tuple[str, ...] = (
    "core.cli.intake",
    "core.cli.audience",
    "core.cli.delivery",
    "core.cli.costs",
    "core.cli.plan",
    "core.cli.content",
    "core.cli.results",
    "core.cli.inbox",
    "core.cli.templates",
)
# Which extension owns which command, so a call imports only what it runs (scikit-learn and
# TensorFlow cost seconds to import; `python -m core datasets` or cron's `publish-due` should not pay).
COMMAND_MODULES: dict[str, str] = {
    "ingest": "core.cli.intake",
    "datasets": "core.cli.intake",
    "hash-password": "core.cli.intake",
    "segments": "core.cli.audience",
    "rules": "core.cli.audience",
    "outbox": "core.cli.delivery",
    "publish-due": "core.cli.delivery",
    "costs": "core.cli.costs",
    "plan": "core.cli.plan",
    "train": "core.cli.content",
    "score": "core.cli.content",
    "generate": "core.cli.content",
    "metrics-refresh": "core.cli.results",
    "results": "core.cli.results",
    "inbox": "core.cli.inbox",
    "template": "core.cli.templates",
}


def _extensions(command: str | None = None) -> list:
    """The command modules a command needs: its owner, or all of them (for help)."""
    if command in COMMAND_MODULES:
        return [importlib.import_module(COMMAND_MODULES[command])]
    return [importlib.import_module(name) for name in EXTENSIONS]


def _command_of(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def user_errors(command: str | None = None) -> tuple[type[Exception], ...]:
    """Exceptions that mean "the input needs fixing": exit 2 with one line, no traceback."""
    errors: list[type[Exception]] = [WorkspaceError, ValueError]
    for module in _extensions(command):
        errors.extend(getattr(module, "USER_ERRORS", ()))
    return tuple(errors)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every subcommand, or only those of the module that owns ``command``."""
    parser = argparse.ArgumentParser(prog="python -m core", description="Reach: from audience data to published posts.")
    sub = parser.add_subparsers(dest="command", required=True)

    for module in _extensions(command):
        module.register(sub)
    return parser


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
