"""Property test of intake: whatever CSV comes in, either it is imported with every row accounted
for, or it is refused with an :class:`IngestError` and the workspace is left as it was.

The files are random in every way a real export can be messy: header names among the synonyms of
every canonical column and junk names, encodings among UTF-8 (with and without BOM), UTF-16,
GB18030 and Latin-1 (where the text fits), the four delimiters, quoted fields holding the
delimiter, quotes and newlines, missing values, rows of the wrong width, exact duplicate rows and
blank lines.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.demo import open_workspace
from core.intake.ingest import IngestError, ingest

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "gb18030", "latin-1"]
DELIMITERS = [",", ";", "\t", "|"]
USER_NAMES = ["user_id", "uid", "用户ID", "userId", "User", "customer"]
TOPIC_NAMES = ["topic", "话题", "tag", "category", "兴趣"]
HEADER_NAMES = [
    *USER_NAMES,
    *TOPIC_NAMES,
    "action",
    "行为",
    "event",
    "event_type",
    "time",
    "时间",
    "timestamp",
    "date",
    "日期",
    "age",
    "年龄",
    "gender",
    "性别",
    "city",
    "地区",  # a user table
    "order_id",
    "item",
    "product",  # baskets
    "foo",
    "x1",
    "备注",
    "notes",
    "col 7",
    "Ünïcode",
    "score",  # junk
]
TYPICAL_VALUES = [
    "",
    " ",
    "u1",
    "u2",
    "U3",
    "007",
    "like",
    "VIEW",
    "share",
    "点赞",
    "fitness",
    "#Skincare",
    "健康饮食",
    "café",
    "2024-03-05 14:00",
    "2024-03-05T14:00:00Z",
    "2024-03-05T14:00:00+08:00",
    "1709647200",
    "1709647200000",
    "03/04/2024",
    "25/12/2023",
    "2023-02-30",
    "1850-01-01",
    "2999-01-01",
    "NaN",
    "None",
    "NULL",
    "-1",
    "35",
    "F",
    "男",
]
BLANK_LINES = ["", " ", "   ", " \t "]
TEXT_ALPHABET = "abcxyzAZ019 _-#@.:/'" + "éüñ" + "健身护肤话题" + '"\n'


def values(delimiter: str) -> st.SearchStrategy[str]:
    """A field value; it may hold this file's delimiter, quotes and newlines (csv quotes them)."""
    return st.one_of(
        st.sampled_from(TYPICAL_VALUES),
        st.text(alphabet=TEXT_ALPHABET + delimiter, max_size=12),
    )


@st.composite
def messy_csv(draw) -> tuple[bytes, str, int, int]:
    """(file bytes, encoding, data records of a table file, records with an item if read as baskets)."""
    delimiter = draw(st.sampled_from(DELIMITERS))
    # Half of the headers have a user and a topic column somewhere, so most files get past the
    # header and the rows themselves are exercised; the other half are anything at all.
    header = draw(st.lists(st.sampled_from(HEADER_NAMES), min_size=2, max_size=6, unique=True))
    if draw(st.booleans()):
        for names in (USER_NAMES, TOPIC_NAMES):
            if not set(names) & set(header):
                header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(names)))
    width = len(header)
    value = values(delimiter)
    good_row = st.lists(value, min_size=width, max_size=width)
    garbage_row = st.integers(1, width + 3).flatmap(lambda n: st.lists(value, min_size=n, max_size=n))
    rows = draw(st.lists(st.one_of(good_row, good_row, good_row, garbage_row), max_size=30))
    # Exact duplicates: repeat some rows later in the file.
    for index in draw(st.lists(st.integers(0, max(len(rows) - 1, 0)), max_size=6)) if rows else []:
        rows.insert(draw(st.integers(index, len(rows))), list(rows[index]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    not_a_field_separator = " \t".replace(delimiter, "")
    for line in draw(st.lists(st.sampled_from(BLANK_LINES), max_size=2)):
        out.write(line + newline)
    writer.writerow(header)
    data_records = 0
    item_records = 1 if any(name.strip() for name in header) else 0  # as baskets, the header is a basket
    for row in rows:
        for line in draw(st.lists(st.sampled_from(BLANK_LINES), max_size=2)):
            out.write(line + newline)
            data_records += bool(line.strip(not_a_field_separator))  # " \t " is a row when tabs separate fields
        start = out.tell()
        writer.writerow(row)
        written = out.getvalue()[start:]
        # csv writes [" "] as a line of spaces: a blank line, not a row.
        data_records += bool(written.strip("\r\n").strip(not_a_field_separator))
        item_records += any(field.strip() for field in row)
    text = out.getvalue()

    fitting = [name for name in ENCODINGS if _encodes(text, name)]
    encoding = draw(st.sampled_from(fitting))
    return text.encode(encoding), encoding, data_records, item_records


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _state(ws) -> tuple:
    files = sorted(
        (str(p.relative_to(ws.home)), p.read_bytes() if p.is_file() else b"")
        for p in ws.home.rglob("*")
        if not p.name.startswith("reach.db")
    )
    return [d.as_json() for d in ws.datasets()], files, ws.active_dataset_id()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(messy_csv())
def test_intake_conserves_rows_or_refuses_with_one_line(case):
    content, _encoding, data_records, item_records = case
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        ws = open_workspace(home / "ws", with_demo=False)
        seed = home / "seed.csv"
        seed.write_text("user_id,topic\nu0,seed\n", encoding="utf-8")
        ingest(ws, [seed])
        before = _state(ws)
        path = home / "export.csv"
        path.write_bytes(content)

        try:
            report = ingest(ws, [path])
        except IngestError as exc:
            message = str(exc)
            assert message and "\n" not in message and "\r" not in message
            assert _state(ws) == before
            return

        summary = report.as_json()
        [file_report] = report.files
        assert summary["rows_read"] == (
            summary["rows_accepted"] + summary["rows_rejected"] + summary["duplicates_removed"]
        )
        assert sum(summary["reasons"].values()) == summary["rows_rejected"]
        if file_report.kind == "baskets" and not file_report.mapping:  # one basket per line
            assert summary["rows_read"] == item_records
        else:
            assert summary["rows_read"] == data_records
        assert ws.active_dataset_id() == report.dataset_id
        rejected = ws.load_rejected()
        assert len(rejected) == summary["rows_rejected"]
        if file_report.kind == "users":
            assert len(ws.load_users()) == summary["rows_accepted"]
        elif file_report.mapping:
            assert len(ws.load_events()) == summary["rows_accepted"]
