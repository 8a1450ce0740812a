"""Tests for core.audience.features: per-user counts and the scaled, weighted feature matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.audience.features import BLOCK_WEIGHTS, behaviour_from_events, build_features


def _events(rows: list[tuple[str, str | None, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": pd.array([r[0] for r in rows], dtype="str"),
            "timestamp": pd.to_datetime(pd.Series([r[1] for r in rows]), format="%Y-%m-%d %H:%M").astype(
                "datetime64[ms]"
            ),
            "action": pd.array([r[2] for r in rows], dtype="str"),
            "topic": pd.array([r[3] for r in rows], dtype="str"),
        }
    )


EVENTS = _events(
    [
        ("b", "2026-09-07 21:10", "view", "yoga"),  # Monday
        ("b", "2026-09-07 21:40", "like", "yoga"),
        ("b", "2026-09-10 08:00", "view", "protein"),  # Thursday, the last day of the data
        ("a", "2026-09-01 07:05", "view", "protein"),  # Tuesday
        ("a", "2026-09-01 07:30", "purchase", "protein"),
        ("a", "2026-09-02 12:00", "view", "yoga"),  # Wednesday
    ]
)
USERS = pd.DataFrame(
    {
        "user_id": ["a", "b", "c"],
        "age": pd.array([25.0, None, 61.0], dtype="Float64"),
        "gender": pd.array(["female", None, "male"], dtype="str"),
        "region": pd.array(["Shanghai", "Beijing", "Shanghai"], dtype="str"),
    }
)


def test_counts_per_user_are_exact() -> None:
    beh = behaviour_from_events(EVENTS, USERS)
    assert list(beh.user_ids) == ["a", "b"]  # sorted; c has no events
    assert beh.topics == ["protein", "yoga"]  # 3 events each: ties by name
    assert beh.topic_counts.toarray().tolist() == [[2, 1], [1, 2]]
    assert beh.actions[0] == "view"
    actions = dict(zip(beh.actions, beh.action_counts[0], strict=True))
    assert actions == {"view": 2, "like": 0, "purchase": 1}
    assert beh.n_events.tolist() == [3, 3]
    assert beh.active_days.tolist() == [2, 2]
    assert beh.recency_days.tolist() == [8, 0]  # a was last seen 2026-09-02, b on the last day
    grid = beh.slot_counts.toarray().reshape(2, 7, 24)
    assert grid[0, 1, 7] == 2 and grid[0, 2, 12] == 1  # a: Tuesday 07h twice, Wednesday 12h once
    assert grid[1, 0, 21] == 2 and grid[1, 3, 8] == 1
    assert beh.users.loc["b", "gender"] is pd.NA or pd.isna(beh.users.loc["b", "gender"])


def test_without_timestamps_the_time_features_are_left_out() -> None:
    events = EVENTS.assign(timestamp=pd.Series(pd.NaT, index=EVENTS.index, dtype="datetime64[ms]"))
    beh = behaviour_from_events(events, kind="baskets")
    assert not beh.has_time and beh.active_days is None
    features = build_features(beh)
    assert "time" not in features.blocks
    assert not any(c.startswith("hour") for c in features.columns)


def test_blocks_are_weighted_so_interests_lead() -> None:
    beh = behaviour_from_events(EVENTS, USERS)
    features = build_features(beh)
    start = 0
    for name, columns in features.blocks.items():
        block = features.matrix[:, start : start + len(columns)]
        start += len(columns)
        # Each block's total variance is weight² however many columns it has.
        assert block.var(axis=0).sum() == pytest.approx(BLOCK_WEIGHTS[name] ** 2, rel=1e-4), name
    assert max(BLOCK_WEIGHTS, key=BLOCK_WEIGHTS.get) == "interests"
    assert start == features.matrix.shape[1] == len(features.columns)
    assert features.matrix.dtype == np.float32


def test_missing_age_is_median_filled_and_flagged() -> None:
    users = pd.concat([USERS, pd.DataFrame({"user_id": ["d"], "age": pd.array([40.0], dtype="Float64")})])
    events = pd.concat(
        [EVENTS, _events([("c", "2026-09-03 09:00", "view", "yoga"), ("d", "2026-09-03 10:00", "view", "yoga")])]
    )
    features = build_features(behaviour_from_events(events, users))
    assert "age" in features.blocks["demographics"]
    assert "age missing" in features.blocks["demographics"]
    assert np.isfinite(features.matrix).all()


def test_rare_topics_are_pooled_beyond_max_topics() -> None:
    features = build_features(behaviour_from_events(EVENTS), max_topics=1)
    assert features.blocks["interests"] == ["topic: protein", "topic: other topics"]


def test_user_table_alone_uses_its_numeric_columns_as_interests() -> None:
    users = pd.DataFrame(
        {
            "user_id": ["x", "y", "z"],
            "age": [16.0, 17.0, None],
            "basketball": [3.0, 0.0, 1.0],
            "music": [0.0, 2.0, 5.0],
            "gradyear": [2006.0, 2007.0, 2006.0],
        }
    )
    beh = behaviour_from_events(pd.DataFrame(), users)
    assert beh.kind == "users" and beh.topics == ["music", "basketball"]  # a year is not an interest
    assert beh.topic_counts.toarray().tolist() == [[0, 3], [2, 0], [5, 1]]
    features = build_features(beh)
    assert features.blocks["interests"] == ["music", "basketball"]
    assert features.blocks["profile"] == ["gradyear"]


def test_nothing_to_build_from_is_a_readable_error() -> None:
    with pytest.raises(ValueError, match="neither events nor a user table"):
        behaviour_from_events(pd.DataFrame())
    with pytest.raises(ValueError, match="missing: topic"):
        behaviour_from_events(pd.DataFrame({"user_id": ["a"]}))
