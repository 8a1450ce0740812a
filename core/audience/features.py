"""Per-user features for segmentation, from a dataset's events and user table.

Two steps, both plain data in and out:

1. :func:`behaviour_from_events` condenses the long event table into per-user counts
   (:class:`Behaviour`): topics and hour × weekday slots as sparse matrices, actions as a small
   dense matrix, events, active days and recency as vectors, and the user table aligned to the
   same users. Everything later (features, profiles, rules) reads this, never the raw events again.
2. :func:`build_features` turns the counts into a scaled, weighted matrix (:class:`UserFeatures`)
   for KMeans.

Missing values
--------------
* No timestamps (basket data, or a file without them): the time-of-day, weekday, active-days and
  recency features are left out, not filled.
* No user table, or a user without a row in it: demographics are missing. Age is filled with the
  median age and flagged by an ``age missing`` column (only when some ages are missing); a missing
  gender or region is all zeros in its one-hot block, i.e. "unknown" sits between the known values.
* A user table without events (one row per user, numeric columns such as interest counts): its
  numeric columns stand in for topics.

Weighting
---------
Every column is standardised (z-score), then each *block* of columns is multiplied by
``weight / sqrt(n_columns)``, so a block's total variance is ``weight²`` however many columns it
has. Without this, 31 hour/weekday columns or a dozen region dummies would outvote 20 topic
columns simply by number, and the segments would be "people in Shanghai" rather than "people into
skincare". With the default :data:`BLOCK_WEIGHTS` interests carry about half of the total variance
(4 of ~8.4), posting habits and demographics about an eighth each, actions and activity less.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

if TYPE_CHECKING:
    from core.workspace import Workspace

__all__ = [
    "BLOCK_WEIGHTS",
    "Behaviour",
    "UserFeatures",
    "behaviour_from_events",
    "build_features",
    "load_behaviour",
]

log = logging.getLogger(__name__)

#: Relative weight of each feature block (see the module docstring for why).
BLOCK_WEIGHTS: dict[str, float] = {
    "interests": 2.0,
    "time": 1.0,
    "demographics": 1.0,
    "actions": 0.6,
    "activity": 0.6,
    "profile": 0.6,
}

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DEMOGRAPHIC_COLUMNS = ("user_id", "age", "gender", "region")
_MAX_REGIONS = 8
_MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class Behaviour:
    """Per-user counts condensed from a dataset; rows are aligned with ``user_ids``.

    Attributes
    ----------
    user_ids : numpy.ndarray
        User ids (object array of str), sorted.
    topics : list of str
        Topic vocabulary, most frequent first; the columns of ``topic_counts``.
    topic_counts : scipy.sparse.csr_matrix
        Events per user and topic (float32). For a user table without events: its numeric columns.
    actions : list of str
        Action vocabulary, most frequent first.
    action_counts : numpy.ndarray
        Events per user and action (float32).
    slot_counts : scipy.sparse.csr_matrix or None
        Events per user and hour-of-week slot ``weekday * 24 + hour`` (168 columns); None without
        timestamps.
    n_events, active_days, recency_days : numpy.ndarray
        Events per user; distinct active days and days since the last event before the dataset's
        last day (None without timestamps).
    users : pandas.DataFrame
        The user table reindexed to ``user_ids`` (no ``user_id`` column); may have no columns.
    kind : str
        ``"events"``, ``"baskets"`` or ``"users"``.
    """

    user_ids: np.ndarray
    topics: list[str]
    topic_counts: sparse.csr_matrix
    actions: list[str]
    action_counts: np.ndarray
    slot_counts: sparse.csr_matrix | None
    n_events: np.ndarray
    active_days: np.ndarray | None
    recency_days: np.ndarray | None
    users: pd.DataFrame
    kind: str = "events"

    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.user_ids)

    @property
    def has_time(self) -> bool:
        """Whether the events carry timestamps."""
        return self.slot_counts is not None


@dataclass(frozen=True)
class UserFeatures:
    """The scaled, weighted feature matrix fed to KMeans.

    ``matrix`` is float32, one row per ``user_ids``; ``blocks`` maps a block name to the column
    names it holds, in matrix order.
    """

    user_ids: np.ndarray
    matrix: np.ndarray
    columns: list[str]
    blocks: dict[str, list[str]] = field(default_factory=dict)


def _encode(values: pd.Series | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(codes, vocabulary) of a string column, through Arrow's hash encoder (fast on millions)."""
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, from_pandas=True)
    encoded = pc.dictionary_encode(array)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks != 1 else encoded.chunk(0)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    vocabulary = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    return codes.astype(np.int64, copy=False), vocabulary


def _by_frequency(codes: np.ndarray, vocabulary: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Recode so code 0 is the most frequent value (ties by name, for stable column order)."""
    counts = np.bincount(codes, minlength=len(vocabulary))
    order = np.lexsort((vocabulary.astype(str), -counts))
    remap = np.empty(len(order), dtype=np.int64)
    remap[order] = np.arange(len(order))
    return remap[codes], [str(v) for v in vocabulary[order]]


def behaviour_from_events(
    events: pd.DataFrame, users: pd.DataFrame | None = None, *, kind: str = "events"
) -> Behaviour:
    """Condense events (and an optional user table) into per-user counts.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events: ``user_id``, ``topic``; optional ``action`` and ``timestamp``. Rows with
        a missing user or topic are ignored. May be empty when ``users`` is given.
    users : pandas.DataFrame, optional
        One row per user: ``user_id`` plus ``age``, ``gender``, ``region`` and any numeric columns.
    kind : str, default "events"
        The dataset kind, kept for wording (baskets vs. events).

    Returns
    -------
    Behaviour
        Users with at least one event (every user-table row when there are no events).
    """
    users = users if users is not None else pd.DataFrame()
    if len(events) == 0:
        if len(users) == 0 or "user_id" not in users.columns:
            raise ValueError("the dataset has neither events nor a user table to build features from")
        return _behaviour_from_user_table(users)
    events = _with_user_and_topic(events)
    user_code, user_ids = _users_sorted(events["user_id"])
    n_users = len(user_ids)

    topic_code, topic_vocab = _by_frequency(*_encode(events["topic"]))
    topic_counts = _count_matrix(user_code, topic_code, n_users, len(topic_vocab))

    if "action" in events.columns:
        actions = events["action"].fillna("view")
        action_code, action_vocab = _by_frequency(*_encode(actions))
    else:
        action_code, action_vocab = np.zeros(len(events), dtype=np.int64), ["view"]
    action_counts = np.asarray(_count_matrix(user_code, action_code, n_users, len(action_vocab)).todense())
    n_events = np.bincount(user_code, minlength=n_users).astype(np.float32)

    slot_counts = active_days = recency_days = None
    if "timestamp" in events.columns:
        slot_counts, active_days, recency_days = _time_counts(events["timestamp"], user_code, n_users)

    table = _align_users(users, user_ids)
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
        users=table,
        kind=kind,
    )


def _with_user_and_topic(events: pd.DataFrame) -> pd.DataFrame:
    """The events that have both a user and a topic; ValueError when the columns or such rows are missing."""
    missing = {"user_id", "topic"} - set(events.columns)
    if missing:
        raise ValueError(f"events need columns user_id and topic; missing: {', '.join(sorted(missing))}")
    keep = events["user_id"].notna() & events["topic"].notna()
    if not keep.all():
        events = events[keep]
    if len(events) == 0:
        raise ValueError("no event has both a user and a topic")
    return events


def _users_sorted(user_column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(user code per event, user ids) with codes in the order of the ids as text."""
    user_code, user_vocab = _encode(user_column)
    order = np.argsort(user_vocab.astype(str), kind="stable")
    remap = np.empty(len(order), dtype=np.int64)
    remap[order] = np.arange(len(order))
    return remap[user_code], user_vocab[order]


def _time_counts(
    timestamps: pd.Series, user_code: np.ndarray, n_users: int
) -> tuple[sparse.csr_matrix | None, np.ndarray | None, np.ndarray | None]:
    """(weekday × hour counts, distinct active days, days since last event) per user; Nones without a known time."""
    stamps = timestamps.to_numpy(dtype="datetime64[ms]").astype(np.int64)
    known = stamps != np.iinfo(np.int64).min  # NaT
    if not known.any():
        return None, None, None
    ms = stamps[known]
    day = ms // _MS_PER_DAY
    hour = (ms % _MS_PER_DAY) // 3_600_000
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    users_known = user_code[known]
    slot_counts = _count_matrix(users_known, weekday * 24 + hour, n_users, 168)
    active_days, last_day = _days(users_known, day - day.min(), n_users)
    recency_days = np.where(last_day >= 0, (day.max() - day.min()) - last_day, np.nan).astype(np.float32)
    return slot_counts, active_days, recency_days


def _count_matrix(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> sparse.csr_matrix:
    """Sparse counts of (row, col) pairs."""
    data = np.ones(len(rows), dtype=np.float32)
    matrix = sparse.csr_matrix((data, (rows, cols)), shape=(n_rows, n_cols), dtype=np.float32)
    matrix.sum_duplicates()
    return matrix


def _days(users: np.ndarray, day: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct active days, last active day index or -1) per user, through one sort."""
    span = int(day.max()) + 1
    keys = np.unique(users * span + day)
    key_user = keys // span
    active = np.bincount(key_user, minlength=n_users).astype(np.float32)
    last = np.full(n_users, -1, dtype=np.int64)
    last[key_user] = keys % span  # keys are sorted: the last write per user is its latest day
    return active, last


def _align_users(users: pd.DataFrame, user_ids: np.ndarray) -> pd.DataFrame:
    """The user table indexed by ``user_ids`` (rows without events dropped, missing users NA)."""
    if len(users) == 0 or "user_id" not in users.columns:
        return pd.DataFrame(index=pd.Index(user_ids, name="user_id"))
    table = users.drop_duplicates("user_id").set_index("user_id")
    return table.reindex(pd.Index(user_ids, name="user_id"))


def _behaviour_from_user_table(users: pd.DataFrame) -> Behaviour:
    """A user table without events: numeric columns (other than age) act as topic counts."""
    table = users.drop_duplicates("user_id").sort_values("user_id")
    user_ids = table["user_id"].astype(str).to_numpy(dtype=object)
    numeric = [c for c in table.columns if c not in _DEMOGRAPHIC_COLUMNS and pd.api.types.is_numeric_dtype(table[c])]
    # Interest counts look like counts: never negative, zero for many people (a keyword most teens
    # never use). A year, an income or a friend count is a profile column, not a topic.
    numeric = [c for c in numeric if _looks_like_counts(table[c])]
    values = table[numeric].astype("float64").fillna(0.0).clip(lower=0.0).to_numpy(dtype=np.float32)
    totals = values.sum(axis=0)
    order = np.lexsort((np.array(numeric, dtype=object).astype(str), -totals)) if numeric else np.array([], int)
    topics = [numeric[i] for i in order]
    topic_counts = (
        sparse.csr_matrix(values[:, order]) if numeric else sparse.csr_matrix((len(table), 0), dtype=np.float32)
    )
    n = len(table)
    rest = table.set_index("user_id")[[c for c in table.columns if c != "user_id" and c not in numeric]]
    rest.index = pd.Index(user_ids, name="user_id")
    return Behaviour(
        user_ids=user_ids,
        topics=topics,
        topic_counts=topic_counts,
        actions=[],
        action_counts=np.zeros((n, 0), dtype=np.float32),
        slot_counts=None,
        n_events=np.asarray(topic_counts.sum(axis=1)).ravel().astype(np.float32),
        active_days=None,
        recency_days=None,
        users=rest,
        kind="users",
    )


def _looks_like_counts(values: pd.Series) -> bool:
    """Non-negative with at least 30 % zeros."""
    known = pd.to_numeric(values, errors="coerce").astype("float64").dropna()
    return len(known) > 0 and known.min() >= 0 and (known == 0).mean() >= 0.3


def load_behaviour(ws: Workspace, dataset_id: int | None = None) -> Behaviour:
    """:func:`behaviour_from_events` on a workspace dataset (the active one by default)."""
    info = ws.dataset(dataset_id)
    events = ws.load_events(info.id, columns=None)
    users = ws.load_users(info.id)
    return behaviour_from_events(events, users, kind=info.kind)


# -- features ------------------------------------------------------------------------------------
def _shares(counts: np.ndarray) -> np.ndarray:
    """Row-normalised counts; an all-zero row stays zero."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def build_features(
    behaviour: Behaviour, *, max_topics: int = 50, weights: dict[str, float] | None = None
) -> UserFeatures:
    """Scaled, weighted per-user features (see the module docstring for the choices).

    Parameters
    ----------
    behaviour : Behaviour
        Per-user counts from :func:`behaviour_from_events`.
    max_topics : int, default 50
        Topics beyond the ``max_topics`` most frequent are pooled into one "other topics" share,
        so a hashtag export with thousands of tags stays a small dense matrix.
    weights : dict, optional
        Block weights overriding :data:`BLOCK_WEIGHTS`.

    Returns
    -------
    UserFeatures
    """
    if max_topics < 1:
        raise ValueError(f"max_topics={max_topics} must be at least 1")
    weights = {**BLOCK_WEIGHTS, **(weights or {})}
    blocks = _blocks(behaviour, max_topics)
    matrices, columns, block_columns = [], [], {}
    for name, names, values in blocks:
        scaled, kept = _standardise(np.asarray(values, dtype=np.float64))
        if not kept.any():
            continue
        scaled *= weights.get(name, 1.0) / np.sqrt(kept.sum())
        matrices.append(scaled.astype(np.float32))
        kept_names = [n for n, k in zip(names, kept, strict=True) if k]
        columns += kept_names
        block_columns[name] = kept_names
    if not matrices:
        raise ValueError("every feature is constant: there is nothing to tell these users apart")
    matrix = np.hstack(matrices)
    log.debug("features: %d users x %d columns in blocks %s", *matrix.shape, list(block_columns))
    return UserFeatures(user_ids=behaviour.user_ids, matrix=matrix, columns=columns, blocks=block_columns)


def _blocks(behaviour: Behaviour, max_topics: int) -> list[tuple[str, list[str], np.ndarray]]:
    """The feature blocks the data has, unscaled: (block name, column names, values)."""
    blocks: list[tuple[str, list[str], np.ndarray]] = []

    interests = _interest_block(behaviour, max_topics)
    if interests is not None:
        blocks.append(interests)

    if len(behaviour.actions) > 1:
        blocks.append(("actions", [f"action: {a}" for a in behaviour.actions], np.log1p(behaviour.action_counts)))

    activity = [("events (log)", np.log1p(behaviour.n_events))] if behaviour.kind != "users" else []
    if behaviour.active_days is not None:
        activity.append(("active days (log)", np.log1p(behaviour.active_days)))
        activity.append(("days since last event", np.nan_to_num(behaviour.recency_days, nan=0.0)))
    if activity:
        blocks.append(("activity", [n for n, _ in activity], np.column_stack([v for _, v in activity])))

    if behaviour.slot_counts is not None:
        slots = behaviour.slot_counts.toarray().reshape(-1, 7, 24)
        hours, days = slots.sum(axis=1), slots.sum(axis=2)
        blocks.append(
            (
                "time",
                [f"hour {h:02d}" for h in range(24)] + [f"weekday {d}" for d in WEEKDAYS],
                np.hstack([_shares(hours), _shares(days)]),
            )
        )

    demo_names, demo_values = _demographics(behaviour.users)
    if demo_names:
        blocks.append(("demographics", demo_names, demo_values))

    profile = [
        c
        for c in behaviour.users.columns
        if c not in _DEMOGRAPHIC_COLUMNS and pd.api.types.is_numeric_dtype(behaviour.users[c])
    ]
    if profile:
        values = behaviour.users[profile].astype("float64")
        values = values.fillna(values.median()).fillna(0.0).to_numpy()
        blocks.append(("profile", profile, np.sign(values) * np.log1p(np.abs(values))))
    return blocks


def _interest_block(behaviour: Behaviour, max_topics: int) -> tuple[str, list[str], np.ndarray] | None:
    """Topic shares (log counts for a profile table), the topics beyond ``max_topics`` pooled; None without topics."""
    counts = behaviour.topic_counts
    n_topics = counts.shape[1]
    if behaviour.kind == "users":
        # Interest counts of a profile table: log-scaled, not shares (a teen with 0 mentions is informative).
        dense = np.log1p(counts[:, :max_topics].toarray())
        return ("interests", list(behaviour.topics[:max_topics]), dense)
    if n_topics:
        head = counts[:, :max_topics].toarray()
        names = list(behaviour.topics[:max_topics])
        if n_topics > max_topics:
            other = np.asarray(counts[:, max_topics:].sum(axis=1))
            head = np.hstack([head, other])
            names.append("other topics")
        return ("interests", [f"topic: {t}" for t in names], _shares(head))
    return None


def _standardise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z-scores of the non-constant columns, and which columns were kept."""
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    kept = std > 1e-9
    return (values[:, kept] - mean[kept]) / std[kept], kept


def _demographics(users: pd.DataFrame) -> tuple[list[str], np.ndarray | None]:
    """Age (median-filled, with a missing flag when needed), gender and region one-hots."""
    names: list[str] = []
    parts: list[np.ndarray] = []
    n = len(users)
    if "age" in users.columns:
        age = pd.to_numeric(users["age"], errors="coerce").astype("float64")
        missing = age.isna().to_numpy()
        if not missing.all():
            names.append("age")
            parts.append(age.fillna(age.median()).to_numpy())
            if missing.any():
                names.append("age missing")
                parts.append(missing.astype(float))
    if "gender" in users.columns:
        gender = users["gender"].astype("string")
        for value in ("female", "male", "other"):
            flag = (gender == value).fillna(False).to_numpy(dtype=bool)
            if flag.any():
                names.append(f"gender: {value}")
                parts.append(flag.astype(float))
    if "region" in users.columns:
        region = users["region"].astype("string")
        top = region.value_counts().index[:_MAX_REGIONS]
        for value in top:
            names.append(f"region: {value}")
            parts.append((region == value).fillna(False).to_numpy(dtype=bool).astype(float))
    if not names:
        return [], None
    return names, np.column_stack(parts).reshape(n, len(names))
