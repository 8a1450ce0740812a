"""Step 5 · Publish: the outbox — approve, schedule, publish once with one click, retry; history with links."""

from __future__ import annotations

import streamlit as st

from core.delivery.outbox import PublishSettings
from ui import bulk_views, cost_views, state
from ui import publish_views as views
from ui.resources import workspace

ws = workspace()
settings = PublishSettings.load(ws)
st.title("Publish")
st.caption(
    "Step 5 of 6 · Approve posts, give them a time, publish with one click. A post goes out once, "
    "even after a double click, a crash or a rate limit; anything that fails says why."
)

views.render_notice()
channel = views.render_connection(ws)
cost_views.render_credits(ws, with_button=True)
views.render_budget(ws, channel, settings)
cost_views.render_month_spend(ws)

with st.expander("New post", icon=":material/edit:"):
    views.render_composer(ws, settings, channel)

st.subheader("Outbox")
bulk_views.render_approve_week(ws, "publish_notice", key="publish_approve_week")
with st.expander("Approve, schedule or delete many drafts", icon=":material/checklist:"):
    bulk_views.render_bulk(ws, settings, "publish_notice")
views.render_outbox(ws, settings)
# Kept in session state so the dialogs stay open across reruns until answered or dismissed.
if state.get("publish_confirm") is not None:
    views.confirm_publish(ws, state.get("publish_confirm"))
if state.get("bulk_confirm") is not None:
    bulk_views.render_confirm(ws, settings)

st.subheader("History")
views.render_history(ws, settings)

with st.expander("Publishing settings", icon=":material/settings:"):
    views.render_settings(ws, settings)
    st.caption(
        "Scheduled posts go out when `python -m core publish-due` runs (cron, see the README) or when "
        "you press *Publish due now*."
    )

with st.expander("Costs and reading", icon=":material/payments:"):
    cost_views.render_cost_settings(ws)
