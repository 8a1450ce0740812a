"""Importing an engagement export: posts made elsewhere, with their likes, reposts, … (``external_posts``).

Columns are found by name in English or Chinese (:data:`CSV_COLUMNS`) unless the operator maps them;
counts like ``1.2K`` or ``3万`` are read. Rows without impressions keep their counts but cannot give
an engagement rate.
"""

from __future__ import annotations

import csv
import html
import io
import logging
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pandas as pd

from core import clock
from core.clock import utc_now
from core.feedback.results.metrics import ENGAGEMENTS, ResultsError
from core.intake.mapping import auto_mapping
from core.intake.timestamps import TimestampParser
from core.textfiles import TextFileError, clean_header, read_text_file, sniff_text_delimiter
from core.workspace import Workspace

log = logging.getLogger(__name__)


#: canonical column -> header names it is found by (compared folded: lower case, no spaces, _ - . ( ) /)
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "text": ("text", "tweet", "fulltext", "post", "content", "message", "body", "内容", "正文", "微博正文", "文本"),
    "posted_at": (
        "date",
        "createdat",
        "postedat",
        "publishedat",
        "time",
        "timestamp",
        "datetime",
        "created",
        "发布时间",
        "时间",
        "日期",
    ),
    "likes": (
        "likes",
        "likecount",
        "favorites",
        "favoritecount",
        "favourites",
        "favouritecount",
        "favs",
        "点赞",
        "点赞数",
        "赞",
    ),
    "reposts": ("retweets", "retweetcount", "reposts", "repostcount", "shares", "sharecount", "转发", "转发数"),
    "replies": ("replies", "replycount", "comments", "commentcount", "评论", "评论数"),
    "quotes": ("quotes", "quotecount", "quotetweets", "引用"),
    "impressions": (
        "impressions",
        "impressioncount",
        "views",
        "viewcount",
        "reach",
        "曝光",
        "曝光量",
        "阅读",
        "阅读数",
        "浏览量",
    ),
    "remote_id": ("id", "idstr", "tweetid", "postid", "statusid"),
    "url": ("url", "link", "permalink", "tweeturl", "链接"),
    "segment": ("segment", "audience", "细分"),
    "template": ("template", "模板"),
}
REQUIRED_COLUMNS = ("text", "likes")
_STATUS_ID = re.compile(r"/status(?:es)?/(\d+)")
_COUNT = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKmM万wW]?)$")
_SCALE = {"": 1, "k": 1_000, "m": 1_000_000, "万": 10_000, "w": 10_000}


@dataclass(frozen=True)
class EngagementPreview:
    """How an engagement CSV will be read: encoding, delimiter, columns found and the mapping."""

    name: str
    encoding: str
    delimiter: str
    columns: list[str]
    mapping: dict[str, str]  # canonical -> source column
    sample: pd.DataFrame  # the first rows under their canonical names
    rows: int

    @property
    def missing(self) -> list[str]:
        """Required canonical columns the mapping lacks."""
        return [c for c in REQUIRED_COLUMNS if c not in self.mapping]

    @property
    def notes(self) -> list[str]:
        """What the import will assume (absent optional columns)."""
        notes = []
        if "impressions" not in self.mapping:
            notes.append("no impressions column: these posts keep their counts but give no engagement rate")
        absent = [c for c in ("reposts", "replies", "quotes") if c not in self.mapping]
        if absent:
            notes.append(f"no {', '.join(absent)} column: counted as 0")
        if "posted_at" not in self.mapping:
            notes.append("no date column: the posts have no posting hour")
        return notes


@dataclass(frozen=True)
class EngagementImport:
    """What :func:`import_engagement_csv` stored."""

    name: str
    imported: int
    already_there: int
    rejected: list[tuple[int, str]]  # (line number, reason)
    without_impressions: int
    kept_as: str  # the copy of the file in the workspace

    def summary(self) -> str:
        """One line for the page or the CLI."""
        text = f"{self.name}: {self.imported} post{'s' if self.imported != 1 else ''} imported"
        if self.already_there:
            text += f", {self.already_there} already imported before"
        if self.rejected:
            n = len(self.rejected)
            text += f", {n} row{'s' if n != 1 else ''} rejected"
        if self.without_impressions:
            text += (
                f"; {self.without_impressions} {'has' if self.without_impressions == 1 else 'have'} no "
                "impressions, so their counts are kept but they are left out of engagement rates"
            )
        return text + "."


def _read_table(path: Path, name: str) -> tuple[pd.DataFrame, str, str]:
    """The CSV as text cells (header cleaned), its encoding and delimiter."""

    try:
        text, encoding = read_text_file(
            path, name=name, if_empty="export the posts with their likes, reposts and replies"
        )
    except TextFileError as exc:
        raise ResultsError(str(exc)) from None
    delimiter = sniff_text_delimiter(text)
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, skip_blank_lines=True, engine="python"
        )
    except (pd.errors.ParserError, csv.Error) as exc:
        raise ResultsError(f"{name}: cannot be read as a {delimiter!r}-separated CSV ({exc})") from None
    frame.columns = clean_header([str(c) for c in frame.columns])
    return frame, encoding, delimiter


def _mapping(columns: list[str], overrides: Mapping[str, str] | None, name: str) -> dict[str, str]:
    mapping = auto_mapping(columns, CSV_COLUMNS)
    for canonical, source in (overrides or {}).items():
        if canonical not in CSV_COLUMNS:
            raise ResultsError(f"mapping {canonical!r}: not a column Reach reads (one of {', '.join(CSV_COLUMNS)})")
        if source in (None, ""):
            mapping.pop(canonical, None)
            continue
        if source not in columns:
            raise ResultsError(
                f"{name}: mapping {canonical}={source!r}, but there is no column {source!r} "
                f"(columns found: {', '.join(columns)})"
            )
        mapping = {k: v for k, v in mapping.items() if v != source}
        mapping[canonical] = source
    return mapping


def inspect_engagement_csv(
    path: Path | str, *, mapping: Mapping[str, str] | None = None, name: str | None = None
) -> EngagementPreview:
    """Read an engagement export's header and first rows and map its columns (nothing is stored).

    Raises
    ------
    ResultsError
        Unreadable file, or an override naming a column the file does not have.
    """
    path = Path(path)
    name = name or path.name
    frame, encoding, delimiter = _read_table(path, name)
    columns = list(frame.columns)
    chosen = _mapping(columns, mapping, name)
    sample = frame.head(5)[list(chosen.values())].rename(columns={v: k for k, v in chosen.items()})
    return EngagementPreview(name, encoding, delimiter, columns, chosen, sample, len(frame))


def _count(value: str) -> int | None:
    """``"1,234"`` → 1234, ``"1.2K"`` → 1200, ``"3万"`` → 30000, blank → None; ValueError otherwise."""
    text = str(value).strip().replace(",", "").replace("\u00a0", "").replace(" ", "")
    if not text:
        return None
    m = _COUNT.match(text)
    if not m:
        raise ValueError(text)
    return round(float(m.group(1)) * _SCALE[m.group(2).lower()])


def import_engagement_csv(
    ws: Workspace, path: Path | str, *, mapping: Mapping[str, str] | None = None, name: str | None = None
) -> EngagementImport:
    """Add the posts of an engagement export (posts made elsewhere) to the workspace.

    Columns are found by name (text; date/created_at; likes/favorites/favorite_count;
    retweets/retweet_count/reposts; replies/reply_count; quotes; impressions; id or url) unless
    ``mapping`` (canonical → column) says otherwise. Rows with an empty text or an unreadable count
    are rejected with their line number and reason; posts already imported (same id, or same
    text and date) are skipped. The file is kept in the workspace under ``uploads/engagement``.

    Raises
    ------
    ResultsError
        When the file cannot be read, a required column (text, likes) is missing — the message
        names it and the columns found — or no row can be imported. Nothing is stored then.
    """
    path = Path(path)
    name = name or path.name
    frame, _, _ = _read_table(path, name)
    columns = list(frame.columns)
    chosen = _mapping(columns, mapping, name)
    missing = [c for c in REQUIRED_COLUMNS if c not in chosen]
    if missing:
        wanted = {"text": "text, tweet, post or content", "likes": "likes, favorites or favorite_count"}
        raise ResultsError(
            f"{name}: no {' and no '.join(f'{m} column ({wanted[m]})' for m in missing)}; "
            f"columns found: {', '.join(columns)}. Map them by hand."
        )
    if frame.empty:
        raise ResultsError(f"{name} has a header but no rows")
    rows, rejected = _external_posts(frame, chosen)
    if not rows:
        reasons = "; ".join(f"line {line}: {why}" for line, why in rejected[:3])
        raise ResultsError(f"{name}: none of its {len(frame)} rows can be imported ({reasons})")
    kept = ws.home / "uploads" / "engagement" / f"{clock.now():%Y%m%dT%H%M%S}-{Path(name).name}"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, kept)
    source_file = str(kept.relative_to(ws.home))
    imported, already, without = _store_new(ws, rows, source_file, name=name, rejected=len(rejected))
    log.info("engagement import %s: %d imported, %d already there, %d rejected", name, imported, already, len(rejected))
    return EngagementImport(name, imported, already, rejected, without, source_file)


class _RejectedRowError(Exception):
    """A row that cannot be imported; the message says why."""


def _cell(record: dict, chosen: Mapping[str, str], canonical: str) -> str:
    """The stripped cell of ``canonical``'s column ("" when no column is mapped to it)."""
    return str(record.get(chosen[canonical], "")).strip() if canonical in chosen else ""


def _counts(record: dict, chosen: Mapping[str, str]) -> dict[str, int | None]:
    """Engagement counts and impressions of one row, None where not mapped or blank."""
    counts: dict[str, int | None] = {}
    for canonical in (*ENGAGEMENTS, "impressions"):
        if canonical not in chosen:
            counts[canonical] = None
            continue
        try:
            counts[canonical] = _count(record[chosen[canonical]])
        except ValueError:
            raise _RejectedRowError(f"{canonical} {str(record[chosen[canonical]])[:30]!r} is not a count") from None
    return counts


def _external_post(record: dict, chosen: Mapping[str, str], when: pd.Timestamp) -> dict:
    """One CSV row as an ``external_posts`` row; :class:`_RejectedRowError` when it cannot be one."""
    text = html.unescape(_cell(record, chosen, "text"))
    if not text:
        raise _RejectedRowError("empty text")
    counts = _counts(record, chosen)
    url = _cell(record, chosen, "url")
    remote_id = _cell(record, chosen, "remote_id")
    if not remote_id and (m := _STATUS_ID.search(url)):
        remote_id = m.group(1)
    return {
        "remote_id": remote_id or None,
        "url": url or None,
        "text": text,
        "posted_at": None if pd.isna(when) else clock.iso(when.to_pydatetime().replace(tzinfo=UTC)),
        "segment": _cell(record, chosen, "segment") or None,
        "template": _cell(record, chosen, "template") or None,
        **{k: counts[k] or 0 for k in ENGAGEMENTS},
        "impressions": counts["impressions"],
    }


def _external_posts(frame: pd.DataFrame, chosen: Mapping[str, str]) -> tuple[list[dict], list[tuple[int, str]]]:
    """The rows that can be imported, and (line number, reason) for each that cannot."""
    stamps = None
    if "posted_at" in chosen:
        stamps, _ = TimestampParser().parse(frame[chosen["posted_at"]])
    rows: list[dict] = []
    rejected: list[tuple[int, str]] = []
    for i, record in enumerate(frame.to_dict("records")):
        when = stamps.iloc[i] if stamps is not None else pd.NaT
        try:
            rows.append(_external_post(record, chosen, when))
        except _RejectedRowError as exc:
            rejected.append((i + 2, str(exc)))
    return rows, rejected


def _store_new(ws: Workspace, rows: list[dict], source_file: str, *, name: str, rejected: int) -> tuple[int, int, int]:
    """Insert the rows not imported before (same id, or same text and date), and audit the import.

    Returns (imported, already there, imported without impressions).
    """
    imported = already = without = 0
    stamp = utc_now()
    with ws.connect() as con:
        ids = {r[0] for r in con.execute("SELECT remote_id FROM external_posts WHERE remote_id IS NOT NULL")}
        keys = {(r[0], r[1]) for r in con.execute("SELECT text, posted_at FROM external_posts")}
        for row in rows:
            key = (row["text"], row["posted_at"])
            if (row["remote_id"] and row["remote_id"] in ids) or key in keys:
                already += 1
                continue
            ids.add(row["remote_id"])
            keys.add(key)
            con.execute(
                "INSERT INTO external_posts (remote_id, url, text, posted_at, segment, template, likes, "
                "reposts, replies, quotes, impressions, source_file, imported_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *(row[k] for k in ("remote_id", "url", "text", "posted_at", "segment", "template")),
                    *(row[k] for k in (*ENGAGEMENTS, "impressions")),
                    source_file,
                    stamp,
                ),
            )
            imported += 1
            without += int(not row["impressions"])
        details = {"file": name, "imported": imported, "already_there": already, "rejected": rejected}
        ws.audit("results.import", details, con=con)
    return imported, already, without


def imported_sources(ws: Workspace) -> list[dict]:
    """Imported files: source_file, posts, with_impressions, imported_at."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT source_file, COUNT(*) AS posts, SUM(CASE WHEN impressions > 0 THEN 1 ELSE 0 END) "
            "AS with_impressions, MAX(imported_at) AS imported_at FROM external_posts "
            "GROUP BY source_file ORDER BY imported_at DESC"
        ).fetchall()
    return [dict(r) for r in rows]
