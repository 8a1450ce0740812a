"""Tests for core.audience.segments on the demo's five planted groups, plus names and persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, silhouette_score

from core.audience.features import Behaviour, UserFeatures, behaviour_from_events, build_features
from core.audience.segments import (
    Segmentation,
    SegmentError,
    _distances,
    _silhouette,
    assignments_frame,
    map_2d,
    profile_segments,
    rename_segment,
    segment_names,
    segment_users,
)
from core.demo import GROUPS, SIGNATURE_TOPICS, DemoData, generate_demo
from core.workspace import Workspace

PLANTED_K = len(GROUPS)


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate_demo()


@pytest.fixture(scope="module")
def behaviour(demo: DemoData) -> Behaviour:
    return behaviour_from_events(demo.events, demo.users)


@pytest.fixture(scope="module")
def features(behaviour: Behaviour) -> UserFeatures:
    return build_features(behaviour)


@pytest.fixture(scope="module")
def truth(demo: DemoData, behaviour: Behaviour) -> np.ndarray:
    return demo.truth.loc[behaviour.user_ids].to_numpy()


@pytest.fixture(scope="module")
def auto(features: UserFeatures) -> Segmentation:
    return segment_users(features)


@pytest.fixture(scope="module")
def fixed(features: UserFeatures) -> Segmentation:
    return segment_users(features, k=PLANTED_K)


def test_planted_k_recovers_the_groups(fixed: Segmentation, truth: np.ndarray) -> None:
    assert fixed.k == PLANTED_K
    assert adjusted_rand_score(truth, fixed.labels) >= 0.9


def test_auto_k_lands_near_the_planted_k(auto: Segmentation, truth: np.ndarray) -> None:
    assert abs(auto.k - PLANTED_K) <= 1
    assert auto.auto
    assert list(auto.curve["k"]) == list(range(2, 13))
    assert auto.curve["inertia"].is_monotonic_decreasing  # the elbow curve falls
    assert auto.silhouette == auto.curve["silhouette"].max()


def test_ids_are_ordered_by_size_and_stable(features: UserFeatures, fixed: Segmentation) -> None:
    sizes = fixed.sizes
    assert list(sizes) == sorted(sizes, reverse=True)
    again = segment_users(features, k=PLANTED_K)
    assert np.array_equal(again.labels, fixed.labels)


def test_minibatch_above_the_threshold_still_recovers_the_groups(features: UserFeatures, truth: np.ndarray) -> None:
    seg = segment_users(features, k=PLANTED_K, sample_size=2000, minibatch_above=1000)
    assert seg.algorithm == "minibatch"
    assert adjusted_rand_score(truth, seg.labels) >= 0.9


def test_profiles_name_each_planted_group(behaviour: Behaviour, fixed: Segmentation, truth: np.ndarray) -> None:
    profiles = profile_segments(behaviour, fixed)
    assert [p.id for p in profiles] == list(range(PLANTED_K))
    assert sum(p.size for p in profiles) == behaviour.n_users
    assert sum(p.share for p in profiles) == pytest.approx(1.0)
    expected = {
        "young women": "Women 18–29 · ",
        "young men": "Men 18–29 · ",
        "middle-aged women": "Women 30–54 · ",
        "middle-aged men": "Men 30–54 · ",
        "seniors": "55+ · ",
    }
    seen = set()
    for p in profiles:
        group = pd.Series(truth[fixed.labels == p.id]).mode().iloc[0]
        seen.add(group)
        assert p.name.startswith(expected[group]), p.name
        assert set(p.top_topics[:2]) <= set(SIGNATURE_TOPICS[group]), (p.name, p.top_topics)
        assert (p.topics.set_index("topic").loc[p.top_topics, "lift"] > 1).all()
        assert p.hour_weekday.shape == (7, 24) and len(p.best_hours) == 3
        if group.startswith("young"):
            assert all(19 <= h <= 23 for h in p.best_hours[:2]), p.best_hours
        assert p.action_mix.sum() == pytest.approx(1.0)
        assert p.as_json() == {"id": p.id, "name": p.name, "size": p.size, "top_topics": p.top_topics}
    assert seen == set(GROUPS)


def test_map_is_sampled_to_the_limit(features: UserFeatures, fixed: Segmentation) -> None:
    frame = map_2d(features, fixed.labels, max_points=1000)
    assert len(frame) == 1000 and frame["user_id"].is_unique
    assert list(frame.columns) == ["user_id", "x", "y", "segment"]
    full = map_2d(features, fixed.labels)
    assert len(full) == features.matrix.shape[0]  # 6,000 ≤ 20,000: everyone


def test_assignments_have_every_user(behaviour: Behaviour, fixed: Segmentation) -> None:
    frame = assignments_frame(behaviour.user_ids, fixed.labels)
    assert list(frame.columns) == ["user_id", "segment"]
    assert len(frame) == behaviour.n_users and frame["user_id"].is_unique


@pytest.mark.parametrize(("k", "message"), [(1, "k=1 must be between 2 and"), (500, "k=500 must be between 2 and")])
def test_bad_k_is_named(features: UserFeatures, k: int, message: str) -> None:
    with pytest.raises(SegmentError, match=message):
        segment_users(features, k=k)


def test_names_are_persisted_per_dataset_and_k(workspace: Workspace) -> None:
    rename_segment(workspace, 7, 5, 0, "  Glow-up crowd  ")
    rename_segment(workspace, 7, 5, 2, "Gym bros")
    rename_segment(workspace, 7, 5, 2, "Lifters")
    assert segment_names(workspace, 7, 5) == {0: "Glow-up crowd", 2: "Lifters"}
    assert segment_names(workspace, 7, 4) == {}
    rename_segment(workspace, 7, 5, 0, "")  # empty: back to the generated name
    assert segment_names(workspace, 7, 5) == {2: "Lifters"}
    with pytest.raises(SegmentError, match="at most 80 characters"):
        rename_segment(workspace, 7, 5, 1, "x" * 81)


def test_silhouette_from_one_distance_matrix_is_scikit_learns() -> None:
    rng = np.random.default_rng(3)
    points = rng.normal(size=(400, 6)).astype(np.float32)
    for k in (2, 5, 9):
        labels = rng.integers(0, k, len(points))
        labels[0] = k  # a segment of one user scores 0, as in scikit-learn
        assert _silhouette(_distances(points), labels) == pytest.approx(silhouette_score(points, labels), abs=1e-5)
    assert np.isnan(_silhouette(_distances(points), np.zeros(len(points), dtype=int)))
