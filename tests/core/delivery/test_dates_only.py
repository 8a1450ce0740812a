"""Targeting on a dataset whose timestamps carry dates only: no post is planned at midnight."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from core.audience.segments import run_segments, save_run
from core.delivery import targeting
from core.delivery.targeting.rules import FALLBACK_HOUR
from core.intake.ingest import ingest
from core.workspace import Workspace

NOW = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)


def test_the_week_is_planned_at_the_default_hour_not_at_midnight(workspace: Workspace, tmp_path) -> None:
    rng = np.random.default_rng(5)
    lines = ["user_id,topic,date"]
    for user in range(120):
        topics = ["yoga", "tea"] if user < 60 else ["protein", "running"]
        lines += [f"u{user:03d},{rng.choice(topics)},2026-03-{rng.integers(1, 29):02d}" for _ in range(5)]
    export = tmp_path / "orders.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest(workspace, [export], name="Orders by day")
    save_run(workspace, run_segments(workspace, k=2))

    aud = targeting.audience(workspace)
    assert [s.best_hour for s in aud.segments] == [None, None]  # dates only: no best hour claimed
    plan = targeting.weekly_plan(workspace, now=NOW, per_segment=2)
    hours = {item.local_time.hour for item in plan.items}
    assert len(plan.items) == 4 and hours == {FALLBACK_HOUR}  # 09:00, never the 00:00 of the dates
