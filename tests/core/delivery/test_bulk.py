"""Bulk actions and the calendar: many posts at once, each through the same pre-flight as one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core import clock
from core.delivery import outbox as publish
from core.delivery.outbox import OutboxError, OutboxState, PreflightError
from core.workspace import Workspace

TEXTS = [
    "Chia pudding, three ways, for busy mornings",
    "Oat bars are back in stock at the shop",
    "A ten-minute walk after lunch does more than you think",
    "Our green tea comes from one small farm in Hangzhou",
]


@pytest.fixture
def drafts(workspace: Workspace, no_x_keys: None) -> list[int]:
    segments = ["young women", "young women", "seniors", None]
    return [publish.add_post(workspace, t, segment=s).id for t, s in zip(TEXTS, segments, strict=True)]


def test_approve_many_approves_passing_drafts_and_says_why_not_for_the_others(
    workspace: Workspace, drafts: list[int]
) -> None:
    copy = publish.add_post(workspace, TEXTS[0] + "!").id  # a near copy of the first draft
    report = publish.approve_many(workspace, [*drafts, copy, 999])
    assert report.done == drafts
    assert set(report.refused) == {copy, 999}
    assert "nearly the same as post" in report.refused[copy]
    assert report.refused[999] == "post 999 does not exist"
    assert publish.get_post(workspace, copy).state == OutboxState.DRAFT
    assert report.summary("approved") == "4 posts approved; 2 left as they were"


def test_delete_many_keeps_the_published_posts(workspace: Workspace, drafts: list[int]) -> None:
    published = publish.add_post(workspace, "Spring menu out today", approve=True).id
    publish.publish_due(workspace)
    report = publish.delete_many(workspace, [drafts[0], drafts[1], published])
    assert report.done == drafts[:2]
    assert "stays in the history" in report.refused[published]
    assert [p.id for p in publish.list_posts(workspace)] == [published, drafts[3], drafts[2]]


def test_spread_puts_each_segment_one_a_day_at_its_best_hours(workspace: Workspace, drafts: list[int]) -> None:
    posts = [publish.get_post(workspace, i) for i in drafts]
    start = datetime(2031, 3, 3, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai, a Monday
    times = publish.spread_over_best_hours(
        posts, {"young women": [20, 8], "seniors": [7]}, start=start, tz="Asia/Shanghai"
    )
    local = {i: clock.to_local(t, "Asia/Shanghai").strftime("%m-%d %H:%M") for i, t in times.items()}
    assert local == {
        drafts[0]: "03-03 20:00",  # still ahead today
        drafts[1]: "03-04 08:00",  # the segment's next best hour, on the next day
        drafts[2]: "03-04 07:00",  # 07:00 today is past
        drafts[3]: "03-04 09:00",  # no segment: the fallback hour
    }


def test_schedule_many_approves_at_the_spread_times(workspace: Workspace, drafts: list[int]) -> None:
    start = clock.now()
    report = publish.schedule_many(workspace, drafts, {"young women": [9]}, tz="UTC", start=start)
    assert report.done == drafts
    posts = {i: publish.get_post(workspace, i) for i in drafts}
    assert {p.state for p in posts.values()} == {OutboxState.SCHEDULED}
    first, second = (clock.from_iso(posts[i].scheduled_at) for i in drafts[:2])
    assert (first.hour, second.hour, (second - first).days) == (9, 9, 1)


def test_week_drafts_are_the_drafts_timed_in_the_next_seven_days(workspace: Workspace, drafts: list[int]) -> None:
    now = clock.now()
    publish.schedule(workspace, drafts[0], now + timedelta(days=2))
    publish.schedule(workspace, drafts[1], now + timedelta(days=1))
    publish.schedule(workspace, drafts[2], now + timedelta(days=9))  # next week
    assert [p.id for p in publish.week_drafts(workspace)] == [drafts[1], drafts[0]]


def test_move_reschedules_a_queued_post_after_preflight(workspace: Workspace, drafts: list[int]) -> None:
    later = clock.now() + timedelta(days=3)
    post = publish.approve(workspace, drafts[0], at=clock.now() + timedelta(days=1))
    moved = publish.move_post(workspace, post.id, later)
    assert (moved.state, moved.scheduled_at) == (OutboxState.SCHEDULED, clock.iso(later))
    with workspace.connect() as con:  # the text grew past the limit behind pre-flight's back
        con.execute("UPDATE outbox SET text = ? WHERE id = ?", ("long " * 80, post.id))
    with pytest.raises(PreflightError, match="over the limit"):
        publish.move_post(workspace, post.id, later + timedelta(days=1))
    assert publish.get_post(workspace, post.id).scheduled_at == clock.iso(later)


def test_move_refuses_the_past_and_published_posts(workspace: Workspace, drafts: list[int]) -> None:
    with pytest.raises(OutboxError, match="in the past"):
        publish.move_post(workspace, drafts[0], clock.now() - timedelta(hours=1))
    draft = publish.move_post(workspace, drafts[0], clock.now() + timedelta(days=1))
    assert draft.state == OutboxState.DRAFT  # a draft keeps the time for when it is approved
    publish.approve(workspace, drafts[1])
    publish.publish_due(workspace)
    with pytest.raises(OutboxError, match="can no longer move"):
        publish.move_post(workspace, drafts[1], clock.now() + timedelta(days=1))


def test_calendar_places_posts_on_their_local_day_and_hour(workspace: Workspace, drafts: list[int]) -> None:
    publish.PublishSettings.load(workspace).save(workspace, timezone="Asia/Shanghai")
    at = datetime(2031, 3, 4, 23, 30, tzinfo=UTC)  # Wednesday 07:30 in Shanghai
    publish.approve(workspace, drafts[0], at=at)
    publish.schedule(workspace, drafts[1], at + timedelta(days=7))  # the week after
    first, days = publish.view_days(date(2031, 3, 6), "week")
    assert (first, days) == (date(2031, 3, 3), 7)
    assert publish.view_days(date(2031, 3, 6), "days") == (date(2031, 3, 6), 7)  # the seven days from a day on
    [entry] = publish.calendar_entries(workspace, first, days, "Asia/Shanghai")
    assert (entry.post.id, entry.day, entry.hour) == (drafts[0], date(2031, 3, 5), 7.5)
    month = publish.calendar_entries(workspace, *publish.view_days(date(2031, 3, 6), "month"), "Asia/Shanghai")
    assert [e.post.id for e in month] == [drafts[0], drafts[1]]  # drafts without a time are left out
