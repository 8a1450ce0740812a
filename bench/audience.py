"""Benchmark of step 2 (audience): features → segments → rules, against the notebook pipeline.

    .venv/bin/python bench/audience.py                  # 1M events, both pipelines
    .venv/bin/python bench/audience.py --events 1e6 1e7 # and 10M events (Reach only above --notebook-max)

Synthetic events with five planted groups (about ten events per user, so 10M events are about 1M
users) are written into a scratch workspace as a dataset, then each pipeline reads it from there.
Every size runs in a fresh process so one size's memory does not count against the next. Per
step: wall time and peak resident memory of the process (sampled every 10 ms), plus the adjusted
Rand index against the planted groups.

The notebook pipeline is the straightforward one: ``pd.crosstab`` of users × topics (shares),
``StandardScaler``, ``KMeans(n_init=10)`` for k = 2..12 with a 10,000-user silhouette sample, then
mlxtend ``apriori`` on a dense one-hot ``crosstab > 0`` frame and ``association_rules``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.demo import SIGNATURE_TOPICS, TOPICS

GROUP_AGES = [(18, 29), (18, 29), (30, 54), (30, 54), (55, 80)]
GROUP_FEMALE = [1.0, 0.0, 1.0, 0.0, 0.55]
GROUP_HOURS = [21, 22, 7, 6, 10]
MIN_SUPPORT, MAX_LEN, MIN_CONFIDENCE = 0.05, 3, 0.3


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Step:
    """Times a block and samples the process's peak RSS while it runs."""

    def __init__(self, results: list, pipeline: str, name: str) -> None:
        self.results, self.pipeline, self.name = results, pipeline, name

    def __enter__(self) -> Step:
        self.peak = rss_mb()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        self.start = time.perf_counter()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.01)

    def __exit__(self, *exc) -> None:
        seconds = time.perf_counter() - self.start
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, rss_mb())
        self.results.append(
            {
                "pipeline": self.pipeline,
                "step": self.name,
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(self.peak),
            }
        )


def synthetic(n_events: int, seed: int = 0) -> tuple[pa.Table, pa.Table, np.ndarray]:
    """Events and users with five planted groups; returns (events, users, group per user)."""
    rng = np.random.default_rng(seed)
    n_users = max(50, n_events // 10)
    group = rng.integers(0, 5, n_users)
    topics = np.array(TOPICS, dtype=object)
    probs = np.full((5, len(TOPICS)), 0.3 / len(TOPICS))
    for g, name in enumerate(SIGNATURE_TOPICS):
        for t in SIGNATURE_TOPICS[name]:
            probs[g, TOPICS.index(t)] += 0.7 / len(SIGNATURE_TOPICS[name])
    counts = 1 + rng.poisson(rng.gamma(1.0, n_events / n_users - 1, n_users))
    scale = n_events / counts.sum()
    counts = np.maximum(1, np.round(counts * scale)).astype(np.int64)
    user = np.repeat(np.arange(n_users), counts)[:n_events]
    n = len(user)
    g = group[user]
    cum = probs.cumsum(axis=1)
    topic = (rng.random(n)[:, None] > cum[g]).sum(axis=1).clip(0, len(TOPICS) - 1)
    hour = (np.array(GROUP_HOURS)[g] + np.round(rng.normal(0, 1.8, n))).astype(np.int64) % 24
    day = rng.integers(0, 90, n)
    ms = (
        np.datetime64("2026-07-01", "ms").astype(np.int64)
        + day * 86_400_000
        + hour * 3_600_000
        + rng.integers(0, 3_600_000, n)
    )
    actions = np.array(["view", "like", "click", "comment", "share", "purchase"], dtype=object)
    action = (rng.random(n)[:, None] > np.cumsum([0.6, 0.18, 0.1, 0.05, 0.04, 0.03])).sum(axis=1).clip(0, 5)
    width = len(str(n_users))
    user_ids = pa.array([f"u{i:0{width}d}" for i in range(n_users)], type=pa.string())
    events = pa.table(
        {
            "user_id": pa.DictionaryArray.from_arrays(pa.array(user, type=pa.int32()), user_ids).cast(pa.string()),
            "timestamp": pa.array(ms, type=pa.timestamp("ms")),
            "action": pa.DictionaryArray.from_arrays(pa.array(action, type=pa.int8()), pa.array(actions)).cast(
                pa.string()
            ),
            "topic": pa.DictionaryArray.from_arrays(pa.array(topic, type=pa.int8()), pa.array(topics)).cast(
                pa.string()
            ),
            "platform": pa.nulls(n, type=pa.string()),
        }
    )
    lo = np.array([a for a, _ in GROUP_AGES])[group]
    hi = np.array([b for _, b in GROUP_AGES])[group]
    users = pa.table(
        {
            "user_id": user_ids,
            "age": pa.array(rng.integers(lo, hi + 1).astype(float)),
            "gender": pa.array(np.where(rng.random(n_users) < np.array(GROUP_FEMALE)[group], "female", "male")),
            "region": pa.array(
                np.array(["Shanghai", "Beijing", "Shenzhen"], dtype=object)[rng.integers(0, 3, n_users)]
            ),
        }
    )
    return events, users, group


def make_workspace(n_events: int, folder: Path):
    from core.workspace import open_workspace

    ws = open_workspace(folder / "ws")
    events, users, group = synthetic(n_events)
    staged = ws.new_tmp_dir("bench-")
    pq.write_table(events, staged / "events.parquet")
    pq.write_table(users, staged / "users.parquet")
    dataset_id = ws.add_dataset(
        name=f"bench {n_events:,}",
        kind="events",
        staged=staged,
        uploads=[],
        n_events=events.num_rows,
        n_users=users.num_rows,
        report={},
    )
    truth = pd.Series(group, index=users.column("user_id").to_pylist())
    return ws, dataset_id, truth


def run_reach(ws, dataset_id: int, truth: pd.Series, results: list) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from core.audience.features import build_features, load_behaviour
    from core.audience.rules import mine_rules, transactions_from_behaviour
    from core.audience.segments import map_2d, profile_segments, segment_users

    with Step(results, "reach", "features"):
        behaviour = load_behaviour(ws, dataset_id)
        features = build_features(behaviour)
    with Step(results, "reach", "segments (auto k)"):
        seg = segment_users(features)
        profile_segments(behaviour, seg)
        map_2d(features, seg.labels)
    with Step(results, "reach", "rules"):
        rules, _ = mine_rules(
            transactions_from_behaviour(behaviour),
            min_support=MIN_SUPPORT,
            min_confidence=MIN_CONFIDENCE,
            max_len=MAX_LEN,
        )
    ari = adjusted_rand_score(truth.loc[behaviour.user_ids].to_numpy(), seg.labels)
    return {
        "k": seg.k,
        "ari": round(ari, 3),
        "rules": len(rules),
        "users": behaviour.n_users,
        "features": features.matrix.shape[1],
        "algorithm": seg.algorithm,
    }


def run_notebook(ws, dataset_id: int, truth: pd.Series, results: list) -> dict:
    from mlxtend.frequent_patterns import apriori, association_rules
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score
    from sklearn.preprocessing import StandardScaler

    with Step(results, "notebook", "features"):
        events = ws.load_events(dataset_id)
        shares = pd.crosstab(events["user_id"], events["topic"], normalize="index")
        X = StandardScaler().fit_transform(shares.to_numpy())  # noqa: N806
    with Step(results, "notebook", "segments (auto k)"):
        best = (-2.0, None, None)
        for k in range(2, 13):
            labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(X)
            score = silhouette_score(X, labels, sample_size=min(10_000, len(X)), random_state=0)
            if score > best[0]:
                best = (score, k, labels)
    with Step(results, "notebook", "rules"):
        onehot = pd.crosstab(events["user_id"], events["topic"]) > 0
        itemsets = apriori(onehot, min_support=MIN_SUPPORT, use_colnames=True, max_len=MAX_LEN)
        rules = association_rules(itemsets, num_itemsets=len(onehot), metric="confidence", min_threshold=MIN_CONFIDENCE)
    ari = adjusted_rand_score(truth.loc[shares.index].to_numpy(), best[2])
    return {"k": best[1], "ari": round(ari, 3), "rules": len(rules), "users": len(shares)}


def worker(n_events: int, notebook: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="reach-bench-") as tmp:
        t = time.perf_counter()
        ws, dataset_id, truth = make_workspace(n_events, Path(tmp))
        setup = time.perf_counter() - t
        results: list = []
        out = {"events": n_events, "setup_seconds": round(setup, 1), "baseline_rss_mb": round(rss_mb())}
        out["reach"] = run_reach(ws, dataset_id, truth, results)
        if notebook:
            out["notebook"] = run_notebook(ws, dataset_id, truth, results)
        out["steps"] = results
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, nargs="+", default=[1e6])
    parser.add_argument(
        "--notebook-max",
        type=float,
        default=2e6,
        help="run the notebook pipeline only up to this many events (it takes many minutes above)",
    )
    parser.add_argument("--worker", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--notebook", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(int(args.worker), args.notebook)))
        return
    for n in args.events:
        cmd = [sys.executable, __file__, "--worker", str(int(n))] + (["--notebook"] if n <= args.notebook_max else [])
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if done.returncode != 0:
            print(done.stderr[-3000:])
            continue
        out = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"\n== {int(n):,} events, {out['reach']['users']:,} users (data setup {out['setup_seconds']} s, "
            f"baseline RSS {out['baseline_rss_mb']} MB) =="
        )
        print(f"{'pipeline':<10}{'step':<20}{'seconds':>9}{'peak RSS MB':>13}")
        totals: dict[str, float] = {}
        for row in out["steps"]:
            totals[row["pipeline"]] = totals.get(row["pipeline"], 0.0) + row["seconds"]
            print(f"{row['pipeline']:<10}{row['step']:<20}{row['seconds']:>9.2f}{row['peak_rss_mb']:>13,}")
        for name, total in totals.items():
            peak = max(r["peak_rss_mb"] for r in out["steps"] if r["pipeline"] == name)
            quality = out[name]
            print(
                f"{name:<10}{'TOTAL':<20}{total:>9.2f}{peak:>13,}   k={quality['k']} ARI={quality['ari']} "
                f"rules={quality['rules']}"
            )


if __name__ == "__main__":
    main()
