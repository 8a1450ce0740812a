"""The clock: UTC storage, the operator's time zone, and times that do not exist."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core import clock
from core.delivery import outbox as publish
from core.workspace import Workspace


def test_time_zone_round_trip(workspace: Workspace) -> None:
    local = datetime(2026, 3, 5, 9, 0)
    utc = clock.to_utc(local, "Asia/Shanghai")
    assert utc == datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
    post = publish.add_post(workspace, "Morning tea ritual", channel="dry-run", approve=True, at=utc)
    assert post.scheduled_at == "2026-03-05T01:00:00+00:00"
    assert clock.format_local(post.scheduled_at, "Asia/Shanghai") == "2026-03-05 09:00 CST"
    assert clock.to_local(post.scheduled_at, "Asia/Shanghai").replace(tzinfo=None) == local
    # summer time: 09:30 in New York in July is 13:30 UTC, and shows as 09:30 EDT again
    utc = clock.parse_local_time("2026-07-01T09:30", "America/New_York")
    assert utc.isoformat() == "2026-07-01T13:30:00+00:00"
    assert clock.format_local(utc, "America/New_York") == "2026-07-01 09:30 EDT"
    assert clock.parse_local_time("2026-07-01T09:30+08:00", "America/New_York").hour == 1
    with pytest.raises(clock.TimeError, match="2026-03-08 02:30 does not exist in America/New_York"):
        clock.to_utc(datetime(2026, 3, 8, 2, 30), "America/New_York")
