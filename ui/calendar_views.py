"""Pieces of the Calendar page: the week or month of posts as a Plotly chart (day × hour, coloured by
segment, marked by channel), the same posts as a list, and one post opened to move it.

Moving runs ``core.delivery.outbox.move_post``, the same pre-flight as approving on the Publish page.
"""

from __future__ import annotations

import html
from datetime import date, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import clock
from core.delivery import outbox as publish
from core.delivery.channels import registry
from core.delivery.channels.base import PublishError
from core.delivery.outbox import CalendarEntry, OutboxError, OutboxState, PublishSettings
from core.workspace import Workspace
from ui import state
from ui.audience_views import PALETTE
from ui.outside_text import chart_label
from ui.publish_views import STATE_ICONS, time_picker

NOTICE = "calendar_notice"
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "star", "hexagon")
NO_SEGMENT = "no segment"
VIEW_LABELS = {"days": "7 days", "week": "Week", "month": "Month"}
# how a post's state looks: marker opacity and outline (failed: red ring; drafts: faint)
STATE_STYLE = {
    OutboxState.DRAFT: (0.35, "#8a8a8a", 1),
    OutboxState.APPROVED: (0.9, "#ffffff", 1),
    OutboxState.SCHEDULED: (0.9, "#ffffff", 1),
    OutboxState.PUBLISHING: (0.9, "#ffffff", 1),
    OutboxState.PUBLISHED: (1.0, "#1f2a24", 2),
    OutboxState.FAILED: (1.0, "#d1495b", 3),
}


def render_notice() -> None:
    """The message left by the last action, once."""
    state.show_notice(NOTICE)


# -- which days ---------------------------------------------------------------------------------
def _step(days: int) -> None:
    """Move the shown period back or forward (a button's callback, before the date field is drawn)."""
    anchor = state.get("calendar_anchor") or date.today()
    if state.get("calendar_view") == "month":
        first = anchor.replace(day=1)
        anchor = (first + timedelta(days=32)).replace(day=1) if days > 0 else (first - timedelta(days=1)).replace(day=1)
    else:
        anchor = anchor + timedelta(days=days)
    state.put("calendar_anchor", anchor)


def _today(tz: str) -> None:
    state.put("calendar_anchor", clock.to_local(clock.now(), tz).date())


def render_period(settings: PublishSettings) -> tuple[date, int]:
    """Week or month, and which one; returns (first day, number of days)."""
    tz = settings.timezone
    if state.get("calendar_anchor") is None:
        state.put("calendar_anchor", clock.to_local(clock.now(), tz).date())
    if state.get("calendar_jump") is not None:  # a moved post: show where it went
        state.put("calendar_anchor", state.get("calendar_jump"))
        state.put("calendar_jump", None)
    row = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    row.segmented_control("Show", list(publish.VIEWS), key="calendar_view", format_func=VIEW_LABELS.get)
    row.date_input(
        "Day",
        key="calendar_anchor",
        format="YYYY-MM-DD",
        width=170,
        help="7 days: the seven days from this day on (from today: the week *Approve the week* sends). "
        "Week, month: the calendar week (Monday to Sunday) or month that holds this day.",
    )
    shown = state.get("calendar_view") or "days"
    steps = row.container(horizontal=True, gap="small", width="content")
    period = VIEW_LABELS[shown].lower()
    steps.button("←", key="calendar_back", on_click=_step, args=(-7,), help=f"The {period} before")
    steps.button("Today", key="calendar_today", on_click=_today, args=(tz,))
    steps.button("→", key="calendar_ahead", on_click=_step, args=(7,), help=f"The {period} after")
    return publish.view_days(state.get("calendar_anchor"), shown)


# -- the chart ----------------------------------------------------------------------------------
def segment_colours(entries: list[CalendarEntry]) -> dict[str, str]:
    """segment → colour, stable for a set of segments (sorted by name)."""
    names = sorted({e.post.segment or NO_SEGMENT for e in entries})
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def spread_in_days(entries: list[CalendarEntry]) -> dict[int, pd.Timestamp]:
    """post id → x: posts of one day within the same hour and a half sit side by side across the day's
    column (by segment), so none hides another; a lone post sits in the middle."""
    groups: dict[tuple[date, int], list[CalendarEntry]] = {}
    for e in entries:
        groups.setdefault((e.day, int(e.hour // 1.5)), []).append(e)
    xs = {}
    for (day, _), group in groups.items():
        group.sort(key=lambda e: (e.post.segment or NO_SEGMENT, e.post.id))
        for i, e in enumerate(group):
            xs[e.post.id] = pd.Timestamp(day) + pd.Timedelta(hours=3 + 18 * (i + 0.5) / len(group))
    return xs


def _hover(entry: CalendarEntry) -> str:
    post = entry.post
    text = html.escape(post.text[:90] + ("…" if len(post.text) > 90 else ""))  # outside text: never markup
    return (
        f"#{post.id} · {html.escape(STATE_ICONS[post.state])} · {entry.local:%a %d %b %H:%M}<br>"
        f"{html.escape(post.segment or NO_SEGMENT)} · {html.escape(registry.label(post.channel))}<br>{text}"
    )


def calendar_figure(entries: list[CalendarEntry], first_day: date, days: int, tz: str) -> go.Figure:
    """Day × hour: one marker per post, coloured by segment, its symbol by channel, its outline by state."""
    colours = segment_colours(entries)
    channels = list(registry.channel_names())
    fig = go.Figure()
    xs = spread_in_days(entries)
    for segment, colour in colours.items():
        mine = [e for e in entries if (e.post.segment or NO_SEGMENT) == segment]
        fig.add_trace(
            go.Scatter(
                x=[xs[e.post.id] for e in mine],
                y=[e.hour for e in mine],
                mode="markers",
                name=segment,
                showlegend=False,
                customdata=[e.post.id for e in mine],
                hovertext=[_hover(e) for e in mine],
                hoverinfo="text",
                marker={
                    "size": 15 if days <= 7 else 9,
                    "color": colour,
                    "symbol": [SYMBOLS[channels.index(e.post.channel) % len(SYMBOLS)] for e in mine],
                    "opacity": [STATE_STYLE[e.post.state][0] for e in mine],
                    "line": {
                        "color": [STATE_STYLE[e.post.state][1] for e in mine],
                        "width": [STATE_STYLE[e.post.state][2] for e in mine],
                    },
                },
            )
        )
    for segment, colour in colours.items():  # the key: one plain square per segment
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=chart_label(segment),
                legendgroup="segment",
                legendgrouptitle_text="Segment",
                marker={"size": 12, "color": colour, "symbol": "square"},
                hoverinfo="skip",
            )
        )
    for name in sorted({e.post.channel for e in entries}, key=channels.index):  # the channel key, grey
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=registry.label(name),
                legendgroup="channel",
                legendgrouptitle_text="Channel",
                marker={"size": 12, "color": "#6b705c", "symbol": SYMBOLS[channels.index(name) % len(SYMBOLS)]},
                hoverinfo="skip",
            )
        )
    start = pd.Timestamp(first_day)
    end = start + pd.Timedelta(days=days)
    day_ms = 86_400_000
    if days <= 7:  # a week: every day labelled in the middle of its column
        fig.update_xaxes(dtick=day_ms, tickformat="%a<br>%d %b", ticklabelmode="period")
    else:  # a month: Mondays labelled, every day a thin line (readable on a phone too)
        monday = start - pd.Timedelta(days=start.weekday())
        fig.update_xaxes(
            dtick=7 * day_ms,
            tick0=monday,
            tickformat="%a %d",
            minor={"dtick": day_ms, "showgrid": True, "gridcolor": "#f1eee6"},
        )
    fig.update_xaxes(range=[start, end], showgrid=True, gridcolor="#d9d4c4", title=None, fixedrange=True)
    fig.update_yaxes(
        range=[24, 0],
        dtick=3,
        title=f"hour ({tz})",
        showgrid=True,
        gridcolor="#eeeae0",
        zeroline=False,
        fixedrange=True,
    )
    today = pd.Timestamp(clock.to_local(clock.now(), tz).date())
    if start <= today < end:
        fig.add_vrect(x0=today, x1=today + pd.Timedelta(days=1), fillcolor="#edae49", opacity=0.12, line_width=0)
    fig.update_layout(
        height=520,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        # the key above the chart: below it, it would cover the day labels
        legend={
            "orientation": "h",
            "x": 0,
            "y": 1.02,
            "yanchor": "bottom",
            "itemclick": False,
            "itemdoubleclick": False,
        },
        clickmode="event+select",
        dragmode=False,
        plot_bgcolor="#fbfaf6",
    )
    return fig


def _picked_from_chart(event) -> None:
    """Open the post whose marker was clicked (each click once, so the list below still works)."""
    try:
        points = list(event["selection"]["points"])
    except (KeyError, TypeError):
        points = []
    ids = [p["customdata"] for p in points if p.get("customdata") is not None]
    ids = [int(i[0] if isinstance(i, list) else i) for i in ids]
    if ids and ids != state.get("calendar_last_pick"):
        state.put("calendar_post", ids[0])
    state.put("calendar_last_pick", ids)


def render_calendar(entries: list[CalendarEntry], first_day: date, days: int, settings: PublishSettings) -> None:
    """The chart (click a post to open it) and its legend of states."""
    if not entries:
        st.info(
            "Nothing on the calendar in these days. Queue the week on Targeting, or give a post a time on Publish.",
            icon=":material/calendar_month:",
        )
        return
    event = st.plotly_chart(
        calendar_figure(entries, first_day, days, settings.timezone),
        key=f"calendar_chart_{first_day}_{days}",
        on_select="rerun",
        selection_mode="points",
        config={"displayModeBar": False},
    )
    _picked_from_chart(event)
    counts = pd.Series([str(e.post.state) for e in entries]).value_counts()
    st.caption(
        " · ".join(_count(counts[s], s) for s in STATE_ICONS if s in counts)
        + ". Faint: draft (not approved yet) · red ring: failed · dark ring: published. Click a post to open it."
    )


def _count(n: int, post_state: str) -> str:
    """``n`` posts in a state, in words: "1 draft", "3 drafts", "5 published"."""
    return f"{n} {post_state}{'s' if post_state == 'draft' and n != 1 else ''}"


def entries_table(entries: list[CalendarEntry]) -> pd.DataFrame:
    """The calendar as a list: day, time, state, channel, segment, text."""
    return pd.DataFrame(
        [
            {
                "day": f"{e.local:%a %d %b}",
                "time": f"{e.local:%H:%M}",
                "#": e.post.id,
                "state": STATE_ICONS[e.post.state],
                "channel": registry.label(e.post.channel),
                "segment": e.post.segment or "",
                "text": e.post.text,
            }
            for e in entries
        ],
        columns=["day", "time", "#", "state", "channel", "segment", "text"],
    )


# -- one post -----------------------------------------------------------------------------------
def render_post(ws: Workspace, entries: list[CalendarEntry], settings: PublishSettings) -> None:
    """The opened post: what it is, and a date/time field to move it (pre-flight first)."""
    if not entries:
        return
    by_id = {e.post.id: e for e in entries}
    if state.get("calendar_post") not in by_id:
        state.put("calendar_post", entries[0].post.id)
    st.selectbox(
        "Open a post",
        list(by_id),
        key="calendar_post",
        format_func=lambda i: f"#{i} · {by_id[i].local:%a %d %b %H:%M} · {by_id[i].post.text[:60]}",
    )
    entry = by_id[state.get("calendar_post")]
    post = entry.post
    tz = settings.timezone
    with st.container(border=True, key="calendar_opened"):
        st.markdown(f"**#{post.id} · {STATE_ICONS[post.state]}** · {registry.label(post.channel)}")
        st.caption(
            " · ".join(
                x for x in (post.segment or NO_SEGMENT, post.template or "", clock.format_local(entry.local, tz)) if x
            )
        )
        st.text(post.text)  # outside text: shown as text
        if post.state == OutboxState.FAILED:
            st.error(f"Failed: {post.last_error}")
        if post.state == OutboxState.PUBLISHED:
            st.success("Published" + (f" · {post.url}" if post.url else " · dry run, nothing was sent"))
        elif post.state != OutboxState.PUBLISHING:
            _render_move(ws, post, settings)
        if st.button("Edit it on Publish", key="calendar_open_publish", icon=":material/edit:"):
            state.put("publish_selected", post.id)
            st.switch_page("pages/publish.py")


def _render_move(ws: Workspace, post, settings: PublishSettings) -> None:
    verb = {
        OutboxState.DRAFT: "Keeps the time for when it is approved.",
        OutboxState.FAILED: "Queues it again at that time, after pre-flight.",
    }.get(post.state, "Pre-flight runs again before it moves.")
    at = time_picker(f"calendar_move_{post.id}", settings, publish.post_time(post))
    if st.button("Move here", key=f"calendar_move_{post.id}", type="primary", help=verb, disabled=at is None):
        try:
            moved = publish.move_post(ws, post.id, at)
        except publish.PreflightError as exc:
            state.notify(NOTICE, "error", f"Post {post.id} not moved — " + "; ".join(exc.problems) + ".")
        except (OutboxError, PublishError) as exc:
            state.notify(NOTICE, "error", f"Post {post.id} not moved — {exc}.")
        else:
            when = clock.format_local(publish.post_time(moved), settings.timezone)
            state.notify(NOTICE, "success", f"Post {post.id} moved to {when} ({moved.state}).")
            state.put("calendar_jump", clock.to_local(at, settings.timezone).date())
        st.rerun()
