"""Bulk actions on Publish and the Calendar's move, through Streamlit's AppTest on the demo workspace."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import clock
from core.delivery import outbox as publish
from core.delivery.outbox import OutboxState, PublishSettings
from core.demo import open_workspace


def _button(app: AppTest, label: str):
    return next(b for b in app.button if b.label == label)


def _open(app: AppTest, page: str) -> AppTest:
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


@pytest.fixture
def dry(app: AppTest, monkeypatch: pytest.MonkeyPatch, no_x_keys: None) -> AppTest:
    return app


def test_bulk_approve_and_approve_the_week(dry: AppTest, workspace_home: Path) -> None:
    ws = open_workspace(workspace_home)
    soon = clock.now() + timedelta(days=2)
    week = [
        publish.add_post(ws, "Chia pudding, three ways, for busy mornings", segment="young women", at=soon).id,
        publish.add_post(ws, "A ten-minute walk after lunch does more than you think", at=soon).id,
    ]
    later = publish.add_post(ws, "Our green tea comes from one small farm", at=soon + timedelta(days=10)).id
    loose = [
        publish.add_post(ws, "Oat bars are back in stock at the shop").id,
        publish.add_post(ws, "Oat bars are back in stock at the shop!").id,  # a near copy of the one before
    ]
    _open(dry, "pages/publish.py")

    # "Approve the week": one click, one confirmation listing what goes out, only the next seven days
    _button(dry, "Approve the week (2)").click().run()
    headers = [c.value for c in dry.caption if c.value.startswith("**#")]
    when = clock.format_local(soon, PublishSettings.load(ws).timezone)
    assert sorted(headers) == sorted(f"**#{i}** · {when} · Dry run · ✓ passes pre-flight" for i in week)
    listed = [t.value for t in dry.text]
    assert "[young women] Chia pudding, three ways, for busy mornings" in listed
    assert "[no segment] A ten-minute walk after lunch does more than you think" in listed
    assert "2 of 2 drafts will be approved" in " ".join(m.value for m in dry.markdown)
    _button(dry, "Approve 2").click().run()
    assert not dry.exception, dry.exception
    assert any("2 posts approved for the week." in s.value for s in dry.success)
    assert {publish.get_post(ws, i).state for i in week} == {OutboxState.SCHEDULED}
    assert publish.get_post(ws, later).state == OutboxState.DRAFT

    # many drafts at once: the near copy is refused with its reason, the others go
    dry.multiselect(key="bulk_selected").set_value(loose).run()
    _button(dry, "Approve (2)").click().run()
    assert not dry.exception, dry.exception
    [warning] = [w.value for w in dry.warning if "approved" in w.value]
    assert warning.startswith("1 post approved (each keeps its time, or is due now); 1 left as it was.")
    assert f"post {loose[1]}: nearly the same as post {loose[0]}" in warning
    assert [publish.get_post(ws, i).state for i in loose] == [OutboxState.APPROVED, OutboxState.DRAFT]


def test_bulk_delete_asks_first(dry: AppTest, workspace_home: Path) -> None:
    ws = open_workspace(workspace_home)
    ids = [publish.add_post(ws, t).id for t in ("Golden milk tonight", "Kefir for breakfast")]
    _open(dry, "pages/publish.py")
    _button(dry, "Select all").click().run()
    _button(dry, "Delete… (2)").click().run()
    assert "2 drafts will be deleted. This cannot be undone." in [m.value for m in dry.markdown]
    assert len(publish.list_posts(ws)) == 2  # nothing deleted before the confirmation
    _button(dry, "Delete 2").click().run()
    assert any("2 posts deleted." in s.value for s in dry.success)
    assert [p.id for p in publish.list_posts(ws) if p.id in ids] == []


def test_calendar_opens_a_post_and_moves_it_after_preflight(dry: AppTest, workspace_home: Path) -> None:
    ws = open_workspace(workspace_home)
    settings = PublishSettings.load(ws)
    tz = settings.timezone
    settings = settings.save(ws, char_limit=25_000)
    at = clock.now() + timedelta(days=1)
    day = clock.to_local(at, tz).date()
    short = publish.add_post(ws, "Golden milk: turmeric, ginger, oat milk", segment="55+", at=at, approve=True)
    long = publish.add_post(ws, "A long story about our oats. " * 12, segment="55+", at=at, approve=True)
    settings.save(ws, char_limit=280)  # back to the standard limit: the long post no longer fits

    _open(dry, "pages/calendar.py")
    dry.date_input(key="calendar_anchor").set_value(day).run()
    opened = dry.selectbox(key="calendar_post")
    assert set(opened.options) >= {
        f"#{short.id} · {clock.to_local(at, tz):%a %d %b %H:%M} · Golden milk: turmeric, ginger, oat milk"
    }

    # the long post: pre-flight refuses the move, the post keeps its time
    opened.set_value(long.id).run()
    dry.date_input(key=f"calendar_move_{long.id}_date").set_value(day + timedelta(days=1)).run()
    _button(dry, "Move here").click().run()
    assert not dry.exception, dry.exception
    assert any(f"Post {long.id} not moved" in e.value and "over the limit of 280" in e.value for e in dry.error)
    assert publish.get_post(ws, long.id).scheduled_at == long.scheduled_at

    # the short one moves a day later and stays scheduled
    dry.selectbox(key="calendar_post").set_value(short.id).run()
    dry.date_input(key=f"calendar_move_{short.id}_date").set_value(day + timedelta(days=1)).run()
    _button(dry, "Move here").click().run()
    assert not dry.exception, dry.exception
    moved = publish.get_post(ws, short.id)
    assert moved.state == OutboxState.SCHEDULED
    assert clock.to_local(moved.scheduled_at, tz).date() == day + timedelta(days=1)
    assert any(f"Post {short.id} moved to" in s.value for s in dry.success)
