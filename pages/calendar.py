"""Step 5 · Calendar: the week or month of posts on their day and hour; open one, move it, approve the week."""

from __future__ import annotations

import streamlit as st

from core.delivery import outbox as publish
from core.delivery.outbox import PublishSettings
from ui import bulk_views, state
from ui import calendar_views as views
from ui.resources import workspace

ws = workspace()
settings = PublishSettings.load(ws)
st.title("Calendar")
st.caption(
    "Step 5 of 6 · Every scheduled, published and failed post on its day and hour, coloured by segment and "
    f"marked by channel. Times in {settings.timezone} (Publishing settings on the Publish page)."
)

views.render_notice()
first_day, days = views.render_period(settings)
bulk_views.render_approve_week(ws, views.NOTICE, key="calendar_approve_week")
entries = publish.calendar_entries(ws, first_day, days, settings.timezone)
views.render_calendar(entries, first_day, days, settings)
views.render_post(ws, entries, settings)
if entries:
    with st.expander(f"As a list ({len(entries)} post{'s' if len(entries) != 1 else ''})", icon=":material/list:"):
        st.dataframe(views.entries_table(entries), hide_index=True, width="stretch")
if state.get("bulk_confirm") is not None:
    bulk_views.render_confirm(ws, settings)
