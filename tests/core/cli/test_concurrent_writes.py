"""Several ``python -m core ingest`` processes at once share one workspace without losing anything."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from core.demo import open_workspace
from core.intake.ingest import ingest

REPO = Path(__file__).resolve().parents[3]


def start_ingest(home: Path, path: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "REACH_HOME": str(home), "REACH_DEMO": "0", "PYTHONIOENCODING": "utf-8"}
    return subprocess.Popen(
        [sys.executable, "-m", "core", "ingest", str(path), "--name", name, "--json"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def holds_workspace_file(pid: int, home: Path) -> bool:
    """Whether process ``pid`` has the workspace database or its lock file open (it is waiting on them)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        targets = {os.readlink(fd) for fd in fds.iterdir()}
    except FileNotFoundError:
        return True  # already finished
    return bool(targets & {str(home / "reach.db"), str(home / "reach.lock")})


def test_imports_started_together_into_a_fresh_workspace_each_get_their_own_dataset(tmp_path, write_file):
    home = tmp_path / "fresh"
    home.mkdir()
    files = {
        f"import-{n}": write_file(f"f{n}.csv", "user_id,topic\n" + "".join(f"u{n}x{i},t\n" for i in range(10 + n)))
        for n in range(6)
    }
    # Hold the new database locked until every import is waiting on the workspace, then let them all go at once.
    blocker = sqlite3.connect(home / "reach.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    runs = {name: start_ingest(home, path, name) for name, path in files.items()}
    while not all(holds_workspace_file(run.pid, home) for run in runs.values()):
        pass
    blocker.execute("ROLLBACK")
    blocker.close()
    results = {name: (run.communicate(timeout=300), run.returncode) for name, run in runs.items()}

    for name, ((_, stderr), code) in results.items():
        assert code == 0, (name, stderr)
    ws = open_workspace(home, with_demo=False)
    datasets = ws.datasets()
    assert sorted(d.name for d in datasets) == sorted(files)
    for d in datasets:
        n = int(d.name.rsplit("-", 1)[1])
        events = ws.load_events(d.id)
        assert d.n_events == len(events) == 10 + n
        assert set(events["user_id"].str.split("x").str[0]) == {f"u{n}"}
        assert [p.name for p in ws.uploads(d.id)] == [f"f{n}.csv"]


def test_a_dataset_folder_already_there_is_kept_and_its_id_skipped(workspace, write_file):
    other = workspace.dataset_dir(1)
    other.mkdir(parents=True)
    (other / "events.parquet").write_bytes(b"not ours")

    report = ingest(workspace, [write_file("e.csv", "user_id,topic\nu1,x\n")])

    assert report.dataset_id == 2
    assert (other / "events.parquet").read_bytes() == b"not ours"
    assert len(workspace.load_events(2)) == 1


def test_leftover_work_folders_of_stopped_processes_are_removed_at_start(tmp_path):
    home = tmp_path / "ws"
    open_workspace(home, with_demo=False)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    stale = home / "tmp" / f"ingest-{dead_pid}-abc"
    live = home / "tmp" / f"ingest-{os.getpid()}-def"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "events.parquet").write_bytes(b"partial")

    open_workspace(home, with_demo=False)

    assert not stale.exists()
    assert (live / "events.parquet").exists()
