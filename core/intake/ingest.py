"""Intake: turn messy behaviour exports into clean, validated datasets.

A file goes through four steps, each of which can be run on its own:

1. :func:`inspect_file` reads a sample: encoding (detected with charset-normalizer, never
   assumed), delimiter (sniffed among ``, ; \\t |``), header, the mapping of its columns onto
   Reach's canonical columns, and the kind of file (events, user table, baskets).
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

import codecs
import csv
import functools
import logging
import re
import shutil
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from charset_normalizer import from_bytes

from core.intake.timestamps import EARLIEST, TimestampParser, out_of_range, parse_iso
from core.workspace import Workspace

__all__ = [
    "CANONICAL_COLUMNS",
    "FileInspection",
    "IngestError",
    "IngestReport",
    "ingest",
    "inspect_file",
    "mapping_problem",
    "parse_mapping_overrides",
]

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

KINDS = ("events", "users", "baskets")

CANONICAL_COLUMNS: dict[str, str] = {
    "user_id": "who acted (required for events)",
    "timestamp": "when (ISO text, common date formats, or unix seconds/milliseconds)",
    "action": "what they did: view, like, comment, share, click, purchase, follow, ...",
    "topic": "interest, category, hashtag or item",
    "platform": "where (optional)",
    "age": "user table: age in years",
    "gender": "user table: gender",
    "region": "user table: region or city",
    "transaction_id": "baskets: one id per basket / order",
    "item": "baskets: the item bought",
}

# Header names are compared after folding: lower case, no spaces, underscores or hyphens.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "user_id": (
        "userid",
        "user",
        "uid",
        "id",
        "customerid",
        "customer",
        "memberid",
        "member",
        "accountid",
        "account",
        "username",
        "screenname",
        "用户id",
        "用户",
        "用户名",
        "会员id",
        "账号",
        "客户id",
    ),
    "timestamp": (
        "timestamp",
        "time",
        "date",
        "datetime",
        "eventtime",
        "createdat",
        "created",
        "ts",
        "eventdate",
        "时间",
        "日期",
        "发布时间",
        "时间戳",
    ),
    "action": ("action", "event", "eventtype", "type", "interaction", "behaviour", "behavior", "行为", "动作", "事件"),
    "topic": (
        "topic",
        "category",
        "tag",
        "hashtag",
        "genre",
        "interest",
        "subject",
        "话题",
        "标签",
        "兴趣",
        "类别",
        "分类",
    ),
    "platform": ("platform", "channel", "source", "network", "平台", "渠道"),
    "age": ("age", "年龄"),
    "gender": ("gender", "sex", "性别"),
    "region": ("region", "city", "location", "province", "country", "area", "地区", "城市", "省份", "地域"),
    "transaction_id": (
        "transactionid",
        "transaction",
        "orderid",
        "order",
        "basketid",
        "basket",
        "invoiceno",
        "invoice",
        "receipt",
        "订单号",
        "订单id",
        "订单",
    ),
    "item": ("item", "product", "productname", "sku", "itemname", "article", "商品", "产品"),
}

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

SAMPLE_BYTES = 256 * 1024
BLOCK_SIZE = 32 * 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# Encodings charset-normalizer may choose from: what behaviour exports are actually written in.
ENCODING_CANDIDATES = ["utf_8", "gb18030", "big5", "shift_jis", "euc_kr", "cp1252", "latin_1", "cp1251", "iso8859_2"]
ENCODING_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "ascii": "utf-8", "utf_8": "utf-8"}
REJECT_SAMPLE_ROWS = 5


class IngestError(ValueError):
    """Input that cannot be used; the message is one line saying what to fix."""


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


@dataclass
class FileReport:
    """Counts for one file."""

    file: str
    kind: str
    encoding: str
    delimiter: str
    mapping: dict[str, str]
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    duplicates_removed: int = 0
    reasons: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The contract shape of ``python -m core ingest --json`` for one file."""
        return {
            "file": self.file,
            "kind": self.kind,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "duplicates_removed": self.duplicates_removed,
            "reasons": dict(self.reasons),
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "mapping": dict(self.mapping),
            "notes": list(self.notes),
        }


@dataclass
class IngestReport:
    """The outcome of one import: the dataset id and the summed counts."""

    dataset_id: int
    kind: str
    name: str
    files: list[FileReport]
    n_events: int
    n_users: int

    def as_json(self) -> dict:
        """The contract shape of ``python -m core ingest --json``."""
        reasons: Counter = Counter()
        for f in self.files:
            reasons.update(f.reasons)
        mapping: dict[str, str] = {}
        for f in self.files:
            for canonical, source in f.mapping.items():
                mapping.setdefault(canonical, source)
        out = {
            "dataset_id": self.dataset_id,
            "kind": self.kind,
            "rows_read": sum(f.rows_read for f in self.files),
            "rows_accepted": sum(f.rows_accepted for f in self.files),
            "rows_rejected": sum(f.rows_rejected for f in self.files),
            "duplicates_removed": sum(f.duplicates_removed for f in self.files),
            "reasons": dict(reasons),
            "encoding": self.files[0].encoding,
            "delimiter": self.files[0].delimiter,
            "mapping": mapping,
        }
        if len(self.files) > 1:
            out["files"] = [f.as_json() for f in self.files]
        return out


# ---------------------------------------------------------------------------------------------
# Inspection: encoding, delimiter, header, mapping, kind
# ---------------------------------------------------------------------------------------------


def _sample_and_encoding(path: Path, name: str, if_empty: str) -> tuple[bytes, str]:
    """The file's :func:`_read_sample` and its detected encoding; a missing or empty file is a
    user error (``"{name} is empty: {if_empty}"``)."""
    if not path.exists():
        raise IngestError(f"{name}: no such file")
    sample = _read_sample(path)
    if not sample.strip():
        raise IngestError(f"{name} is empty: {if_empty}")
    return sample, detect_encoding(sample, name=name)


def _read_sample(path: Path) -> bytes:
    """The head of the file plus a few evenly spaced pieces, so late non-ASCII text is seen."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
        if size <= SAMPLE_BYTES * 2:
            return head + fh.read()
        pieces = [head]
        for k in range(1, 5):
            fh.seek(size * k // 5)
            chunk = fh.read(64 * 1024)
            # Cut to whole lines so no multi-byte character is split.
            start, end = chunk.find(b"\n"), chunk.rfind(b"\n")
            if 0 <= start < end:
                pieces.append(chunk[start + 1 : end + 1])
        return b"".join(pieces)


def detect_encoding(sample: bytes, *, name: str = "file") -> str:
    """The Python codec name to decode ``sample`` with.

    Byte-order marks decide first; NUL bytes mean UTF-16 or a binary file; strict UTF-8 is
    accepted as is; otherwise charset-normalizer chooses among the encodings exports use.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even):
            return "utf-16-le"
        if even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd):
            return "utf-16-be"
        raise IngestError(
            f"{name} looks like a binary file, not a CSV export (it contains NUL bytes); export it as CSV text"
        )
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4 and exc.reason.startswith("unexpected end"):
            return "utf-8"  # the sample ended inside a character
    # On a short Chinese export charset-normalizer may pick EUC-KR, Big5 or even ISO-8859-2, or
    # nothing at all; Reach's Chinese exports come from Weibo/WeChat, so text whose every
    # non-ASCII character is a common GB2312 hanzi is taken as GB18030 first.
    if _looks_like_gb(sample):
        return "gb18030"
    best = from_bytes(sample, cp_isolation=ENCODING_CANDIDATES).best()
    if best is None and _decodes(sample, "gb18030"):
        return "gb18030"
    if best is None:
        raise IngestError(
            f"{name}: its text encoding could not be recognised (not UTF-8, UTF-16, GB18030/GBK, "
            "Big5 or Latin-1); save it as UTF-8 CSV and upload it again"
        )
    return ENCODING_ALIASES.get(best.encoding, best.encoding)


def _looks_like_gb(sample: bytes) -> bool:
    """Whether ``sample`` decodes as GB18030 into (nearly) nothing but common hanzi and CJK punctuation."""
    if not _decodes(sample, "gb18030"):
        return False
    text = sample.decode("gb18030", errors="ignore")
    wide = [ch for ch in text if ord(ch) > 0x7F]
    if not wide:
        return False
    # GB2312's two-byte area (both bytes >= 0xA1) holds the common hanzi, CJK punctuation and full-width forms.
    common = sum(1 for ch in wide if len(encoded := ch.encode("gb18030")) == 2 and min(encoded) >= 0xA1)
    return common >= 0.9 * len(wide)


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        sample.decode(encoding)
    except UnicodeDecodeError as exc:
        return exc.start >= len(sample) - 4  # only the sample's cut end is incomplete
    return True


def _decode_sample(sample: bytes, encoding: str, name: str) -> str:
    try:
        text = sample.decode(encoding, errors="strict")
    except UnicodeDecodeError:
        # A sample cut mid-character at its end; the strict check happens while reading.
        text = sample.decode(encoding, errors="ignore")
    if text.count("\ufffd") > max(3, len(text) // 100):
        raise IngestError(f"{name}: the text does not decode as {encoding}; save it as UTF-8 CSV")
    return text.lstrip("\ufeff")


def _logical_lines(text: str, limit: int = 200) -> list[str]:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[:limit]


def read_text_file(path: Path, *, name: str, if_empty: str, errors: str = "strict") -> tuple[str, str]:
    """A small file's whole text, decoded with its detected encoding, without a BOM; (text, encoding).

    For files read at once (a corpus, an engagement export), not the streamed intake.

    Raises
    ------
    IngestError
        A missing or empty file (``"{name} is empty: {if_empty}"``), or an encoding that cannot be
        detected or (with ``errors="strict"``) does not decode the whole file.
    """
    _, encoding = _sample_and_encoding(path, name, if_empty)
    try:
        return path.read_bytes().decode(encoding, errors=errors).lstrip("\ufeff"), encoding
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name}: byte {exc.start} does not decode as {encoding}; save it as UTF-8 CSV") from None


def sniff_text_delimiter(text: str) -> str:
    """:func:`sniff_delimiter` over the first 200 non-blank lines of ``text``."""
    return sniff_delimiter([ln for ln in text.splitlines()[:200] if ln.strip()])


def sniff_delimiter(lines: Sequence[str]) -> str:
    """The delimiter among ``, ; \\t |`` that splits the sample most consistently."""
    if not lines:
        return ","
    # Drop the last line: the sample may have cut it short.
    body = list(lines[:-1]) if len(lines) > 2 else list(lines)
    best, best_score = ",", (-1.0, 0.0)
    for delim in DELIMITERS:
        counts = [len(row) for row in csv.reader(body, delimiter=delim)]
        if not counts or max(counts) < 2:
            continue
        mode, freq = Counter(counts).most_common(1)[0]
        if mode < 2:
            continue
        score = (freq / len(counts), float(mode))
        if score > best_score:
            best, best_score = delim, score
    return best


def _fold(name: str) -> str:
    return re.sub(r"[\s_\-.()/]+", "", unicodedata.normalize("NFKC", name).lower())


def auto_mapping(columns: Sequence[str], synonyms: dict[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    """Canonical column -> source column, from the header names alone.

    ``synonyms`` (default: the intake's) lists the folded names each canonical column is found by;
    the canonical name itself comes first, and a source column is used once.
    """
    folded = {_fold(c): c for c in reversed(columns)}  # first occurrence wins
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for canonical, names in (SYNONYMS if synonyms is None else synonyms).items():
        for candidate in (_fold(canonical), *names):
            source = folded.get(candidate)
            if source is not None and source not in used:
                mapping[canonical] = source
                used.add(source)
                break
    return mapping


def parse_mapping_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``["user_id=UID", ...]`` from the command line into a mapping."""
    out: dict[str, str] = {}
    for pair in pairs:
        canonical, sep, column = pair.partition("=")
        canonical, column = canonical.strip(), column.strip()
        if not sep or not canonical or not column:
            raise IngestError(f"--map takes CANONICAL=COLUMN, got {pair!r}")
        if canonical not in CANONICAL_COLUMNS:
            raise IngestError(f"--map {pair!r}: {canonical!r} is not one of {', '.join(CANONICAL_COLUMNS)}")
        out[canonical] = column
    return out


def _clean_header(raw: Sequence[str]) -> list[str]:
    names: list[str] = []
    seen: Counter = Counter()
    for i, name in enumerate(raw):
        name = name.strip().lstrip("\ufeff").strip() or f"column_{i + 1}"
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return names


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


def mapping_problem(
    kind: str, mapping: dict[str, str], per_line: bool, columns: Sequence[str], name: str
) -> str | None:
    """What a mapping lacks for ``kind``, as a message that says what to do, or None."""
    if kind == "events" and "user_id" not in mapping:
        return (
            f"{name}: no user column found (expected one named like user_id, uid, user or 用户ID); "
            f"columns seen: {', '.join(columns)}. Choose the user column in the mapping (--map user_id=COLUMN)"
        )
    if kind == "events" and "topic" not in mapping:
        return (
            f"{name}: no topic column found (expected one named like topic, category, tag, interest or 话题); "
            f"columns seen: {', '.join(columns)}. Choose it in the mapping (--map topic=COLUMN)"
        )
    if (
        kind == "baskets"
        and not per_line
        and not ("transaction_id" in mapping and ({"item", "topic"} & mapping.keys()))
    ):
        return (
            f"{name}: a basket file needs a transaction id column and an item column, or one basket per line; "
            f"columns seen: {', '.join(columns)}"
        )
    return None


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
    sample, encoding = _sample_and_encoding(path, name, "there is no header and no rows to import")
    text = _decode_sample(sample, encoding, name)
    lines = _logical_lines(text)
    leading_blank = 0
    for physical in re.split(r"\r\n|\r|\n", text):
        if physical.strip():
            break
        leading_blank += 1
    if not lines:
        raise IngestError(f"{name} is empty: there is no header and no rows to import")
    if any(ch in lines[0] for ch in "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10"):
        raise IngestError(f"{name} looks like a binary file, not a CSV export; export it as CSV text")
    delimiter = sniff_delimiter(lines)
    header = _clean_header(next(csv.reader(lines[:1], delimiter=delimiter)))
    auto = auto_mapping(header)
    per_line = False
    if kind == "auto":
        kind, per_line = _guess_kind(auto, header, lines, delimiter)
    elif kind == "baskets" and not ("transaction_id" in auto and ({"item", "topic"} & auto.keys())):
        per_line = not mapping
    final = {} if per_line else dict(auto)
    for canonical, source in (mapping or {}).items():
        if source not in header:
            raise IngestError(
                f"{name}: column {source!r} (mapped to {canonical}) is not in the file; columns seen: {', '.join(header)}"
            )
        final = {k: v for k, v in final.items() if v != source}
        final[canonical] = source
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
    return FileInspection(path, encoding, delimiter, header, final, kind, preview, per_line, leading_blank)


# ---------------------------------------------------------------------------------------------
# Reading and cleaning
# ---------------------------------------------------------------------------------------------


_BYTE_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)  # the first k bytes of a word


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place: a bijection of uint64 that spreads every bit over all."""
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def _hash_strings(values: pa.Array) -> np.ndarray:
    """A 64-bit hash of every string: its length, then its bytes 8 at a time, each mixed in.

    Works on the Arrow buffers with numpy (no Python string per value); a step per 8 bytes of
    the longest value, over the values that long.
    """
    if not len(values):
        return np.empty(0, dtype=np.uint64)
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=width)[values.offset : values.offset + len(values) + 1].astype(
        np.int64
    )
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    data = np.concatenate([data[offsets[0] : offsets[-1]], np.zeros(8, np.uint8)])
    # words[i] is the little-endian word of the 8 bytes from byte i on (a view, not a copy).
    words = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    starts, lengths = offsets[:-1] - offsets[0], np.diff(offsets)
    hashes = _mix(lengths.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    for k in range(0, int(lengths.max(initial=0)), 8):
        rows = slice(None) if k == 0 else np.flatnonzero(lengths > k)
        word = words[starts[rows] + k] & _BYTE_MASKS[np.minimum(lengths[rows] - k, 8)]
        hashes[rows] = _mix(hashes[rows] ^ word)
    if values.null_count:
        hashes[values.is_null().to_numpy(zero_copy_only=False)] = 0
    return hashes


class _Dedup:
    """Remembers 64-bit row hashes across blocks; a hash seen before is an exact duplicate.

    The sorted array grows by merging (numpy's stable sort on two sorted runs is linear), so
    10M rows cost 80 MB and a few passes, not a Python set of 10M objects. Two different rows
    share a 64-bit hash with odds of about n²/2⁶⁵, under one in a million for 10M rows.
    """

    def __init__(self) -> None:
        self.seen = np.empty(0, dtype=np.uint64)

    @staticmethod
    def hashes(table: pa.Table) -> np.ndarray:
        """The hash of every row, from its columns' hashes in order (pure, so it can run ahead
        on the reading thread; numpy releases the GIL)."""
        hashes = np.full(table.num_rows, table.num_columns, dtype=np.uint64)
        for column in table.columns:
            hashes = _mix(hashes ^ _hash_strings(column.combine_chunks()))
        return hashes

    def first_seen(self, hashes: np.ndarray) -> np.ndarray:
        """Boolean mask of rows (given by their :meth:`hashes`) not seen before, also within this block."""
        # numpy's default sort is about twice as fast as its stable one; equal hashes may then come
        # in any order, so each run of them is marked new at its smallest row (the first row).
        order = np.argsort(hashes)
        sorted_hashes = hashes[order]
        run_start = np.ones(len(hashes), dtype=bool)
        run_start[1:] = sorted_hashes[1:] != sorted_hashes[:-1]
        new_sorted = run_start.copy()
        if len(self.seen):
            pos = np.searchsorted(self.seen, sorted_hashes)
            pos[pos == len(self.seen)] = 0
            new_sorted &= self.seen[pos] != sorted_hashes
        first_in_block = np.zeros(len(hashes), dtype=bool)
        if run_start.all():
            first_in_block[order] = new_sorted
        else:
            starts = np.flatnonzero(run_start)
            first_in_block[np.minimum.reduceat(order, starts)[new_sorted[starts]]] = True
        # Both parts are sorted: the stable sort (timsort) merges two runs in linear time.
        self.seen = np.sort(np.concatenate([self.seen, sorted_hashes[new_sorted]]), kind="stable")
        return first_in_block


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | values.eq("")


def _strip(values: pd.Series) -> pd.Series:
    return values.str.strip()


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


class _Sink:
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

    def write(self, table: str, frame: pd.DataFrame, schema: pa.Schema | None = None) -> None:
        if frame.empty:
            return
        self.write_arrow(table, pa.Table.from_pandas(frame, schema=schema, preserve_index=False))

    def write_arrow(self, table: str, batch: pa.Table) -> None:
        if batch.num_rows == 0:
            return
        # One write per table in flight: a block's rejects need not wait for its events (one
        # worker, so each table's writes still happen in order).
        self._wait(table)
        if table not in self.writers:
            self.writers[table] = pq.ParquetWriter(
                self.folder / f"{table}.parquet", batch.schema, compression="zstd", compression_level=1
            )
        elif batch.schema != self.writers[table].schema:
            batch = batch.cast(self.writers[table].schema)
        self._pending[table] = self._pool.submit(self.writers[table].write_table, batch)
        self.rows[table] += batch.num_rows

    def _wait(self, table: str | None = None) -> None:
        for name in [table] if table is not None else list(self._pending):
            pending = self._pending.pop(name, None)
            if pending is not None:
                pending.result()  # re-raises a failed write here

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
            for writer in self.writers.values():
                writer.close()


class _Rejects:
    """Rejected rows, as read, with their reason."""

    def __init__(self, sink: _Sink, report: FileReport) -> None:
        self.sink, self.report = sink, report

    def add(self, raw: pd.DataFrame, reasons: pd.Series) -> None:
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
        if not rows:
            return
        self.report.rows_rejected += len(rows)
        self.report.reasons.update(reasons)
        self.sink.write(
            "rejected",
            pd.DataFrame({"file": self.report.file, "reason": reasons, "row": rows}),
            schema=pa.schema([("file", pa.string()), ("reason", pa.string()), ("row", pa.string())]),
        )


@dataclass
class _Block:
    """One block of the file as read: all-text columns, plus what came with it."""

    table: pa.Table
    fraction: float  # of the file read so far
    bad_rows: list[str]  # lines with the wrong number of fields, found while reading this block
    hashes: np.ndarray | None = None  # row hashes for deduplication (see _Dedup.hashes)


def _blocks(path: Path, info: FileInspection) -> Iterator[_Block]:
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

    # Every column is read as text (validation decides what is valid, not type inference, which
    # would turn the id "007" into 7.0 and fail on a later block that does not fit the type).
    # Columns get generated names f0, f1, ... so their types can be fixed by name; the header
    # row then arrives as the first data row and is dropped.
    def open_reader(n_columns: int) -> tuple[pa.OSFile, pacsv.CSVStreamingReader]:
        source = pa.OSFile(str(path), "rb")
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(
                encoding=info.encoding if info.encoding not in ("utf-8", "utf-8-sig") else "utf8",
                block_size=BLOCK_SIZE,
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

    source, reader = open_reader(len(info.columns))
    if len(reader.schema) > len(info.columns):  # the reader split the header into more fields
        source.close()
        bad_rows.clear()
        source, reader = open_reader(len(reader.schema))
    names = [*info.columns, *(f"column_{i + 1}" for i in range(len(info.columns), len(reader.schema)))]
    header_pending = True
    try:
        for batch in reader:
            if header_pending and batch.num_rows:
                batch = batch.slice(1)
                header_pending = False
            table = pa.Table.from_batches([batch]).rename_columns(names[: batch.num_columns])
            yield _Block(table, min(source.tell() / size, 1.0), take_bad_rows())
        if bad_rows:
            yield _Block(pa.table({}), 1.0, take_bad_rows())
    finally:
        source.close()


def _open_reader_checked(path: Path, info: FileInspection) -> Iterator[_Block]:
    """:func:`_blocks`, read (and hashed) one block ahead on a worker thread.

    Arrow's CSV parsing and most of the hashing release the GIL, so on two cores the next block
    is read while this one is cleaned. Errors surface here, in the caller's thread.
    """
    blocks = _blocks(path, info)

    def read_next() -> _Block | None:
        block = next(blocks, None)
        if block is not None and block.table.num_columns:
            block.hashes = _Dedup.hashes(block.table)
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


def _normalise_gender(values: pd.Series) -> pd.Series:
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


def _parse_timestamps(text: pa.Array, empty: np.ndarray, parser: TimestampParser) -> tuple[np.ndarray, np.ndarray]:
    """(``datetime64[ms]`` with NaT where empty, unparseable or out of range; out-of-range mask).

    What the fast path cannot read goes to ``parser`` as a pandas Series, in file order.
    """
    timestamps = parse_iso(text)
    slow = np.flatnonzero(np.isnat(timestamps) & ~empty)
    outside = out_of_range(timestamps)
    timestamps[outside] = np.datetime64("NaT")
    if len(slow):
        parsed, slow_out_of_range = parser.parse(text.take(slow).to_pandas())
        timestamps[slow] = parsed.to_numpy(dtype="datetime64[ms]")
        outside[slow] = slow_out_of_range.to_numpy(dtype=bool)
    return timestamps, outside


def _clean_events(block: pa.Table, mapping: dict[str, str], parser: TimestampParser) -> tuple[pa.Table, np.ndarray]:
    """(clean events of accepted rows, reason per row or None), cleaned column by column in Arrow."""
    n = block.num_rows

    def raw(canonical: str) -> pa.Array | None:
        source = mapping.get(canonical)
        return block.column(block.column_names.index(source)).combine_chunks() if source is not None else None

    def col(canonical: str) -> pa.Array | None:
        values = raw(canonical)
        return pc.utf8_trim_whitespace(values) if values is not None else None

    def blank(values: pa.Array) -> np.ndarray:
        return pc.fill_null(pc.equal(values, ""), True).to_numpy(zero_copy_only=False)

    user = col("user_id")
    topic = pc.utf8_lower(pc.utf8_trim(raw("topic"), characters=" \t\r\n#"))
    action = col("action")
    platform = col("platform")
    ts_text = col("timestamp")
    # Without an action column every row is a view (the report notes it).
    action = pc.utf8_lower(action) if action is not None else pa.repeat(pa.scalar("view"), n)

    # Reasons as small integer codes (the first failing check wins), text only for rejected rows.
    checks: list[tuple[np.ndarray, str]] = [(blank(user), REASONS["user"])]
    if mapping.get("action"):
        checks.append((blank(action), REASONS["action"]))
    checks.append((blank(topic), REASONS["topic"]))
    timestamps = np.full(n, np.datetime64("NaT"), dtype="datetime64[ms]")
    if ts_text is not None:
        empty = blank(ts_text)
        timestamps, out_of_range = _parse_timestamps(ts_text, empty, parser)
        checks.append((empty, REASONS["ts_empty"]))
        checks.append((out_of_range, REASONS["ts_range"]))
        checks.append((np.isnat(timestamps) & ~empty & ~out_of_range, REASONS["ts_bad"]))
    code = np.zeros(n, dtype=np.int8)
    for k, (mask, _text) in enumerate(checks, start=1):
        code[(code == 0) & mask] = k
    ok = code == 0
    labels = np.array([None, *(text for _mask, text in checks)], dtype=object)
    keep = pa.array(ok)
    n_ok = int(ok.sum())
    clean = pa.table(
        {
            "user_id": user.filter(keep),
            "timestamp": pa.array(timestamps[ok], type=pa.timestamp("ms"), from_pandas=True),
            "action": action.filter(keep),
            "topic": topic.filter(keep),
            "platform": pc.utf8_lower(platform.filter(keep)) if platform is not None else pa.nulls(n_ok, pa.string()),
        },
        schema=_event_schema(
            action="str" if mapping.get("action") is not None else "string",
            platform="str" if platform is not None else "string",
        ),
    )
    return clean, labels[code]


def _clean_users(
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


def _clean_baskets(block: pd.DataFrame, mapping: dict[str, str]) -> tuple[pd.DataFrame, pd.Series]:
    """Long-form baskets -> purchase events."""
    reason = pd.Series(pd.NA, index=block.index, dtype="string")
    txn = _strip(block[mapping["transaction_id"]])
    item = _strip(block[mapping.get("item") or mapping["topic"]]).str.lower()
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


def _ingest_table_file(
    path: Path,
    info: FileInspection,
    report: FileReport,
    sink: _Sink,
    progress: Progress | None,
    seen_user_ids: set[str],
    user_row_offset: list[int],
) -> None:
    dedup = _Dedup()
    rejects = _Rejects(sink, report)
    parser = TimestampParser()
    notes: Counter = Counter()
    for block in _open_reader_checked(path, info):
        if block.bad_rows:
            report.rows_read += len(block.bad_rows)
            rejects.add_text(block.bad_rows, [REASONS["fields"]] * len(block.bad_rows))
        if not block.table.num_columns:  # only the lines with the wrong number of fields after the last block
            continue
        report.rows_read += block.table.num_rows
        first = dedup.first_seen(block.hashes)
        report.duplicates_removed += int((~first).sum())
        if info.kind == "events":
            table = block.table.filter(pa.array(first))
            clean, reasons = _clean_events(table, info.mapping, parser)
            sink.write_arrow("events", clean)
            bad = pd.notna(reasons)
            rejects.add_arrow(table.filter(pa.array(bad)), reasons[bad].tolist())
            report.rows_accepted += clean.num_rows
        else:
            frame = block.table.to_pandas()[first]
            if info.kind == "baskets":
                clean, reason = _clean_baskets(frame, info.mapping)
                sink.write("events", clean, EVENT_SCHEMA)
            else:
                clean, reason = _clean_users(frame, info.mapping, user_row_offset[0], seen_user_ids, notes)
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
    sink: _Sink,
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
                baskets = [[item.strip().lower() for item in row if item.strip()] for row in lines]
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
    sink = _Sink(staged)
    reports: list[FileReport] = []
    seen_user_ids: set[str] = set()
    user_offset, basket_offset = [0], [0]
    sizes = [max(p.stat().st_size, 1) for p in paths]
    done = 0
    try:
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
        sink.close()
        if sink.rows["events"] == 0 and sink.rows["users"] == 0:
            total = sum(r.rows_read for r in reports)
            reasons = Counter()
            for r in reports:
                reasons.update(r.reasons)
            why = "; ".join(f"{k}: {v:,}" for k, v in reasons.most_common(3)) or "no data rows"
            raise IngestError(
                f"no usable rows in {', '.join(display_names)} ({total:,} read; {why}); check the column mapping"
            )
        kinds = {r.kind for r in reports}
        dataset_kind = "baskets" if kinds == {"baskets"} else ("users" if kinds == {"users"} else "events")
        n_events, n_users = _counts(staged)
        dataset_name = (name or "").strip() or display_names[0]
        summary = IngestReport(0, dataset_kind, dataset_name, reports, n_events, n_users).as_json()
        summary["files"] = [r.as_json() for r in reports]
        dataset_id = workspace.add_dataset(
            name=dataset_name,
            kind=dataset_kind,
            staged=staged,
            uploads=paths,
            n_events=n_events,
            n_users=n_users,
            report=summary,
            is_demo=is_demo,
        )
        if progress:
            progress(1.0, "done")
        return IngestReport(dataset_id, dataset_kind, dataset_name, reports, n_events, n_users)
    except BaseException:
        sink.close()
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _per_file_mappings(
    paths: list[Path],
    names: list[str],
    mapping: dict[str, str] | None,
    mappings: Sequence[dict[str, str] | None] | None,
) -> list[dict[str, str] | None]:
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


def _counts(folder: Path) -> tuple[int, int]:
    events_path, users_path = folder / "events.parquet", folder / "users.parquet"
    n_events = pq.ParquetFile(events_path).metadata.num_rows if events_path.exists() else 0
    if events_path.exists():
        users = pq.read_table(events_path, columns=["user_id"]).column("user_id")
        n_users = len(pa.compute.unique(users))
    elif users_path.exists():
        n_users = pq.ParquetFile(users_path).metadata.num_rows
    else:
        n_users = 0
    return n_events, n_users
