"""The outbox command line: ``outbox add``, ``outbox list``, ``publish-due``."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import main
from core.delivery.outbox import PublishSettings
from core.demo import open_workspace
from tests.core.conftest import cli_json

LIST_KEYS = {
    "post_id",
    "state",
    "text",
    "channel",
    "segment",
    "template",
    "remote_id",
    "url",
    "attempts",
    "last_error",
    "scheduled_at",
    "published_at",
}


def test_add_list_publish_due(home: Path, no_x_keys: None, capsys: pytest.CaptureFixture) -> None:
    added = cli_json(
        capsys,
        [
            "outbox",
            "add",
            "Chia pudding, 3 ways",
            "--segment",
            "young women",
            "--template",
            "recipe",
            "--approve",
            "--json",
        ],
    )
    assert added == {"post_id": 1, "state": "approved"}
    draft = cli_json(capsys, ["outbox", "add", "Draft for later", "--channel", "dry-run", "--json"])
    assert draft == {"post_id": 2, "state": "draft"}
    assert cli_json(capsys, ["publish-due", "--json"]) == {"published": [1], "deferred": [], "failed": []}
    listed = cli_json(capsys, ["outbox", "list", "--json"])
    assert [set(row) for row in listed] == [LIST_KEYS, LIST_KEYS]
    first = next(row for row in listed if row["post_id"] == 1)
    assert first["state"] == "published" and first["channel"] == "dry-run"
    assert (first["segment"], first["template"], first["attempts"]) == ("young women", "recipe", 1)
    assert first["remote_id"].startswith("dry-") and first["published_at"]


def test_approve_refuses_over_length_with_exit_2(home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["outbox", "add", "x" * 281, "--approve", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "281 characters by X's count" in captured.err and "over the limit of 280 by 1" in captured.err
    assert cli_json(capsys, ["outbox", "list", "--json"]) == []


def test_at_is_read_in_the_time_zone_setting(home: Path, no_x_keys: None, capsys: pytest.CaptureFixture) -> None:
    ws = open_workspace(home, with_demo=False)
    PublishSettings.load(ws).save(ws, timezone="Asia/Shanghai")
    cli_json(capsys, ["outbox", "add", "Breakfast at nine", "--at", "2031-06-01T09:00", "--approve", "--json"])
    cli_json(capsys, ["outbox", "add", "Explicit offset", "--at", "2031-06-01T09:00Z", "--approve", "--json"])
    listed = {row["text"]: row for row in cli_json(capsys, ["outbox", "list", "--json"])}
    assert listed["Breakfast at nine"]["scheduled_at"] == "2031-06-01T01:00:00+00:00"
    assert listed["Explicit offset"]["scheduled_at"] == "2031-06-01T09:00:00+00:00"
    assert listed["Breakfast at nine"]["state"] == "scheduled"
    assert cli_json(capsys, ["publish-due", "--json"]) == {"published": [], "deferred": [], "failed": []}
    assert main(["outbox", "add", "Bad time", "--at", "next tuesday"]) == 2
    assert "not an ISO 8601 time" in capsys.readouterr().err


def test_publish_due_exits_0_when_posts_fail(home: Path, x_env, capsys: pytest.CaptureFixture) -> None:
    cli_json(capsys, ["outbox", "add", "Refused by X", "--approve", "--json"])
    x_env.fail_next(401)
    assert cli_json(capsys, ["publish-due", "--json"]) == {"published": [], "deferred": [], "failed": [1]}
    assert main(["outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert "failed" in out and "Reconnect your X keys" in out


def test_channel_choice_and_remote_ids_per_network(
    home: Path, no_x_keys: None, mastodon_env, bluesky_env, capsys: pytest.CaptureFixture
) -> None:
    """``--channel mastodon|bluesky``: the list gives a Mastodon status id and a Bluesky ``at://`` URI."""
    toot = cli_json(capsys, ["outbox", "add", "Beet hummus", "--channel", "mastodon", "--approve", "--json"])
    skeet = cli_json(capsys, ["outbox", "add", "Beet hummus", "--channel", "bluesky", "--approve", "--json"])
    assert cli_json(capsys, ["publish-due", "--json"]) == {
        "published": [toot["post_id"], skeet["post_id"]],
        "deferred": [],
        "failed": [],
    }
    listed = {row["channel"]: row for row in cli_json(capsys, ["outbox", "list", "--json"])}
    assert listed["mastodon"]["remote_id"] == mastodon_env.statuses[0].id
    assert listed["bluesky"]["remote_id"] == bluesky_env.records[0].uri
    assert listed["bluesky"]["remote_id"].startswith("at://")
