"""Timestamps as exports write them: ISO text, common date formats, unix seconds or milliseconds.

Offsets (``Z``, ``+08:00``) are converted to UTC; times without one are kept as written
(exports give local time, and local time is what best-hour features need). Whether ``03/04``
is the 3rd of April or the 4th of March is decided once per file, from the first block that
has such dates: the reading under which more values are valid wins, month first on a tie.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["EARLIEST", "TimestampParser", "latest_allowed", "out_of_range", "parse_iso"]

EARLIEST = pd.Timestamp("1990-01-01")

DAY_FIRST = [
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y",
]
MONTH_FIRST = ["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%m/%d/%Y %I:%M %p", "%m/%d/%y %H:%M", "%m/%d/%y"]
OTHER = [
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日 %H时%M分",
    "%Y年%m月%d日",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
    "%d %b %Y %H:%M",
    "%d %b %Y",
    "%b %d %Y %H:%M",
    "%b %d, %Y",
    "%a %b %d %H:%M:%S %z %Y",
]


#: Words pandas reads as a time relative to the run; refused as unparseable.
RELATIVE_WORDS = ["now", "today"]

# What a value needs to look like for ``pd.to_datetime(format=...)`` to possibly read it: a loose
# superset of pandas' own rules (any spaces around a field, one or two digits for the 2-digit fields,
# any Unicode digit or space, anything for names and offsets, any tail after the ISO-like
# formats), so a format whose pattern no remaining value matches can be skipped without changing
# any result. RE2 syntax (Arrow's regex kernels), where \d and \s are ASCII only.
_WS = r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
_NUMBER = f"{_WS}*\\p{{N}}{{1,2}}"
_FIELDS = {
    "d": _NUMBER,
    "m": _NUMBER,
    "y": _NUMBER,
    "H": _NUMBER,
    "I": _NUMBER,
    "M": _NUMBER,
    "S": _NUMBER,
    "Y": "[+-]?\\p{N}*",
    "b": ".*?",
    "a": ".*?",
    "p": ".*?",
    "z": ".*?",
}
_ISO_LIKE = ("%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")  # parsed by pandas' ISO parser, not its regex


def _may_match_pattern(fmt: str) -> str:
    """An RE2 pattern that every value ``pd.to_datetime(..., format=fmt)`` can read matches."""
    parts = []
    for piece in re.split(r"(%.|\s+)", fmt):
        if piece.startswith("%"):
            parts.append(_FIELDS[piece[1]])
        elif piece.isspace():
            parts.append(f"(?:{_WS}+|T)")
        elif piece:
            parts.append(re.escape(piece))
    tail = ".*" if fmt.startswith(_ISO_LIKE) else f"{_WS}*"
    # ("now" and "today", which pandas reads with any format, never get this far)
    return f"^{_WS}*{''.join(parts)}{tail}$"


_MAY_MATCH = {fmt: _may_match_pattern(fmt) for fmt in (*DAY_FIRST, *MONTH_FIRST, *OTHER)}


def _may_match(values: pa.Array, fmt: str) -> bool:
    """Whether any of ``values`` could be read with ``fmt`` (False: it certainly cannot)."""
    return bool(pc.any(pc.match_substring_regex(values, _MAY_MATCH[fmt], ignore_case=True)).as_py())


def latest_allowed() -> pd.Timestamp:
    """Timestamps after this (tomorrow) are impossible for an export of past behaviour."""
    return pd.Timestamp.now().normalize() + pd.Timedelta(days=2)


def out_of_range(values: np.ndarray) -> np.ndarray:
    """Which of ``values`` (``datetime64``, NaT for none) lie before :data:`EARLIEST` or after
    :func:`latest_allowed`: impossible times for an export of past behaviour."""
    return ~np.isnat(values) & ((values < EARLIEST.to_datetime64()) | (values > latest_allowed().to_datetime64()))


FAST_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")

# ``YYYY-MM-DD HH:MM:SS`` (or with a ``T``): where the digits are, and what stands between them.
_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_SEPARATORS = {4: b"-", 7: b"-", 13: b":", 16: b":"}
# Years read by the byte-level path; any other year takes Arrow's path (same result, slower).
_BYTE_YEARS = (1970, 2199)


def _month_tables() -> tuple[np.ndarray, np.ndarray]:
    """(days from 1970-01-01 to the first of each month, days in that month), for the months of
    :data:`_BYTE_YEARS`, indexed by ``(year - 1970) * 12 + month - 1``."""
    months = np.arange((_BYTE_YEARS[1] - 1970 + 1) * 12 + 1).astype("datetime64[M]")
    starts = months.astype("datetime64[D]").astype(np.int64)
    return starts[:-1], np.diff(starts)


_MONTH_START, _MONTH_DAYS = _month_tables()


def _parse_iso_bytes(text: pa.Array) -> np.ndarray:
    """``datetime64[ms]`` of the values written exactly ``YYYY-MM-DD HH:MM:SS`` (or with a ``T``)
    with a real date and time of day, NaT for every other value.

    Reads the string buffer as a 19-column byte matrix in numpy, a few vector operations for a
    whole block. It reads a subset of what :data:`FAST_FORMATS` read, to the same value: a day
    past the month's end, hour 24, second 60 or an unusual year are left NaT for the strict path.
    """
    n = len(text)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ms]")
    if not n or not pa.types.is_string(text.type):
        return out
    _, offsets_buffer, data_buffer = text.buffers()
    if data_buffer is None:
        return out
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[text.offset : text.offset + n + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    lengths = np.diff(offsets)
    if lengths.min() == lengths.max() == 19:  # every value fits: the buffer is the matrix, no copy
        rows = slice(None)
        chars = data[offsets[0] : offsets[-1]].reshape(n, 19)
    else:
        rows = np.flatnonzero(lengths == 19)
        chars = data[offsets[rows][:, None] + np.arange(19)]
    valid = np.ones(len(chars), dtype=bool)
    if text.null_count:
        valid &= text.is_valid().to_numpy(zero_copy_only=False)[rows]
    columns = np.ascontiguousarray(chars.T)  # one row per character position: fast vector operations
    valid &= (columns[10] == ord(" ")) | (columns[10] == ord("T"))
    for column, byte in _SEPARATORS.items():
        valid &= columns[column] == byte[0]
    digits = columns[_DIGITS] - np.uint8(48)  # wraps round for bytes below "0"
    valid &= (digits <= 9).all(axis=0)
    digits = dict(zip(_DIGITS.tolist(), digits.astype(np.int32), strict=True))

    def number(*positions: int) -> np.ndarray:
        value = digits[positions[0]]
        for position in positions[1:]:
            value = value * 10 + digits[position]
        return value

    year, month, day = number(0, 1, 2, 3), number(5, 6), number(8, 9)
    hour, minute, second = number(11, 12), number(14, 15), number(17, 18)
    valid &= (year >= _BYTE_YEARS[0]) & (year <= _BYTE_YEARS[1]) & (month >= 1) & (month <= 12)
    valid &= (day >= 1) & (hour <= 23) & (minute <= 59) & (second <= 59)
    month_index = np.where(valid, (year - 1970) * 12 + month - 1, 0)
    valid &= day <= _MONTH_DAYS[month_index]
    days = _MONTH_START[month_index] + (day - 1)
    millis = (days * 86_400 + ((hour * 60 + minute) * 60 + second)) * 1000
    out[rows] = np.where(valid, millis.astype("datetime64[ms]"), np.datetime64("NaT"))
    return out


def parse_iso(text: pa.Array) -> np.ndarray:
    """The common export formats parsed without pandas (ten times faster), as ``datetime64[ms]``;
    NaT where a value is not (strictly) one of them.

    Most values are read straight from the bytes (:func:`_parse_iso_bytes`); the rest go through
    Arrow's strptime. It rolls an impossible day over (2023-02-30 becomes 1 March), so a value only
    counts when it is 19 characters long and the day it wrote is the day it parsed to; everything
    else goes the slow, strict way. A later format only sees the values the earlier ones did not read.
    """
    timestamps = _parse_iso_bytes(text)
    todo = np.flatnonzero(np.isnat(timestamps))
    for fmt in FAST_FORMATS:
        if not len(todo):
            break
        part = text if len(todo) == len(text) else text.take(todo)
        parsed = pc.strptime(part, format=fmt, unit="ms", error_is_null=True)
        if parsed.null_count == len(part):
            continue
        day_text = pc.utf8_slice_codeunits(part, 8, 10)
        day_digits = pc.if_else(pc.ascii_is_decimal(day_text), day_text, "0")  # ASCII: int64 cast reads no other digits
        same_day = pc.equal(pc.cast(day_digits, pa.int64()), pc.day(parsed))
        parsed = pc.if_else(pc.and_kleene(same_day, pc.equal(pc.utf8_length(part), 19)), parsed, None)
        values = parsed.to_numpy(zero_copy_only=False)
        timestamps[todo] = values
        todo = todo[np.isnat(values)]
    return timestamps


def _fast_iso(text: pd.Series) -> pd.Series:
    """:func:`parse_iso` of a text Series: the values it reads, by index."""
    arr = pa.array(text.array)  # zero-copy for Arrow-backed strings
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    out = pd.Series(parse_iso(arr), index=text.index)
    return out[out.notna()]


class TimestampParser:
    """Parses text columns to ``datetime64[ms]``; keeps the day-first decision across blocks."""

    def __init__(self) -> None:
        self.day_first: bool | None = None

    def parse(self, text: pd.Series) -> tuple[pd.Series, pd.Series]:
        """(timestamps with NaT where unparseable or out of range, out-of-range mask)."""
        text = text.astype("string")
        result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ms]")
        todo = text.notna() & (text.str.len() > 0)
        if todo.any():
            fast = _fast_iso(text[todo])
            result[fast.index] = fast
            todo &= result.isna()
        numeric = pd.Series(False, index=text.index)
        if todo.any():
            numeric[todo] = text[todo].str.fullmatch(r"\d{9,13}(\.\d+)?").fillna(False).to_numpy(dtype=bool)
        if numeric.any():
            # float64 for the lot: a block may mix seconds and milliseconds (exact to 2**53 ms)
            values = pd.to_numeric(text[numeric], errors="coerce").astype("float64")
            millis = values.where(values >= 1e11, values * 1000)
            result[numeric] = pd.to_datetime(millis.round(), unit="ms", errors="coerce").astype("datetime64[ms]")
            todo &= ~numeric
        if todo.any():
            # pandas reads these as the time of the import: not a time the export recorded
            todo &= ~text.str.strip().str.casefold().isin(RELATIVE_WORDS).fillna(False)
        if todo.any():
            iso = pd.to_datetime(text[todo], format="ISO8601", errors="coerce", utc=True)
            iso = iso.dt.tz_localize(None).astype("datetime64[ms]")
            result[todo] = iso
            todo &= result.isna()
        if todo.any():
            chunk = text[todo]
            values = pa.array(chunk.array)  # what is left, for _may_match; renewed only when it shrinks
            for fmt in self._formats(chunk):
                if not _may_match(values, fmt):
                    continue  # no value can match: to_datetime would read none of them
                parsed = pd.to_datetime(chunk, format=fmt, errors="coerce", utc="%z" in fmt)
                if "%z" in fmt:
                    parsed = parsed.dt.tz_localize(None)
                hit = parsed.notna()
                if hit.any():
                    result[hit[hit].index] = parsed[hit].astype("datetime64[ms]")
                    todo &= result.isna()
                    if not todo.any():
                        break
                    chunk = text[todo]
                    values = pa.array(chunk.array)
        outside = pd.Series(out_of_range(result.to_numpy(dtype="datetime64[ms]")), index=result.index)
        return result.mask(outside), outside

    def _formats(self, sample: pd.Series) -> list[str]:
        if self.day_first is None and sample.str.contains(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", regex=True).any():
            probe = sample.head(2000)
            day = sum(pd.to_datetime(probe, format=f, errors="coerce").notna().sum() for f in DAY_FIRST)
            month = sum(pd.to_datetime(probe, format=f, errors="coerce").notna().sum() for f in MONTH_FIRST)
            self.day_first = bool(day > month)
        first, second = (DAY_FIRST, MONTH_FIRST) if self.day_first else (MONTH_FIRST, DAY_FIRST)
        return [*first, *second, *OTHER]
