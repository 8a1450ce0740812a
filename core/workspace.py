"""The workspace: one folder, one SQLite database, columnar dataset files.

Layout under ``REACH_HOME`` (default ``./workspace``)::

    reach.db                      SQLite: schema version, settings, dataset catalogue, audit log
    uploads/<dataset_id>/<name>   every original upload, byte for byte as uploaded
    datasets/<dataset_id>/        cleaned data: events.parquet, users.parquet, rejected.parquet
    tmp/                          work in progress; an import that fails leaves nothing elsewhere
    reach.lock                    held while one process creates, migrates or adds a dataset

Writes that allocate dataset ids or move folders, the creation and migration of the database and
the first-start demo import take the workspace lock (:meth:`Workspace.lock`), so two imports
started at once (cron and the page, two tabs) wait for each other instead of racing for one id.

The SQL stays portable (no SQLite-only types beyond what every server database has) so a
server database can replace SQLite later. Migrations are plain SQL lists applied in order; the
applied version lives in ``schema_version``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from core.clock import utc_now

__all__ = [
    "DatasetInfo",
    "Workspace",
    "WorkspaceError",
    "default_home",
    "open_workspace",
]

log = logging.getLogger(__name__)

# Each entry is one schema version; never edit an applied entry, append a new one.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        """CREATE TABLE datasets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            created_at TEXT NOT NULL,
            n_events INTEGER NOT NULL DEFAULT 0,
            n_users INTEGER NOT NULL DEFAULT 0,
            report TEXT NOT NULL,
            is_demo INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL
        )""",
    ],
    # delivery: the outbox, its send attempts, and what the dry-run publisher "sent"
    [
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            text TEXT NOT NULL,
            channel TEXT NOT NULL,
            segment TEXT,
            template TEXT,
            state TEXT NOT NULL,
            scheduled_at TEXT,
            not_before TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            approved_at TEXT,
            published_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            transient_failures INTEGER NOT NULL DEFAULT 0,
            needs_lookup INTEGER NOT NULL DEFAULT 0,
            first_attempt_at TEXT,
            claim_pid INTEGER,
            claim_host TEXT,
            claim_token TEXT,
            claimed_at TEXT,
            claim_until TEXT,
            last_error TEXT,
            error_kind TEXT,
            remote_id TEXT,
            url TEXT
        )""",
        "CREATE INDEX outbox_due ON outbox (state, scheduled_at)",
        """CREATE TABLE publish_attempts (
            id INTEGER PRIMARY KEY,
            post_id INTEGER NOT NULL REFERENCES outbox (id),
            pid INTEGER,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT,
            detail TEXT
        )""",
        """CREATE TABLE dry_run_posts (
            id INTEGER PRIMARY KEY,
            remote_id TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
    ],
    # Audience: operator-given segment names and the latest segmentation per dataset.
    [
        """CREATE TABLE segment_names (
            dataset_id INTEGER NOT NULL,
            k INTEGER NOT NULL,
            segment_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (dataset_id, k, segment_id)
        )""",
        """CREATE TABLE segment_runs (
            dataset_id INTEGER PRIMARY KEY,
            k INTEGER NOT NULL,
            silhouette REAL,
            n_users INTEGER NOT NULL,
            summary TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
    ],
    # Content: the operator's own post templates (starters live in core.content.templates).
    [
        """CREATE TABLE templates (
            name TEXT PRIMARY KEY,
            body TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
    ],
    # Targeting: segment → message rules with their history, the per-segment facts the
    # rules need (best hour, demographics) cached per segmentation run, and plan slots already queued.
    [
        """CREATE TABLE targeting_rules (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL,
            k INTEGER NOT NULL,
            segment_id INTEGER,
            predicate TEXT,
            template TEXT NOT NULL,
            channel TEXT NOT NULL,
            hour INTEGER,
            active INTEGER NOT NULL DEFAULT 1,
            version INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            deleted_at TEXT
        )""",
        "CREATE INDEX targeting_rules_run ON targeting_rules (dataset_id, k)",
        """CREATE TABLE targeting_rule_history (
            id INTEGER PRIMARY KEY,
            rule_id INTEGER NOT NULL,
            version INTEGER NOT NULL,
            action TEXT NOT NULL,
            rule TEXT NOT NULL,
            changed_at TEXT NOT NULL
        )""",
        """CREATE TABLE targeting_audiences (
            dataset_id INTEGER PRIMARY KEY,
            k INTEGER NOT NULL,
            run_at TEXT NOT NULL,
            facts TEXT NOT NULL
        )""",
        """CREATE TABLE targeting_queue (
            slot TEXT PRIMARY KEY,
            post_id INTEGER,
            queued_at TEXT NOT NULL
        )""",
    ],
    # Results: public metrics of published posts as a time series (one row per refresh),
    # and posts made elsewhere whose engagement was imported from a CSV.
    [
        """CREATE TABLE post_metrics (
            id INTEGER PRIMARY KEY,
            post_id INTEGER REFERENCES outbox (id),
            remote_id TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            likes INTEGER NOT NULL DEFAULT 0,
            reposts INTEGER NOT NULL DEFAULT 0,
            replies INTEGER NOT NULL DEFAULT 0,
            quotes INTEGER NOT NULL DEFAULT 0,
            bookmarks INTEGER NOT NULL DEFAULT 0,
            impressions INTEGER NOT NULL DEFAULT 0,
            source TEXT NOT NULL
        )""",
        "CREATE INDEX post_metrics_post ON post_metrics (post_id, fetched_at)",
        """CREATE TABLE external_posts (
            id INTEGER PRIMARY KEY,
            remote_id TEXT,
            url TEXT,
            text TEXT NOT NULL,
            posted_at TEXT,
            segment TEXT,
            template TEXT,
            likes INTEGER NOT NULL DEFAULT 0,
            reposts INTEGER NOT NULL DEFAULT 0,
            replies INTEGER NOT NULL DEFAULT 0,
            quotes INTEGER NOT NULL DEFAULT 0,
            impressions INTEGER,
            source_file TEXT NOT NULL,
            imported_at TEXT NOT NULL
        )""",
        "CREATE INDEX external_posts_remote ON external_posts (remote_id)",
    ],
    # Inbox: replies go through the outbox as answers to a mention; mentions as fetched
    # (or seeded by the demo), with their intent and whether they were handled; ``reply_claim`` is
    # the short-lived token of the call that is creating the reply, so two calls cannot both create
    # one (``reply_post_id`` has no foreign key: the outbox may delete a failed reply, and the mention
    # is then unanswered again); the operator's FAQ and reply templates (starters live in core.feedback.inbox).
    [
        "ALTER TABLE outbox ADD COLUMN in_reply_to TEXT",
        """CREATE TABLE mentions (
            id TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            author_id TEXT,
            author_username TEXT,
            created_at TEXT,
            fetched_at TEXT NOT NULL,
            lang TEXT,
            channel TEXT NOT NULL DEFAULT 'x',
            is_demo INTEGER NOT NULL DEFAULT 0,
            intent TEXT,
            intent_confidence REAL,
            handled INTEGER NOT NULL DEFAULT 0,
            handled_at TEXT,
            reply_post_id INTEGER,
            reply_claim TEXT,
            reply_claimed_at TEXT
        )""",
        "CREATE INDEX mentions_created ON mentions (created_at)",
        """CREATE TABLE faq (
            id INTEGER PRIMARY KEY,
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            lang TEXT NOT NULL DEFAULT 'en',
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE reply_templates (
            intent TEXT NOT NULL,
            lang TEXT NOT NULL,
            body TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (intent, lang)
        )""",
    ],
    # Targeting: where a rule's posts come from (its template filled in, or the writer's drafts;
    # existing rules keep their templates), and which of the two wrote each queued plan post.
    [
        "ALTER TABLE targeting_rules ADD COLUMN source TEXT NOT NULL DEFAULT 'template'",
        "ALTER TABLE targeting_queue ADD COLUMN source TEXT NOT NULL DEFAULT 'template'",
    ],
    # Costs: Reach's own billable calls to pay-per-use networks, one row per unit billed; a read
    # of the same resource on the same UTC day is billed once, so it is kept once.
    [
        """CREATE TABLE api_usage (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            day TEXT NOT NULL,
            kind TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            at TEXT NOT NULL,
            UNIQUE (channel, day, kind, resource_id)
        )""",
    ],
    # Channels: one text for several channels is one outbox entry per channel, each published once;
    # ``draft_id`` links them (the first entry's id, on every entry of the group).
    [
        "ALTER TABLE outbox ADD COLUMN draft_id INTEGER",
    ],
    # Inbox: a mention is known by its channel and its id there (an X post and a Mastodon status may
    # share a number); the table is rebuilt with that key, keeping every row.
    [
        """CREATE TABLE mentions_keyed (
            id TEXT NOT NULL,
            text TEXT NOT NULL,
            author_id TEXT,
            author_username TEXT,
            created_at TEXT,
            fetched_at TEXT NOT NULL,
            lang TEXT,
            channel TEXT NOT NULL DEFAULT 'x',
            is_demo INTEGER NOT NULL DEFAULT 0,
            intent TEXT,
            intent_confidence REAL,
            handled INTEGER NOT NULL DEFAULT 0,
            handled_at TEXT,
            reply_post_id INTEGER,
            reply_claim TEXT,
            reply_claimed_at TEXT,
            PRIMARY KEY (channel, id)
        )""",
        "INSERT INTO mentions_keyed SELECT id, text, author_id, author_username, created_at, fetched_at, lang, "
        "channel, is_demo, intent, intent_confidence, handled, handled_at, reply_post_id, reply_claim, "
        "reply_claimed_at FROM mentions",
        "DROP TABLE mentions",
        "ALTER TABLE mentions_keyed RENAME TO mentions",
        "CREATE INDEX mentions_created ON mentions (created_at)",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)

# How long a process waits for another one's workspace write (a first-start demo import takes seconds).
LOCK_WAIT_SECONDS = 300.0
# tmp/ folders are named ``<purpose>-<pid>-<random>`` so a later start can tell a dead owner's leftovers.
_TMP_OWNER = re.compile(r"^[a-z]+-(\d+)-")


class WorkspaceError(Exception):
    """A workspace problem the operator can act on (unknown dataset id, unreadable database)."""


def default_home() -> Path:
    """The workspace folder: ``$REACH_HOME`` or ``./workspace``."""
    return Path(os.environ.get("REACH_HOME", "workspace"))


@dataclass(frozen=True)
class DatasetInfo:
    """One catalogue entry."""

    id: int
    name: str
    kind: str
    created_at: str
    n_events: int
    n_users: int
    report: dict
    is_demo: bool
    active: bool

    def as_json(self) -> dict:
        """Catalogue entry as printed by ``python -m core datasets --json``."""
        return {
            "dataset_id": self.id,
            "name": self.name,
            "kind": self.kind,
            "created_at": self.created_at,
            "events": self.n_events,
            "users": self.n_users,
            "rows_read": self.report.get("rows_read", 0),
            "rows_accepted": self.report.get("rows_accepted", 0),
            "rows_rejected": self.report.get("rows_rejected", 0),
            "duplicates_removed": self.report.get("duplicates_removed", 0),
            "demo": self.is_demo,
            "active": self.active,
        }


class Workspace:
    """A Reach workspace folder. Open it with :func:`open_workspace`."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.db_path = self.home / "reach.db"
        self.lock_path = self.home / "reach.lock"

    # -- the cross-process write lock -----------------------------------------------------
    @contextmanager
    def lock(self, *, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
        """Hold the workspace lock: one process (and one thread) at a time; re-entrant.

        A process that finds it taken waits up to ``wait`` seconds, then raises
        :class:`WorkspaceError` naming the process that holds it.
        """
        guard = _ProcessLock.of(self.lock_path)
        guard.acquire(wait)
        try:
            yield
        finally:
            guard.release()

    def clean_stale_tmp(self) -> list[Path]:
        """Remove ``tmp/`` folders left by processes that no longer run; return what was removed."""
        removed = []
        folder = self.home / "tmp"
        for path in sorted(folder.iterdir()) if folder.exists() else []:
            match = _TMP_OWNER.match(path.name)
            if match and not _pid_alive(int(match.group(1))):
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
                removed.append(path)
        if removed:
            log.info("removed %d leftover work folder(s) of stopped imports from tmp/", len(removed))
        return removed

    # -- database -------------------------------------------------------------------------
    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in a transaction: committed on success, rolled back on error."""
        con = sqlite3.connect(self.db_path, timeout=30)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA foreign_keys = ON")
        try:
            with con:
                yield con
        finally:
            con.close()

    def migrate(self) -> int:
        """Apply pending migrations; return the schema version now in force."""
        for folder in ("uploads", "datasets", "tmp"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        with self.lock(), self.connect() as con:
            # DDL runs outside Python's implicit transactions: take SQLite's write lock first, so
            # a process still on an older Reach cannot interleave its migration with this one.
            con.execute("BEGIN IMMEDIATE")
            con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = con.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > SCHEMA_VERSION:
                raise WorkspaceError(
                    f"workspace {self.home} has schema version {current}, newer than this "
                    f"Reach ({SCHEMA_VERSION}); update Reach or point REACH_HOME elsewhere"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    con.execute(statement)
                con.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                log.info("workspace migrated to schema version %d", version)
        return SCHEMA_VERSION

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self.connect() as con:
            return con.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0

    # -- settings and audit ---------------------------------------------------------------
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        """A stored setting, or ``default``."""
        with self.connect() as con:
            row = con.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str, *, con: sqlite3.Connection | None = None) -> None:
        """Store a setting (inside ``con``'s transaction when given)."""
        sql = "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        if con is not None:
            con.execute(sql, (key, value))
            return
        with self.connect() as own:
            own.execute(sql, (key, value))

    def audit(self, action: str, detail: dict, *, con: sqlite3.Connection) -> None:
        """Append to the audit log inside the caller's transaction."""
        con.execute(
            "INSERT INTO audit_log (at, action, detail) VALUES (?, ?, ?)",
            (utc_now(), action, json.dumps(detail, ensure_ascii=False)),
        )

    def audit_entries(self, limit: int = 50) -> list[dict]:
        """Newest audit entries first."""
        with self.connect() as con:
            rows = con.execute("SELECT at, action, detail FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{"at": r["at"], "action": r["action"], **json.loads(r["detail"])} for r in rows]

    # -- dataset catalogue ----------------------------------------------------------------
    def datasets(self) -> list[DatasetInfo]:
        """The catalogue, newest first."""
        active = self.active_dataset_id()
        with self.connect() as con:
            rows = con.execute("SELECT * FROM datasets ORDER BY id DESC").fetchall()
        return [self._info(row, active) for row in rows]

    def dataset(self, dataset_id: int | None = None) -> DatasetInfo:
        """One catalogue entry; without an id, the active dataset."""
        if dataset_id is None:
            dataset_id = self.active_dataset_id()
            if dataset_id is None:
                raise WorkspaceError("no dataset yet: upload one on the Data page or run `python -m core ingest`")
        with self.connect() as con:
            row = con.execute("SELECT * FROM datasets WHERE id = ?", (int(dataset_id),)).fetchone()
        if row is None:
            known = ", ".join(str(d.id) for d in self.datasets()) or "none"
            raise WorkspaceError(f"dataset {dataset_id} does not exist (datasets: {known})")
        return self._info(row, self.active_dataset_id())

    def active_dataset_id(self) -> int | None:
        """Id of the active dataset, if any."""
        value = self.get_setting("active_dataset")
        return int(value) if value else None

    def activate(self, dataset_id: int) -> None:
        """Make a dataset the active one."""
        info = self.dataset(dataset_id)
        with self.connect() as con:
            self.set_setting("active_dataset", str(info.id), con=con)
            self.audit("dataset.activate", {"dataset_id": info.id}, con=con)

    def dataset_dir(self, dataset_id: int) -> Path:
        """Folder of a dataset's cleaned files."""
        return self.home / "datasets" / str(dataset_id)

    def upload_dir(self, dataset_id: int) -> Path:
        """Folder of a dataset's original uploads."""
        return self.home / "uploads" / str(dataset_id)

    def new_tmp_dir(self, prefix: str) -> Path:
        """A fresh folder under ``tmp/`` for work that may still fail."""

        (self.home / "tmp").mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=self.home / "tmp"))

    def add_dataset(
        self,
        *,
        name: str,
        kind: str,
        staged: Path,
        uploads: list[Path],
        n_events: int,
        n_users: int,
        report: dict,
        is_demo: bool = False,
    ) -> int:
        """Register a staged dataset folder, move it and its uploads into place, make it active.

        The catalogue row and the active flag are written in one transaction; files are moved
        first, so a failure leaves at worst an unreferenced folder, never a row without files.
        The workspace lock and SQLite's write lock are held from choosing the id to the commit, so
        two imports never share an id; a folder already there is skipped, never deleted.
        """
        with self.lock(), self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            # Ids are never reused: a deleted dataset's id may still key caches and audit entries.
            newest = con.execute("SELECT COALESCE(MAX(id), 0) FROM datasets").fetchone()[0]
            last = con.execute("SELECT value FROM settings WHERE key = 'last_dataset_id'").fetchone()
            dataset_id = max(int(newest), int(last[0]) if last else 0) + 1
            while self.dataset_dir(dataset_id).exists() or self.upload_dir(dataset_id).exists():
                dataset_id += 1  # left over by a crash between move and commit: kept for inspection
            target = self.dataset_dir(dataset_id)
            shutil.move(str(staged), str(target))
            upload_target = self.upload_dir(dataset_id)
            upload_target.mkdir(parents=True)
            for number, path in enumerate(uploads, start=1):
                copy = upload_target / path.name
                if copy.exists():  # two uploads with one name (a/events.csv, b/events.csv): keep both
                    copy = upload_target / f"{path.stem} ({number}){path.suffix}"
                shutil.copy2(path, copy)
            con.execute(
                "INSERT INTO datasets (id, name, kind, created_at, n_events, n_users, report, is_demo)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    dataset_id,
                    name,
                    kind,
                    utc_now(),
                    n_events,
                    n_users,
                    json.dumps(report, ensure_ascii=False),
                    int(is_demo),
                ),
            )
            self.set_setting("active_dataset", str(dataset_id), con=con)
            self.set_setting("last_dataset_id", str(dataset_id), con=con)
            self.audit("dataset.add", {"dataset_id": dataset_id, "name": name}, con=con)
        return dataset_id

    def delete_dataset(self, dataset_id: int) -> None:
        """Remove a dataset, its files and uploads; the newest remaining one becomes active."""
        info = self.dataset(dataset_id)
        with self.connect() as con:
            con.execute("DELETE FROM datasets WHERE id = ?", (info.id,))
            if info.active:
                row = con.execute("SELECT MAX(id) FROM datasets").fetchone()
                if row[0] is None:
                    con.execute("DELETE FROM settings WHERE key = 'active_dataset'")
                else:
                    self.set_setting("active_dataset", str(row[0]), con=con)
            self.audit("dataset.delete", {"dataset_id": info.id, "name": info.name}, con=con)
        shutil.rmtree(self.dataset_dir(info.id), ignore_errors=True)
        shutil.rmtree(self.upload_dir(info.id), ignore_errors=True)

    def rename_dataset(self, dataset_id: int, name: str) -> None:
        """Give a dataset a new name."""
        name = name.strip()
        if not name:
            raise WorkspaceError("a dataset name cannot be empty")
        info = self.dataset(dataset_id)
        with self.connect() as con:
            con.execute("UPDATE datasets SET name = ? WHERE id = ?", (name, info.id))
            self.audit("dataset.rename", {"dataset_id": info.id, "name": name}, con=con)

    # -- dataset contents -----------------------------------------------------------------
    def load_events(self, dataset_id: int | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """Cleaned events of a dataset (active one by default); empty frame if it has none."""
        return self._load_table(dataset_id, "events", columns)

    def load_users(self, dataset_id: int | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """The user table of a dataset (active one by default); empty frame if it has none."""
        return self._load_table(dataset_id, "users", columns)

    def load_rejected(self, dataset_id: int | None = None) -> pd.DataFrame:
        """Rejected rows with their reason, as read (all text)."""
        return self._load_table(dataset_id, "rejected", None)

    def _load_table(self, dataset_id: int | None, table: str, columns: list[str] | None) -> pd.DataFrame:
        info = self.dataset(dataset_id)
        path = self.dataset_dir(info.id) / f"{table}.parquet"
        if not path.exists():
            return pd.DataFrame()
        return pd.read_parquet(path, columns=columns)

    def uploads(self, dataset_id: int) -> list[Path]:
        """The original files of a dataset."""
        folder = self.upload_dir(dataset_id)
        return sorted(folder.iterdir()) if folder.exists() else []

    @staticmethod
    def _info(row: sqlite3.Row, active: int | None) -> DatasetInfo:
        return DatasetInfo(
            id=row["id"],
            name=row["name"],
            kind=row["kind"],
            created_at=row["created_at"],
            n_events=row["n_events"],
            n_users=row["n_users"],
            report=json.loads(row["report"]),
            is_demo=bool(row["is_demo"]),
            active=row["id"] == active,
        )


def open_workspace(home: Path | str | None = None) -> Workspace:
    """Open (creating and migrating as needed) the workspace at ``home``.

    This opens the folder only; the app and the CLI open it through :func:`core.demo.open_workspace`,
    which also imports the bundled demo on the very first start.
    """
    ws = Workspace(Path(home) if home is not None else default_home())
    try:
        ws.migrate()
    except sqlite3.DatabaseError as exc:
        raise WorkspaceError(f"the workspace database {ws.db_path.name} cannot be read ({exc})") from None
    ws.clean_stale_tmp()
    return ws


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


class _ProcessLock:
    """An exclusive ``flock`` on one file, re-entrant within a thread, one thread at a time.

    ``flock`` excludes other processes; the thread lock excludes the app's other sessions, which
    share the process (a second ``flock`` from the same process would not wait).
    """

    _registry: ClassVar[dict[Path, _ProcessLock]] = {}
    _registry_guard = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.fd: int | None = None

    @classmethod
    def of(cls, path: Path) -> _ProcessLock:
        key = path.resolve()
        with cls._registry_guard:
            return cls._registry.setdefault(key, cls(key))

    def acquire(self, wait: float) -> None:
        if not self.thread_lock.acquire(timeout=wait):
            raise WorkspaceError(f"the workspace is busy with another write for over {wait:.0f} s; try again")
        if self.depth:
            self.depth += 1
            return
        try:
            self.fd = self._flock(wait)
        except BaseException:
            self.thread_lock.release()
            raise
        self.depth = 1

    def release(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
        self.thread_lock.release()

    def _flock(self, wait: float) -> int:
        """Open and lock the file, waiting up to ``wait`` seconds; write our pid into it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "another process"
                    os.close(fd)
                    raise WorkspaceError(
                        f"the workspace is busy: process {holder} has been writing to it for over {wait:.0f} s; "
                        "try again when it is done"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        return fd
