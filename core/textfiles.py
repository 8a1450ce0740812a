"""Reading uploaded text and CSV files: encoding, delimiter, header, whole small files.

Every step that takes a file from the operator reads it through here, so a GB18030 Weibo
export, a UTF-16 spreadsheet save or a semicolon-separated European CSV is understood the same
way by the intake, the corpus and the engagement import.

- :func:`read_sample` takes the detection sample: the head of the file plus a few evenly spaced
  pieces, so non-ASCII text late in a large export is seen.
- :func:`detect_encoding` names the codec (byte-order marks, UTF-16 without one, strict UTF-8,
  common GB2312 hanzi, then charset-normalizer among the encodings exports are written in).
- :func:`sniff_delimiter` picks among ``, ; \\t |`` the one that splits lines most consistently.
- :func:`clean_header` gives every column a unique, non-empty name.
- :func:`read_text_file` reads a small file whole (a corpus, an engagement export).

Unusable input raises :class:`TextFileError` with one line saying what to fix; each step maps it
to its own error at its boundary.
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from charset_normalizer import from_bytes

__all__ = [
    "DELIMITERS",
    "DELIMITER_NAMES",
    "MAX_FIELD_CHARS",
    "SAMPLE_BYTES",
    "TextFileError",
    "binary_file_message",
    "clean_header",
    "decode_sample",
    "detect_encoding",
    "non_blank_lines",
    "read_sample",
    "read_text_file",
    "sample_and_encoding",
    "sniff_delimiter",
    "sniff_text_delimiter",
]

SAMPLE_BYTES = 256 * 1024
# The longest field Reach reads; a longer one is a broken quote or a file pasted into a cell. Below
# the csv module's own limit (131,072), so the sample never trips it.
MAX_FIELD_CHARS = 100_000
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# Encodings charset-normalizer may choose from: what behaviour exports are actually written in.
ENCODING_CANDIDATES = ["utf_8", "gb18030", "big5", "shift_jis", "euc_kr", "cp1252", "latin_1", "cp1251", "iso8859_2"]
ENCODING_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "ascii": "utf-8", "utf_8": "utf-8"}


class TextFileError(ValueError):
    """A file that cannot be read as text; the message is one line saying what to fix."""


def read_sample(path: Path) -> bytes:
    """The detection sample of ``path``: its head plus a few evenly spaced pieces.

    A file up to twice :data:`SAMPLE_BYTES` is read whole. A larger one gives its first
    :data:`SAMPLE_BYTES` and four pieces of 64 KiB from a fifth, two fifths, ... of the way in,
    so late non-ASCII text is seen. The head and every piece are cut at line ends (in UTF-16, at
    line ends on code-unit boundaries), so no character is split where they are joined.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
        if size <= SAMPLE_BYTES * 2:
            return head + fh.read()
        newline = _newline_bytes(head)
        pieces = [_whole_lines(head, newline, keep_start=True)]
        for k in range(1, 5):
            offset = size * k // 5
            fh.seek(offset - offset % len(newline))
            pieces.append(_whole_lines(fh.read(64 * 1024), newline, keep_start=False))
        return b"".join(pieces)


def _newline_bytes(head: bytes) -> bytes:
    """How a line end is written in a file starting with ``head``: ``\\n`` in one of its byte orders."""
    if head.startswith(codecs.BOM_UTF8):
        return b"\n"
    if head.startswith(codecs.BOM_UTF16_LE):
        return "\n".encode("utf-16-le")
    if head.startswith(codecs.BOM_UTF16_BE):
        return "\n".encode("utf-16-be")
    order = _utf16_by_nul_bytes(head)
    return "\n".encode(order) if order else b"\n"


def binary_file_message(name: str) -> str:
    """What a file with NUL bytes in its text is told, wherever in the file they are."""
    return f"{name} looks like a binary file, not a CSV export (it contains NUL bytes); export it as CSV text"


def _utf16_by_nul_bytes(sample: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` when NUL bytes fall on one side of ``sample``'s byte pairs only."""
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _whole_lines(chunk: bytes, newline: bytes, *, keep_start: bool) -> bytes:
    """``chunk`` cut after its last line end, and (unless ``keep_start``) before its first line's end.

    ``chunk`` starts on a code-unit boundary; line ends are looked for on such boundaries only.
    A chunk without a line end is kept whole as a head and dropped as a piece.
    """
    ends = _line_ends(chunk, newline)
    if not ends:
        return chunk if keep_start else b""
    start = 0 if keep_start else ends[0]
    return chunk[start : ends[-1]] if ends[-1] > start else b""


def _line_ends(chunk: bytes, newline: bytes) -> list[int]:
    """Offsets just after the first and the last ``newline`` of ``chunk`` on a code-unit boundary."""
    unit = len(newline)
    found = []
    at = chunk.find(newline)
    while at >= 0 and at % unit:
        at = chunk.find(newline, at + 1)
    if at >= 0:
        found.append(at + unit)
    at = chunk.rfind(newline)
    while at >= 0 and at % unit:
        at = chunk.rfind(newline, 0, at + unit - 1)
    if at >= 0:
        found.append(at + unit)
    return found


def sample_and_encoding(path: Path, *, name: str, if_empty: str) -> tuple[bytes, str]:
    """The file's :func:`read_sample` and its :func:`detect_encoding`.

    Raises
    ------
    TextFileError
        A missing file (``"{name}: no such file"``), an empty one (``"{name} is empty:
        {if_empty}"``), or an encoding that cannot be recognised.
    """
    if not path.exists():
        raise TextFileError(f"{name}: no such file")
    sample = read_sample(path)
    if not sample.strip():
        raise TextFileError(f"{name} is empty: {if_empty}")
    return sample, detect_encoding(sample, name=name)


def detect_encoding(sample: bytes, *, name: str = "file") -> str:
    """The Python codec name to decode ``sample`` with.

    Byte-order marks decide first; NUL bytes mean UTF-16 or a binary file; strict UTF-8 is
    accepted as is; otherwise charset-normalizer chooses among the encodings exports use.

    Raises
    ------
    TextFileError
        A binary file, or text in no encoding exports are written in.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        order = _utf16_by_nul_bytes(sample)
        if order:
            return order
        raise TextFileError(binary_file_message(name))
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
        raise TextFileError(
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
    """Whether ``sample`` decodes as ``encoding``, allowing a character cut at its end."""
    try:
        sample.decode(encoding)
    except UnicodeDecodeError as exc:
        return exc.start >= len(sample) - 4  # only the sample's cut end is incomplete
    return True


def decode_sample(sample: bytes, encoding: str, *, name: str) -> str:
    """The text of a detection sample, without a BOM; a character cut at the sample's end is dropped.

    Raises
    ------
    TextFileError
        More than a few replacement characters: the sample is not really ``encoding``.
    """
    try:
        text = sample.decode(encoding, errors="strict")
    except UnicodeDecodeError:
        # A sample cut mid-character at its end; the strict check happens while reading.
        text = sample.decode(encoding, errors="ignore")
    if text.count("\ufffd") > max(3, len(text) // 100):
        raise TextFileError(f"{name}: the text does not decode as {encoding}; save it as UTF-8 CSV")
    return text.lstrip("\ufeff")


def non_blank_lines(text: str, limit: int = 200) -> list[str]:
    """The first ``limit`` lines of ``text`` that hold more than blanks, each cut to :data:`MAX_FIELD_CHARS`."""
    lines = [line[:MAX_FIELD_CHARS] for line in text.splitlines() if line.strip()]
    return lines[:limit]


def read_text_file(path: Path, *, name: str, if_empty: str, errors: str = "strict") -> tuple[str, str]:
    """A small file's whole text, decoded with its detected encoding, without a BOM; (text, encoding).

    For files read at once (a corpus, an engagement export), not the streamed intake.

    Raises
    ------
    TextFileError
        A missing or empty file (``"{name} is empty: {if_empty}"``), or an encoding that cannot be
        detected or (with ``errors="strict"``) does not decode the whole file.
    """
    _, encoding = sample_and_encoding(path, name=name, if_empty=if_empty)
    try:
        return path.read_bytes().decode(encoding, errors=errors).lstrip("\ufeff"), encoding
    except UnicodeDecodeError as exc:
        raise TextFileError(f"{name}: byte {exc.start} does not decode as {encoding}; save it as UTF-8 CSV") from None


def sniff_text_delimiter(text: str) -> str:
    """:func:`sniff_delimiter` over the non-blank lines among the first 200 lines of ``text``."""
    return sniff_delimiter([ln for ln in text.splitlines()[:200] if ln.strip()])


def sniff_delimiter(lines: Sequence[str]) -> str:
    """The delimiter among ``, ; \\t |`` that splits ``lines`` most consistently (``,`` if none does).

    The share of lines with the most common field count decides, then that count; the last line
    is left out when there are more than two, as a sample may have cut it short.
    """
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


def clean_header(raw: Sequence[str]) -> list[str]:
    """Column names stripped of blanks and a BOM; an empty one becomes ``column_{n}`` and a repeat
    gets ``_2``, ``_3`` ... so every name is unique."""
    names: list[str] = []
    seen: Counter = Counter()
    for i, name in enumerate(raw):
        name = name.strip().lstrip("\ufeff").strip() or f"column_{i + 1}"
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return names
