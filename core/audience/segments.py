"""Audience segments: KMeans on per-user features, profiles, names, a 2-D map.

Entry points:

* :func:`segment_users` — KMeans with k chosen by silhouette (on a sample) over ``k_range``, or a
  fixed k. Above ``minibatch_above`` users the final fit is MiniBatchKMeans seeded with the
  centres found on the sample. Segment ids are ordered by size (0 = largest) and reruns with the
  same data and ``random_state`` give the same ids, so names stored against them stay put.
* :func:`profile_segments` — size, share, distinguishing topics (lift vs. all users),
  demographics, action mix, hour × weekday activity, best hours and a generated name.
* :func:`map_2d` — a PCA projection of at most 20,000 sampled users for a scatter plot.
* :func:`run_segments` — all of the above on a workspace dataset, for the CLI and the pages.
* :func:`rename_segment`, :func:`segment_names`, :func:`save_run`, :func:`last_run` — names the
  operator gives, and the last run's summary, persisted in the workspace database.
* :func:`stored_report`, :func:`store_report`, :func:`run_report` — whole reports kept in the
  workspace, so a segmentation is computed once per dataset, k setting and version of this code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA

from core.audience.features import WEEKDAYS, Behaviour, UserFeatures, build_features, load_behaviour
from core.clock import utc_now

if TYPE_CHECKING:
    from core.workspace import Workspace

__all__ = [
    "SegmentProfile",
    "SegmentReport",
    "Segmentation",
    "assignments_frame",
    "last_run",
    "map_2d",
    "profile_segments",
    "rename_segment",
    "run_report",
    "run_segments",
    "save_run",
    "segment_names",
    "segment_users",
    "store_report",
    "stored_report",
]

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

AGE_BANDS: tuple[tuple[int, int], ...] = ((0, 17), (18, 29), (30, 44), (45, 54), (55, 64), (65, 200))
MAX_MAP_POINTS = 20_000
#: Below this silhouette the segments overlap more than they differ (the usual reading for
#: behaviour data): the pages say so and suggest a fixed k or more data.
WEAK_SILHOUETTE = 0.2
#: A topic can name a segment (and be one of its top topics) only when this share of the segment's
#: members engaged with it and, across the dataset, at least ``MIN_TOPIC_USERS`` users or
#: ``MIN_TOPIC_USER_SHARE`` of them did: a rare tag with a huge lift says nothing about a group.
MIN_TOPIC_MEMBER_SHARE = 0.05
MIN_TOPIC_USERS = 20
MIN_TOPIC_USER_SHARE = 0.01

# A stored report is valid for the code that computed it: the audience step's sources name it.
_CODE_VERSION = hashlib.sha256(
    b"".join((Path(__file__).parent / name).read_bytes() for name in ("segments.py", "features.py"))
).hexdigest()[:12]


class SegmentError(ValueError):
    """Segmentation input the operator must change (too few users, k out of range)."""


#: Where the audience step runs: in this process, or on Spark (``core.audience.spark``).
ENGINES = ("local", "spark")
#: The workspace setting that chooses the engine when none is given.
ENGINE_SETTING = "audience.engine"


def resolve_engine(ws: Workspace, engine: str | None) -> str:
    """``engine``, else ``REACH_AUDIENCE_ENGINE``, else the workspace setting, else ``local``.

    SegmentError for an unknown one.
    """
    engine = engine or os.environ.get("REACH_AUDIENCE_ENGINE") or ws.get_setting(ENGINE_SETTING) or "local"
    if engine not in ENGINES:
        raise SegmentError(f"engine={engine!r} must be one of {', '.join(ENGINES)}")
    return engine


def spark_engine() -> ModuleType:
    """``core.audience.spark``, imported on first use: pyspark is an optional install.

    SegmentError saying how to install it when it is missing.
    """
    try:
        # Imported here, not at the top: the default install has no pyspark.
        from core.audience import spark
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith(("pyspark", "py4j")):
            raise
        raise SegmentError(
            "the spark engine needs pyspark: pip install -r requirements-spark.txt (and Java 17)"
        ) from None
    return spark


@dataclass(frozen=True)
class Segmentation:
    """KMeans result with size-ordered labels.

    Attributes
    ----------
    labels : numpy.ndarray
        Segment id per user (0 = largest segment), aligned with the features' ``user_ids``.
    k : int
        Number of segments.
    silhouette : float
        Silhouette of the chosen k on a sample of users.
    curve : pandas.DataFrame
        ``k``, ``silhouette``, ``inertia`` (on the sample) for every k tried; one row for a fixed k.
    centers : numpy.ndarray
        Cluster centres in feature space, row i = segment i.
    auto : bool
        Whether k was chosen by silhouette.
    algorithm : str
        ``"kmeans"`` or ``"minibatch"``.
    """

    labels: np.ndarray
    k: int
    silhouette: float
    curve: pd.DataFrame
    centers: np.ndarray
    auto: bool
    algorithm: str

    @property
    def sizes(self) -> np.ndarray:
        """Users per segment, by id."""
        return np.bincount(self.labels, minlength=self.k)


def segment_users(
    features: UserFeatures,
    *,
    k: int | None = None,
    k_range: tuple[int, int] = (2, 12),
    random_state: int = 0,
    sample_size: int = 20_000,
    silhouette_size: int = 4_000,
    minibatch_above: int = 100_000,
    n_init: int = 3,
    progress: Progress | None = None,
) -> Segmentation:
    """Cluster users with KMeans; choose k by silhouette when ``k`` is None.

    Long only for its nine documented options; the body is one pass: sample, try each k, fit all users.

    Parameters
    ----------
    features : UserFeatures
        Scaled feature matrix from :func:`core.audience.features.build_features`.
    k : int, optional
        Fixed number of segments; by default the k in ``k_range`` with the best silhouette.
    k_range : (int, int), default (2, 12)
        Inclusive range of k tried in auto mode (clipped to the number of users).
    random_state : int, default 0
        Seed of the sampling and of KMeans: the same inputs give the same segments.
    sample_size : int, default 20,000
        Users the candidate ks are fitted on.
    silhouette_size : int, default 4,000
        Users the silhouette is computed on (it costs the square of this).
    minibatch_above : int, default 100,000
        Above this many users the final fit is MiniBatchKMeans.
    n_init : int, default 3
        KMeans restarts per k.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    Segmentation
    """
    matrix = features.matrix
    n = matrix.shape[0]
    low, high = k_range
    if n < 3:
        raise SegmentError(f"n_users={n}: at least 3 users are needed to find segments")
    if k is not None and not 2 <= k <= min(n - 1, 50):
        raise SegmentError(f"k={k} must be between 2 and {min(n - 1, 50)} (n_users={n})")
    if k is None and not 2 <= low <= high:
        raise SegmentError(f"k_range={k_range} must be increasing and start at 2 or more")
    rng = np.random.default_rng(random_state)
    sample_idx = np.sort(rng.choice(n, size=sample_size, replace=False)) if n > sample_size else np.arange(n)
    sample = matrix[sample_idx]
    sil_idx = (
        np.sort(rng.choice(len(sample), size=silhouette_size, replace=False))
        if len(sample) > silhouette_size
        else np.arange(len(sample))
    )
    candidates = [k] if k is not None else list(range(low, min(high, len(sample) - 1) + 1))
    curve, fits = _try_ks(sample, sil_idx, candidates, n_init=n_init, random_state=random_state, progress=progress)
    if k is None:
        best = curve.loc[curve["silhouette"].fillna(-1.0).idxmax()]
        k_final = int(best["k"])
    else:
        k_final = k
    silhouette = float(curve.loc[curve["k"] == k_final, "silhouette"].iloc[0])

    if progress:
        progress(0.85, f"Fitting {k_final} segments on all {n:,} users…")
    labels, centers, algorithm = _final_fit(
        matrix, fits[k_final], fitted_all=n == len(sample), minibatch_above=minibatch_above, random_state=random_state
    )
    labels, centers = _order_by_size(np.asarray(labels), np.asarray(centers), k_final)
    if progress:
        progress(1.0, "Segments found")
    return Segmentation(
        labels=labels,
        k=k_final,
        silhouette=silhouette,
        curve=curve,
        centers=centers,
        auto=k is None,
        algorithm=algorithm,
    )


def _try_ks(
    sample: np.ndarray,
    sil_idx: np.ndarray,
    candidates: list[int],
    *,
    n_init: int,
    random_state: int,
    progress: Progress | None,
) -> tuple[pd.DataFrame, dict]:
    """KMeans for each candidate k on ``sample``: the curve (k, silhouette on ``sil_idx``, inertia) and the fits."""
    rows, fits = [], {}
    distances = _distances(sample[sil_idx])  # once for every k
    for i, kk in enumerate(candidates):
        if progress:
            progress(0.8 * i / len(candidates), f"Trying k = {kk} on {len(sample):,} users…")
        model = KMeans(n_clusters=kk, n_init=n_init, random_state=random_state).fit(sample)
        score = _silhouette(distances, model.labels_[sil_idx])
        rows.append({"k": kk, "silhouette": score, "inertia": float(model.inertia_)})
        fits[kk] = model
    return pd.DataFrame(rows), fits


def _distances(points: np.ndarray) -> np.ndarray:
    """Euclidean distances between all pairs of ``points`` (float32, through one matrix product)."""
    points = np.asarray(points, dtype=np.float32)
    squared = np.einsum("ij,ij->i", points, points)
    gram = points @ points.T
    gram *= -2.0
    gram += squared[:, None]
    gram += squared[None, :]
    np.maximum(gram, 0.0, out=gram)
    np.fill_diagonal(gram, 0.0)
    return np.sqrt(gram, out=gram)


def _silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette coefficient (scikit-learn's definition) from a square distance matrix; NaN for one cluster.

    One matrix product gives every point's summed distance to each cluster, where
    ``silhouette_score`` loops over points; the distances are computed once for all k.
    """
    _, labels = np.unique(labels, return_inverse=True)
    k = int(labels.max()) + 1
    if k < 2:
        return float("nan")
    n = len(labels)
    rows = np.arange(n)
    sizes = np.bincount(labels, minlength=k)
    members = np.zeros((n, k), dtype=distances.dtype)
    members[rows, labels] = 1.0
    per_cluster = distances @ members
    own = per_cluster[rows, labels] / np.maximum(sizes[labels] - 1, 1)
    per_cluster /= sizes
    per_cluster[rows, labels] = np.inf
    nearest = per_cluster.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (nearest - own) / np.maximum(own, nearest)
    scores[sizes[labels] == 1] = 0.0  # a point alone in its cluster scores 0
    return float(np.nan_to_num(scores).mean())


def _final_fit(
    matrix: np.ndarray, seed_model: KMeans, *, fitted_all: bool, minibatch_above: int, random_state: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """(labels, centres, algorithm) on all users, starting from the centres ``seed_model`` found on the sample."""
    k_final = seed_model.n_clusters
    if fitted_all:
        return seed_model.labels_, seed_model.cluster_centers_, "kmeans"
    if matrix.shape[0] <= minibatch_above:
        final = KMeans(n_clusters=k_final, init=seed_model.cluster_centers_, n_init=1, random_state=random_state).fit(
            matrix
        )
        return final.labels_, final.cluster_centers_, "kmeans"
    final = MiniBatchKMeans(
        n_clusters=k_final,
        init=seed_model.cluster_centers_,
        n_init=1,
        batch_size=4096,
        random_state=random_state,
        max_no_improvement=20,
    ).fit(matrix)
    return final.predict(matrix), final.cluster_centers_, "minibatch"


def _order_by_size(labels: np.ndarray, centers: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Relabel so segment 0 is the largest; equal sizes are ordered by their centres."""
    sizes = np.bincount(labels, minlength=k)
    keys = [centers[:, j] for j in range(centers.shape[1] - 1, -1, -1)]
    order = np.lexsort((*keys, -sizes))
    remap = np.empty(k, dtype=np.int64)
    remap[order] = np.arange(k)
    return remap[labels].astype(np.int32), centers[order]


# -- profiles ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentProfile:
    """What one segment looks like.

    ``topics`` has one row per topic: ``share`` (of the segment's events), ``overall`` (share of
    all events), ``lift`` (share / overall), ``users`` (share of members with the topic).
    ``hour_weekday`` is 7 × 24 event counts (Monday first) or None without timestamps;
    ``best_hours`` the three busiest hours, ``best_slots`` the three busiest (weekday, hour) pairs.
    ``dates_only`` is true when the timestamps carry dates only (every one at midnight): then
    there are no best hours or slots, only busiest weekdays.
    """

    id: int
    size: int
    share: float
    name: str
    top_topics: list[str]
    topics: pd.DataFrame
    demographics: dict
    action_mix: pd.Series
    hour_weekday: np.ndarray | None
    best_hours: list[int]
    best_slots: list[tuple[str, int]]
    events_per_user: float
    generated_name: str = ""
    dates_only: bool = False

    def as_json(self) -> dict:
        """The CLI's view of a segment (``id``, ``name``, ``size``, ``top_topics``)."""
        return {"id": self.id, "name": self.name, "size": self.size, "top_topics": list(self.top_topics)}


def _segment_sums(indicator: sparse.csr_matrix, values) -> np.ndarray:
    """Per-segment column sums of a per-user matrix."""
    out = indicator @ values
    return np.asarray(out.todense() if sparse.issparse(out) else out, dtype=np.float64)


def _topic_table(
    names: list[str],
    sums: np.ndarray,
    overall_share: np.ndarray,
    users: np.ndarray,
    n_top: int,
    common: np.ndarray | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """One segment's topics (share, overall, lift, users; most distinguishing first) and its top ``n_top``.

    Only topics that are ``common`` in the dataset and reach ``MIN_TOPIC_MEMBER_SHARE`` of the
    segment's members can be top topics.
    """
    seg_total = sums.sum()
    share = sums / seg_total if seg_total > 0 else np.zeros_like(overall_share)
    lift = np.divide(share, overall_share, out=np.zeros_like(share), where=overall_share > 0)
    topics = pd.DataFrame({"topic": names, "share": share, "overall": overall_share, "lift": lift, "users": users})
    eligible = users >= MIN_TOPIC_MEMBER_SHARE
    if common is not None:
        eligible &= common
    score = np.where(lift > 1.0, share * np.log(np.maximum(lift, 1e-12)), -np.inf)
    topics = topics.assign(score=score, eligible=eligible).sort_values(
        ["score", "share"], ascending=False, kind="stable"
    )
    top = topics.loc[(topics["score"] > -np.inf) & topics["eligible"], "topic"].head(n_top).tolist()
    if not top:  # a segment that is average in everything: name it by its biggest common topics
        by_share = topics[topics["eligible"]].sort_values("share", ascending=False, kind="stable")
        top = by_share["topic"].head(n_top).tolist()
    return topics.drop(columns=["score", "eligible"]).reset_index(drop=True), top


def profile_segments(behaviour: Behaviour, segmentation: Segmentation, *, n_top: int = 4) -> list[SegmentProfile]:
    """Profile each segment of ``segmentation`` (labels aligned with ``behaviour.user_ids``).

    Distinguishing topics are those the segment engages with more than everyone else does
    (lift > 1), ranked by ``share × log(lift)`` so a topic must be both big in the segment and
    special to it; a niche topic with a huge lift but 0.5 % of the segment's events does not lead,
    and a topic too rare to mean something (see ``MIN_TOPIC_USERS``) never names a segment.
    Timestamps that are all at midnight carry dates only: the profiles then claim no best hours.
    """
    labels = segmentation.labels
    k = segmentation.k
    n = len(labels)
    indicator = sparse.csr_matrix((np.ones(n, dtype=np.float32), (labels, np.arange(n))), shape=(k, n))
    sizes = np.bincount(labels, minlength=k)

    topic_sums = _segment_sums(indicator, behaviour.topic_counts)
    overall = topic_sums.sum(axis=0)
    overall_share = overall / max(overall.sum(), 1e-12)
    topic_users = _segment_sums(indicator, (behaviour.topic_counts > 0).astype(np.float32))
    action_sums = _segment_sums(indicator, behaviour.action_counts) if behaviour.actions else np.zeros((k, 0))
    slot_sums = _segment_sums(indicator, behaviour.slot_counts) if behaviour.has_time else None
    events = np.bincount(labels, weights=behaviour.n_events, minlength=k)
    users_with_topic = topic_users.sum(axis=0)
    common = users_with_topic >= min(max(MIN_TOPIC_USERS, MIN_TOPIC_USER_SHARE * n), n)
    dates_only = slot_sums is not None and not slot_sums.reshape(k, 7, 24)[:, :, 1:].any()

    profiles = []
    for s in range(k):
        topics, top = _topic_table(
            behaviour.topics, topic_sums[s], overall_share, topic_users[s] / max(sizes[s], 1), n_top, common
        )
        members = labels == s
        demo = _demographics_summary(behaviour.users, members)
        mix = (
            pd.Series(action_sums[s] / max(action_sums[s].sum(), 1e-12), index=behaviour.actions, name="share")
            if behaviour.actions
            else pd.Series(dtype="float64")
        )
        grid = slot_sums[s].reshape(7, 24) if slot_sums is not None else None
        best_hours, best_slots = ([], []) if dates_only else _best_times(grid)
        profiles.append(
            SegmentProfile(
                id=s,
                size=int(sizes[s]),
                share=float(sizes[s] / n),
                name="",
                top_topics=top,
                topics=topics,
                demographics=demo,
                action_mix=mix,
                hour_weekday=grid,
                best_hours=best_hours,
                best_slots=best_slots,
                events_per_user=float(events[s] / max(sizes[s], 1)),
                dates_only=dates_only,
            )
        )
    names = _unique_names([_generated_name(p) for p in profiles])
    return [replace(p, name=name, generated_name=name) for p, name in zip(profiles, names, strict=True)]


def _demographics_summary(users: pd.DataFrame, members: np.ndarray) -> dict:
    """Age median and dominant band, gender shares, top regions of the members."""
    out: dict = {}
    if "age" in users.columns:
        age = pd.to_numeric(users["age"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)[members]
        age = age[~np.isnan(age)]
        if age.size:
            out["age_median"] = float(np.median(age))
            out["age_band"] = _age_band(age)
    if "gender" in users.columns:
        gender = users["gender"].astype("string")[members]
        known = gender.dropna()
        if len(known):
            out["gender"] = {str(k): float(v) for k, v in known.value_counts(normalize=True).items()}
    if "region" in users.columns:
        region = users["region"].astype("string")[members].dropna()
        if len(region):
            out["regions"] = {str(k): float(v) for k, v in region.value_counts(normalize=True).head(3).items()}
    return out


def _age_band(age: np.ndarray) -> str:
    """Smallest run of adjacent age bands around the modal band that covers 75 % of the ages."""
    counts = np.array([((age >= lo) & (age <= hi)).sum() for lo, hi in AGE_BANDS], dtype=float)
    lo = hi = int(counts.argmax())
    while counts[lo : hi + 1].sum() < 0.75 * age.size:
        left = counts[lo - 1] if lo > 0 else -1
        right = counts[hi + 1] if hi + 1 < len(counts) else -1
        if left < 0 and right < 0:
            break
        if right >= left:
            hi += 1
        else:
            lo -= 1
    start, end = AGE_BANDS[lo][0], AGE_BANDS[hi][1]
    if start == 0 and end >= 200:
        return ""
    if start == 0:
        return f"under {end + 1}"
    if end >= 200:
        return f"{start}+"
    return f"{start}–{end}"


def _best_times(grid: np.ndarray | None) -> tuple[list[int], list[tuple[str, int]]]:
    """Three busiest hours of the day and three busiest (weekday, hour) slots."""
    if grid is None or grid.sum() == 0:
        return [], []
    hours = grid.sum(axis=0)
    best_hours = [int(h) for h in np.argsort(-hours, kind="stable")[:3]]
    flat = np.argsort(-grid.ravel(), kind="stable")[:3]
    return best_hours, [(WEEKDAYS[i // 24], int(i % 24)) for i in flat]


def _generated_name(profile: SegmentProfile) -> str:
    """ "Women 18–29 · skincare & beauty, collagen"-style name from demographics and top topics."""
    who = []
    gender = profile.demographics.get("gender", {})
    if gender:
        top, share = max(gender.items(), key=lambda kv: kv[1])
        if share >= 0.7:
            who.extend([{"female": "Women", "male": "Men"}[top]] if top in ("female", "male") else [])
    if profile.demographics.get("age_band"):
        who.append(profile.demographics["age_band"])
    interests = ", ".join(profile.top_topics[:2]) or "mixed interests"
    return f"{' '.join(who)} · {interests}" if who else interests


def _unique_names(names: list[str]) -> list[str]:
    """Append (2), (3) … to repeated names."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


# -- 2-D map and assignments --------------------------------------------------------------------
def map_2d(
    features: UserFeatures, labels: np.ndarray, *, max_points: int = MAX_MAP_POINTS, random_state: int = 0
) -> pd.DataFrame:
    """PCA to two dimensions of at most ``max_points`` sampled users.

    Returns a frame with ``user_id``, ``x``, ``y`` and ``segment``, plus the explained variance
    ratios in ``attrs["explained"]``.
    """
    n = features.matrix.shape[0]
    rng = np.random.default_rng(random_state)
    idx = np.sort(rng.choice(n, size=max_points, replace=False)) if n > max_points else np.arange(n)
    sample = features.matrix[idx]
    pca = PCA(n_components=2, random_state=random_state)
    xy = pca.fit_transform(sample) if sample.shape[1] >= 2 else np.column_stack([sample[:, 0], np.zeros(len(idx))])
    frame = pd.DataFrame(
        {"user_id": features.user_ids[idx].astype(str), "x": xy[:, 0], "y": xy[:, 1], "segment": labels[idx]}
    )
    frame.attrs["explained"] = [float(v) for v in getattr(pca, "explained_variance_ratio_", [0.0, 0.0])]
    return frame


def assignments_frame(user_ids: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """``user_id``, ``segment`` for every segmented user."""
    return pd.DataFrame({"user_id": pd.array(user_ids.astype(str), dtype="str"), "segment": labels.astype(np.int64)})


# -- the whole step on a workspace dataset ------------------------------------------------------
@dataclass(frozen=True)
class SegmentReport:
    """Everything the Segments page and the CLI show for one dataset and one k setting."""

    dataset_id: int
    segmentation: Segmentation
    profiles: list[SegmentProfile]
    user_ids: np.ndarray
    map: pd.DataFrame
    n_features: int
    blocks: dict[str, list[str]] = field(default_factory=dict)

    @property
    def k(self) -> int:
        """Number of segments."""
        return self.segmentation.k

    def assignments(self) -> pd.DataFrame:
        """Membership of every segmented user."""
        return assignments_frame(self.user_ids, self.segmentation.labels)

    def with_names(self, names: dict[int, str]) -> SegmentReport:
        """A copy whose profiles carry the operator's names where given."""
        profiles = [replace(p, name=names.get(p.id, p.generated_name or p.name)) for p in self.profiles]
        return replace(self, profiles=profiles)

    def as_json(self) -> dict:
        """``{"k", "silhouette", "segments": [...]}`` as printed by ``python -m core segments --json``."""
        silhouette = self.segmentation.silhouette
        return {
            "k": self.k,
            "silhouette": None if np.isnan(silhouette) else round(silhouette, 4),
            "segments": [p.as_json() for p in self.profiles],
        }


def run_segments(
    ws: Workspace,
    dataset_id: int | None = None,
    *,
    k: int | None = None,
    random_state: int = 0,
    behaviour: Behaviour | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
) -> SegmentReport:
    """Features → segments → profiles → map for a workspace dataset (stored names applied).

    Parameters
    ----------
    ws : Workspace
    dataset_id : int, optional
        Default: the active dataset.
    k : int, optional
        Fixed k; default: chosen by silhouette over 2..12.
    random_state : int, default 0
    behaviour : Behaviour, optional
        Already-loaded per-user counts of this dataset (saves reading the events again).
    progress : callable, optional
        ``progress(fraction, message)``.
    engine : {"local", "spark"}, optional
        Where the events are condensed and KMeans runs; default: the workspace setting
        ``audience.engine``, else local.
    """
    info = ws.dataset(dataset_id)
    engine = resolve_engine(ws, engine)

    def step(start: float, width: float) -> Progress | None:
        return None if progress is None else (lambda f, msg: progress(start + width * f, msg))

    spark = spark_engine() if engine == "spark" else None
    if behaviour is None:
        if progress:
            progress(0.0, "Reading events…")
        behaviour = (
            load_behaviour(ws, info.id) if spark is None else spark.spark_behaviour(spark.spark_session(), ws, info.id)
        )
    if progress:
        progress(0.1, "Building features…")
    features = build_features(behaviour)
    if spark is None:
        segmentation = segment_users(features, k=k, random_state=random_state, progress=step(0.15, 0.7))
    else:
        segmentation = spark.spark_segment_users(
            spark.spark_session(), features, k=k, random_state=random_state, progress=step(0.15, 0.7)
        )
    if progress:
        progress(0.9, "Profiling segments…")
    profiles = profile_segments(behaviour, segmentation)
    projection = map_2d(features, segmentation.labels, random_state=random_state)
    report = SegmentReport(
        dataset_id=info.id,
        segmentation=segmentation,
        profiles=profiles,
        user_ids=behaviour.user_ids,
        map=projection,
        n_features=features.matrix.shape[1],
        blocks=features.blocks,
    )
    if progress:
        progress(1.0, "Done")
    return report.with_names(segment_names(ws, info.id, report.k))


# -- persistence ----------------------------------------------------------------------------------
def segment_names(ws: Workspace, dataset_id: int, k: int) -> dict[int, str]:
    """Names the operator gave to the segments of ``dataset_id`` at this k."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT segment_id, name FROM segment_names WHERE dataset_id = ? AND k = ?", (int(dataset_id), int(k))
        ).fetchall()
    return {int(r["segment_id"]): r["name"] for r in rows}


def rename_segment(ws: Workspace, dataset_id: int, k: int, segment_id: int, name: str) -> None:
    """Store the operator's name for a segment (an empty name restores the generated one)."""

    name = name.strip()
    if len(name) > 80:
        raise SegmentError(f"a segment name has at most 80 characters ({len(name)} given)")
    with ws.connect() as con:
        if name:
            con.execute(
                "INSERT INTO segment_names (dataset_id, k, segment_id, name, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (dataset_id, k, segment_id) DO UPDATE SET name = excluded.name, "
                "updated_at = excluded.updated_at",
                (int(dataset_id), int(k), int(segment_id), name, utc_now()),
            )
        else:
            con.execute(
                "DELETE FROM segment_names WHERE dataset_id = ? AND k = ? AND segment_id = ?",
                (int(dataset_id), int(k), int(segment_id)),
            )
        ws.audit(
            "segment.rename",
            {"dataset_id": int(dataset_id), "k": int(k), "segment": int(segment_id), "name": name},
            con=con,
        )
    save_names_in_run(ws, int(dataset_id), int(k))


def save_run(ws: Workspace, report: SegmentReport) -> None:
    """Remember the latest segmentation of a dataset (read by the Home page and ``rules --segment``).

    The whole report is kept too (:func:`store_report`), so what later asks for this run's
    profiles (Targeting's facts, the Segments page) reads them instead of clustering again.
    """
    store_report(ws, report)

    summary = {
        "auto": report.segmentation.auto,
        "segments": [{**p.as_json(), "generated_name": p.generated_name} for p in report.profiles],
        "named": len(segment_names(ws, report.dataset_id, report.k)),
    }
    silhouette = report.segmentation.silhouette
    with ws.connect() as con:
        con.execute(
            "INSERT INTO segment_runs (dataset_id, k, silhouette, n_users, summary, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dataset_id) DO UPDATE SET k = excluded.k, "
            "silhouette = excluded.silhouette, n_users = excluded.n_users, summary = excluded.summary, "
            "created_at = excluded.created_at",
            (
                report.dataset_id,
                report.k,
                None if np.isnan(silhouette) else float(silhouette),
                len(report.user_ids),
                json.dumps(summary, ensure_ascii=False),
                utc_now(),
            ),
        )


def save_names_in_run(ws: Workspace, dataset_id: int, k: int) -> None:
    """Refresh the stored run's names after a rename (when the run has this k)."""
    run = last_run(ws, dataset_id)
    if run is None or run["k"] != k:
        return
    names = segment_names(ws, dataset_id, k)
    summary = run["summary"]
    for seg in summary.get("segments", []):
        seg["name"] = names.get(seg["id"], seg.get("generated_name", seg["name"]))
    summary["named"] = len(names)
    with ws.connect() as con:
        con.execute(
            "UPDATE segment_runs SET summary = ? WHERE dataset_id = ?",
            (json.dumps(summary, ensure_ascii=False), int(dataset_id)),
        )


def last_run(ws: Workspace, dataset_id: int) -> dict | None:
    """The stored summary of the latest segmentation of a dataset, or None."""
    with ws.connect() as con:
        row = con.execute("SELECT * FROM segment_runs WHERE dataset_id = ?", (int(dataset_id),)).fetchone()
    if row is None:
        return None
    return {
        "k": int(row["k"]),
        "silhouette": row["silhouette"],
        "n_users": int(row["n_users"]),
        "created_at": row["created_at"],
        "summary": json.loads(row["summary"]),
    }


# -- whole reports, stored in the workspace -----------------------------------------------------
def _report_path(ws: Workspace, dataset_id: int, k: int | None) -> Path:
    """Where a dataset's report for a k setting is kept, named by the code that computed it."""
    return ws.home / "cache" / f"segments-{int(dataset_id)}-{k or 'auto'}-{_CODE_VERSION}.pickle"


def stored_report(ws: Workspace, dataset_id: int, k: int | None) -> SegmentReport | None:
    """The report stored for ``dataset_id`` and ``k`` (None: automatic) by this code, if any."""
    path = _report_path(ws, dataset_id, k)
    try:
        with path.open("rb") as handle:
            report = pickle.load(handle)  # written by Reach into its own workspace, never uploaded
    except FileNotFoundError:
        return None
    except Exception as exc:  # a torn or foreign file: compute again
        log.warning("ignoring the stored segment report %s: %s", path.name, exc)
        return None
    return report if isinstance(report, SegmentReport) else None


def store_report(ws: Workspace, report: SegmentReport) -> None:
    """Keep ``report`` under its dataset and k setting (automatic or the fixed k), replacing any other."""
    path = _report_path(ws, report.dataset_id, None if report.segmentation.auto else report.k)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
    with partial.open("wb") as handle:
        pickle.dump(report, handle, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)


def run_report(ws: Workspace, dataset_id: int) -> SegmentReport | None:
    """The stored report of the dataset's latest run (:func:`save_run`), names applied; None if not kept."""
    run = last_run(ws, dataset_id)
    if run is None:
        return None
    auto = run["summary"].get("auto", True)
    report = stored_report(ws, dataset_id, None if auto else run["k"])
    if report is None or report.k != run["k"]:
        return None
    return report.with_names(segment_names(ws, dataset_id, report.k))
