"""Intake benchmark: rows/s and peak memory for 1M- and 10M-row event CSVs.

Each measurement runs in its own process so peak memory (max RSS) belongs to it alone; Reach's
full intake (decode, validate, deduplicate, store Parquet) runs next to plain
``pandas.read_csv`` and ``pyarrow.csv.read_csv`` on the same file in the same run.

    python bench/ingest.py                 # 1M and 10M rows
    python bench/ingest.py --rows 1000000  # one size
    python bench/ingest.py --before ../old-checkout   # also Reach from another checkout, same files

Each line gives wall seconds, CPU seconds (user + system, every thread of the process: what the
work costs, less sensitive than wall time to other programs on a shared machine) and peak MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

REPO = Path(__file__).resolve().parents[1]
TOPICS = [
    "fitness",
    "protein",
    "yoga",
    "skincare & beauty",
    "herbal tea",
    "meal prep",
    "low sugar",
    "gut health",
    "smoothies",
    "running",
    "collagen",
    "supplements",
    "heart health",
    "gardening",
    "family meals",
]
ACTIONS = ["view", "like", "comment", "share", "click", "purchase", "follow"]


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    """An events export with ~0.3% exact duplicates and ~0.05% bad timestamps, written in blocks."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-06-01T00:00:00")
    block = 1_000_000
    with path.open("wb") as fh:
        for offset in range(0, rows, block):
            n = min(block, rows - offset)
            users = rng.integers(0, max(rows // 10, 1), n)
            seconds = rng.integers(0, 90 * 86400, n)
            ts = (start + seconds.astype("timedelta64[s]")).astype(str)
            ts = np.char.replace(ts, "T", " ")
            bad = rng.random(n) < 0.0005
            ts = np.where(bad, "2026-02-30 10:00:00", ts)
            table = pa.table(
                {
                    "user_id": pa.array(np.char.add("u", users.astype(str))),
                    "timestamp": pa.array(ts),
                    "action": pa.array(
                        np.array(ACTIONS)[rng.choice(len(ACTIONS), n, p=[0.6, 0.17, 0.05, 0.04, 0.08, 0.04, 0.02])]
                    ),
                    "topic": pa.array(np.array(TOPICS)[rng.integers(0, len(TOPICS), n)]),
                    "platform": pa.array(np.array(["weibo", "xiaohongshu", "x", "instagram"])[rng.integers(0, 4, n)]),
                }
            )
            dup = rng.random(n) < 0.003
            if dup.any():
                table = pa.concat_tables([table, table.filter(pa.array(dup))])
            sink = pa.BufferOutputStream()
            pacsv.write_csv(
                table, sink, write_options=pacsv.WriteOptions(include_header=offset == 0, quoting_style="none")
            )
            fh.write(sink.getvalue().to_pybytes())


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(kind: str, path: str, home: str) -> dict:
    if kind.startswith("reach"):
        # "reach" is this checkout; "reach@DIR" the checkout in DIR (the code before a change)
        sys.path.insert(0, kind.partition("@")[2] or str(REPO))
        import core.intake.ingest  # noqa: F401  (imports are not part of the measurement)
    start, cpu = time.perf_counter(), _cpu_seconds()
    if kind.startswith("reach"):
        from core.intake.ingest import ingest
        from core.workspace import open_workspace

        ws = open_workspace(home)  # the folder only: no demo dataset beside the measured one
        report = ingest(ws, [path]).as_json()
        rows = report["rows_read"]
        extra = {k: report[k] for k in ("rows_accepted", "rows_rejected", "duplicates_removed")}
    elif kind == "pandas":
        import pandas as pd

        rows = len(pd.read_csv(path))
        extra = {}
    else:
        rows = pacsv.read_csv(path).num_rows
        extra = {}
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "reader": "reach before" if kind.startswith("reach@") else kind,
        "rows": rows,
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "rows_per_s": int(rows / seconds),
        "peak_mb": int(peak_mb),
        **extra,
    }


def measure(kind: str, path: Path) -> dict:
    """Run one reader in a fresh process; return its figures."""
    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(path), home], capture_output=True, text=True, check=True
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--before", help="another checkout of Reach (e.g. the main branch) to measure beside this one")
    parser.add_argument("--readers", nargs="*", default=["pyarrow", "pandas"], help="plain readers to run beside Reach")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child)))
        return
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        for rows in args.rows:
            path = Path(tmp) / f"events_{rows}.csv"
            t = time.perf_counter()
            make_csv(path, rows)
            size_mb = path.stat().st_size / 1e6
            load = " / ".join(f"{v:.2f}" for v in os.getloadavg())
            print(
                f"\n{rows:,} rows requested · {size_mb:,.0f} MB · made in {time.perf_counter() - t:.1f} s · "
                f"load average {load} (1/5/15 min)"
            )
            print(f"{'reader':<14}{'rows':>12}{'wall s':>9}{'CPU s':>8}{'rows/s':>12}{'peak MB':>9}")
            before = [f"reach@{Path(args.before).resolve()}"] if args.before else []
            for kind in (*args.readers, *before, "reach"):
                r = measure(kind, path)
                print(
                    f"{r['reader']:<14}{r['rows']:>12,}{r['seconds']:>9.2f}{r['cpu_s']:>8.2f}"
                    f"{r['rows_per_s']:>12,}{r['peak_mb']:>9,}"
                )
                if kind.startswith("reach"):
                    print(
                        f"          accepted {r['rows_accepted']:,} · rejected {r['rows_rejected']:,} · "
                        f"duplicates {r['duplicates_removed']:,}"
                    )


if __name__ == "__main__":
    main()
