"""What an import reports: counts per file and for the whole dataset.

Every row read ends up in exactly one place, so ``rows_read = rows_accepted + rows_rejected +
duplicates_removed`` holds per file and in total. :meth:`IngestReport.as_json` is the contract
of ``python -m core ingest --json``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["FileReport", "IngestReport"]


@dataclass
class FileReport:
    """Counts for one file."""

    file: str
    kind: str
    encoding: str
    delimiter: str
    mapping: dict[str, str]
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    duplicates_removed: int = 0
    reasons: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """The contract shape of ``python -m core ingest --json`` for one file."""
        return {
            "file": self.file,
            "kind": self.kind,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "duplicates_removed": self.duplicates_removed,
            "reasons": dict(self.reasons),
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "mapping": dict(self.mapping),
            "notes": list(self.notes),
        }


@dataclass
class IngestReport:
    """The outcome of one import: the dataset id and the summed counts."""

    dataset_id: int
    kind: str
    name: str
    files: list[FileReport]
    n_events: int
    n_users: int

    def as_json(self) -> dict:
        """The contract shape of ``python -m core ingest --json``."""
        reasons: Counter = Counter()
        for f in self.files:
            reasons.update(f.reasons)
        mapping: dict[str, str] = {}
        for f in self.files:
            for canonical, source in f.mapping.items():
                mapping.setdefault(canonical, source)
        out = {
            "dataset_id": self.dataset_id,
            "kind": self.kind,
            "rows_read": sum(f.rows_read for f in self.files),
            "rows_accepted": sum(f.rows_accepted for f in self.files),
            "rows_rejected": sum(f.rows_rejected for f in self.files),
            "duplicates_removed": sum(f.duplicates_removed for f in self.files),
            "reasons": dict(reasons),
            "encoding": self.files[0].encoding,
            "delimiter": self.files[0].delimiter,
            "mapping": mapping,
        }
        if len(self.files) > 1:
            out["files"] = [f.as_json() for f in self.files]
        return out
