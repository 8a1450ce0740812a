"""``python -m core segments`` and ``python -m core rules``: the JSON contract and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.cli import main
from core.demo import open_workspace


@pytest.fixture
def home(workspace_home: Path) -> Path:
    return workspace_home


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_segments_json_and_assignments(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out_csv = tmp_path / "out" / "members.csv"
    result = run_json(capsys, "segments", "--assignments-out", str(out_csv))
    assert set(result) == {"k", "silhouette", "segments"}
    assert 4 <= result["k"] <= 6 and 0 < result["silhouette"] <= 1
    segments = result["segments"]
    assert [s["id"] for s in segments] == list(range(result["k"]))
    for s in segments:
        assert set(s) == {"id", "name", "size", "top_topics"}
        assert s["name"] and len(s["top_topics"]) >= 2
    sizes = [s["size"] for s in segments]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == 6000

    members = pd.read_csv(out_csv, encoding="utf-8-sig")
    assert list(members.columns) == ["user_id", "segment"]
    assert len(members) == 6000 and members["user_id"].is_unique
    assert members["segment"].value_counts().sort_index().tolist() == sizes


def test_fixed_k_and_stored_names(home: Path, capsys: pytest.CaptureFixture) -> None:
    from core.audience.segments import rename_segment

    result = run_json(capsys, "segments", "--k", "3")
    assert result["k"] == 3 and len(result["segments"]) == 3
    rename_segment(open_workspace(home), 1, 3, 0, "Our regulars")
    again = run_json(capsys, "segments", "--dataset", "1", "--k", "3")
    assert again["segments"][0]["name"] == "Our regulars"
    assert [s["size"] for s in again["segments"]] == [s["size"] for s in result["segments"]]


def test_rules_json(home: Path, capsys: pytest.CaptureFixture) -> None:
    result = run_json(capsys, "rules", "--min-support", "0.05", "--min-confidence", "0.5", "--max-len", "2")
    assert set(result) == {"n_transactions", "rules"}
    assert result["n_transactions"] == 6000
    assert result["rules"]
    for rule in result["rules"]:
        assert set(rule) == {"antecedents", "consequents", "support", "confidence", "lift", "leverage", "conviction"}
        assert len(rule["antecedents"]) == len(rule["consequents"]) == 1  # max_len 2
        assert rule["support"] >= 0.05 and rule["confidence"] >= 0.5
    pairs = {(r["antecedents"][0], r["consequents"][0]) for r in result["rules"]}
    assert ("fitness", "protein") in pairs  # a bundle planted in the demo


def test_rules_in_one_segment(home: Path, capsys: pytest.CaptureFixture) -> None:
    segments = run_json(capsys, "segments", "--k", "5")
    result = run_json(capsys, "rules", "--segment", "4", "--min-support", "0.1")
    assert result["n_transactions"] == segments["segments"][4]["size"]


def test_explosion_is_refused_with_advice(home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["rules", "--min-support", "0.001", "--max-len", "12"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: min_support=0.001 with max_len=12 would find")
    assert "raise min_support" in err or "set max_len" in err
    assert "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["segments", "--dataset", "99"], "dataset 99 does not exist"),
        (["segments", "--k", "1"], "k=1 must be between 2"),
        (["rules", "--segment", "42"], "segment=42 does not exist"),
    ],
)
def test_user_errors_exit_2_with_one_line(
    home: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
