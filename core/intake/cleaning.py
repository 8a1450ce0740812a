"""Cleaning: validate the rows of a block and give them Reach's canonical columns.

Each cleaner returns the accepted rows, clean, and a reason per row (None or NA when the row is
accepted), so the caller counts and keeps every rejected row. Events are cleaned as Arrow
tables, column by column; user tables and baskets, smaller, as pandas frames.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.intake.timestamps import EARLIEST, TimestampParser, out_of_range, parse_iso

__all__ = ["EVENT_SCHEMA", "REASONS", "clean_baskets", "clean_events", "clean_users"]

REASONS = {
    "fields": "wrong number of fields",
    "user": "empty user id",
    "action": "empty action",
    "topic": "empty topic",
    "ts_empty": "empty timestamp",
    "ts_bad": "unparseable timestamp",
    "ts_range": "timestamp out of range",
    "user_dup": "user id listed twice",
    "txn": "empty transaction id",
    "item": "empty item",
}

EVENT_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("timestamp", pa.timestamp("ms")),
        ("action", pa.string()),
        ("topic", pa.string()),
        ("platform", pa.string()),
    ]
)


@functools.cache
def _event_schema(*, action: str, platform: str) -> pa.Schema:
    """EVENT_SCHEMA with the pandas metadata a frame of clean events would give it.

    Events are cleaned as Arrow tables, but the Parquet file keeps the metadata it had when they
    were pandas frames (pandas reads the columns back with the same dtypes).
    """
    # One row like the accepted ones: pandas' metadata names the type it infers from the values.
    sample = pd.DataFrame(
        {
            "user_id": pd.Series(["u"], dtype="str"),
            "timestamp": pd.Series([EARLIEST], dtype="datetime64[ms]"),
            "action": pd.Series(["view"], dtype=action),
            "topic": pd.Series(["t"], dtype="str"),
            "platform": pd.Series(["p" if platform == "str" else None], dtype=platform),
        }
    )
    return pa.Table.from_pandas(sample, schema=EVENT_SCHEMA, preserve_index=False).schema


def _blank(values: pd.Series) -> pd.Series:
    """Missing or empty text."""
    return values.isna() | values.eq("")


def _strip(values: pd.Series) -> pd.Series:
    """Text without leading and trailing blanks."""
    return values.str.strip()


def _normalise_gender(values: pd.Series) -> pd.Series:
    """female, male, other, or NA when empty; English and Chinese spellings."""
    folded = values.str.strip().str.lower()
    table = {
        "f": "female",
        "female": "female",
        "woman": "female",
        "women": "female",
        "w": "female",
        "女": "female",
        "女性": "female",
        "m": "male",
        "male": "male",
        "man": "male",
        "men": "male",
        "男": "male",
        "男性": "male",
    }
    out = folded.map(table)
    other = folded.notna() & (folded != "") & out.isna()
    out = out.where(~other, "other")
    return out.astype("string")


def _parse_timestamps(
    text: pa.Array, empty: np.ndarray, wanted: np.ndarray, parser: TimestampParser
) -> tuple[np.ndarray, np.ndarray]:
    """(``datetime64[ms]`` with NaT where empty, unparseable or out of range; out-of-range mask).

    What the fast path cannot read goes to ``parser`` as a pandas Series, in file order; only the
    ``wanted`` rows (not duplicates) are parsed the slow way, so its day-first decision sees each
    row once.
    """
    timestamps = parse_iso(text)
    slow = np.flatnonzero(np.isnat(timestamps) & ~empty & wanted)
    outside = out_of_range(timestamps)
    timestamps[outside] = np.datetime64("NaT")
    if len(slow):
        parsed, slow_out_of_range = parser.parse(text.take(slow).to_pandas())
        timestamps[slow] = parsed.to_numpy(dtype="datetime64[ms]")
        outside[slow] = slow_out_of_range.to_numpy(dtype=bool)
    return timestamps, outside


class _Categories:
    """A column of few distinct values (action, topic, platform), cleaned on its distinct values.

    Arrow's dictionary encoding gives each row the index of its value; trimming, case and the
    blank check then run once per distinct value rather than once per row.
    """

    def __init__(self, values: pa.Array, clean: Callable[[pa.Array], pa.Array]) -> None:
        encoded = (
            values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values, null_encoding="encode")
        )
        self.indices = encoded.indices.to_numpy(zero_copy_only=False)
        cleaned = clean(encoded.dictionary)
        self.blank_values = pc.fill_null(pc.equal(cleaned, ""), True).to_numpy(zero_copy_only=False)
        # Cleaning can make two values one (" Tea" and "tea"): the dictionary kept has each once.
        unique = pc.dictionary_encode(pc.fill_null(cleaned, ""))
        self.values = unique.dictionary
        self.remap = unique.indices.to_numpy(zero_copy_only=False)

    def blank(self) -> np.ndarray:
        return self.blank_values[self.indices]

    def take(self, rows: np.ndarray) -> pa.DictionaryArray:
        """The clean values of ``rows`` (a boolean mask), still dictionary-encoded (Parquet writes
        them as they are)."""
        return pa.DictionaryArray.from_arrays(pa.array(self.remap[self.indices[rows]]), self.values)

    def counts(self, rows: np.ndarray) -> Counter:
        """How often each clean value occurs in ``rows`` (a boolean mask)."""
        counts = np.bincount(self.indices[rows], minlength=len(self.values))
        return Counter(dict(zip(self.values.to_pylist(), counts.tolist(), strict=True)))


def clean_events(
    block: pa.Table,
    mapping: dict[str, str],
    parser: TimestampParser,
    wanted: np.ndarray | None = None,
    encoded: dict[str, pa.DictionaryArray] | None = None,
) -> tuple[pa.Table, np.ndarray]:
    """(clean events of accepted rows, reason per wanted row or None), cleaned column by column in Arrow.

    ``wanted`` (boolean, default every row) leaves out rows such as duplicates: they are neither
    accepted nor rejected, and the reasons cover the wanted rows only. ``encoded`` holds source
    columns already dictionary-encoded (as the reader hashed them).
    """
    n = block.num_rows
    wanted = np.ones(n, dtype=bool) if wanted is None else wanted
    encoded = encoded or {}

    def raw(canonical: str) -> pa.Array | None:
        source = mapping.get(canonical)
        if source is None:
            return None
        return encoded[source] if source in encoded else block.column(block.column_names.index(source)).combine_chunks()

    def blank(values: pa.Array) -> np.ndarray:
        return pc.fill_null(pc.equal(values, ""), True).to_numpy(zero_copy_only=False)

    user = pc.utf8_trim_whitespace(raw("user_id"))
    topic = _Categories(raw("topic"), lambda v: pc.utf8_trim(v, characters=" \t\r\n#"))  # spelled as written
    action = (
        _Categories(raw("action"), lambda v: pc.utf8_lower(pc.utf8_trim_whitespace(v)))
        if mapping.get("action")
        else None
    )
    platform = (
        _Categories(raw("platform"), lambda v: pc.utf8_lower(pc.utf8_trim_whitespace(v)))
        if mapping.get("platform")
        else None
    )
    ts_text = raw("timestamp")
    ts_text = pc.utf8_trim_whitespace(ts_text) if ts_text is not None else None

    # Reasons as small integer codes (the first failing check wins), text only for rejected rows.
    checks: list[tuple[np.ndarray, str]] = [(blank(user), REASONS["user"])]
    if action is not None:
        checks.append((action.blank(), REASONS["action"]))
    checks.append((topic.blank(), REASONS["topic"]))
    timestamps = np.full(n, np.datetime64("NaT"), dtype="datetime64[ms]")
    if ts_text is not None:
        empty = blank(ts_text)
        timestamps, out_of_range = _parse_timestamps(ts_text, empty, wanted, parser)
        checks.append((empty, REASONS["ts_empty"]))
        checks.append((out_of_range, REASONS["ts_range"]))
        checks.append((np.isnat(timestamps) & ~empty & ~out_of_range, REASONS["ts_bad"]))
    code = np.zeros(n, dtype=np.int8)
    for k, (mask, _text) in enumerate(checks, start=1):
        code[(code == 0) & mask] = k
    ok = (code == 0) & wanted
    labels = np.array([None, *(text for _mask, text in checks)], dtype=object)
    n_ok = int(ok.sum())
    clean = pa.table(
        {
            "user_id": user.filter(pa.array(ok)),
            "timestamp": pa.array(timestamps[ok], type=pa.timestamp("ms"), from_pandas=True),
            # Without an action column every row is a view (the report notes it).
            "action": action.take(ok) if action is not None else pa.repeat(pa.scalar("view"), n_ok),
            "topic": topic.take(ok),
            "platform": platform.take(ok) if platform is not None else pa.nulls(n_ok, pa.string()),
        }
    )
    # The pandas metadata of plain text columns: the file reads back as text (see Sink).
    metadata = _event_schema(
        action="str" if action is not None else "string",
        platform="str" if platform is not None else "string",
    ).metadata
    clean = clean.replace_schema_metadata(metadata)
    return clean, labels[code[wanted]]


def clean_users(
    block: pd.DataFrame, mapping: dict[str, str], row_offset: int, seen_ids: set[str], notes: Counter
) -> tuple[pd.DataFrame, pd.Series]:
    """(user rows with canonical columns first, reason per row or NA)."""
    reason = pd.Series(pd.NA, index=block.index, dtype="string")
    out = pd.DataFrame(index=block.index)
    if "user_id" in mapping:
        user = _strip(block[mapping["user_id"]])
        reason = reason.mask(_blank(user).to_numpy(), REASONS["user"])
        dup = user.duplicated() | user.isin(seen_ids)
        reason = reason.mask(reason.isna() & dup.to_numpy(), REASONS["user_dup"])
        out["user_id"] = user
    else:
        out["user_id"] = [f"row-{row_offset + i + 1}" for i in range(len(block))]
    if "age" in mapping:
        age = pd.to_numeric(_strip(block[mapping["age"]]), errors="coerce")
        impossible = age.notna() & ((age < 10) | (age > 110))
        notes["ages outside 10-110 left empty"] += int(impossible.sum())
        out["age"] = age.where(~impossible).astype("Float64")
    if "gender" in mapping:
        out["gender"] = _normalise_gender(block[mapping["gender"]])
    if "region" in mapping:
        out["region"] = _strip(block[mapping["region"]]).replace("", pd.NA).astype("string")
    taken = set(mapping.values())
    for column in block.columns:
        if column in taken:
            continue
        numeric = pd.to_numeric(block[column].str.strip(), errors="coerce")
        if numeric.notna().mean() >= 0.9:
            out[column] = numeric.astype("Float64")
        else:
            out[column] = block[column].astype("string")
    ok = reason.isna().to_numpy()
    seen_ids.update(out.loc[ok, "user_id"].tolist())
    return out[ok], reason


def clean_baskets(block: pd.DataFrame, mapping: dict[str, str]) -> tuple[pd.DataFrame, pd.Series]:
    """Long-form baskets -> purchase events."""
    reason = pd.Series(pd.NA, index=block.index, dtype="string")
    txn = _strip(block[mapping["transaction_id"]])
    item = _strip(block[mapping.get("item") or mapping["topic"]])  # spelled as written
    reason = reason.mask(_blank(txn).to_numpy(), REASONS["txn"])
    reason = reason.mask(reason.isna() & _blank(item).to_numpy(), REASONS["item"])
    ok = reason.isna().to_numpy()
    user = _strip(block[mapping["user_id"]]) if "user_id" in mapping else txn
    ts = pd.Series(pd.NaT, index=block.index[ok], dtype="datetime64[ms]")
    clean = pd.DataFrame(
        {
            "user_id": user[ok].where(~_blank(user[ok]), txn[ok]).astype(str),
            "timestamp": ts,
            "action": "purchase",
            "topic": item[ok].astype(str),
            "platform": pd.Series(None, index=block.index[ok], dtype="string"),
        }
    )
    return clean, reason
