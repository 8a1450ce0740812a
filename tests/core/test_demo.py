"""Tests for core.demo: the bundled demo data and its planted structure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from core.audience.profiles import segment_profiles
from core.audience.segments import last_run, run_report, run_segments
from core.delivery import outbox as publish
from core.delivery import targeting
from core.demo import (
    ACTIONS,
    GROUPS,
    PLATFORMS,
    REGIONS,
    SIGNATURE_TOPICS,
    TOPICS,
    DemoData,
    demo_mess_counts,
    generate_demo,
    open_workspace,
    seed_demo_history,
    write_demo_csvs,
)
from core.feedback import results
from core.workspace import Workspace

END = "2026-09-30"
DAYS = 90


@pytest.fixture(scope="module")
def demo() -> DemoData:
    """The default demo data, generated once for the module."""
    return generate_demo()


@pytest.fixture(scope="module")
def event_group(demo: DemoData) -> pd.Series:
    """The planted group of each event's user, aligned with ``demo.events``."""
    return demo.events["user_id"].map(demo.truth)


def test_same_arguments_give_identical_frames(demo: DemoData) -> None:
    again = generate_demo(n_users=6000, days=90, end=END, random_state=7)
    pd.testing.assert_frame_equal(again.events, demo.events)
    pd.testing.assert_frame_equal(again.users, demo.users)
    pd.testing.assert_series_equal(again.truth, demo.truth)


def test_different_random_state_gives_different_data(demo: DemoData) -> None:
    other = generate_demo(random_state=8)
    assert not other.users.equals(demo.users)
    assert not other.truth.equals(demo.truth)
    assert len(other.events) != len(demo.events) or not other.events.equals(demo.events)


def test_default_sizes_columns_and_span(demo: DemoData) -> None:
    events, users = demo.events, demo.users
    assert len(users) >= 5000
    assert len(events) >= 200_000
    assert list(events.columns) == ["user_id", "timestamp", "action", "topic", "platform"]
    assert list(users.columns) == ["user_id", "age", "gender", "region"]
    assert pd.api.types.is_datetime64_dtype(events["timestamp"])
    assert events["timestamp"].dt.tz is None
    assert pd.api.types.is_integer_dtype(users["age"])

    first, last = events["timestamp"].min(), events["timestamp"].max()
    assert first.normalize() == pd.Timestamp(END) - pd.Timedelta(days=DAYS - 1)
    assert last.normalize() == pd.Timestamp(END)
    assert last <= pd.Timestamp(f"{END} 23:59:59")
    assert (events["timestamp"].dt.microsecond == 0).all()
    assert events["timestamp"].is_monotonic_increasing


def test_vocabularies_are_the_documented_ones(demo: DemoData) -> None:
    events, users = demo.events, demo.users
    assert set(events["action"].unique()) == set(ACTIONS)
    assert set(events["topic"].unique()) == set(TOPICS)
    assert 18 <= len(TOPICS) <= 24
    assert set(events["platform"].unique()) == set(PLATFORMS)
    assert set(users["region"].unique()) == set(REGIONS)
    assert set(users["gender"].unique()) == {"female", "male"}
    assert users["user_id"].iloc[0] == "u00001"


def test_events_and_users_are_consistent(demo: DemoData) -> None:
    events, users = demo.events, demo.users
    assert users["user_id"].is_unique
    assert set(events["user_id"]) == set(users["user_id"])
    assert events.groupby("user_id").size().min() >= 5
    assert not events.duplicated().any()
    assert list(demo.truth.index) == list(users["user_id"])


def test_group_sizes_are_uneven_and_sum_to_users(demo: DemoData) -> None:
    sizes = demo.truth.value_counts()
    assert set(sizes.index) == set(GROUPS)
    assert sizes.sum() == len(demo.users)
    assert sizes.is_unique
    assert (sizes / sizes.sum()).between(0.10, 0.30).all()


@pytest.mark.parametrize(
    ("group", "ages", "genders"),
    [
        ("young women", (18, 29), {"female"}),
        ("young men", (18, 29), {"male"}),
        ("middle-aged women", (30, 54), {"female"}),
        ("middle-aged men", (30, 54), {"male"}),
        ("seniors", (55, 80), {"female", "male"}),
    ],
)
def test_age_and_gender_match_the_group(demo: DemoData, group: str, ages: tuple[int, int], genders: set[str]) -> None:
    members = demo.users[demo.truth.to_numpy() == group]
    assert members["age"].between(*ages).all()
    assert set(members["gender"]) == genders


@pytest.mark.parametrize("group", GROUPS)
def test_signature_topics_are_the_groups_most_frequent(demo: DemoData, event_group: pd.Series, group: str) -> None:
    signature = SIGNATURE_TOPICS[group]
    shares = demo.events.loc[event_group == group, "topic"].value_counts(normalize=True)
    assert set(shares.index[: len(signature)]) == set(signature)
    assert shares[list(signature)].sum() > 0.5
    # Background noise: every group touches every topic a little.
    assert len(shares) == len(TOPICS)


def test_bundled_interests_co_occur(demo: DemoData) -> None:
    touched = pd.crosstab(demo.events["user_id"], demo.events["topic"]) >= 2

    def lift(a: str, b: str) -> float:
        return (touched[a] & touched[b]).mean() / (touched[a].mean() * touched[b].mean())

    assert lift("fitness", "protein") > 2.0
    assert lift("protein", "meal prep") > 2.0
    assert lift("skincare & beauty", "collagen") > 2.0
    assert lift("heart health", "low sugar") > 2.0
    assert lift("skincare & beauty", "protein") < 1.0


def test_hour_of_day_habits_differ_by_group(demo: DemoData, event_group: pd.Series) -> None:
    hours = demo.events["timestamp"].dt.hour
    modal = {group: int(hours[event_group == group].mode().iloc[0]) for group in GROUPS}
    assert 19 <= modal["young women"] <= 23
    assert 19 <= modal["young men"] <= 23
    assert modal["middle-aged women"] in {6, 7, 8, 12, 13}
    assert modal["middle-aged men"] in {6, 7, 8, 12, 13}
    assert 8 <= modal["seniors"] <= 11


def test_young_adults_are_more_active_at_weekends(demo: DemoData, event_group: pd.Series) -> None:
    weekend = demo.events["timestamp"].dt.day_of_week >= 5
    share = weekend.groupby(event_group).mean()
    assert share["young men"] > 2 / 7 + 0.03
    assert share["young women"] > 2 / 7 + 0.03
    assert share["middle-aged men"] < 2 / 7


def test_actions_follow_a_funnel(demo: DemoData) -> None:
    shares = demo.events["action"].value_counts(normalize=True)
    assert shares.index[0] == "view"
    assert shares["view"] > shares["like"] > shares["click"] > shares["purchase"]
    assert 0.01 < shares["purchase"] < 0.08


def test_kmeans_on_topic_shares_recovers_the_groups(demo: DemoData) -> None:
    shares = pd.crosstab(demo.events["user_id"], demo.events["topic"], normalize="index")
    features = StandardScaler().fit_transform(shares.to_numpy())
    labels = KMeans(n_clusters=5, random_state=0, n_init=10).fit_predict(features)
    ari = adjusted_rand_score(demo.truth.loc[shares.index].to_numpy(), labels)
    assert ari >= 0.9


def test_csv_writer_round_trips_with_counted_mess(demo: DemoData, tmp_path: Path) -> None:
    events_path, users_path = write_demo_csvs(tmp_path / "demo", demo)
    assert events_path == tmp_path / "demo" / "demo_events.csv"
    assert users_path == tmp_path / "demo" / "demo_users.csv"
    assert events_path.read_bytes()[:3] != b"\xef\xbb\xbf"
    assert events_path.read_text(encoding="utf-8").splitlines()[0] == ("user_id,timestamp,action,topic,platform")
    assert users_path.read_text(encoding="utf-8").splitlines()[0] == "user_id,age,gender,region"

    mess = demo_mess_counts(demo)
    raw = pd.read_csv(events_path, dtype=str, keep_default_na=False)
    assert len(raw) == len(demo.events) + mess["duplicates"] + mess["bad_timestamps"]
    assert raw.duplicated().sum() == mess["duplicates"]
    parsed = pd.to_datetime(raw["timestamp"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    assert parsed.isna().sum() == mess["bad_timestamps"]

    cleaned = raw[parsed.notna()].drop_duplicates().reset_index(drop=True)
    cleaned["timestamp"] = pd.to_datetime(cleaned["timestamp"], format="%Y-%m-%d %H:%M:%S")
    pd.testing.assert_frame_equal(cleaned, demo.events, check_dtype=False)

    users = pd.read_csv(users_path)
    pd.testing.assert_frame_equal(users, demo.users, check_dtype=False)
    assert "group" not in users.columns


def test_csv_writer_is_deterministic(demo: DemoData, tmp_path: Path) -> None:
    first = write_demo_csvs(tmp_path / "a", demo)
    second = write_demo_csvs(tmp_path / "b", demo)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_mess_counts_follow_the_documented_rates() -> None:
    events = pd.DataFrame({"user_id": ["u00001"] * 10_000})
    demo = DemoData(events=events, users=pd.DataFrame(), truth=pd.Series(dtype=str))
    assert demo_mess_counts(demo) == {"duplicates": 30, "bad_timestamps": 5}
    small = DemoData(events=events.head(100), users=pd.DataFrame(), truth=pd.Series(dtype=str))
    assert demo_mess_counts(small) == {"duplicates": 0, "bad_timestamps": 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_users": 10}, "n_users=10"),
        ({"days": 3}, "days=3"),
        ({"end": "not a date"}, "end='not a date'"),
    ],
)
def test_bad_arguments_are_named_in_the_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_demo(**kwargs)


@settings(max_examples=15, deadline=None)
@given(
    n_users=st.integers(min_value=50, max_value=400),
    days=st.integers(min_value=7, max_value=60),
    random_state=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_any_small_demo_keeps_its_contract(n_users: int, days: int, random_state: int) -> None:
    demo = generate_demo(n_users=n_users, days=days, end="2026-03-01", random_state=random_state)
    per_user = demo.events.groupby("user_id").size()
    assert len(demo.users) == n_users
    assert per_user.index.equals(pd.Index(demo.users["user_id"]).sort_values())
    assert per_user.min() >= 5
    first_day = pd.Timestamp("2026-03-01") - pd.Timedelta(days=days - 1)
    assert demo.events["timestamp"].min() >= first_day
    assert demo.events["timestamp"].max() < pd.Timestamp("2026-03-02")
    assert not demo.events.duplicated().any()
    assert np.array_equal(demo.truth.value_counts().sort_index().index, sorted(GROUPS))


def test_demo_history_is_a_few_weeks_of_simulated_dry_run_posts(workspace: Workspace) -> None:
    now = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    ids = seed_demo_history(workspace, now=now)
    posts = publish.list_posts(workspace)
    assert sorted(p.id for p in posts) == sorted(ids) and len(ids) == 30
    assert {p.state for p in posts} == {"published"} and {p.channel for p in posts} == {"dry-run"}
    assert {p.segment for p in posts} == set(GROUPS)
    published = [datetime.fromisoformat(p.published_at) for p in posts]
    assert now - timedelta(days=22) <= min(published) and max(published) < now
    assert len({p.text for p in posts}) == 30  # the operator's own demo posts, none twice
    found = results.results(workspace)
    assert found.simulated and set(found.posts["source"]) == {"simulated"}
    assert set(found.by_template["template"]) == {"Tip", "Question", "Offer"}
    assert {r.segment for r in found.recommendations} == set(GROUPS)


def test_the_first_start_brings_the_history_labelled_with_the_segments_every_page_shows(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "workspace", with_demo=True, with_history=True)
    found = results.results(ws)
    assert len(publish.list_posts(ws)) == 30 and found.recommendations
    # the demo arrives segmented: the Studio, Targeting and the history name the same segments
    run = last_run(ws, ws.active_dataset_id())
    assert run is not None and run["summary"]["auto"]
    shown = [p.name for p in segment_profiles(ws)]
    assert shown == [s["name"] for s in run["summary"]["segments"]] and len(set(shown)) == len(GROUPS)
    assert {p.segment for p in publish.list_posts(ws)} == set(shown)
    assert {r.segment for r in found.recommendations} == set(shown)
    assert [s.name for s in targeting.audience(ws, compute=False).segments] == shown
    # the stored report is the one the Segments page would compute, so nothing is clustered again
    report = run_report(ws, ws.active_dataset_id())
    assert report is not None and [p.name for p in report.profiles] == shown
    assert report.as_json() == run_segments(ws).as_json()


def test_the_demo_without_history_arrives_unsegmented(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "workspace", with_demo=True, with_history=False)
    assert last_run(ws, ws.active_dataset_id()) is None
    assert [p.name for p in segment_profiles(ws)] == list(GROUPS)
