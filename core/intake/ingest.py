"""Intake: turn messy behaviour exports into clean, validated datasets.

A file goes through four steps, each of which can be run on its own:

1. :func:`~core.intake.inspection.inspect_file` reads a sample: encoding (detected with
   charset-normalizer, never assumed), delimiter (sniffed among ``, ; \\t |``), header, the
   mapping of its columns onto Reach's canonical columns, and the kind of file (events, user
   table, baskets).
2. :func:`ingest` streams every file in blocks (pyarrow's CSV reader, so a 2 GB export never
   sits in memory whole), removes exact duplicate rows, validates what is left, and writes
   Parquet into a staging folder of the workspace.
3. Every row ends up in exactly one of three places, so ``rows_read = rows_accepted +
   rows_rejected + duplicates_removed`` always holds; rejected rows keep their raw text and
   reason.
4. Only when everything has been read is the dataset registered and made active; an error on
   the way leaves the workspace as it was.

Unusable input raises :class:`IngestError` with one line that says what is wrong, what was
found and what to do.
"""

from __future__ import annotations

import csv
import logging
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.intake.blocks import LONG_FIELD_REASON, read_blocks
from core.intake.cleaning import EVENT_SCHEMA, REASONS, clean_baskets, clean_events, clean_users
from core.intake.dedup import Dedup
from core.intake.errors import IngestError
from core.intake.inspection import FileInspection, inspect_file
from core.intake.reports import FileReport, IngestReport
from core.intake.staging import Rejects, Sink, respell_topics, shown_spellings
from core.intake.timestamps import TimestampParser
from core.textfiles import binary_file_message
from core.workspace import Workspace

__all__ = ["IngestError", "IngestReport", "ingest"]

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

# Bytes of the file Arrow's CSV reader parses at a time.
BLOCK_SIZE = 32 * 1024 * 1024


def _ingest_table_file(
    path: Path,
    info: FileInspection,
    report: FileReport,
    sink: Sink,
    progress: Progress | None,
    seen_user_ids: set[str],
    user_row_offset: list[int],
) -> None:
    """One events, users or long-form baskets file into ``sink``: deduplicated, cleaned, rejects kept with their reason."""
    dedup = Dedup()
    rejects = Rejects(sink, report)
    parser = TimestampParser()
    notes: Counter = Counter()
    for block in read_blocks(path, info, block_size=BLOCK_SIZE):
        if block.bad_rows:
            report.rows_read += len(block.bad_rows)
            rejects.add_text(block.bad_rows, [REASONS["fields"]] * len(block.bad_rows))
        if block.long_rows:
            report.rows_read += len(block.long_rows)
            rejects.add_text(block.long_rows, [LONG_FIELD_REASON] * len(block.long_rows))
        if not block.table.num_columns:  # only the lines with the wrong number of fields after the last block
            continue
        report.rows_read += block.table.num_rows
        first = dedup.first_seen(block.hashes)
        report.duplicates_removed += int((~first).sum())
        if info.kind == "events":
            # Duplicates are left out by the cleaner, not filtered away first: a copy less of the block.
            clean, reasons = clean_events(block.table, info.mapping, parser, wanted=first, encoded=block.encoded)
            sink.write_arrow("events", clean)
            bad = np.zeros(len(first), dtype=bool)
            bad[first] = pd.notna(reasons)
            rejects.add_arrow(block.table.filter(pa.array(bad)), reasons[bad[first]].tolist())
            report.rows_accepted += clean.num_rows
        else:
            frame = block.table.to_pandas()[first]
            if info.kind == "baskets":
                clean, reason = clean_baskets(frame, info.mapping)
                sink.write("events", clean, EVENT_SCHEMA)
            else:
                clean, reason = clean_users(frame, info.mapping, user_row_offset[0], seen_user_ids, notes)
                user_row_offset[0] += len(frame)
                sink.write("users", clean)
            bad = reason.notna().to_numpy()
            rejects.add(frame[bad], reason[bad])
            report.rows_accepted += len(clean) if info.kind != "baskets" else int((~bad).sum())
        if progress:
            progress(block.fraction, f"{path.name}: {report.rows_read:,} rows read")
    for note, count in notes.items():
        if count:
            report.notes.append(f"{count:,} {note}")
    if info.kind == "events" and "action" not in info.mapping:
        report.notes.append("no action column: every row counted as 'view'")
    if parser.day_first is not None:
        report.notes.append("dates read day first (dd/mm)" if parser.day_first else "dates read month first (mm/dd)")


def _ingest_basket_lines(
    path: Path,
    info: FileInspection,
    report: FileReport,
    sink: Sink,
    progress: Progress | None,
    basket_offset: list[int],
) -> None:
    """One basket per line: every field of a line is an item.

    Identical lines are not duplicates here: with no transaction id, two equal lines are two
    shoppers who bought the same things (a third of the arules Groceries baskets repeat another).
    """
    size = max(path.stat().st_size, 1)
    with path.open("r", encoding=info.encoding, errors="strict", newline="") as fh:
        reader = csv.reader(fh, delimiter=info.delimiter)
        try:
            while True:
                lines = [row for _, row in zip(range(200_000), reader, strict=False)]
                if not lines:
                    break
                if any("\x00" in item for row in lines for item in row):
                    raise IngestError(binary_file_message(path.name))
                baskets = [[item.strip() for item in row if item.strip()] for row in lines]
                baskets = [b for b in baskets if b]  # blank lines are not rows
                report.rows_read += len(baskets)
                kept = baskets
                ids = [f"b{basket_offset[0] + i + 1}" for i in range(len(kept))]
                basket_offset[0] += len(kept)
                user = [bid for bid, items in zip(ids, kept, strict=True) for _ in items]
                topic = [item for items in kept for item in items]
                sink.write(
                    "events",
                    pd.DataFrame(
                        {
                            "user_id": user,
                            "timestamp": pd.Series(pd.NaT, index=range(len(user)), dtype="datetime64[ms]"),
                            "action": "purchase",
                            "topic": topic,
                            "platform": pd.Series(None, index=range(len(user)), dtype="string"),
                        }
                    ),
                    EVENT_SCHEMA,
                )
                report.rows_accepted += len(kept)
                if progress:
                    progress(
                        min(fh.buffer.tell() / size, 1.0) if hasattr(fh, "buffer") else 0.5,
                        f"{path.name}: {report.rows_read:,} baskets read",
                    )
        except UnicodeDecodeError:
            raise IngestError(
                f"{path.name}: part of the file is not valid {info.encoding} text; save it with one encoding (UTF-8) and upload it again"
            ) from None


def ingest(
    workspace: Workspace,
    paths: Sequence[Path | str],
    *,
    kind: str = "auto",
    name: str | None = None,
    mapping: dict[str, str] | None = None,
    mappings: Sequence[dict[str, str] | None] | None = None,
    kinds: Sequence[str] | None = None,
    display_names: Sequence[str] | None = None,
    progress: Progress | None = None,
    is_demo: bool = False,
) -> IngestReport:
    """Import one or several files as one dataset, which becomes the active one.

    Long only for its ten documented options; the body (inspect, stage, read, register) is 25 lines.

    Parameters
    ----------
    workspace
        Where the dataset goes.
    paths
        The files; several form one dataset (events plus a user table, or several event files).
    kind
        ``auto`` (per file) or one kind for every file.
    name
        Dataset name; defaults to the first file's name.
    mapping
        Canonical -> source column overrides for every file (those that have that column).
    mappings
        Per-file overrides (the Data page's mapping editor), instead of ``mapping``.
    kinds
        Per-file kinds, instead of ``kind``.
    display_names
        Names for the files in reports (an upload's own name rather than a temp path).
    progress
        Called with (fraction done, message).

    Raises
    ------
    IngestError
        Unusable input. Nothing in the workspace has changed then.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise IngestError("no file given")
    display_names = list(display_names or [p.name for p in paths])
    per_file = _per_file_mappings(paths, display_names, mapping, mappings)
    kinds = list(kinds or [kind] * len(paths))
    inspections = [
        inspect_file(p, kind=k, mapping=m, name=n)
        for p, k, m, n in zip(paths, kinds, per_file, display_names, strict=True)
    ]
    staged = workspace.new_tmp_dir("ingest-")
    sink = Sink(staged)
    try:
        reports = _read_files(paths, inspections, display_names, sink, progress)
        n_users = sink.distinct_users()
        sink.close()
        shown = shown_spellings(sink.topic_counts)
        if shown:  # a name written in several cases gets one spelling
            respell_topics(staged / "events.parquet", shown)
        _require_usable_rows(sink, reports, display_names)
        dataset_name = (name or "").strip() or display_names[0]
        report = _register(workspace, staged, paths, reports, n_users, name=dataset_name, is_demo=is_demo)
        if progress:
            progress(1.0, "done")
        return report
    except BaseException:
        sink.close()
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _read_files(
    paths: list[Path],
    inspections: list[FileInspection],
    display_names: list[str],
    sink: Sink,
    progress: Progress | None,
) -> list[FileReport]:
    """Every file into ``sink``, one report each; progress runs over all files, weighted by size."""
    reports: list[FileReport] = []
    seen_user_ids: set[str] = set()
    user_offset, basket_offset = [0], [0]
    sizes = [max(p.stat().st_size, 1) for p in paths]
    done = 0
    for path, info, display, size in zip(paths, inspections, display_names, sizes, strict=True):
        report = FileReport(display, info.kind, info.encoding, info.delimiter, info.mapping)

        def scaled(fraction: float, message: str, _done: int = done, _size: int = size) -> None:
            if progress:
                progress((_done + fraction * _size) / sum(sizes), message)

        if info.per_line_baskets:
            report.mapping = {}
            _ingest_basket_lines(path, info, report, sink, scaled, basket_offset)
        else:
            _ingest_table_file(path, info, report, sink, scaled, seen_user_ids, user_offset)
        assert report.rows_read == report.rows_accepted + report.rows_rejected + report.duplicates_removed
        reports.append(report)
        done += size
    return reports


def _require_usable_rows(sink: Sink, reports: list[FileReport], display_names: list[str]) -> None:
    """Raise :class:`IngestError` with the main reasons when no file gave a single usable row."""
    if sink.rows["events"] == 0 and sink.rows["users"] == 0:
        total = sum(r.rows_read for r in reports)
        reasons = Counter()
        for r in reports:
            reasons.update(r.reasons)
        why = "; ".join(f"{k}: {v:,}" for k, v in reasons.most_common(3)) or "no data rows"
        raise IngestError(
            f"no usable rows in {', '.join(display_names)} ({total:,} read; {why}); check the column mapping"
        )


def _register(
    workspace: Workspace,
    staged: Path,
    paths: list[Path],
    reports: list[FileReport],
    event_users: int,
    *,
    name: str,
    is_demo: bool,
) -> IngestReport:
    """Hand the staged folder to the workspace as the active dataset; its report keeps every file's counts.

    ``event_users`` is the number of distinct users of the events (counted while writing).
    """
    kinds = {r.kind for r in reports}
    dataset_kind = "baskets" if kinds == {"baskets"} else ("users" if kinds == {"users"} else "events")
    n_events, n_users = _counts(staged, event_users)
    summary = IngestReport(0, dataset_kind, name, reports, n_events, n_users).as_json()
    summary["files"] = [r.as_json() for r in reports]
    dataset_id = workspace.add_dataset(
        name=name,
        kind=dataset_kind,
        staged=staged,
        uploads=paths,
        n_events=n_events,
        n_users=n_users,
        report=summary,
        is_demo=is_demo,
    )
    return IngestReport(dataset_id, dataset_kind, name, reports, n_events, n_users)


def _per_file_mappings(
    paths: list[Path],
    names: list[str],
    mapping: dict[str, str] | None,
    mappings: Sequence[dict[str, str] | None] | None,
) -> list[dict[str, str] | None]:
    """The mapping overrides of each file: ``mappings`` as given, or ``mapping`` where its columns are."""
    if mappings is not None:
        return list(mappings)
    if not mapping:
        return [None] * len(paths)
    if len(paths) == 1:
        return [mapping]
    # With several files, an override applies to the files that have that column.
    headers = [inspect_file(p, name=n).columns for p, n in zip(paths, names, strict=True)]
    for canonical, source in mapping.items():
        if not any(source in h for h in headers):
            seen = sorted({c for h in headers for c in h})
            raise IngestError(
                f"column {source!r} (mapped to {canonical}) is in none of the files; columns seen: {', '.join(seen)}"
            )
    return [{k: v for k, v in mapping.items() if v in h} or None for h in headers]


def _counts(folder: Path, event_users: int) -> tuple[int, int]:
    """(events, distinct users) of a staged dataset: the events' users, else the user table's rows."""
    events_path, users_path = folder / "events.parquet", folder / "users.parquet"
    if events_path.exists():
        return pq.ParquetFile(events_path).metadata.num_rows, event_users
    if users_path.exists():
        return 0, pq.ParquetFile(users_path).metadata.num_rows
    return 0, 0
