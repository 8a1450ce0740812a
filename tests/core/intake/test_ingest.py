"""Tests for core.intake.ingest: small hand-built exports with exactly known outcomes.

Every test looks at what the operator gets: the report's counts and reasons, the mapping, the
rows stored in the workspace, the rejected rows with their raw text, the messages.
"""

from __future__ import annotations

import codecs
import random

import pandas as pd
import pytest

import core.intake.ingest
from core.intake.ingest import IngestError, ingest
from core.intake.inspection import inspect_file

EVENT_COLUMNS = ["user_id", "timestamp", "action", "topic", "platform"]


def stored_events(ws, dataset_id=None) -> list[tuple]:
    """Stored events as (user, timestamp text or None, action, topic) in file order."""
    frame = ws.load_events(dataset_id)
    assert list(frame.columns) == EVENT_COLUMNS
    return [
        (row.user_id, None if pd.isna(row.timestamp) else str(row.timestamp), row.action, row.topic)
        for row in frame.itertuples(index=False)
    ]


def stored_rejects(ws, dataset_id=None) -> list[tuple[str, str]]:
    """Rejected rows as (reason, raw row text)."""
    frame = ws.load_rejected(dataset_id)
    if frame.empty:
        return []
    return list(zip(frame["reason"], frame["row"], strict=True))


def conserved(report: dict) -> bool:
    return report["rows_read"] == report["rows_accepted"] + report["rows_rejected"] + report["duplicates_removed"]


# -- encodings and delimiters ------------------------------------------------------------------


def test_gbk_export_with_chinese_headers_and_semicolons(workspace, write_file):
    text = (
        "用户ID;时间;行为;话题\n"
        "u1;2024-03-05 14:00:00;点赞;健康饮食\n"
        "u2;2024-03-06 09:30:00;评论;健身\n"
        "u3;2024-03-07 20:15:00;转发;护肤\n"
    )
    path = write_file("weibo.csv", text.encode("gbk"))

    info = inspect_file(path)
    assert (info.encoding, info.delimiter, info.kind) == ("gb18030", ";", "events")
    assert info.columns == ["用户ID", "时间", "行为", "话题"]
    assert info.mapping == {"user_id": "用户ID", "timestamp": "时间", "action": "行为", "topic": "话题"}

    report = ingest(workspace, [path])
    assert report.as_json() == {
        "dataset_id": 1,
        "kind": "events",
        "rows_read": 3,
        "rows_accepted": 3,
        "rows_rejected": 0,
        "duplicates_removed": 0,
        "reasons": {},
        "encoding": "gb18030",
        "delimiter": ";",
        "mapping": {"user_id": "用户ID", "timestamp": "时间", "action": "行为", "topic": "话题"},
    }
    assert stored_events(workspace) == [
        ("u1", "2024-03-05 14:00:00", "点赞", "健康饮食"),
        ("u2", "2024-03-06 09:30:00", "评论", "健身"),
        ("u3", "2024-03-07 20:15:00", "转发", "护肤"),
    ]
    # The original upload is kept byte for byte.
    [kept] = workspace.uploads(report.dataset_id)
    assert kept.name == "weibo.csv"
    assert kept.read_bytes() == path.read_bytes()


def test_utf8_with_bom_does_not_leak_into_the_first_column_name(workspace, write_file):
    path = write_file("bom.csv", codecs.BOM_UTF8 + b"user_id,action,topic\nu1,like,fitness\nu2,view,skincare\n")

    info = inspect_file(path)
    assert info.encoding == "utf-8-sig"
    assert info.columns == ["user_id", "action", "topic"]

    report = ingest(workspace, [path]).as_json()
    assert (report["rows_read"], report["rows_accepted"]) == (2, 2)
    assert report["mapping"] == {"user_id": "user_id", "action": "action", "topic": "topic"}
    assert stored_events(workspace) == [("u1", None, "like", "fitness"), ("u2", None, "view", "skincare")]


def test_utf16_with_bom_and_tab_delimiter(workspace, write_file):
    text = "user_id\taction\ttopic\nu1\tlike\t健身\nu2\tview\tcafé\n"
    path = write_file("export.tsv", text.encode("utf-16"))
    assert path.read_bytes()[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

    report = ingest(workspace, [path]).as_json()
    assert (report["encoding"], report["delimiter"]) == ("utf-16", "\t")
    assert (report["rows_read"], report["rows_accepted"], report["rows_rejected"]) == (2, 2, 0)
    assert stored_events(workspace) == [("u1", None, "like", "健身"), ("u2", None, "view", "café")]


def test_latin1_with_accents_and_pipe_delimiter(workspace, write_file):
    text = "user|action|topic\nu1|like|café crème\nu2|view|Müsli\nu3|share|naïve\nu4|like|Crêpe\n"
    path = write_file("western.csv", text.encode("latin-1"))

    report = ingest(workspace, [path]).as_json()
    # cp1252 is a superset of latin-1 for every printable character: both decode this file alike.
    assert report["encoding"] in ("latin_1", "cp1252")
    assert report["delimiter"] == "|"
    assert report["mapping"] == {"user_id": "user", "action": "action", "topic": "topic"}
    # Topics keep the export's spelling, accents and capitals alike.
    assert [row[3] for row in stored_events(workspace)] == ["café crème", "Müsli", "naïve", "Crêpe"]


def test_quoted_fields_may_hold_the_delimiter_quotes_and_a_newline(workspace, write_file):
    path = write_file(
        "quoted.csv",
        'user_id,action,topic\nu1,like,"fitness, gym"\nu2,view,"line one\nline two"\nu3,share,"say ""hi"""\n',
    )
    report = ingest(workspace, [path]).as_json()
    assert (report["rows_read"], report["rows_accepted"], report["rows_rejected"]) == (3, 3, 0)
    assert stored_events(workspace) == [
        ("u1", None, "like", "fitness, gym"),
        ("u2", None, "view", "line one\nline two"),
        ("u3", None, "share", 'say "hi"'),
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_blank_lines_are_not_rows(workspace, write_file, newline):
    lines = ["", "user_id,action,topic", "", "u1,like,a", "", "", "u2,like,b", "", "u3,like,c", "", ""]
    path = write_file("blank.csv", newline.join(lines))

    report = ingest(workspace, [path]).as_json()
    assert (report["rows_read"], report["rows_accepted"], report["rows_rejected"]) == (3, 3, 0)
    assert [row[0] for row in stored_events(workspace)] == ["u1", "u2", "u3"]


def test_whitespace_only_lines_are_blank_lines_too(workspace, write_file):
    path = write_file("spaces.csv", "  \nuser_id,action,topic\n   \nu1,like,a\n \t \nu2,like,b\n  \n")

    report = ingest(workspace, [path]).as_json()
    assert report["reasons"] == {}
    assert (report["rows_read"], report["rows_accepted"]) == (2, 2)
    assert [row[0] for row in stored_events(workspace)] == ["u1", "u2"]


def test_every_column_is_read_as_text(workspace, write_file, monkeypatch):
    # Type inference would store the id "007" as "7.0", and a later block that does not fit the
    # type of the first one ("abc" after numbers) would fail the whole import.
    monkeypatch.setattr(core.intake.ingest, "BLOCK_SIZE", 256)
    rows = [f"{i:03d},like,1709647200,t{i}" for i in range(1, 60)] + ["abc,like,not a time,t0", ",like,1709647200,t1"]
    path = write_file("ids.csv", "user_id,action,timestamp,topic\n" + "\n".join(rows) + "\n")

    report = ingest(workspace, [path]).as_json()
    assert report["reasons"] == {"unparseable timestamp": 1, "empty user id": 1}
    events = stored_events(workspace)
    assert events[0] == ("001", "2024-03-05 14:00:00", "like", "t1")
    assert [e[0] for e in events] == [f"{i:03d}" for i in range(1, 60)]
    assert stored_rejects(workspace) == [
        ("unparseable timestamp", "abc,like,not a time,t0"),
        ("empty user id", ",like,1709647200,t1"),
    ]


# -- timestamps ------------------------------------------------------------------------------


def test_timestamp_formats_offsets_and_impossible_dates(workspace, write_file):
    values = {
        "u01": "2024-03-05T14:00:00Z",
        "u02": "2024-03-05T14:00:00+08:00",  # 06:00 UTC
        "u03": "2024-03-05T14:00:00",  # no offset: kept as written
        "u04": "2024/03/05 14:00",
        "u05": "1709647200",  # unix seconds
        "u06": "1709647200000",  # unix milliseconds
        "u07": "2024-03-05 23:59:59.250",
        "u08": "2023-02-30",  # no such day
        "u09": "1850-06-01",
        "u10": "2999-01-01 00:00",
        "u11": "",
        "u12": "yesterday",
        "u13": "2024-03-05T14:00:00-05:00",  # 19:00 UTC
        "u14": "1709647200250",  # unix milliseconds that are not whole seconds, beside u05's seconds
    }
    body = "".join(f"{user},like,fitness,{ts}\n" for user, ts in values.items())
    path = write_file("times.csv", "user_id,action,topic,timestamp\n" + body)

    report = ingest(workspace, [path]).as_json()
    assert report["rows_read"] == 14
    assert report["reasons"] == {
        "unparseable timestamp": 2,
        "timestamp out of range": 2,
        "empty timestamp": 1,
    }
    assert (report["rows_accepted"], report["rows_rejected"], report["duplicates_removed"]) == (9, 5, 0)
    assert {e[0]: e[1] for e in stored_events(workspace)} == {
        "u01": "2024-03-05 14:00:00",
        "u02": "2024-03-05 06:00:00",
        "u03": "2024-03-05 14:00:00",
        "u04": "2024-03-05 14:00:00",
        "u05": "2024-03-05 14:00:00",
        "u06": "2024-03-05 14:00:00",
        "u07": "2024-03-05 23:59:59.250000",
        "u13": "2024-03-05 19:00:00",
        "u14": "2024-03-05 14:00:00.250000",
    }
    assert sorted(stored_rejects(workspace)) == [
        ("empty timestamp", "u11,like,fitness,"),
        ("timestamp out of range", "u09,like,fitness,1850-06-01"),
        ("timestamp out of range", "u10,like,fitness,2999-01-01 00:00"),
        ("unparseable timestamp", "u08,like,fitness,2023-02-30"),
        ("unparseable timestamp", "u12,like,fitness,yesterday"),
    ]


def test_day_first_is_decided_per_file(workspace, write_file):
    # "04/03/2024" is ambiguous; the other dates of each file settle which reading it gets.
    day_first = write_file(
        "eu.csv", "user_id,topic,timestamp\nu1,t,25/03/2024\nu2,t,04/03/2024 10:30\nu3,t,13/12/2024\n"
    )
    month_first = write_file(
        "us.csv", "user_id,topic,timestamp\nu1,t,03/25/2024\nu2,t,04/03/2024 10:30\nu3,t,12/13/2024\n"
    )

    eu = ingest(workspace, [day_first])
    assert {e[0]: e[1] for e in stored_events(workspace, eu.dataset_id)} == {
        "u1": "2024-03-25 00:00:00",
        "u2": "2024-03-04 10:30:00",
        "u3": "2024-12-13 00:00:00",
    }
    assert "dates read day first (dd/mm)" in eu.files[0].notes

    us = ingest(workspace, [month_first])
    assert {e[0]: e[1] for e in stored_events(workspace, us.dataset_id)} == {
        "u1": "2024-03-25 00:00:00",
        "u2": "2024-04-03 10:30:00",
        "u3": "2024-12-13 00:00:00",
    }
    assert "dates read month first (mm/dd)" in us.files[0].notes


def test_day_first_with_two_digit_years(workspace, write_file):
    path = write_file("short.csv", "user_id,topic,timestamp\nu1,t,25/03/24\nu2,t,01/02/24 08:00\n")
    report = ingest(workspace, [path])
    assert report.as_json()["reasons"] == {}
    assert stored_events(workspace) == [
        ("u1", "2024-03-25 00:00:00", "view", "t"),
        ("u2", "2024-02-01 08:00:00", "view", "t"),
    ]


def test_day_first_decision_holds_for_later_blocks(workspace, write_file, monkeypatch):
    # The first block proves day-first; later blocks hold only ambiguous dates and must not
    # fall back to month-first on their own.
    monkeypatch.setattr(core.intake.ingest, "BLOCK_SIZE", 512)
    rows = [f"a{i},t,25/03/2024" for i in range(20)] + [f"b{i},t,01/02/2024" for i in range(400)]
    path = write_file("blocks.csv", "user_id,topic,timestamp\n" + "\n".join(rows) + "\n")

    ingest(workspace, [path])
    stamps = {e[1] for e in stored_events(workspace) if e[0].startswith("b")}
    assert stamps == {"2024-02-01 00:00:00"}


# -- duplicates, rejects, conservation ---------------------------------------------------------


def test_duplicates_and_every_reject_reason_are_counted(workspace, write_file):
    text = (
        "user_id,action,topic,timestamp\n"
        "u1,like,fitness,2024-01-01 10:00\n"
        "u1,like,fitness,2024-01-01 10:00\n"  # exact duplicate
        ",like,fitness,2024-01-01 10:00\n"  # empty user id
        ",like,fitness,2024-01-01 10:00\n"  # duplicate of a rejected row: a duplicate
        "u2,,fitness,2024-01-01 10:00\n"
        "u3,like,,2024-01-01 10:00\n"
        "u4,like,#Fitness,2024-01-01 11:00\n"  # hashtag folded to the topic
        "u5,like,fitness,2023-02-30\n"
        "u6,like,fitness,1850-01-01\n"
        "u7,like,fitness,\n"
        "u8,like\n"
        "u9,like,fitness,2024-01-01 10:00,extra\n"
        "u1,LIKE,fitness,2024-01-01 10:00\n"  # not an exact duplicate: kept
    )
    path = write_file("messy.csv", text)

    report = ingest(workspace, [path]).as_json()
    assert report == {
        "dataset_id": 1,
        "kind": "events",
        "rows_read": 13,
        "rows_accepted": 3,
        "rows_rejected": 8,
        "duplicates_removed": 2,
        "reasons": {
            "wrong number of fields": 2,
            "empty user id": 1,
            "empty action": 1,
            "empty topic": 1,
            "unparseable timestamp": 1,
            "timestamp out of range": 1,
            "empty timestamp": 1,
        },
        "encoding": "utf-8",
        "delimiter": ",",
        "mapping": {"user_id": "user_id", "timestamp": "timestamp", "action": "action", "topic": "topic"},
    }
    assert conserved(report)
    assert stored_events(workspace) == [
        ("u1", "2024-01-01 10:00:00", "like", "fitness"),
        ("u4", "2024-01-01 11:00:00", "like", "fitness"),
        ("u1", "2024-01-01 10:00:00", "like", "fitness"),
    ]
    assert sorted(stored_rejects(workspace)) == sorted(
        [
            ("empty user id", ",like,fitness,2024-01-01 10:00"),
            ("empty action", "u2,,fitness,2024-01-01 10:00"),
            ("empty topic", "u3,like,,2024-01-01 10:00"),
            ("unparseable timestamp", "u5,like,fitness,2023-02-30"),
            ("timestamp out of range", "u6,like,fitness,1850-01-01"),
            ("empty timestamp", "u7,like,fitness,"),
            ("wrong number of fields", "u8,like"),
            ("wrong number of fields", "u9,like,fitness,2024-01-01 10:00,extra"),
        ]
    )
    assert set(workspace.load_rejected()["file"]) == {"messy.csv"}
    # The catalogue keeps the same figures.
    entry = workspace.dataset(1).as_json()
    assert (entry["rows_read"], entry["rows_accepted"], entry["rows_rejected"], entry["duplicates_removed"]) == (
        13,
        3,
        8,
        2,
    )
    assert (entry["events"], entry["users"]) == (3, 2)


def test_without_action_column_every_row_is_a_view(workspace, write_file):
    path = write_file("views.csv", "uid,category\nu1,Fitness\nu2,skincare\n")
    report = ingest(workspace, [path])
    assert stored_events(workspace) == [("u1", None, "view", "Fitness"), ("u2", None, "view", "skincare")]
    assert report.files[0].notes == ["no action column: every row counted as 'view'"]


# -- user tables -------------------------------------------------------------------------------


def test_user_table_with_id_column(workspace, write_file):
    text = (
        "user_id,age,gender,region,spend\n"
        "u1,25,F,Beijing,10.5\n"
        "u2,5,male,Shanghai,3\n"  # age 5: left empty
        "u3,130,女,,7\n"  # age 130: left empty
        "u4,40,x,Paris,1\n"
        "u5,33,男性,Guangzhou,2\n"
        "u6,61,Female,Chengdu,0\n"
        "u7,29,M,Wuhan,4\n"
        "u8,52,woman,Xi'an,8\n"
        "u1,30,M,X,2\n"  # listed twice
        ",20,f,Y,1\n"
    )
    path = write_file("users.csv", text)

    info = inspect_file(path)
    assert info.kind == "users"
    report = ingest(workspace, [path])
    summary = report.as_json()
    assert summary["kind"] == "users"
    assert summary["mapping"] == {"user_id": "user_id", "age": "age", "gender": "gender", "region": "region"}
    assert (summary["rows_read"], summary["rows_accepted"], summary["rows_rejected"]) == (10, 8, 2)
    assert summary["reasons"] == {"user id listed twice": 1, "empty user id": 1}
    assert report.files[0].notes == ["2 ages outside 10-110 left empty"]

    users = workspace.load_users()
    assert list(users.columns) == ["user_id", "age", "gender", "region", "spend"]
    assert users["user_id"].tolist() == ["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"]
    assert users["age"].tolist() == [25, pd.NA, pd.NA, 40, 33, 61, 29, 52]
    assert users["gender"].tolist() == ["female", "male", "female", "other", "male", "female", "male", "female"]
    assert users["region"].tolist() == ["Beijing", "Shanghai", pd.NA, "Paris", "Guangzhou", "Chengdu", "Wuhan", "Xi'an"]
    assert users["spend"].tolist() == [10.5, 3, 7, 1, 2, 0, 4, 8]
    assert sorted(stored_rejects(workspace)) == [
        ("empty user id", ",20,f,Y,1"),
        ("user id listed twice", "u1,30,M,X,2"),
    ]
    assert workspace.dataset(report.dataset_id).n_users == 8


def test_user_table_without_id_column_gets_stable_row_ids(workspace, write_file):
    text = "年龄,性别,城市\n25,女,北京\n33,男,上海\n47,F,武汉\n"
    path = write_file("people.csv", text)

    first = ingest(workspace, [path])
    assert first.as_json()["mapping"] == {"age": "年龄", "gender": "性别", "region": "城市"}
    users = workspace.load_users(first.dataset_id)
    assert users["user_id"].tolist() == ["row-1", "row-2", "row-3"]
    assert users["gender"].tolist() == ["female", "male", "female"]
    assert users["region"].tolist() == ["北京", "上海", "武汉"]

    again = ingest(workspace, [path])
    assert workspace.load_users(again.dataset_id)["user_id"].tolist() == ["row-1", "row-2", "row-3"]


# -- baskets -----------------------------------------------------------------------------------


def test_long_form_baskets_become_purchase_events(workspace, write_file):
    path = write_file("orders.csv", "order_id,product\nT1,Milk\nT1,Bread\nT2,milk\nT2,\n,eggs\nT1,Milk\n")

    report = ingest(workspace, [path]).as_json()
    assert report["kind"] == "baskets"
    assert report["mapping"] == {"transaction_id": "order_id", "item": "product"}
    assert (report["rows_read"], report["rows_accepted"], report["rows_rejected"], report["duplicates_removed"]) == (
        6,
        3,
        2,
        1,
    )
    assert report["reasons"] == {"empty item": 1, "empty transaction id": 1}
    # "Milk" and "milk" are one item, spelled as first written (each is bought once).
    assert stored_events(workspace) == [
        ("T1", None, "purchase", "Milk"),
        ("T1", None, "purchase", "Bread"),
        ("T2", None, "purchase", "Milk"),
    ]
    assert sorted(stored_rejects(workspace)) == [("empty item", "T2,"), ("empty transaction id", ",eggs")]


def test_one_basket_per_line_without_header(workspace, write_file):
    text = (
        "citrus fruit,semi-finished bread,margarine,ready soups\n"
        "tropical fruit,yogurt,coffee\n"
        "whole milk\n"
        "\n"
        "pip fruit,yogurt,cream cheese ,meat spreads\n"
        "tropical fruit,yogurt,coffee\n"  # the same basket again: another shopper, not a duplicate
    )
    path = write_file("groceries.csv", text)

    info = inspect_file(path)
    assert (info.kind, info.per_line_baskets, info.mapping) == ("baskets", True, {})
    report = ingest(workspace, [path]).as_json()
    assert (report["rows_read"], report["rows_accepted"], report["rows_rejected"], report["duplicates_removed"]) == (
        5,
        5,
        0,
        0,
    )
    assert stored_events(workspace) == [
        ("b1", None, "purchase", "citrus fruit"),
        ("b1", None, "purchase", "semi-finished bread"),
        ("b1", None, "purchase", "margarine"),
        ("b1", None, "purchase", "ready soups"),
        ("b2", None, "purchase", "tropical fruit"),
        ("b2", None, "purchase", "yogurt"),
        ("b2", None, "purchase", "coffee"),
        ("b3", None, "purchase", "whole milk"),
        ("b4", None, "purchase", "pip fruit"),
        ("b4", None, "purchase", "yogurt"),
        ("b4", None, "purchase", "cream cheese"),
        ("b4", None, "purchase", "meat spreads"),
        ("b5", None, "purchase", "tropical fruit"),
        ("b5", None, "purchase", "yogurt"),
        ("b5", None, "purchase", "coffee"),
    ]


def test_kind_baskets_forces_one_basket_per_line(workspace, write_file):
    # Every line has three items, so nothing says "baskets" on its own.
    path = write_file("same_width.csv", "bread,milk,eggs\nbeer,chips,salsa\n")
    report = ingest(workspace, [path], kind="baskets").as_json()
    assert report["kind"] == "baskets"
    assert [(e[0], e[3]) for e in stored_events(workspace)] == [
        ("b1", "bread"),
        ("b1", "milk"),
        ("b1", "eggs"),
        ("b2", "beer"),
        ("b2", "chips"),
        ("b2", "salsa"),
    ]


# -- several files, mapping overrides -----------------------------------------------------------


def test_events_and_user_table_form_one_active_dataset(workspace, write_file):
    events = write_file(
        "events.csv",
        "uid,topic,action,time\nu1,fitness,like,2024-01-01 10:00\n"
        "u2,skincare,view,2024-01-02 11:00\nu2,skincare,view,2024-01-02 11:00\n"
        ",x,like,2024-01-01\n",
    )
    users = write_file("users.csv", "用户ID;年龄;性别;城市\nu1;30;女;北京\nu2;45;男;上海\n".encode("gbk"))
    earlier = ingest(workspace, [write_file("old.csv", "user_id,topic\nu9,x\n")])
    assert workspace.active_dataset_id() == earlier.dataset_id

    report = ingest(workspace, [events, users], name="shop")
    summary = report.as_json()
    events_json = {
        "file": "events.csv",
        "kind": "events",
        "rows_read": 4,
        "rows_accepted": 2,
        "rows_rejected": 1,
        "duplicates_removed": 1,
        "reasons": {"empty user id": 1},
        "encoding": "utf-8",
        "delimiter": ",",
        "mapping": {"user_id": "uid", "timestamp": "time", "action": "action", "topic": "topic"},
        "notes": [],
    }
    users_json = {
        "file": "users.csv",
        "kind": "users",
        "rows_read": 2,
        "rows_accepted": 2,
        "rows_rejected": 0,
        "duplicates_removed": 0,
        "reasons": {},
        "encoding": "gb18030",
        "delimiter": ";",
        "mapping": {"user_id": "用户ID", "age": "年龄", "gender": "性别", "region": "城市"},
        "notes": [],
    }
    assert summary == {
        "dataset_id": 2,
        "kind": "events",
        "rows_read": 6,
        "rows_accepted": 4,
        "rows_rejected": 1,
        "duplicates_removed": 1,
        "reasons": {"empty user id": 1},
        "encoding": "utf-8",
        "delimiter": ",",
        "mapping": {
            "user_id": "uid",
            "timestamp": "time",
            "action": "action",
            "topic": "topic",
            "age": "年龄",
            "gender": "性别",
            "region": "城市",
        },
        "files": [events_json, users_json],
    }
    assert workspace.active_dataset_id() == 2
    assert [(d.id, d.name, d.active) for d in workspace.datasets()] == [(2, "shop", True), (1, "old.csv", False)]
    assert stored_events(workspace) == [
        ("u1", "2024-01-01 10:00:00", "like", "fitness"),
        ("u2", "2024-01-02 11:00:00", "view", "skincare"),
    ]
    users_table = workspace.load_users()
    assert users_table[["user_id", "gender", "region"]].values.tolist() == [
        ["u1", "female", "北京"],
        ["u2", "male", "上海"],
    ]
    assert [p.read_bytes() for p in workspace.uploads(2)] == [events.read_bytes(), users.read_bytes()]


def test_two_uploads_with_the_same_name_are_both_kept(workspace, write_file):
    first = write_file("a/events.csv", "user_id,topic\nu1,x\n")
    second = write_file("b/events.csv", "user_id,topic\nu2,y\n")
    report = ingest(workspace, [first, second])
    kept = sorted(p.read_bytes() for p in workspace.uploads(report.dataset_id))
    assert kept == sorted([first.read_bytes(), second.read_bytes()])


def test_mapping_overrides_the_header_names(workspace, write_file):
    path = write_file("odd.csv", "who,what,did,when,category\nu1,Fitness,like,2024-01-01 10:00,food\n")

    with pytest.raises(IngestError, match="columns seen: who, what, did, when, category"):
        inspect_file(path)

    mapping = {"user_id": "who", "topic": "what", "action": "did", "timestamp": "when"}
    report = ingest(workspace, [path], mapping=mapping).as_json()
    assert report["mapping"] == {"user_id": "who", "topic": "what", "action": "did", "timestamp": "when"}
    assert stored_events(workspace) == [("u1", "2024-01-01 10:00:00", "like", "Fitness")]


def test_mapping_over_several_files_applies_where_the_column_exists(workspace, write_file):
    events = write_file("events.csv", "member,topic\nu1,x\n")
    users = write_file("users.csv", "member,age\nu1,30\n")
    report = ingest(workspace, [events, users], mapping={"user_id": "member"}).as_json()
    assert [f["mapping"] for f in report["files"]] == [
        {"user_id": "member", "topic": "topic"},
        {"user_id": "member", "age": "age"},
    ]


def test_mapping_to_a_missing_column_lists_the_columns_seen(workspace, write_file, snapshot):
    path = write_file("odd.csv", "who,what,did\nu1,t,like\n")
    before = snapshot(workspace)
    with pytest.raises(IngestError) as caught:
        ingest(workspace, [path], mapping={"user_id": "uid"})
    message = str(caught.value)
    assert message == "odd.csv: column 'uid' (mapped to user_id) is not in the file; columns seen: who, what, did"
    assert snapshot(workspace) == before


def test_mapping_missing_from_every_file_lists_the_columns_seen(workspace, write_file):
    events = write_file("events.csv", "user_id,topic\nu1,x\n")
    users = write_file("users.csv", "user_id,age\nu1,30\n")
    with pytest.raises(
        IngestError,
        match=r"column 'city' \(mapped to region\) is in none of the files; "
        r"columns seen: age, topic, user_id",
    ):
        ingest(workspace, [events, users], mapping={"region": "city"})


# -- unusable input ----------------------------------------------------------------------------

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000010000000100806000000") + bytes(range(256)) * 4
RANDOM_WITH_NULS = random.Random(7).randbytes(6000)
RANDOM_WITHOUT_NULS = bytes(b or 1 for b in random.Random(3).randbytes(4000))
LATE_BAD_BYTES = b"user_id,topic\n" + b"u1,fitness\n" * 60_000 + "u2,健身\n".encode("gbk") + b"u3,fitness\n" * 60_000


UNUSABLE = [
    ("empty.csv", b"", "empty.csv is empty: there is no header and no rows to import"),
    ("blank.csv", b"  \n\n \t \r\n", "blank.csv is empty: there is no header and no rows to import"),
    ("logo.png", PNG, "logo.png looks like a binary file"),
    ("dump.bin", RANDOM_WITH_NULS, "dump.bin looks like a binary file"),
    ("noise.bin", RANDOM_WITHOUT_NULS, "noise.bin: its text encoding could not be recognised"),
    ("nouser.csv", b"foo,bar,topic\n1,2,x\n", "nouser.csv: no user column found"),
    (
        "bom_then_junk.csv",
        codecs.BOM_UTF8 + b"user_id,topic\nu1,\xff\xfe\xfd\nu2,x\n",
        "bom_then_junk.csv: part of the file is not valid utf-8-sig text",
    ),
    ("late.csv", LATE_BAD_BYTES, "late.csv: part of the file is not valid utf-8 text"),
    ("header_only.csv", b"user_id,topic,action\n\n", "no usable rows in header_only.csv (0 read; no data rows)"),
    ("all_rejected.csv", b"user_id,topic\n,x\n,y\n", "no usable rows in all_rejected.csv (2 read; empty user id: 2)"),
]


@pytest.mark.parametrize(("name", "content", "expected"), UNUSABLE, ids=[case[0] for case in UNUSABLE])
def test_unusable_input_is_one_line_and_leaves_the_workspace_alone(
    workspace, write_file, snapshot, name, content, expected
):
    existing = ingest(workspace, [write_file("good.csv", "user_id,topic\nu1,x\n")])
    before = snapshot(workspace)
    path = write_file(name, content)

    with pytest.raises(IngestError) as caught:
        ingest(workspace, [path])
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message and "\r" not in message

    assert snapshot(workspace) == before
    assert workspace.active_dataset_id() == existing.dataset_id
    assert list((workspace.home / "tmp").iterdir()) == []


def test_no_user_column_message_names_the_columns_seen(write_file):
    path = write_file("shop.csv", "Datum;Kategorie;Aktion\n2024-01-01;food;like\n")
    with pytest.raises(IngestError) as caught:
        inspect_file(path)
    assert "columns seen: Datum, Kategorie, Aktion" in str(caught.value)
    assert "--map user_id=COLUMN" in str(caught.value)


def test_a_bad_file_among_good_ones_imports_nothing(workspace, write_file, snapshot):
    good = write_file("events.csv", "user_id,topic\nu1,x\n")
    bad = write_file("broken.csv", b"")
    before = snapshot(workspace)
    with pytest.raises(IngestError, match=r"broken\.csv is empty"):
        ingest(workspace, [good, bad])
    assert snapshot(workspace) == before
    assert workspace.datasets() == []


def test_unknown_kind_and_missing_file(workspace, write_file, tmp_path):
    path = write_file("events.csv", "user_id,topic\nu1,x\n")
    with pytest.raises(IngestError, match="kind 'logs' must be one of auto, events, users, baskets"):
        ingest(workspace, [path], kind="logs")
    with pytest.raises(IngestError, match=r"nowhere\.csv: no such file"):
        ingest(workspace, [tmp_path / "nowhere.csv"])
    with pytest.raises(IngestError, match="no file given"):
        ingest(workspace, [])


# -- a file of many blocks ---------------------------------------------------------------------


def test_many_blocks_keep_exact_counts_and_find_duplicates_across_blocks(workspace, write_file, monkeypatch):
    n = 300_000
    rows = [f"u{i % 5000},like,t{i % 7},{1_700_000_000 + i}" for i in range(n)]
    duplicates = rows[::1000]  # 300 rows seen again, most of them many blocks later
    rejected = [",like,t1,1700000000"] * 3 + ["u1,like,t1,2023-02-30", "u1,like"]
    text = "user_id,action,topic,timestamp\n" + "\n".join(rows + duplicates + rejected) + "\n"
    path = write_file("big.csv", text)
    monkeypatch.setattr(core.intake.ingest, "BLOCK_SIZE", 64 * 1024)
    fractions: list[float] = []

    report = ingest(workspace, [path], progress=lambda fraction, _message: fractions.append(fraction)).as_json()

    assert len(fractions) > 50  # really many blocks
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert report["rows_read"] == n + 300 + 5
    assert report["duplicates_removed"] == 300 + 2  # the repeated empty-user row counts as a duplicate
    assert report["rows_rejected"] == 3
    assert report["reasons"] == {"empty user id": 1, "unparseable timestamp": 1, "wrong number of fields": 1}
    assert report["rows_accepted"] == n
    assert conserved(report)
    events = workspace.load_events()
    assert len(events) == n
    assert not events.duplicated().any()
    assert events["timestamp"].min() == pd.Timestamp(1_700_000_000, unit="s")
    assert workspace.dataset(report["dataset_id"]).n_users == 5000


def test_header_with_more_fields_than_the_sample_showed(workspace, write_file):
    # A vertical tab ends a line for the sample reader but not for the CSV reader, which then
    # sees a third column; it gets a generated name and the rows still import.
    path = write_file("vt.csv", b"user_id,topic\x0b,x\nu1,t,1\nu2,t,2\n")
    report = ingest(workspace, [path]).as_json()
    assert (report["rows_read"], report["rows_accepted"], report["reasons"]) == (2, 2, {})
    assert stored_events(workspace) == [("u1", None, "view", "t"), ("u2", None, "view", "t")]


def test_a_row_with_an_over_long_field_is_rejected_with_its_reason(workspace, write_file):
    huge = "y" * 5_000_000
    path = write_file("long.csv", f"user_id,topic\nu1,x\nu2,{huge}\nu3,z\n")

    report = ingest(workspace, [path]).as_json()

    assert (report["rows_read"], report["rows_accepted"], report["rows_rejected"]) == (3, 2, 1)
    assert report["reasons"] == {"a field longer than 100,000 characters": 1}
    [(reason, row)] = stored_rejects(workspace)
    assert reason == "a field longer than 100,000 characters"
    assert row.startswith("u2,yyy") and len(row) < 1_000
    assert [e[0] for e in stored_events(workspace)] == ["u1", "u3"]


@pytest.mark.parametrize("position", ["head", "middle", "end"])
def test_a_nul_byte_refuses_the_file_wherever_it_is(workspace, write_file, position):
    rows = [b"u%d,x\n" % i for i in range(300_000)]  # about 3 MB: the middle is outside the detection sample
    at = {"head": 1, "middle": len(rows) // 2, "end": len(rows) - 1}[position]
    rows[at] = b"u0\x00,y\n"
    path = write_file("nul.csv", b"user_id,topic\n" + b"".join(rows))

    with pytest.raises(IngestError) as caught:
        ingest(workspace, [path])

    assert str(caught.value) == (
        "nul.csv looks like a binary file, not a CSV export (it contains NUL bytes); export it as CSV text"
    )
    assert workspace.datasets() == []


@pytest.mark.parametrize("ending", ["", "\n", "\r\n"])
def test_a_header_only_file_has_no_usable_rows(workspace, write_file, ending):
    path = write_file("header.csv", "user_id,topic" + ending)

    with pytest.raises(IngestError) as caught:
        ingest(workspace, [path])

    assert str(caught.value).startswith("no usable rows in header.csv (0 read")
