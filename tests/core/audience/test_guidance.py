"""Profiles claim no more than the data supports: rare topics name nothing, dates alone give no best hour."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.audience.features import behaviour_from_events
from core.audience.segments import Segmentation, profile_segments


def _segmentation(labels: list[int]) -> Segmentation:
    k = max(labels) + 1
    return Segmentation(np.array(labels, dtype=np.int32), k, 0.5, pd.DataFrame(), np.zeros((k, 1)), False, "kmeans")


def _events(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "topic", "timestamp"]).assign(
        timestamp=lambda f: pd.to_datetime(f["timestamp"])
    )


def _two_groups(stamp_a: str, stamp_b: str, *, rare_user: int | None = None) -> pd.DataFrame:
    """40 users: u00–u19 into yoga at ``stamp_a``, u20–u39 into protein at ``stamp_b``; one may have a rare tag."""
    rows = []
    for i in range(40):
        topic, stamp = ("yoga", stamp_a) if i < 20 else ("protein", stamp_b)
        rows += [(f"u{i:02d}", topic, stamp), (f"u{i:02d}", "healthy eating", stamp)]
        if i == rare_user:
            rows += [(f"u{i:02d}", "4m4zinq", stamp)] * 30  # one heavy user's private tag
    return _events(rows)


def test_a_rare_tag_never_names_a_segment() -> None:
    behaviour = behaviour_from_events(_two_groups("2026-03-02 08:00", "2026-03-03 20:00", rare_user=3))
    labels = [0 if uid < "u20" else 1 for uid in behaviour.user_ids]
    profiles = profile_segments(behaviour, _segmentation(labels))
    # by share × log(lift) the tag would lead segment 0 (30 of its 70 events, none elsewhere)
    assert "4m4zinq" not in profiles[0].top_topics and "4m4zinq" not in profiles[0].name
    assert profiles[0].top_topics[0] == "yoga" and profiles[0].name.startswith("yoga")
    assert "4m4zinq" in set(profiles[0].topics["topic"])  # still listed with its figures


def test_dates_without_times_give_no_best_hours_but_keep_the_days() -> None:
    behaviour = behaviour_from_events(_two_groups("2026-03-02", "2026-03-03"))  # all at midnight
    labels = [0 if uid < "u20" else 1 for uid in behaviour.user_ids]
    profiles = profile_segments(behaviour, _segmentation(labels))
    assert all(p.dates_only and p.best_hours == [] and p.best_slots == [] for p in profiles)
    assert profiles[0].hour_weekday[0].sum() > 0 and profiles[1].hour_weekday[1].sum() > 0  # Monday, Tuesday


def test_times_of_day_give_best_hours() -> None:
    behaviour = behaviour_from_events(_two_groups("2026-03-02 08:00", "2026-03-03 20:00"))
    labels = [0 if uid < "u20" else 1 for uid in behaviour.user_ids]
    profiles = profile_segments(behaviour, _segmentation(labels))
    assert [p.dates_only for p in profiles] == [False, False]
    assert [p.best_hours[0] for p in profiles] == [8, 20]
