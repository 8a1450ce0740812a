"""Tests for ``python -m core``: the command-line contract, run as a real subprocess."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CONTRACT_KEYS = {
    "dataset_id",
    "kind",
    "rows_read",
    "rows_accepted",
    "rows_rejected",
    "duplicates_removed",
    "reasons",
    "encoding",
    "delimiter",
    "mapping",
}
FILE_KEYS = CONTRACT_KEYS - {"dataset_id"} | {"file", "notes"}


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "reach-home"


@pytest.fixture
def reach(home):
    """Run ``python -m core ARGS`` against a fresh workspace without the demo."""

    def run(*args: str | Path) -> subprocess.CompletedProcess:
        env = {**os.environ, "REACH_HOME": str(home), "REACH_DEMO": "0", "PYTHONIOENCODING": "utf-8"}
        return subprocess.run(
            [sys.executable, "-m", "core", *map(str, args)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=300,
        )

    return run


def ok_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    [line] = result.stdout.splitlines()  # one JSON object on one line
    return json.loads(line)


def fails_with_one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def test_ingest_json_is_the_contract(reach, write_file):
    text = "用户ID;时间;行为;话题\nu1;2024-03-05 14:00:00;点赞;健身\nu1;2024-03-05 14:00:00;点赞;健身\n;2024-03-05;评论;护肤\n"
    path = write_file("weibo.csv", text.encode("gbk"))

    out = ok_json(reach("ingest", path, "--json"))
    assert set(out) == CONTRACT_KEYS
    assert out == {
        "dataset_id": 1,
        "kind": "events",
        "rows_read": 3,
        "rows_accepted": 1,
        "rows_rejected": 1,
        "duplicates_removed": 1,
        "reasons": {"empty user id": 1},
        "encoding": "gb18030",
        "delimiter": ";",
        "mapping": {"user_id": "用户ID", "timestamp": "时间", "action": "行为", "topic": "话题"},
    }


def test_several_paths_form_one_dataset_with_a_files_list(reach, write_file):
    events = write_file("events.csv", "uid,topic,action\nu1,fitness,like\nu2,food,view\nu2,food,view\n")
    users = write_file("users.tsv", "user_id\tage\tgender\nu1\t30\tF\nu2\t200\tM\n")

    out = ok_json(reach("ingest", events, users, "--name", "spring", "--json"))
    assert set(out) == CONTRACT_KEYS | {"files"}
    assert [set(f) for f in out["files"]] == [FILE_KEYS, FILE_KEYS]
    assert [(f["file"], f["kind"], f["delimiter"], f["rows_read"], f["rows_accepted"]) for f in out["files"]] == [
        ("events.csv", "events", ",", 3, 2),
        ("users.tsv", "users", "\t", 2, 2),
    ]
    assert out["files"][1]["notes"] == ["1 ages outside 10-110 left empty"]
    for key in ("rows_read", "rows_accepted", "rows_rejected", "duplicates_removed"):
        assert out[key] == sum(f[key] for f in out["files"])
    assert (out["rows_read"], out["rows_accepted"], out["duplicates_removed"]) == (5, 4, 1)
    assert out["mapping"] == {"user_id": "uid", "action": "action", "topic": "topic", "age": "age", "gender": "gender"}

    listing = ok_json(reach("datasets", "--json"))
    assert listing["active"] == out["dataset_id"]
    [entry] = listing["datasets"]
    assert (entry["name"], entry["kind"], entry["events"], entry["users"], entry["active"]) == (
        "spring",
        "events",
        2,
        2,
        True,
    )


def test_map_overrides_columns_and_a_bad_map_is_one_line(reach, write_file):
    path = write_file("odd.csv", "who,what,did\nu1,Fitness,like\nu2,food,share\n")
    line = fails_with_one_line(reach("ingest", path, "--json"))
    assert "columns seen: who, what, did" in line

    out = ok_json(reach("ingest", path, "--map", "user_id=who", "--map", "topic=what", "action=did", "--json"))
    assert out["mapping"] == {"user_id": "who", "topic": "what", "action": "did"}
    assert out["rows_accepted"] == 2

    bad_maps = {
        "user_id=nope": "error: odd.csv: column 'nope' (mapped to user_id) is not in the file; "
        "columns seen: who, what, did",
        "user_id": "error: --map takes CANONICAL=COLUMN, got 'user_id'",
        "person=who": "error: --map 'person=who': 'person' is not one of user_id, timestamp, action, topic, "
        "platform, age, gender, region, transaction_id, item",
    }
    for pair, expected in bad_maps.items():
        assert fails_with_one_line(reach("ingest", path, "--map", pair, "--json")) == expected


def test_kind_overrides_the_guess(reach, write_file):
    # One basket per line: the repeated line is a second shopper, not a duplicate.
    baskets = write_file("groceries.csv", "bread,milk,eggs\nbeer,chips,salsa\nbread,milk,eggs\n")
    out = ok_json(reach("ingest", baskets, "--kind", "baskets", "--json"))
    assert (out["kind"], out["rows_read"], out["rows_accepted"], out["duplicates_removed"]) == ("baskets", 3, 3, 0)
    assert out["mapping"] == {}

    users = write_file("members.csv", "member,region\nm1,north\nm2,south\n")
    out = ok_json(reach("ingest", users, "--kind", "users", "--json"))
    assert (out["kind"], out["rows_accepted"], out["mapping"]) == (
        "users",
        2,
        {"user_id": "member", "region": "region"},
    )


UNUSABLE = {
    "empty.csv": (b"", "error: empty.csv is empty: there is no header and no rows to import"),
    "logo.png": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        "error: logo.png looks like a binary file",
    ),
    "nouser.csv": (b"foo;bar;topic\n1;2;x\n", "error: nouser.csv: no user column found"),
    "late.csv": (
        b"user_id,topic\n" + b"u1,x\n" * 120_000 + b"u2,\xff\xfe\n" + b"u3,y\n" * 10,
        "error: late.csv: part of the file is not valid utf-8 text",
    ),
}


def test_unusable_input_exits_2_with_one_line_and_changes_nothing(reach, write_file, home, tmp_path):
    ok_json(reach("ingest", write_file("good.csv", "user_id,topic\nu1,x\n"), "--json"))
    before = ok_json(reach("datasets", "--json"))
    files_before = sorted(str(p.relative_to(home)) for p in home.rglob("*"))

    for name, (content, expected) in UNUSABLE.items():
        line = fails_with_one_line(reach("ingest", write_file(name, content), "--json"))
        assert line.startswith(expected), (name, line)
    assert fails_with_one_line(reach("ingest", tmp_path / "nowhere.csv")) == "error: nowhere.csv: no such file"

    assert ok_json(reach("datasets", "--json")) == before
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == files_before


def test_datasets_lists_the_catalogue_with_the_active_one_marked(reach, write_file):
    empty = ok_json(reach("datasets", "--json"))
    assert empty == {"active": None, "datasets": []}

    # Without --json, ingest speaks to people.
    result = reach("ingest", write_file("a.csv", "user_id,topic\nu1,x\n,y\n"))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "dataset 1 (events): a.csv — now active"
    assert lines[1] == "  rows read 2 = accepted 1 + rejected 1 + duplicates 0"
    assert "  rejected, empty user id: 1" in lines

    second = ok_json(reach("ingest", write_file("b.csv", "user_id,topic\nu1,x\nu2,y\n"), "--name", "second", "--json"))
    listing = ok_json(reach("datasets", "--json"))
    assert listing["active"] == second["dataset_id"] == 2
    assert [
        (d["dataset_id"], d["name"], d["events"], d["rows_rejected"], d["active"], d["demo"])
        for d in listing["datasets"]
    ] == [
        (2, "second", 2, 0, True, False),
        (1, "a.csv", 1, 1, False, False),
    ]

    human = reach("datasets")
    assert human.returncode == 0
    lines = human.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("*   2  second  (events; 2 events, 2 users;")
    assert lines[1].startswith("    1  a.csv  (events; 1 events, 1 users;")


def test_a_too_new_workspace_is_one_line_too(reach, home):
    ok_json(reach("datasets", "--json"))
    with sqlite3.connect(home / "reach.db") as con:
        con.execute("INSERT INTO schema_version (version) VALUES (999)")
    line = fails_with_one_line(reach("datasets", "--json"))
    assert "has schema version 999, newer than this Reach" in line


def test_template_render_prints_text_passes_and_reasons(reach):
    out = ok_json(
        reach("template", "render", "Into {{ top_interest }}? {{ product }} is for you. {{ link }}", "--json")
    )
    assert out == {
        "text": "Into healthy living? our marine collagen is for you. https://meadowpantry.example",
        "passes": True,
        "reasons": [],
    }
    short = ok_json(reach("template", "render", "Hi{{ '' }}", "--json"))
    assert short == {"text": "Hi", "passes": False, "reasons": ["too short (2 characters, at least 15)"]}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "{% for c in 'a' * 2000 %}{% for d in 'a' * 2000 %}{% for e in 'a' * 2000 %}{% endfor %}{% endfor %}{% endfor %}",
            "was stopped",
        ),
        ("{{ 9**999999 }}", "too big a number"),
        ("{{ product", "line 1:"),
    ],
)
def test_template_render_of_a_template_that_cannot_render_is_one_line(reach, body, expected):
    line = fails_with_one_line(reach("template", "render", body, "--json"))
    assert expected in line
