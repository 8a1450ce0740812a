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
import pyarrow.parquet as pq
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
# Slot (weekday * 24 + hour) -> its hour, and -> its weekday, as 0/1 matrices.
_SLOT_HOUR = sparse.csr_matrix((np.ones(168, np.float32), (np.arange(168), np.arange(168) % 24)), shape=(168, 24))
_SLOT_WEEKDAY = sparse.csr_matrix((np.ones(168, np.float32), (np.arange(168), np.arange(168) // 24)), shape=(168, 7))


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


def _encode(values: pd.Series | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """(code per value, -1 where missing; the distinct values as text) through Arrow's hash encoder.

    A column read from Parquet as dictionaries (one per row group) only has its dictionaries
    merged, so ten million user ids are hashed once per distinct id rather than once per event.
    """
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, from_pandas=True)
    if isinstance(array, pa.Array):
        array = pa.chunked_array([array])
    if not pa.types.is_dictionary(array.type):
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            array = array.cast(pa.string())
        array = pc.dictionary_encode(array)
    array = array.unify_dictionaries()
    if array.num_chunks == 0:
        return np.empty(0, dtype=np.int64), pa.array([], pa.string())
    dictionary = array.chunk(0).dictionary
    if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
        dictionary = dictionary.cast(pa.string())
    indices = [chunk.indices for chunk in array.chunks]
    indices = [i.fill_null(-1) if i.null_count else i for i in indices]
    codes = np.concatenate([i.to_numpy(zero_copy_only=False) for i in indices], dtype=np.int64)
    return codes, dictionary


def _by_frequency(codes: np.ndarray, vocabulary: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Recode so code 0 is the most frequent value (ties by name, for stable column order)."""
    names = np.asarray(vocabulary.to_pylist(), dtype=object).astype(str)
    counts = np.bincount(codes, minlength=len(names))
    order = np.lexsort((names, -counts))
    remap = np.empty(len(order), dtype=np.int64)
    remap[order] = np.arange(len(order))
    return remap[codes], [str(v) for v in names[order]]


def behaviour_from_events(
    events: pd.DataFrame | pa.Table, users: pd.DataFrame | None = None, *, kind: str = "events"
) -> Behaviour:
    """Condense events (and an optional user table) into per-user counts.

    Every count is a ``bincount`` over integer codes: user ids, topics and actions are encoded
    once, so nothing per event is hashed or sorted twice.

    Parameters
    ----------
    events : pandas.DataFrame or pyarrow.Table
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
    if (events.num_rows if isinstance(events, pa.Table) else len(events)) == 0:
        if len(users) == 0 or "user_id" not in users.columns:
            raise ValueError("the dataset has neither events nor a user table to build features from")
        return _behaviour_from_user_table(users)
    events = _with_user_and_topic(events)
    user_code, user_ids = _users_sorted(events.column("user_id"))
    n_users = len(user_ids)

    topic_code, topic_vocab = _by_frequency(*_encode(events.column("topic")))
    topic_counts = _count_matrix(user_code, topic_code, n_users, len(topic_vocab))

    if "action" in events.column_names:
        action_code, action_vocab = _actions(events.column("action"))
    else:
        action_code, action_vocab = np.zeros(events.num_rows, dtype=np.int64), ["view"]
    action_counts = _dense_counts(user_code, action_code, n_users, len(action_vocab))
    n_events = np.bincount(user_code, minlength=n_users).astype(np.float32)

    slot_counts = active_days = recency_days = None
    if "timestamp" in events.column_names:
        slot_counts, active_days, recency_days = _time_counts(events.column("timestamp"), user_code, n_users)

    table = _align_users(users, user_ids)
    return Behaviour(
        user_ids=user_ids,
        topics=topic_vocab,
        topic_counts=topic_counts,
        actions=action_vocab,
        action_counts=action_counts,
        slot_counts=slot_counts,
        n_events=n_events,
        active_days=active_days,
        recency_days=recency_days,
        users=table,
        kind=kind,
    )


_EVENT_COLUMNS = ("user_id", "topic", "action", "timestamp")


def _with_user_and_topic(events: pd.DataFrame | pa.Table) -> pa.Table:
    """The events that have both a user and a topic, as an Arrow table of the columns features use.

    ValueError when the columns or such rows are missing.
    """
    names = events.column_names if isinstance(events, pa.Table) else list(events.columns)
    missing = {"user_id", "topic"} - set(names)
    if missing:
        raise ValueError(f"events need columns user_id and topic; missing: {', '.join(sorted(missing))}")
    present = [c for c in _EVENT_COLUMNS if c in names]
    if isinstance(events, pa.Table):
        table = events.select(present)
    else:
        table = pa.Table.from_pandas(events[present], preserve_index=False)
    keep = pc.and_(pc.is_valid(table.column("user_id")), pc.is_valid(table.column("topic")))
    if pc.all(keep).as_py() is False:
        table = table.filter(keep)
    if table.num_rows == 0:
        raise ValueError("no event has both a user and a topic")
    return table


def _users_sorted(user_column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(user code per event, user ids) with codes in the order of the ids as text."""
    user_code, vocabulary = _encode(user_column)
    used = np.bincount(user_code, minlength=len(vocabulary)) > 0
    if not used.all():  # a categorical column's unused categories are no users
        vocabulary = vocabulary.filter(pa.array(used))
        user_code = (np.cumsum(used) - 1)[user_code]
    order = pc.array_sort_indices(vocabulary).to_numpy()  # UTF-8 byte order = code point order
    remap = np.empty(len(order), dtype=np.int64)
    remap[order] = np.arange(len(order))
    return remap[user_code], vocabulary.take(pa.array(order)).to_numpy(zero_copy_only=False)


def _actions(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """(action code per event, actions most frequent first); a missing action is a view."""
    codes, vocabulary = _encode(column)
    names = vocabulary.to_pylist()
    if (codes < 0).any():
        if "view" not in names:
            names.append("view")
        codes = np.where(codes < 0, names.index("view"), codes)
    return _by_frequency(codes, pa.array(names, pa.string()))


def _time_counts(
    timestamps: pa.ChunkedArray, user_code: np.ndarray, n_users: int
) -> tuple[sparse.csr_matrix | None, np.ndarray | None, np.ndarray | None]:
    """(weekday × hour counts, distinct active days, days since last event) per user; Nones without a known time."""
    if not pa.types.is_timestamp(timestamps.type):
        timestamps = timestamps.cast(pa.timestamp("ms"))
    stamps = timestamps.to_numpy().astype("datetime64[ms]").astype(np.int64)
    known = stamps != np.iinfo(np.int64).min  # NaT
    if not known.any():
        return None, None, None
    every = known.all()
    ms = stamps if every else stamps[known]
    day = ms // _MS_PER_DAY
    hour = (ms % _MS_PER_DAY) // 3_600_000
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    users_known = user_code if every else user_code[known]
    slot_counts = _count_matrix(users_known, weekday * 24 + hour, n_users, 168)
    first = day.min()
    active_days, last_day = _days(users_known, day - first, n_users)
    recency_days = np.where(last_day >= 0, (day.max() - first) - last_day, np.nan).astype(np.float32)
    return slot_counts, active_days, recency_days


def _dense_counts(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """Counts of (row, col) pairs as a dense float32 matrix, by one ``bincount`` (for a few columns)."""
    flat = np.bincount(rows * n_cols + cols, minlength=n_rows * n_cols)
    return flat.reshape(n_rows, n_cols).astype(np.float32)


def _count_matrix(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> sparse.csr_matrix:
    """Sparse counts of (row, col) pairs.

    scipy builds it by a counting sort on the rows (linear), then sorts each short row; a dense
    ``bincount`` over rows × columns is slower from about 20 columns on a million users, as
    touching that much fresh memory costs more than the counting.
    """
    data = np.ones(len(rows), dtype=np.float32)
    matrix = sparse.csr_matrix((data, (rows, cols)), shape=(n_rows, n_cols), dtype=np.float32)
    matrix.sum_duplicates()
    return matrix


#: Users × days up to this many cells find active days with a bitmap instead of a sort.
_DAY_BITMAP_CELLS = 300_000_000


def _days(users: np.ndarray, day: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct active days, last active day index or -1) per user."""
    span = int(day.max()) + 1
    last = np.full(n_users, -1, dtype=np.int64)
    np.maximum.at(last, users, day)
    if n_users * span <= _DAY_BITMAP_CELLS:
        seen = np.zeros(n_users * span, dtype=bool)
        seen[users * span + day] = True
        active = seen.reshape(n_users, span).sum(axis=1, dtype=np.int64).astype(np.float32)
        return active, last
    keys = np.unique(users * span + day)
    active = np.bincount(keys // span, minlength=n_users).astype(np.float32)
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
    """:func:`behaviour_from_events` on a workspace dataset (the active one by default).

    The events are read from their Parquet file straight into Arrow, text columns as
    dictionaries, without a pandas frame in between.
    """
    info = ws.dataset(dataset_id)
    path = ws.dataset_dir(info.id) / "events.parquet"
    if path.exists():
        present = set(pq.ParquetFile(path).schema_arrow.names)
        columns = [c for c in _EVENT_COLUMNS if c in present]
        text = [c for c in ("user_id", "topic", "action") if c in present]
        events = pq.read_table(path, columns=columns, read_dictionary=text)
    else:
        events = pa.table({})
    users = ws.load_users(info.id)
    return behaviour_from_events(events, users, kind=info.kind)


# -- features ------------------------------------------------------------------------------------
def _shares(counts: np.ndarray) -> np.ndarray:
    """Row-normalised counts; an all-zero row stays zero."""
    counts = np.asarray(counts, dtype=np.float32)
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
    parts, columns, block_columns = [], [], {}
    for name, names, values in _blocks(behaviour, max_topics):
        values = np.asarray(values, dtype=np.float32)
        mean, std = values.mean(axis=0, dtype=np.float64), values.std(axis=0, dtype=np.float64)
        kept = std > 1e-9
        if not kept.any():
            continue
        scale = weights.get(name, 1.0) / np.sqrt(kept.sum()) / std[kept]
        parts.append((values if kept.all() else values[:, kept], mean[kept], scale))
        kept_names = [n for n, k in zip(names, kept, strict=True) if k]
        columns += kept_names
        block_columns[name] = kept_names
    if not parts:
        raise ValueError("every feature is constant: there is nothing to tell these users apart")
    # One float32 matrix, each block standardised and weighted straight into its columns.
    matrix = np.empty((behaviour.n_users, len(columns)), dtype=np.float32)
    start = 0
    for values, mean, scale in parts:
        block = matrix[:, start : start + values.shape[1]]
        np.subtract(values, mean.astype(np.float32), out=block)
        block *= scale.astype(np.float32)
        start += values.shape[1]
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
        hours = np.asarray((behaviour.slot_counts @ _SLOT_HOUR).todense())
        days = np.asarray((behaviour.slot_counts @ _SLOT_WEEKDAY).todense())
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
