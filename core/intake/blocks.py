"""Streaming a file in blocks: pyarrow's CSV reader, so a 2 GB export never sits in memory whole.

Every column is read as text (validation decides what is valid, not type inference); lines with
the wrong number of fields are kept aside as they were read, to be rejected with their reason.
The next block is read and hashed on a worker thread while the caller cleans this one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.intake.dedup import Dedup
from core.intake.errors import IngestError
from core.intake.inspection import FileInspection
from core.textfiles import MAX_FIELD_CHARS, binary_file_message

__all__ = ["CATEGORY_COLUMNS", "LONG_FIELD_REASON", "Block", "read_blocks"]

#: Canonical event columns of few distinct values, dictionary-encoded as they are read.
CATEGORY_COLUMNS = ("action", "topic", "platform")
LONG_FIELD_REASON = f"a field longer than {MAX_FIELD_CHARS:,} characters"
# How much of a rejected over-long row is kept to show.
_LONG_ROW_SHOWN = 200


@dataclass
class Block:
    """One block of the file as read: all-text columns, plus what came with it."""

    table: pa.Table
    fraction: float  # of the file read so far
    bad_rows: list[str]  # lines with the wrong number of fields, found while reading this block
    hashes: np.ndarray | None = None  # row hashes for deduplication (see Dedup.hashes)
    encoded: dict[str, pa.DictionaryArray] | None = None  # columns of few distinct values, dictionary-encoded
    long_rows: list[str] | None = None  # rows with a field over MAX_FIELD_CHARS, shortened for display


def read_blocks(path: Path, info: FileInspection, *, block_size: int) -> Iterator[Block]:
    """The file's blocks of about ``block_size`` bytes, read (and hashed) one block ahead on a worker thread.

    Arrow's CSV parsing and most of the hashing release the GIL, so on two cores the next block
    is read while this one is cleaned. Errors surface here, in the caller's thread.

    Raises
    ------
    IngestError
        Part of the file is not valid text in its detected encoding, or the CSV cannot be parsed.
    """
    blocks = _blocks(path, info, block_size)
    # Columns of events that hold few distinct values: encoded once, for hashing and cleaning.
    categories = [info.mapping[c] for c in CATEGORY_COLUMNS if c in info.mapping] if info.kind == "events" else []

    def read_next() -> Block | None:
        block = next(blocks, None)
        if block is not None and block.table.num_columns:
            block.encoded = {
                name: pc.dictionary_encode(block.table.column(name).combine_chunks(), null_encoding="encode")
                for name in categories
                if name in block.table.column_names
            }
            block.hashes = Dedup.hashes(block.table, block.encoded)
        return block

    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-read") as pool:
            pending = pool.submit(read_next)
            while (block := pending.result()) is not None:
                pending = pool.submit(read_next)
                yield block
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        message = str(exc).splitlines()[0]
        if "utf8" in message.lower() or "decode" in message.lower() or isinstance(exc, UnicodeDecodeError):
            raise IngestError(
                f"{info.path.name}: part of the file is not valid {info.encoding} text; save it with one encoding (UTF-8) and upload it again"
            ) from None
        raise IngestError(f"{info.path.name}: the CSV could not be parsed ({message[:160]})") from None
    finally:
        blocks.close()  # the pool has finished with it


def _blocks(path: Path, info: FileInspection, block_size: int) -> Iterator[Block]:
    """Blocks of the file as all-text Arrow tables named by the header; a last empty block
    carries lines with the wrong number of fields found after the last one."""
    size = max(path.stat().st_size, 1)
    bad_rows: list[str] = []

    # A line of spaces (and tabs, unless tabs separate the fields) is a blank line, not a row.
    blanks = " \t".replace(info.delimiter, "")

    def on_invalid(row: pacsv.InvalidRow) -> str:
        if row.text.strip(blanks):
            bad_rows.append(row.text)
        return "skip"

    def take_bad_rows() -> list[str]:
        taken = bad_rows.copy()
        bad_rows.clear()
        return taken

    try:
        source, reader = _open_csv(path, info, len(info.columns), block_size, on_invalid)
    except pa.ArrowInvalid as exc:
        if "Empty CSV" in str(exc):  # a header without a final newline and nothing after it: no rows
            return
        raise
    if len(reader.schema) > len(info.columns):  # the reader split the header into more fields
        source.close()
        bad_rows.clear()
        source, reader = _open_csv(path, info, len(reader.schema), block_size, on_invalid)
    names = [*info.columns, *(f"column_{i + 1}" for i in range(len(info.columns), len(reader.schema)))]
    header_pending = True
    try:
        for batch in reader:
            if header_pending and batch.num_rows:
                batch = batch.slice(1)
                header_pending = False
            table = pa.Table.from_batches([batch]).rename_columns(names[: batch.num_columns])
            bad = take_bad_rows()
            if any("\x00" in row for row in bad) or _has_nul(table):
                raise IngestError(binary_file_message(info.path.name))
            table, long_rows = _split_long_rows(table, info.delimiter)
            yield Block(table, min(source.tell() / size, 1.0), bad, long_rows=long_rows)
        if bad_rows:
            bad = take_bad_rows()
            if any("\x00" in row for row in bad):
                raise IngestError(binary_file_message(info.path.name))
            yield Block(pa.table({}), 1.0, bad)
    finally:
        source.close()


def _text_bytes(column: pa.ChunkedArray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(value offsets, UTF-8 bytes of the values) of each chunk of a text column, as numpy views."""
    for chunk in column.chunks:
        if not len(chunk):
            continue
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        _, offsets_buffer, data_buffer = chunk.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
        data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
        yield offsets, data[offsets[0] : offsets[-1]]


def _has_nul(table: pa.Table) -> bool:
    """Whether any cell holds a NUL character (a binary file, or text that is not really text).

    In UTF-8 only U+0000 has a zero byte, so the values' bytes are checked as they are.
    """
    return any(not data.all() for column in table.columns for _, data in _text_bytes(column))


def _split_long_rows(table: pa.Table, delimiter: str) -> tuple[pa.Table, list[str]]:
    """``table`` without the rows that have a field over :data:`MAX_FIELD_CHARS`, and those rows shortened as text."""
    # A value has at most as many characters as bytes: with no value that long in bytes, none is too long.
    longest = max((int(np.diff(offsets).max()) for c in table.columns for offsets, _ in _text_bytes(c)), default=0)
    if longest <= MAX_FIELD_CHARS:
        return table, []
    lengths = [pc.utf8_length(column) for column in table.columns]
    if max(pc.max(length).as_py() or 0 for length in lengths) <= MAX_FIELD_CHARS:
        return table, []
    too_long = lengths[0].to_numpy(zero_copy_only=False) > MAX_FIELD_CHARS
    for length in lengths[1:]:
        too_long |= length.to_numpy(zero_copy_only=False) > MAX_FIELD_CHARS
    rows = table.filter(pa.array(too_long)).to_pylist()
    shown = [delimiter.join(cell[:_LONG_ROW_SHOWN] for cell in row.values()) + " …" for row in rows]
    return table.filter(pa.array(~too_long)), shown


def _open_csv(
    path: Path,
    info: FileInspection,
    n_columns: int,
    block_size: int,
    on_invalid: Callable[[pacsv.InvalidRow], str],
) -> tuple[pa.OSFile, pacsv.CSVStreamingReader]:
    """The file and Arrow's streaming CSV reader over it, every one of ``n_columns`` columns as text.

    Type inference would turn the id "007" into 7.0 and fail on a later block that does not fit
    the type. Columns get generated names f0, f1, ... so their types can be fixed by name; the
    header row then arrives as the first data row, for the caller to drop.
    """
    source = pa.OSFile(str(path), "rb")
    reader = pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(
            encoding=info.encoding if info.encoding not in ("utf-8", "utf-8-sig") else "utf8",
            block_size=block_size,
            use_threads=True,
            autogenerate_column_names=True,
            skip_rows=info.leading_blank_lines,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=info.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={f"f{i}": pa.string() for i in range(n_columns)},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            auto_dict_encode=False,
        ),
    )
    return source, reader
