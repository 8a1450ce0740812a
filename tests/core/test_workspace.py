"""Tests for core.workspace: schema migrations, the dataset catalogue and the audit log."""

from __future__ import annotations

import sqlite3

import pytest

from core.demo import open_workspace
from core.intake.ingest import ingest
from core.workspace import SCHEMA_VERSION, WorkspaceError, default_home


def add(ws, write_file, name: str, rows: str = "u1,x\n") -> int:
    """Import a tiny events file; return its dataset id."""
    return ingest(ws, [write_file(name, "user_id,topic\n" + rows)]).dataset_id


def tables(ws) -> set[str]:
    with sqlite3.connect(ws.db_path) as con:
        return {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


# -- schema ------------------------------------------------------------------------------------


def test_first_open_creates_the_schema_and_folders(tmp_path):
    ws = open_workspace(tmp_path / "ws", with_demo=False)
    assert ws.schema_version() == SCHEMA_VERSION
    assert {"schema_version", "settings", "datasets", "audit_log"} <= tables(ws)
    assert sorted(p.name for p in ws.home.iterdir() if p.is_dir()) == ["datasets", "tmp", "uploads"]
    assert ws.datasets() == []
    assert ws.active_dataset_id() is None


def test_reopening_is_idempotent_and_keeps_everything(tmp_path, write_file):
    home = tmp_path / "ws"
    ws = open_workspace(home, with_demo=False)
    dataset_id = add(ws, write_file, "events.csv")
    ws.set_setting("theme", "dark")

    again = open_workspace(home, with_demo=False)
    again = open_workspace(home, with_demo=False)
    with sqlite3.connect(again.db_path) as con:
        versions = [row[0] for row in con.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    assert [d.id for d in again.datasets()] == [dataset_id]
    assert again.active_dataset_id() == dataset_id
    assert again.get_setting("theme") == "dark"
    assert len(again.load_events()) == 1


def test_a_newer_schema_is_refused(tmp_path):
    home = tmp_path / "ws"
    ws = open_workspace(home, with_demo=False)
    with sqlite3.connect(ws.db_path) as con:
        con.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))

    with pytest.raises(WorkspaceError) as caught:
        open_workspace(home, with_demo=False)
    assert str(caught.value) == (
        f"workspace {home} has schema version {SCHEMA_VERSION + 1}, newer than this Reach ({SCHEMA_VERSION}); "
        "update Reach or point REACH_HOME elsewhere"
    )


def test_a_database_that_is_not_sqlite_is_refused(tmp_path):
    home = tmp_path / "ws"
    home.mkdir()
    (home / "reach.db").write_bytes(b"this is not a database, just text that happens to be here" * 20)
    with pytest.raises(WorkspaceError, match=r"^the workspace database reach.db cannot be read \("):
        open_workspace(home, with_demo=False)


def test_home_comes_from_reach_home(monkeypatch, tmp_path):
    monkeypatch.setenv("REACH_HOME", str(tmp_path / "elsewhere"))
    assert default_home() == tmp_path / "elsewhere"
    monkeypatch.setenv("REACH_DEMO", "0")
    ws = open_workspace()
    assert ws.home == tmp_path / "elsewhere"
    assert ws.db_path.exists()
    assert ws.datasets() == []  # REACH_DEMO=0: no demo
    assert ws.get_setting("demo_installed") is None
    monkeypatch.delenv("REACH_HOME")
    assert str(default_home()) == "workspace"


# -- catalogue ---------------------------------------------------------------------------------


def test_the_newest_dataset_is_active_and_activate_switches(workspace, write_file):
    first = add(workspace, write_file, "a.csv")
    second = add(workspace, write_file, "b.csv", "u1,x\nu2,y\n")
    assert [(d.id, d.name, d.active) for d in workspace.datasets()] == [
        (second, "b.csv", True),
        (first, "a.csv", False),
    ]
    assert workspace.dataset().id == second

    workspace.activate(first)
    assert workspace.active_dataset_id() == first
    assert [d.active for d in workspace.datasets()] == [False, True]
    assert len(workspace.load_events()) == 1  # the active one's events
    assert len(workspace.load_events(second)) == 2


def test_catalogue_entry_as_json(workspace, write_file):
    dataset_id = add(workspace, write_file, "a.csv", "u1,x\nu1,x\n,y\n")
    entry = workspace.dataset(dataset_id).as_json()
    assert set(entry) == {
        "dataset_id",
        "name",
        "kind",
        "created_at",
        "events",
        "users",
        "rows_read",
        "rows_accepted",
        "rows_rejected",
        "duplicates_removed",
        "demo",
        "active",
    }
    assert {k: v for k, v in entry.items() if k != "created_at"} == {
        "dataset_id": dataset_id,
        "name": "a.csv",
        "kind": "events",
        "events": 1,
        "users": 1,
        "rows_read": 3,
        "rows_accepted": 1,
        "rows_rejected": 1,
        "duplicates_removed": 1,
        "demo": False,
        "active": True,
    }


def test_delete_removes_files_and_hands_active_to_the_newest_left(workspace, write_file):
    first = add(workspace, write_file, "a.csv")
    second = add(workspace, write_file, "b.csv")
    third = add(workspace, write_file, "c.csv")
    for dataset_id in (first, second, third):
        assert workspace.dataset_dir(dataset_id).is_dir()
        assert workspace.uploads(dataset_id)

    workspace.delete_dataset(third)  # the active one
    assert not workspace.dataset_dir(third).exists()
    assert not workspace.upload_dir(third).exists()
    assert workspace.active_dataset_id() == second
    assert [d.id for d in workspace.datasets()] == [second, first]

    workspace.delete_dataset(first)  # not the active one: active stays
    assert workspace.active_dataset_id() == second
    assert not workspace.dataset_dir(first).exists()

    workspace.delete_dataset(second)
    assert workspace.datasets() == []
    assert workspace.active_dataset_id() is None
    with pytest.raises(WorkspaceError, match="no dataset yet"):
        workspace.dataset()
    assert sorted(p.name for p in (workspace.home / "datasets").iterdir()) == []
    assert sorted(p.name for p in (workspace.home / "uploads").iterdir()) == []


def test_a_deleted_datasets_id_is_not_given_again(workspace, write_file):
    first = add(workspace, write_file, "a.csv")
    second = add(workspace, write_file, "b.csv")
    workspace.delete_dataset(second)
    third = add(workspace, write_file, "c.csv")
    assert (first, second, third) == (1, 2, 3)
    assert [d.name for d in workspace.datasets()] == ["c.csv", "a.csv"]


def test_unknown_dataset_names_the_known_ones(workspace, write_file):
    add(workspace, write_file, "a.csv")
    add(workspace, write_file, "b.csv")
    with pytest.raises(WorkspaceError, match=r"^dataset 9 does not exist \(datasets: 2, 1\)$"):
        workspace.delete_dataset(9)
    with pytest.raises(WorkspaceError, match=r"^dataset 9 does not exist"):
        workspace.activate(9)
    assert len(workspace.datasets()) == 2


def test_rename(workspace, write_file):
    dataset_id = add(workspace, write_file, "a.csv")
    workspace.rename_dataset(dataset_id, "  Spring campaign  ")
    assert workspace.dataset(dataset_id).name == "Spring campaign"
    with pytest.raises(WorkspaceError, match="a dataset name cannot be empty"):
        workspace.rename_dataset(dataset_id, "   ")
    assert workspace.dataset(dataset_id).name == "Spring campaign"


def test_tables_a_dataset_does_not_have_load_empty(workspace, write_file):
    dataset_id = add(workspace, write_file, "a.csv")
    assert workspace.load_users(dataset_id).empty
    assert workspace.load_rejected(dataset_id).empty
    assert workspace.load_events(dataset_id, columns=["user_id"]).columns.tolist() == ["user_id"]


# -- audit log ---------------------------------------------------------------------------------


def test_audit_log_records_every_catalogue_change_newest_first(workspace, write_file):
    first = add(workspace, write_file, "a.csv")
    second = add(workspace, write_file, "b.csv")
    workspace.rename_dataset(first, "old export")
    workspace.activate(first)
    workspace.delete_dataset(second)

    entries = workspace.audit_entries()
    assert [{k: v for k, v in e.items() if k != "at"} for e in entries] == [
        {"action": "dataset.delete", "dataset_id": second, "name": "b.csv"},
        {"action": "dataset.activate", "dataset_id": first},
        {"action": "dataset.rename", "dataset_id": first, "name": "old export"},
        {"action": "dataset.add", "dataset_id": second, "name": "b.csv"},
        {"action": "dataset.add", "dataset_id": first, "name": "a.csv"},
    ]
    assert all(e["at"].endswith("+00:00") for e in entries)
    assert len(workspace.audit_entries(limit=2)) == 2


def test_the_demo_never_lands_on_a_workspace_started_without_it(tmp_path, write_file):
    home = tmp_path / "ws"
    ws = open_workspace(home, with_demo=False)
    path = write_file("mine.csv", "user_id,topic\nu1,tea\nu2,tea\n")
    mine = ingest(ws, [path]).dataset_id
    again = open_workspace(home, with_demo=True)
    assert [d.name for d in again.datasets()] == ["mine.csv"]
    assert again.active_dataset_id() == mine
