"""The Spark engine (Spark's local mode) gives the in-process segments and rules on planted data.

Skipped only where pyspark is not installed; CI installs ``requirements-spark.txt`` and Java 17.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from tests.core.conftest import cli_json

pytest.importorskip("pyspark")

GROUP_TOPICS = [
    ["yoga", "skincare", "collagen"],
    ["protein", "running", "fitness"],
    ["herbal tea", "gardening", "heart health"],
    ["meal prep", "family meals", "low sugar"],
    ["smoothies", "gut health", "supplements"],
]
GROUP_HOURS = [21, 7, 10, 18, 13]


def _planted_events(path: Path, n_users: int = 400, seed: int = 0) -> None:
    """Five groups, each with its own three topics (85 % of its events) and its own hour of day."""
    rng = np.random.default_rng(seed)
    every_topic = [t for topics in GROUP_TOPICS for t in topics]
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["user_id", "timestamp", "action", "topic"])
        for user in range(n_users):
            group = user % 5
            for _ in range(rng.integers(8, 16)):
                own = rng.random() < 0.85
                topic = rng.choice(GROUP_TOPICS[group]) if own else rng.choice(every_topic)
                day, hour = rng.integers(1, 29), (GROUP_HOURS[group] + rng.integers(-1, 2)) % 24
                action = rng.choice(["view", "like", "share"], p=[0.7, 0.2, 0.1])
                out.writerow([f"u{user:04d}", f"2026-09-{day:02d} {hour:02d}:{rng.integers(0, 60):02d}", action, topic])


def test_spark_engine_finds_the_same_segments_and_rules(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    events = tmp_path / "events.csv"
    _planted_events(events)
    cli_json(capsys, ["ingest", str(events), "--json"])

    local_csv, spark_csv = tmp_path / "local.csv", tmp_path / "spark.csv"
    local = cli_json(capsys, ["segments", "--k", "5", "--json", "--assignments-out", str(local_csv)])
    spark = cli_json(
        capsys, ["segments", "--k", "5", "--engine", "spark", "--json", "--assignments-out", str(spark_csv)]
    )
    assert spark["k"] == local["k"] == 5
    merged = pd.read_csv(local_csv).merge(pd.read_csv(spark_csv), on="user_id", suffixes=("_local", "_spark"))
    assert len(merged) == 400
    assert adjusted_rand_score(merged["segment_local"], merged["segment_spark"]) >= 0.9
    # Same segments, so the same profiles: sizes and the topics that name them.
    assert [(s["size"], s["top_topics"]) for s in spark["segments"]] == [
        (s["size"], s["top_topics"]) for s in local["segments"]
    ]

    rules_args = ["rules", "--min-support", "0.05", "--min-confidence", "0.3", "--json"]
    local_rules = cli_json(capsys, rules_args)
    spark_rules = cli_json(capsys, [*rules_args, "--engine", "spark"])
    assert local_rules["rules"], "the planted topics must give rules to compare"
    assert spark_rules == local_rules
