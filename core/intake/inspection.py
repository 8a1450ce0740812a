"""Inspection: what a sample of one file says about it, before anything is imported.

:func:`inspect_file` reads the file's detection sample through :mod:`core.textfiles` (encoding
detected with charset-normalizer, never assumed; delimiter sniffed among ``, ; \\t |``; header
cleaned), maps the header onto Reach's canonical columns, guesses the kind of file (events, user
table, baskets) and keeps a preview of the first rows.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.intake.errors import IngestError
from core.intake.mapping import auto_mapping, mapping_problem
from core.textfiles import (
    DELIMITER_NAMES,
    TextFileError,
    clean_header,
    decode_sample,
    non_blank_lines,
    sample_and_encoding,
    sniff_delimiter,
)

__all__ = ["KINDS", "FileInspection", "inspect_file"]

KINDS = ("events", "users", "baskets")


@dataclass
class FileInspection:
    """What a sample of one file says about it."""

    path: Path
    encoding: str
    delimiter: str
    columns: list[str]
    mapping: dict[str, str]
    kind: str
    preview: pd.DataFrame
    per_line_baskets: bool = False
    # Physical lines before the header that hold only blanks; the CSV reader skips them.
    leading_blank_lines: int = 0

    @property
    def delimiter_name(self) -> str:
        """The delimiter in words, for people."""
        return DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))


def _guess_kind(mapping: dict[str, str], columns: list[str], lines: list[str], delimiter: str) -> tuple[str, bool]:
    """(kind, one basket per line) from what the header maps to."""
    if "transaction_id" in mapping and ("item" in mapping or "topic" in mapping):
        return "baskets", False
    if "user_id" in mapping and ({"action", "topic", "timestamp"} & mapping.keys()):
        return "events", False
    if {"age", "gender", "region"} & mapping.keys():
        return "users", False
    if not mapping:
        counts = [len(row) for row in csv.reader(lines[:-1] or lines, delimiter=delimiter)]
        if counts and len(set(counts)) > 1:
            return "baskets", True
    if "user_id" in mapping:
        # A user table lists each user once; ids that repeat in the sample mean events.
        position = columns.index(mapping["user_id"])
        ids = [row[position] for row in csv.reader(lines[1:], delimiter=delimiter) if len(row) > position]
        return ("events" if len(set(ids)) < len(ids) else "users"), False
    return "events", False


def inspect_file(
    path: Path | str,
    *,
    kind: str = "auto",
    mapping: dict[str, str] | None = None,
    name: str | None = None,
    strict: bool = True,
) -> FileInspection:
    """Read a sample of ``path`` and say how it would be imported.

    Parameters
    ----------
    path
        The file on disk.
    kind
        ``auto``, ``events``, ``users`` or ``baskets``.
    mapping
        Canonical -> source column overrides, applied over the automatic mapping.
    name
        How to call the file in messages (defaults to its file name).
    strict
        Raise when the mapping lacks a required column; the Data page passes False so the
        operator can fix the mapping in its editor (and checks with :func:`mapping_problem`).

    Raises
    ------
    IngestError
        Empty, binary or undecodable input, or a mapping that names a missing column.
    """
    path = Path(path)
    name = name or path.name
    if kind not in ("auto", *KINDS):
        raise IngestError(f"kind {kind!r} must be one of auto, {', '.join(KINDS)}")
    encoding, text = _read_head(path, name)
    lines = non_blank_lines(text)
    if not lines:
        raise IngestError(f"{name} is empty: there is no header and no rows to import")
    if any(ch in lines[0] for ch in "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10"):
        raise IngestError(f"{name} looks like a binary file, not a CSV export; export it as CSV text")
    delimiter = sniff_delimiter(lines)
    header = clean_header(next(csv.reader(lines[:1], delimiter=delimiter)))
    auto = auto_mapping(header)
    per_line = False
    if kind == "auto":
        kind, per_line = _guess_kind(auto, header, lines, delimiter)
    elif kind == "baskets" and not ("transaction_id" in auto and ({"item", "topic"} & auto.keys())):
        per_line = not mapping
    final = _apply_overrides({} if per_line else dict(auto), mapping or {}, header, name)
    if strict:
        problem = mapping_problem(kind, final, per_line, header, name)
        if problem:
            raise IngestError(problem)
    if per_line:
        rows = list(csv.reader(lines[:10], delimiter=delimiter))
        preview = pd.DataFrame({"basket": [delimiter.join(r) for r in rows]})
        header = ["basket"]
    else:
        rows = list(csv.reader(lines[1:11], delimiter=delimiter))
        width = len(header)
        preview = pd.DataFrame([(r + [""] * width)[:width] for r in rows], columns=header, dtype=str)
    return FileInspection(path, encoding, delimiter, header, final, kind, preview, per_line, _leading_blank_lines(text))


def _read_head(path: Path, name: str) -> tuple[str, str]:
    """(encoding, text of the detection sample); the base's :class:`TextFileError` becomes an :class:`IngestError`."""
    try:
        sample, encoding = sample_and_encoding(path, name=name, if_empty="there is no header and no rows to import")
        return encoding, decode_sample(sample, encoding, name=name)
    except TextFileError as exc:
        raise IngestError(str(exc)) from None


def _leading_blank_lines(text: str) -> int:
    """Physical lines before the first one that holds more than blanks."""
    count = 0
    for physical in re.split(r"\r\n|\r|\n", text):
        if physical.strip():
            break
        count += 1
    return count


def _apply_overrides(auto: dict[str, str], overrides: dict[str, str], header: list[str], name: str) -> dict[str, str]:
    """The automatic mapping with the operator's overrides applied; a source column serves one canonical column."""
    final = auto
    for canonical, source in overrides.items():
        if source not in header:
            raise IngestError(
                f"{name}: column {source!r} (mapped to {canonical}) is not in the file; columns seen: {', '.join(header)}"
            )
        final = {k: v for k, v in final.items() if v != source}
        final[canonical] = source
    return final
