"""``python -m core plan``: the week's slots as JSON, input errors in one line, ``--queue`` adding each slot once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.audience.segments import run_segments, save_run
from core.cli import main
from core.delivery import outbox as publish
from core.delivery import targeting
from core.demo import open_workspace
from tests.core.conftest import cli_json

SLOT_KEYS = {"segment", "text", "source", "channel", "scheduled_at", "passes", "reasons"}


@pytest.fixture
def segmented(workspace_home: Path) -> Path:
    """The demo workspace (REACH_HOME, with its writer) after the audience step found five segments."""
    ws = open_workspace(workspace_home, with_demo=False)
    save_run(ws, run_segments(ws, k=5))
    return workspace_home


def test_plan_prints_the_slots_with_exactly_the_contract_keys(segmented: Path, capsys: pytest.CaptureFixture) -> None:
    out = cli_json(capsys, ["plan", "--json", "--per-segment", "3", "--source", "writer"])
    assert set(out) == {"slots"}
    slots = out["slots"]
    assert len(slots) == 15 and all(set(s) == SLOT_KEYS for s in slots)
    assert {s["source"] for s in slots} == {"writer"} and all(s["passes"] and s["reasons"] == [] for s in slots)
    assert len({(s["segment"], s["scheduled_at"]) for s in slots}) == 15
    assert len({s["text"] for s in slots}) == 15
    for slot in slots:
        at = datetime.fromisoformat(slot["scheduled_at"])
        assert at.utcoffset() == timedelta(0)  # UTC
    ws = open_workspace(segmented, with_demo=False)
    assert publish.list_posts(ws) == []  # planning queues nothing


def test_without_source_the_rules_decide_and_proposals_use_templates(
    segmented: Path, capsys: pytest.CaptureFixture
) -> None:
    slots = cli_json(capsys, ["plan", "--json", "--per-segment", "1"])["slots"]
    assert [s["source"] for s in slots] == ["template"] * 5
    assert "New at the shop: our marine collagen" in slots[0]["text"]


def test_queue_twice_adds_nothing_the_second_time(segmented: Path, capsys: pytest.CaptureFixture) -> None:
    ws = open_workspace(segmented, with_demo=False)
    aud = targeting.audience(ws)
    targeting.save_rules(ws, targeting.propose_rules(aud, targeting.template_names(ws)), aud)
    first = cli_json(capsys, ["plan", "--json", "--source", "writer", "--queue"])
    posts = publish.list_posts(ws)
    assert len(posts) == 15 and {p.state for p in posts} == {publish.OutboxState.DRAFT}
    assert sorted(p.text for p in posts) == sorted(s["text"] for s in first["slots"])
    assert main(["plan", "--json", "--source", "writer", "--queue"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == "0 posts added to the outbox, 15 already there"
    assert sorted(s["text"] for s in json.loads(captured.out)["slots"]) == sorted(p.text for p in posts)
    assert len(publish.list_posts(ws)) == 15


def test_queue_on_a_fresh_workspace_accepts_the_proposals(segmented: Path, capsys: pytest.CaptureFixture) -> None:
    slots = cli_json(capsys, ["plan", "--json", "--queue", "--source", "writer"])["slots"]
    ws = open_workspace(segmented, with_demo=False)
    assert len(targeting.load_rules(ws, targeting.audience(ws))) == 5  # the proposals are the rules now
    assert sorted(p.text for p in publish.list_posts(ws)) == sorted(s["text"] for s in slots if s["passes"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--week", "next monday"], "error: --week 'next monday' must be a date such as 2026-03-02 (YYYY-MM-DD)"),
        (["--week", "2020-01-01"], "error: the week of 2019-12-30 is over; plan this week or a later one"),
        (["--source", "robot"], "error: --source 'robot' must be one of template, writer"),
        (["--per-segment", "9"], "error: per_segment=9 must be between 1 and 7 (one post a day)"),
    ],
)
def test_input_errors_exit_2_with_one_line(
    segmented: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    assert main(["plan", "--json", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [message] and captured.out == ""


@pytest.mark.parametrize("channel", ["x", "x+mastodon"])  # a post for X and Mastodon is paid for on X too
def test_plan_says_what_the_week_costs_on_x(segmented: Path, capsys: pytest.CaptureFixture, channel: str) -> None:
    ws = open_workspace(segmented, with_demo=False)
    aud = targeting.audience(ws)
    targeting.save_rules(ws, targeting.propose_rules(aud, targeting.template_names(ws), channel=channel), aud)
    assert main(["plan", "--source", "template"]) == 0
    out = capsys.readouterr().out
    passing = sum(1 for line in out.splitlines() if " template ok " in line or " writer   ok " in line)
    assert passing and f"on X this week: {passing} posts" in out
    assert not publish.list_posts(ws)  # said before anything is queued
