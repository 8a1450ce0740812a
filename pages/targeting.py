"""Step 4 · Targeting: which template goes to which segment, on which channel, at what hour — and the week's plan."""

from __future__ import annotations

import streamlit as st

from core.content.templates import list_templates
from core.delivery.outbox import PublishSettings
from core.delivery.targeting import load_rules, propose_rules, weekly_plan
from ui import cost_views
from ui import targeting_views as views
from ui.resources import active_dataset_or_stop, cached_profiles, workspace

ws = workspace()
st.title("Targeting")
st.caption(
    "Step 4 of 6 · Match each segment with a template, a channel and an hour, check every segment's post, "
    "then queue the week into the outbox."
)
views.render_notice()

info = active_dataset_or_stop(ws)

aud = views.load_audience(ws)
if aud is None:
    st.info(
        "No segments for this dataset yet: targeting needs them. Find them on the Segments page first.",
        icon=":material/groups:",
    )
    st.page_link("pages/segments.py", label="Find segments", icon=":material/arrow_forward:")
    st.stop()

templates = [t.name for t in list_templates(ws)]
recommendations = views.recommendations(ws)  # each channel's, from measured posts (Results page); none before any
rules = load_rules(ws, aud)
proposed = not rules
if proposed:
    rules = propose_rules(aud, templates, recommended=views.proposal_templates(recommendations))
settings = PublishSettings.load(ws)

st.subheader("Rules")
views.render_rules_editor(ws, aud, rules, proposed, templates)
views.render_recommendations(ws, aud, rules, proposed, recommendations)
with st.expander("Rule history", icon=":material/history:"):
    views.render_history(ws)

st.subheader("Fill the week")
source, per_segment, writer = views.render_fill_choice(ws)
# Without saved rules the plan is made from the proposals and says so (it cannot be queued).
with st.spinner("Writing the week…" if writer else "Filling in the templates…"):
    plan = weekly_plan(
        ws,
        aud=aud,
        rules=None if proposed else rules,
        profiles=cached_profiles(ws, with_angles=True, spinner="Mining interest angles for the templates…"),
        recommended=views.proposal_templates(recommendations),
        per_segment=per_segment,
        source=source,
        lm=writer,
    )

st.subheader("Coverage of the coming week")
m1, m2, m3 = st.columns(3)
m1.metric("Segments reached", f"{len({i.segment_id for i in plan.items})} of {len(aud.segments)}")
m2.metric("Posts passing checks", f"{sum(i.passes for i in plan.items)} of {len(plan.items)}")
m3.metric("Time zone", plan.timezone, help="Set it under Publishing settings on the Publish page")
if plan.unreached:
    st.warning(
        "No active rule reaches: "
        + ", ".join(s.label for s in plan.unreached)
        + ". Add a rule for them or they get no post this week.",
        icon=":material/warning:",
    )
st.plotly_chart(views.coverage_figure(plan, aud), key="targeting_coverage")

st.subheader("Preview")
views.render_plan_table(plan)
views.render_preview(plan)

st.subheader("Queue the week")
cost_views.render_week_estimate(ws, plan)
views.render_queue(ws, plan)
