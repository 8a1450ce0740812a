"""Staging: the Parquet files of a dataset being imported, and its rejected rows.

An import writes into a fresh folder of the workspace's ``tmp/``; only when every file has been
read is the folder handed to the workspace as a dataset, so an error on the way changes nothing.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.intake.reports import FileReport

__all__ = ["Rejects", "Sink", "respell_topics", "shown_spellings"]

# Events: text columns arrive dictionary-encoded (action, topic, platform) and are written as
# they are, without the Arrow schema, so the file reads back as plain text (the pandas metadata
# keeps the dtypes). Timestamps are nearly all distinct: no dictionary built only to be dropped.
# Statistics (min and max) only where a reader could use them.
_OPTIONS = {
    "events": {
        "store_schema": False,
        "use_dictionary": ["user_id", "action", "topic", "platform"],
        "write_statistics": ["timestamp"],
    }
}


def _writer(path: Path, schema: pa.Schema, table: str) -> pq.ParquetWriter:
    """A Parquet writer for one of a dataset's tables, with that table's options."""
    writer = pq.ParquetWriter(path, schema, compression="zstd", compression_level=1, **_OPTIONS.get(table, {}))
    if _OPTIONS.get(table, {}).get("store_schema") is False and schema.metadata:
        # Without the Arrow schema the key-value metadata is not written with it: added here.
        writer.add_key_value_metadata(schema.metadata)
    return writer


def _value_counts(values: pa.Array) -> dict[str, int]:
    """How often each value occurs, in the order of first occurrence (a dictionary's counted on its codes)."""
    if pa.types.is_dictionary(values.type):
        counts = np.bincount(values.indices.to_numpy(zero_copy_only=False), minlength=len(values.dictionary))
        pairs = zip(values.dictionary.to_pylist(), counts.tolist(), strict=True)
    else:
        counted = pc.value_counts(values)
        pairs = zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True)
    return {value: count for value, count in pairs if count and value is not None}


def shown_spellings(counts: Counter) -> dict[str, str]:
    """Each name written in several cases ("Hot chocolate", "hot chocolate") -> the spelling shown.

    Matching ignores case; the spelling shown is the most common one, on a tie the first written.
    Names written one way only are left out, so an empty result means nothing to change.
    """
    groups: dict[str, list[str]] = {}
    for name in counts:  # in the order first written
        groups.setdefault(name.casefold(), []).append(name)
    shown: dict[str, str] = {}
    for names in groups.values():
        if len(names) > 1:
            best = max(names, key=lambda name: counts[name])  # the first of the most common
            shown.update({name: best for name in names if name != best})
    return shown


def respell_topics(path: Path, shown: dict[str, str]) -> None:
    """Rewrite the topic column of an events file with one spelling per name (``shown``).

    Works on each row group's dictionary of distinct topics, not per row; the other columns are
    copied as they are.
    """
    source = pq.ParquetFile(path, read_dictionary=["topic"])
    schema = source.schema_arrow
    position = schema.get_field_index("topic")
    staged = path.with_name(path.stem + ".respelled.parquet")
    writer = _writer(staged, schema, "events")
    try:
        for batch in source.iter_batches(batch_size=1 << 20):
            topic = batch.column(position)
            respelled = pc.dictionary_encode(pa.array([shown.get(t, t) for t in topic.dictionary.to_pylist()]))
            codes = respelled.indices.to_numpy(zero_copy_only=False)[topic.indices.to_numpy(zero_copy_only=False)]
            topic = pa.DictionaryArray.from_arrays(pa.array(codes), respelled.dictionary)
            writer.write_batch(batch.set_column(position, schema.field(position), topic))
    finally:
        writer.close()
        source.close()
    staged.replace(path)


class Sink:
    """Parquet writers for one dataset's tables, opened on first write.

    Writing happens on a worker thread (Arrow's encoder releases the GIL), one table at a time,
    so the next block is cleaned while this one is compressed; :meth:`close` waits for the last.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: Counter = Counter()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-write")
        self._pending: dict[str, Future] = {}
        self._users: list[pa.Array] = []  # the distinct user ids of each events block written
        #: How often each topic (item) is written, as spelled, in the order first written.
        self.topic_counts: Counter = Counter()

    def write(self, table: str, frame: pd.DataFrame, schema: pa.Schema | None = None) -> None:
        """Append a pandas frame to ``table`` (nothing for an empty one)."""
        if frame.empty:
            return
        self.write_arrow(table, pa.Table.from_pandas(frame, schema=schema, preserve_index=False))

    def write_arrow(self, table: str, batch: pa.Table) -> None:
        """Append an Arrow table to ``table`` on the writing thread, cast to the schema of its first batch."""
        if batch.num_rows == 0:
            return
        # One write per table in flight: a block's rejects need not wait for its events (one
        # worker, so each table's writes still happen in order).
        self._wait(table)
        if table not in self.writers:
            self.writers[table] = _writer(self.folder / f"{table}.parquet", batch.schema, table)
        elif batch.schema != self.writers[table].schema:
            batch = batch.cast(self.writers[table].schema)
        self._pending[table] = self._pool.submit(self._write, table, batch)
        self.rows[table] += batch.num_rows

    def _write(self, table: str, batch: pa.Table) -> None:
        """On the writing thread: append ``batch``; for events, note the block's distinct users."""
        self.writers[table].write_table(batch)
        if table == "events":
            self._users.append(pc.unique(batch.column("user_id").combine_chunks()))
            self.topic_counts.update(_value_counts(batch.column("topic").combine_chunks()))

    def distinct_users(self) -> int:
        """How many distinct user ids the events written so far have (exact: the strings are compared)."""
        self._wait("events")
        if not self._users:
            return 0
        self._users = [pc.unique(pa.chunked_array(self._users).combine_chunks())]
        return len(self._users[0])

    def _wait(self, table: str | None = None) -> None:
        """Wait for the pending write of ``table`` (of every table when None)."""
        for name in [table] if table is not None else list(self._pending):
            pending = self._pending.pop(name, None)
            if pending is not None:
                pending.result()  # re-raises a failed write here

    def close(self) -> None:
        """Wait for the last writes and close every file; a failed write raises here."""
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
            for writer in self.writers.values():
                writer.close()


class Rejects:
    """Rejected rows, as read, with their reason."""

    def __init__(self, sink: Sink, report: FileReport) -> None:
        self.sink, self.report = sink, report

    def add(self, raw: pd.DataFrame, reasons: pd.Series) -> None:
        """Reject rows of a pandas frame, their cells joined again with the file's delimiter."""
        if raw.empty:
            return
        text = (
            raw.astype(str).fillna("").agg(self.report.delimiter.join, axis=1)
            if raw.shape[1]
            else pd.Series([""] * len(raw))
        )
        self.add_text(text.tolist(), reasons.tolist())

    def add_arrow(self, raw: pa.Table, reasons: list[str]) -> None:
        """:meth:`add` for rows as read (all-text columns), joined in Arrow rather than row by row."""
        if not raw.num_rows:
            return
        if raw.num_columns:
            columns = [pc.fill_null(column.combine_chunks(), "") for column in raw.columns]
            text = pc.binary_join_element_wise(*columns, self.report.delimiter).to_pylist()
        else:
            text = [""] * raw.num_rows
        self.add_text(text, reasons)

    def add_text(self, rows: list[str], reasons: list[str]) -> None:
        """Reject rows given as text, counting each under its reason."""
        if not rows:
            return
        self.report.rows_rejected += len(rows)
        self.report.reasons.update(reasons)
        self.sink.write(
            "rejected",
            pd.DataFrame({"file": self.report.file, "reason": reasons, "row": rows}),
            schema=pa.schema([("file", pa.string()), ("reason", pa.string()), ("row", pa.string())]),
        )
