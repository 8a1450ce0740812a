"""Step 5 · Results: what published posts achieved by segment, template and hour — and which template to use next."""

from __future__ import annotations

import streamlit as st

from core.delivery.outbox import PublishSettings
from ui import cost_views
from ui import results_views as views
from ui.resources import workspace

ws = workspace()
settings = PublishSettings.load(ws)
st.title("Results")
st.caption(
    "Step 5 of 6 · Measure what was published, see which template works for which segment and hour, "
    "and get the template to use next — with how sure Reach is."
)

views.render_notice()
cost_views.render_credits(ws)
views.render_refresh(ws, settings)
cost_views.render_month_spend(ws)
found, history = views.measured(ws)

if not views.render_empty(found):
    views.render_notes(found)

    st.subheader("Which template next")
    st.caption(
        "Thompson sampling on each channel's own measured posts, segment by segment: the bars are the chance "
        "each template is the best one. Where a network shows impressions the measure is the engagement rate; "
        "where it shows none (Mastodon, Bluesky) it is engagements per post. The pick becomes the default for "
        "rules posting to that channel on the Targeting page; you can always choose another."
    )
    views.render_recommendations(found.recommendations)

    st.subheader("Performance")
    views.render_charts(found, history, settings.timezone)

    st.subheader("Top posts")
    views.render_top_posts(found, settings.timezone)

views.render_import_expander(ws, open_it=found.posts.empty)
