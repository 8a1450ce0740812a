"""Benchmark of step 2 (audience): features → segments → rules, three pipelines side by side.

    .venv/bin/python bench/audience.py                  # 1M events, all three pipelines
    .venv/bin/python bench/audience.py --events 1e6 1e7 # and 10M events (notebook only up to --notebook-max)

Synthetic events with five planted groups (about ten events per user, so 10M events are about 1M
users) are written into a scratch workspace as a dataset, then each pipeline reads it from there.
Every size runs in a fresh process so one size's memory does not count against the next. Per
stage: wall time, CPU time (all threads) and peak resident memory of the process (sampled every
10 ms), plus the adjusted
Rand index against the planted groups, and the load average before and after (the machine is
shared: compare pipelines within one run, not across runs).

* **reach** — what ``python -m core segments`` and ``rules`` run: ``load_behaviour`` +
  ``build_features``, ``segment_users`` (auto k) + profiles + 2-D map, ``mine_rules`` (bitsets).
* **reference** — the leanest path that does the same work: pyarrow read with dictionary codes,
  topic shares by one ``bincount``, KMeans sweep on a sample and MiniBatchKMeans in float32,
  itemsets by matrix products on the per-user topic matrix.
* **notebook** — the straightforward one: ``pd.crosstab`` of users × topics (shares),
  ``StandardScaler``, ``KMeans(n_init=10)`` for k = 2..12 with a 10,000-user silhouette sample,
  then mlxtend ``apriori`` on a dense one-hot ``crosstab > 0`` frame and ``association_rules``.

Checks printed after the figures (not timed): Reach's rules equal mlxtend ``fpgrowth``'s on the
same transactions, and, when ``bench/out/labels_<events>.baseline.npy`` exists (segment labels
saved by an earlier version with ``--save-labels``), the ARI of today's segments against them.
"""

from __future__ import annotations

import argparse
import itertools
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
OUT = Path(__file__).resolve().parent / "out"  # git-ignored


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
        self.start, self.cpu = time.perf_counter(), time.process_time()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.01)

    def __exit__(self, *exc) -> None:
        seconds, cpu = time.perf_counter() - self.start, time.process_time() - self.cpu
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, rss_mb())
        self.results.append(
            {
                "pipeline": self.pipeline,
                "step": self.name,
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu, 2),
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
        transactions = transactions_from_behaviour(behaviour)
        rules, _ = mine_rules(transactions, min_support=MIN_SUPPORT, min_confidence=MIN_CONFIDENCE, max_len=MAX_LEN)
    mlxtend, _ = mine_rules(
        transactions, min_support=MIN_SUPPORT, min_confidence=MIN_CONFIDENCE, max_len=MAX_LEN, algorithm="fpgrowth"
    )
    ari = adjusted_rand_score(truth.loc[behaviour.user_ids].to_numpy(), seg.labels)
    return {
        "k": seg.k,
        "ari": round(ari, 3),
        "rules": len(rules),
        "rules_equal_mlxtend": bool(rules.equals(mlxtend)),
        "users": behaviour.n_users,
        "features": features.matrix.shape[1],
        "algorithm": seg.algorithm,
        "labels": seg.labels,
    }


def run_reference(ws, dataset_id: int, truth: pd.Series, results: list) -> dict:
    """The lean path: integer codes, bincount, float32 KMeans, itemsets by matrix products."""
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    with Step(results, "reference", "features"):
        path = ws.dataset_dir(dataset_id) / "events.parquet"
        table = pq.read_table(path, columns=["user_id", "topic"], read_dictionary=["user_id", "topic"])
        table = table.unify_dictionaries()
        user = np.concatenate([c.indices.to_numpy() for c in table["user_id"].chunks], dtype=np.int64)
        topic = np.concatenate([c.indices.to_numpy() for c in table["topic"].chunks], dtype=np.int64)
        n_users, n_topics = len(table["user_id"].chunk(0).dictionary), len(table["topic"].chunk(0).dictionary)
        counts = np.bincount(user * n_topics + topic, minlength=n_users * n_topics).reshape(n_users, n_topics)
        shares = (counts / counts.sum(axis=1, keepdims=True)).astype(np.float32)
        X = (shares - shares.mean(axis=0)) / shares.std(axis=0)  # noqa: N806
    with Step(results, "reference", "segments (auto k)"):
        rng = np.random.default_rng(0)
        sample = X[rng.choice(n_users, min(n_users, 20_000), replace=False)]
        best = (-2.0, None, None)
        for k in range(2, 13):
            model = KMeans(n_clusters=k, n_init=1, random_state=0).fit(sample)
            score = silhouette_score(sample, model.labels_, sample_size=min(4_000, len(sample)), random_state=0)
            if score > best[0]:
                best = (score, k, model.cluster_centers_)
        final = MiniBatchKMeans(n_clusters=best[1], init=best[2], n_init=1, batch_size=4096, random_state=0)
        labels = final.fit(X).predict(X)
    with Step(results, "reference", "rules"):
        n_rules = _reference_rules(counts >= 2)
    ids = table["user_id"].chunk(0).dictionary.to_numpy(zero_copy_only=False)
    ari = adjusted_rand_score(truth.loc[ids].to_numpy(), labels)
    return {"k": best[1], "ari": round(ari, 3), "rules": n_rules, "users": n_users}


def _reference_rules(has: np.ndarray) -> int:
    """Rules (support, max_len 3, confidence) counted from itemset supports found by matrix products."""
    n = len(has)
    items = np.flatnonzero(has.mean(axis=0) >= MIN_SUPPORT)
    B = has[:, items].astype(np.float32)  # noqa: N806
    single = B.sum(axis=0) / n
    pair = (B.T @ B) / n
    support = {(i,): single[i] for i in range(len(items))}
    for i, j in zip(*np.triu_indices(len(items), 1), strict=True):
        if pair[i, j] >= MIN_SUPPORT:
            support[(i, j)] = pair[i, j]
            if MAX_LEN >= 3 and j + 1 < len(items):
                both = B[:, i] * B[:, j]
                for offset, value in enumerate((both @ B[:, j + 1 :]) / n):
                    if value >= MIN_SUPPORT:
                        support[(i, j, j + 1 + offset)] = value
    rules = 0
    for itemset, value in support.items():
        for size in range(1, len(itemset)):
            for antecedent in itertools.combinations(itemset, size):
                rules += value / support[antecedent] >= MIN_CONFIDENCE
    return int(rules)


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
        out["load_before"] = os.getloadavg()
        out["reach"] = run_reach(ws, dataset_id, truth, results)
        labels = out["reach"].pop("labels")
        out["reference"] = run_reference(ws, dataset_id, truth, results)
        if notebook:
            out["notebook"] = run_notebook(ws, dataset_id, truth, results)
        out["load_after"] = os.getloadavg()
        out["steps"] = results
        np.save(OUT / f"labels_{n_events}.npy", labels)
        return out


def report(n: int, out: dict, save_labels: bool) -> None:
    """Print one size's figures: each stage, each pipeline's total, the checks."""
    from sklearn.metrics import adjusted_rand_score

    load = " → ".join("/".join(f"{v:.1f}" for v in out[key]) for key in ("load_before", "load_after"))
    print(
        f"\n== {int(n):,} events, {out['reach']['users']:,} users · {time.strftime('%Y-%m-%d %H:%M')} · "
        f"load average (1/5/15 min) {load} on {os.cpu_count()} cores, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')} =="
    )
    print(f"(data setup {out['setup_seconds']} s, baseline RSS {out['baseline_rss_mb']} MB)")
    print(f"{'pipeline':<11}{'stage':<20}{'seconds':>9}{'CPU s':>8}{'peak RSS MB':>13}")
    totals: dict[str, list[float]] = {}
    for row in out["steps"]:
        total = totals.setdefault(row["pipeline"], [0.0, 0.0])
        total[0] += row["seconds"]
        total[1] += row["cpu_seconds"]
        print(
            f"{row['pipeline']:<11}{row['step']:<20}{row['seconds']:>9.2f}{row['cpu_seconds']:>8.2f}"
            f"{row['peak_rss_mb']:>13,}"
        )
    for name, (seconds, cpu) in totals.items():
        peak = max(r["peak_rss_mb"] for r in out["steps"] if r["pipeline"] == name)
        quality = out[name]
        print(
            f"{name:<11}{'TOTAL':<20}{seconds:>9.2f}{cpu:>8.2f}{peak:>13,}   k={quality['k']} "
            f"ARI vs planted={quality['ari']} rules={quality['rules']}"
        )
    reach = out["reach"]
    print(f"reach's rules equal mlxtend fpgrowth's: {reach['rules_equal_mlxtend']}")
    labels_path = OUT / f"labels_{int(n)}.npy"
    baseline = OUT / f"labels_{int(n)}.baseline.npy"
    if baseline.exists():
        ari = adjusted_rand_score(np.load(baseline), np.load(labels_path))
        print(f"reach's segments vs the saved baseline ({baseline.name}): ARI {ari:.4f}")
    if save_labels:
        labels_path.replace(baseline)
        print(f"saved as the baseline: {baseline}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, nargs="+", default=[1e6])
    parser.add_argument(
        "--notebook-max",
        type=float,
        default=2e6,
        help="run the notebook pipeline only up to this many events (it takes many minutes above)",
    )
    parser.add_argument(
        "--save-labels", action="store_true", help="keep this run's segment labels as the baseline to compare with"
    )
    parser.add_argument("--worker", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--notebook", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.worker:
        print(json.dumps(worker(int(args.worker), args.notebook)))
        return
    for n in args.events:
        cmd = [sys.executable, __file__, "--worker", str(int(n))] + (["--notebook"] if n <= args.notebook_max else [])
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if done.returncode != 0:
            print(done.stderr[-3000:])
            continue
        report(n, json.loads(done.stdout.strip().splitlines()[-1]), args.save_labels)


if __name__ == "__main__":
    main()
