"""``python -m core metrics-refresh`` and ``python -m core results``: the contract, keys exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import main
from core.delivery import outbox as publish
from core.demo import open_workspace
from tests.core.conftest import cli_json

POST_KEYS = {"post_id", "remote_id", "segment", "template", "likes", "reposts", "replies", "impressions"}


def test_refresh_and_results_keys(home: Path, no_x_keys: None, capsys: pytest.CaptureFixture) -> None:
    assert cli_json(capsys, ["metrics-refresh", "--json"]) == {"updated": 0}
    empty = cli_json(capsys, ["results", "--json"])
    assert empty == {"posts": [], "by_template": [], "by_segment": [], "recommendations": []}

    ws = open_workspace(home, with_demo=False)
    publish.add_post(ws, "Overnight oats with chia", segment="Women 18–29", template="Tip", approve=True)
    publish.add_post(ws, "Green tea and walnuts, why not", segment="55+", template="Offer", approve=True)
    publish.publish_due(ws)
    assert cli_json(capsys, ["metrics-refresh", "--json"]) == {"updated": 2}
    out = cli_json(capsys, ["results", "--json"])
    assert set(out) == {"posts", "by_template", "by_segment", "recommendations"}
    assert [set(p) for p in out["posts"]] == [POST_KEYS, POST_KEYS]
    assert [set(r) for r in out["by_template"]] == [{"template", "posts", "engagement_rate"}] * 2
    assert [set(r) for r in out["by_segment"]] == [{"segment", "posts", "engagement_rate"}] * 2
    keys = {"segment", "template", "probability_best", "channel", "measure"}
    assert [set(r) for r in out["recommendations"]] == [keys] * 2
    assert {(r["channel"], r["measure"]) for r in out["recommendations"]} == {("dry-run", "rate")}
    assert {r["segment"] for r in out["recommendations"]} == {"Women 18–29", "55+"}
    assert all(0 < r["probability_best"] <= 1 for r in out["recommendations"])

    assert main(["results"]) == 0
    human = capsys.readouterr().out
    assert "SIMULATED" in human and "too early to tell" in human
    assert "on Dry run (measured: simulated likes + reposts + replies + quotes per impression):" in human


def test_results_import_command(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "export.csv"
    path.write_text("text,likes,retweets\nOats,3,1\nKale,5,0\n", encoding="utf-8")
    assert cli_json(capsys, ["results", "import", str(path), "--json"]) == {
        "imported": 2,
        "already_there": 0,
        "rejected": [],
        "without_impressions": 2,
    }
    bad = tmp_path / "bad.csv"
    bad.write_text("caption,hearts\nOats,3\n", encoding="utf-8")
    assert main(["results", "import", str(bad)]) == 2
    assert "columns found: caption, hearts" in capsys.readouterr().err
    assert main(["results", "import", str(bad), "--map", "text=caption", "likes=hearts"]) == 0
