"""Home's glance at the posts of the last seven days and the next seven: how many a day, and which."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import clock
from core.delivery import outbox as publish
from core.delivery.outbox import CalendarEntry, OutboxState, PublishSettings
from core.workspace import Workspace
from ui.publish_views import STATE_ICONS

#: Days shown before today and from today on.
BEFORE, AHEAD = 7, 7
#: What the bars count, in stacking order, with their colours.
KINDS = {"published": "#2e7d4f", "queued": "#8cbf9f", "failed": "#d1495b", "draft": "#c9c2b0"}


def _kind(entry: CalendarEntry) -> str:
    post_state = entry.post.state
    if post_state == OutboxState.PUBLISHED:
        return "published"
    if post_state == OutboxState.FAILED:
        return "failed"
    return "draft" if post_state == OutboxState.DRAFT else "queued"


def fortnight_figure(entries: list[CalendarEntry], today: date) -> go.Figure:
    """Posts per local day from a week ago to a week ahead, stacked by published, queued, failed, draft."""
    days = [today + timedelta(days=d) for d in range(-BEFORE, AHEAD)]
    counts = Counter((e.day, _kind(e)) for e in entries)
    fig = go.Figure()
    for kind, colour in KINDS.items():
        ys = [counts[(d, kind)] for d in days]
        if any(ys):
            fig.add_trace(
                go.Bar(
                    x=days,
                    y=ys,
                    name=kind,
                    marker_color=colour,
                    hovertemplate="%{x|%a %d %b}: %{y} " + kind + "<extra></extra>",
                )
            )
    fig.add_vline(x=today.isoformat(), line={"color": "#999999", "dash": "dot"})
    fig.add_annotation(x=today.isoformat(), y=1, yref="paper", text="today", showarrow=False, yanchor="bottom")
    fig.update_layout(
        title="Posts per day: the last week and the next",
        barmode="stack",
        showlegend=True,  # also with one kind of post: the colours say what was counted
        height=300,
        margin={"t": 60, "b": 10, "l": 10, "r": 10},
        legend={"orientation": "h", "y": -0.25, "yanchor": "top"},
    )
    fig.update_xaxes(tickformat="%a<br>%d %b", dtick=86_400_000 * 2)
    fig.update_yaxes(title_text="posts", rangemode="tozero", dtick=1 if not entries else None)
    return fig


def render_fortnight(ws: Workspace) -> None:
    """The chart of the fortnight and the list of its posts, the coming ones first."""
    tz = PublishSettings.load(ws).timezone
    now = clock.to_local(clock.now(), tz)
    today = now.date()
    entries = publish.calendar_entries(ws, today - timedelta(days=BEFORE), BEFORE + AHEAD, tz)
    st.subheader("Your fortnight")
    chart, listing = st.columns([3, 2])
    chart.plotly_chart(fortnight_figure(entries, today), key="home_fortnight")
    done = (OutboxState.PUBLISHED, OutboxState.FAILED)
    coming = [e for e in entries if e.local >= now and e.post.state not in done]
    past = [e for e in entries if e not in coming]
    listing.dataframe(
        pd.DataFrame(
            [
                {"when": f"{e.local:%a %d %b %H:%M}", "state": STATE_ICONS[e.post.state], "text": e.post.text}
                for e in coming + past[::-1]  # what goes out next on top, then the latest published
            ],
            columns=["when", "state", "text"],
        ),
        hide_index=True,
        height=300,
        key="home_posts",
    )
    if not coming:
        listing.caption(f"Nothing scheduled for the coming week (times in {tz}): plan it on Targeting.")
    else:
        listing.caption(f"{len(coming)} post{'s' if len(coming) != 1 else ''} in the coming week · times in {tz}.")
