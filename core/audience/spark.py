"""The audience step on Spark: for event tables larger than one machine holds.

Selected by ``--engine spark`` on ``python -m core segments`` / ``rules`` or the workspace
setting ``audience.engine = spark``; needs ``pip install -r requirements-spark.txt`` and Java 17.
The in-process path stays the default, and this is the only module that imports ``pyspark``.

What runs where:

* **Spark** reads the dataset's ``events.parquet`` directly and condenses the events (the part
  that grows with time) into per-user counts: topics, actions, hour × weekday slots, events,
  active days, last day.
* **The driver** turns those counts into the same :class:`~core.audience.features.Behaviour` and
  the same feature matrix as the in-process path (:func:`build_features`), so one user's
  features do not depend on the engine. Per-user data is what a driver must hold: about 0.6 GB
  a million users (``bench/README.md``).
* **Spark MLlib** fits KMeans (each candidate k on a sample, the silhouette of the same sample
  as in-process, then the chosen k on every user) and FP-growth on the per-user topic sets; the
  frequent itemsets come back (they are few) and mlxtend's ``association_rules`` makes the rules,
  so they are the in-process rules.

``REACH_SPARK_MASTER`` (default ``local[*]``) points the session at a cluster.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.ml.clustering import KMeans as SparkKMeans
from pyspark.ml.fpm import FPGrowth
from pyspark.ml.functions import array_to_vector
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from scipy import sparse

from core.audience.features import Behaviour, UserFeatures, _align_users, build_features
from core.audience.segments import Segmentation, _distances, _order_by_size, _silhouette

if TYPE_CHECKING:
    from core.workspace import Workspace

__all__ = ["spark_behaviour", "spark_itemsets", "spark_segment_users", "spark_session"]

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

_MS_PER_DAY = 86_400_000


def spark_session() -> SparkSession:
    """The Spark session Reach uses (``REACH_SPARK_MASTER``, default ``local[*]``), created once."""
    return (
        SparkSession.builder.master(os.environ.get("REACH_SPARK_MASTER", "local[*]"))
        .appName("reach-audience")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", os.environ.get("REACH_SPARK_PARTITIONS", "8"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def _events(spark: SparkSession, ws: Workspace, dataset_id: int) -> DataFrame:
    """The dataset's events with a user and a topic, read by Spark from the workspace's Parquet."""
    events = spark.read.parquet(str(ws.dataset_dir(dataset_id) / "events.parquet"))
    return events.where(F.col("user_id").isNotNull() & F.col("topic").isNotNull())


def _collect(frame: DataFrame) -> pd.DataFrame:
    """A small aggregated frame on the driver."""
    return frame.toPandas()


def _vocabulary(counts: pd.DataFrame, column: str) -> list[str]:
    """Values most frequent first, ties by name (the in-process order)."""
    totals = counts.groupby(column, sort=False)["n"].sum()
    frame = pd.DataFrame({"name": totals.index.astype(str), "n": totals.to_numpy()})
    return frame.sort_values(["n", "name"], ascending=[False, True], kind="stable")["name"].tolist()


def _matrix(counts: pd.DataFrame, column: str, vocabulary: list[str], rows: pd.Index) -> sparse.csr_matrix:
    """Per-user counts of a long (user_id, value, n) frame as a users × vocabulary matrix."""
    row = rows.get_indexer(counts["user_id"])
    col = pd.Index(vocabulary).get_indexer(counts[column].astype(str))
    return sparse.csr_matrix(
        (counts["n"].to_numpy(np.float32), (row, col)), shape=(len(rows), len(vocabulary)), dtype=np.float32
    )


def spark_behaviour(
    spark: SparkSession, ws: Workspace, dataset_id: int | None = None, *, kind: str | None = None
) -> Behaviour:
    """Per-user counts condensed by Spark, as the same :class:`Behaviour` the in-process path builds."""
    info = ws.dataset(dataset_id)
    events = _events(spark, ws, info.id)
    has_action = "action" in events.columns
    if has_action:
        events = events.withColumn("action", F.coalesce(F.col("action"), F.lit("view")))
    topics = _collect(events.groupBy("user_id", "topic").agg(F.count("*").alias("n")))
    if topics.empty:
        raise ValueError("no event has both a user and a topic")
    user_ids = np.sort(topics["user_id"].astype(str).unique()).astype(object)
    rows = pd.Index(user_ids)
    topic_vocab = _vocabulary(topics, "topic")
    topic_counts = _matrix(topics, "topic", topic_vocab, rows)
    if has_action:
        actions = _collect(events.groupBy("user_id", "action").agg(F.count("*").alias("n")))
        action_vocab = _vocabulary(actions, "action")
        action_counts = _matrix(actions, "action", action_vocab, rows).toarray()
    else:
        action_vocab, action_counts = ["view"], np.asarray(topic_counts.sum(axis=1), dtype=np.float32)
    n_events = np.asarray(topic_counts.sum(axis=1)).ravel().astype(np.float32)
    slot_counts = active_days = recency_days = None
    if "timestamp" in events.columns:
        slot_counts, active_days, recency_days = _time_counts(events, rows)
    users = ws.load_users(info.id)
    return Behaviour(
        user_ids=user_ids,
        topics=topic_vocab,
        topic_counts=topic_counts,
        actions=action_vocab,
        action_counts=action_counts.astype(np.float32),
        slot_counts=slot_counts,
        n_events=n_events,
        active_days=active_days,
        recency_days=recency_days,
        users=_align_users(users, user_ids),
        kind=kind or info.kind,
    )


def _time_counts(events: DataFrame, rows: pd.Index) -> tuple:
    """(weekday × hour counts, active days, days since last event) per user, aggregated by Spark."""
    ms = F.unix_millis(F.col("timestamp").cast("timestamp"))  # the session is in UTC: times as stored
    timed = events.where(F.col("timestamp").isNotNull()).select(
        "user_id", F.floor(ms / _MS_PER_DAY).alias("day"), F.floor((ms % _MS_PER_DAY) / 3_600_000).alias("hour")
    )
    bounds = timed.agg(F.min("day").alias("first"), F.max("day").alias("last")).collect()[0]
    if bounds["first"] is None:
        return None, None, None
    # 1970-01-01 was a Thursday: weekday 0 = Monday.
    slots = _collect(
        timed.groupBy("user_id", (((F.col("day") + 3) % 7) * 24 + F.col("hour")).cast("int").alias("slot")).agg(
            F.count("*").alias("n")
        )
    )
    slot_counts = _matrix(slots.assign(slot=slots["slot"].astype(str)), "slot", [str(s) for s in range(168)], rows)
    days = _collect(
        timed.groupBy("user_id").agg(F.countDistinct("day").alias("active"), F.max("day").alias("last_day"))
    )
    position = rows.get_indexer(days["user_id"])
    active_days = np.zeros(len(rows), dtype=np.float32)
    active_days[position] = days["active"].to_numpy(np.float32)
    recency_days = np.full(len(rows), np.nan, dtype=np.float32)
    recency_days[position] = (bounds["last"] - days["last_day"].to_numpy(np.int64)).astype(np.float32)
    return slot_counts, active_days, recency_days


def _as_spark(spark: SparkSession, matrix: np.ndarray, index: np.ndarray | None = None) -> DataFrame:
    """Rows of a feature matrix as a Spark frame with ``row`` and a ``features`` vector column."""
    index = np.arange(len(matrix)) if index is None else index
    table = pa.table(
        {
            "row": pa.array(index, pa.int64()),
            "features": pa.FixedSizeListArray.from_arrays(
                pa.array(matrix.astype(np.float64).ravel()), matrix.shape[1]
            ).cast(pa.list_(pa.float64())),
        }
    )
    frame = spark.createDataFrame(table.to_pandas())
    return frame.select("row", array_to_vector("features").alias("features"))


def _predict(model, frame: DataFrame, n: int) -> np.ndarray:
    """Cluster per row of ``frame`` (rows 0..n-1)."""
    predicted = model.transform(frame).select("row", "prediction").toPandas()
    labels = np.empty(n, dtype=np.int64)
    labels[predicted["row"].to_numpy()] = predicted["prediction"].to_numpy()
    return labels


def spark_segment_users(
    spark: SparkSession,
    features: UserFeatures,
    *,
    k: int | None = None,
    k_range: tuple[int, int] = (2, 12),
    random_state: int = 0,
    sample_size: int = 20_000,
    silhouette_size: int = 4_000,
    progress: Progress | None = None,
) -> Segmentation:
    """:func:`core.audience.segments.segment_users` with MLlib's KMeans: same sample, same silhouette."""
    matrix = features.matrix
    n = matrix.shape[0]
    rng = np.random.default_rng(random_state)
    sample_idx = np.sort(rng.choice(n, size=sample_size, replace=False)) if n > sample_size else np.arange(n)
    sil_idx = (
        np.sort(rng.choice(len(sample_idx), size=silhouette_size, replace=False))
        if len(sample_idx) > silhouette_size
        else np.arange(len(sample_idx))
    )
    sample = _as_spark(spark, matrix[sample_idx]).cache()
    distances = _distances(matrix[sample_idx][sil_idx])
    candidates = [k] if k is not None else list(range(k_range[0], min(k_range[1], len(sample_idx) - 1) + 1))
    rows = []
    for i, kk in enumerate(candidates):
        if progress:
            progress(0.8 * i / len(candidates), f"Trying k = {kk} on {len(sample_idx):,} users (Spark)…")
        model = SparkKMeans(k=kk, seed=random_state, maxIter=100).fit(sample)
        labels = _predict(model, sample, len(sample_idx))
        rows.append(
            {"k": kk, "silhouette": _silhouette(distances, labels[sil_idx]), "inertia": model.summary.trainingCost}
        )
    sample.unpersist()
    curve = pd.DataFrame(rows)
    k_final = int(curve.loc[curve["silhouette"].fillna(-1.0).idxmax(), "k"]) if k is None else k
    if progress:
        progress(0.85, f"Fitting {k_final} segments on all {n:,} users (Spark)…")
    everyone = _as_spark(spark, matrix).cache()
    model = SparkKMeans(k=k_final, seed=random_state, maxIter=100).fit(everyone)
    labels = _predict(model, everyone, n)
    everyone.unpersist()
    centers = np.asarray(model.clusterCenters(), dtype=np.float32)
    labels, centers = _order_by_size(labels, centers, k_final)
    return Segmentation(
        labels=labels,
        k=k_final,
        silhouette=float(curve.loc[curve["k"] == k_final, "silhouette"].iloc[0]),
        curve=curve,
        centers=centers,
        auto=k is None,
        algorithm="spark-kmeans",
    )


def spark_itemsets(
    spark: SparkSession,
    transactions_matrix: sparse.csr_matrix,
    items: list[str],
    *,
    min_support: float,
    max_len: int | None,
) -> pd.DataFrame:
    """MLlib FP-growth's frequent itemsets, kept by mlxtend's test (``count / n >= min_support``)."""
    n = transactions_matrix.shape[0]
    matrix = sparse.csr_matrix(transactions_matrix)
    names = np.asarray(items, dtype=object)
    baskets = pd.DataFrame(
        {
            "items": [
                names[matrix.indices[a:b]].tolist() for a, b in zip(matrix.indptr[:-1], matrix.indptr[1:], strict=True)
            ]
        }
    )
    frame = spark.createDataFrame(baskets, "items array<string>")
    # A hair under min_support, so a float rounding in Spark's ceil(min_support * n) drops nothing;
    # the test below is the exact one.
    model = FPGrowth(itemsCol="items", minSupport=min_support * (1 - 1e-9)).fit(frame)
    found = model.freqItemsets.toPandas()
    support = found["freq"].to_numpy(np.int64) / n
    size = found["items"].map(len).to_numpy()
    keep = (support >= min_support) & ((size <= max_len) if max_len is not None else True)
    return pd.DataFrame(
        {"support": support[keep], "itemsets": [frozenset(s) for s in found["items"][keep]]}
    ).reset_index(drop=True)


def spark_features(spark: SparkSession, ws: Workspace, dataset_id: int | None = None) -> tuple[Behaviour, UserFeatures]:
    """(Behaviour, features) of a dataset with the events condensed by Spark."""
    behaviour = spark_behaviour(spark, ws, dataset_id)
    return behaviour, build_features(behaviour)
