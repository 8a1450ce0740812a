"""Step 2 · Segments: who the audience is — KMeans segments with profiles, names and a map."""

from __future__ import annotations

import streamlit as st

from core.audience.segments import WEAK_SILHOUETTE, SegmentError
from core.safe_csv import safe_csv
from ui import state
from ui.audience_views import (
    actions_figure,
    colour,
    heatmap_figure,
    k_curve_figure,
    map_figure,
    name_form,
    radar_figure,
    segment_report,
    sizes_figure,
    stored_k,
    topics_figure,
    weak_structure_advice,
)
from ui.outside_text import md
from ui.resources import active_dataset_or_stop, workspace

ws = workspace()
st.title("Segments")
st.caption(
    "Step 2 of 6 · Reach groups your audience by what they engage with, when they are online and who "
    "they are. Name each group, then write for it."
)

info = active_dataset_or_stop(ws)

left, right = st.columns([1, 2], vertical_alignment="bottom")
previous = stored_k(ws, info.id)
mode = left.segmented_control(
    "Number of segments", ["Automatic", "Fixed"], key="segments_k_mode", default="Fixed" if previous else "Automatic"
)
k = None
if mode == "Fixed":
    k = right.slider("k", min_value=2, max_value=12, value=previous or 5, key="segments_k")
else:
    right.caption(
        "Reach tries k = 2 … 12 and keeps the one with the best silhouette (how well each person "
        "fits their segment compared with the next best one)."
    )

try:
    report = segment_report(ws, info.id, k)
except (SegmentError, ValueError) as exc:
    st.error(md(exc))
    st.stop()

m1, m2, m3, m4 = st.columns(4)
m1.metric("Segments", report.k, help="chosen by silhouette" if report.segmentation.auto else "fixed by you")
m2.metric(
    "Silhouette",
    f"{report.segmentation.silhouette:.2f}",
    help="-1 … 1; above 0.2 is a usable structure for behaviour data",
)
m3.metric("Users", f"{len(report.user_ids):,}")
m4.metric("Features", report.n_features, help=", ".join(f"{name}: {len(cols)}" for name, cols in report.blocks.items()))
if report.segmentation.silhouette < WEAK_SILHOUETTE:
    st.warning(weak_structure_advice(report), icon=":material/warning:")

chart, curve = st.columns([3, 2])
chart.plotly_chart(map_figure(report), key="segment_map")
chart.caption(
    "Each dot is a person, coloured as in *Segment sizes*; a number marks its segment's centre (point at it for the name)."
)
curve.plotly_chart(k_curve_figure(report), key="k_curve")
curve.plotly_chart(sizes_figure(report), key="segment_sizes")

st.subheader("Profiles")
# One tab per segment, and only the open tab's charts and name form are drawn: switching tabs reruns the page.
labels = [f"{profile.id} · {md(profile.name)}" for profile in report.profiles]
tab_key = f"segment_tab_{report.k}"
renamed = state.get("segments_renamed")
if renamed is not None:  # a rename changed its tab's label: open the renamed segment's tab again
    state.put("segments_renamed", None)
    st.session_state[tab_key] = next(
        (lab for p, lab in zip(report.profiles, labels, strict=True) if p.id == renamed), None
    )
tabs = st.tabs(labels, key=tab_key, on_change="rerun")
for tab, profile in zip(tabs, report.profiles, strict=True):
    tint = colour(profile.id)
    with tab, st.container(border=True, key=f"segment_card_{profile.id}"):
        st.markdown(f"### :material/groups: {profile.id} · {md(profile.name)}")
        demo = profile.demographics
        facts = [f"**{profile.size:,} users** ({profile.share:.0%})", f"{profile.events_per_user:.0f} events per user"]
        if "age_median" in demo:
            facts.append(f"median age {demo['age_median']:.0f}")
        if demo.get("gender"):
            facts.append(" / ".join(f"{share:.0%} {md(g)}" for g, share in demo["gender"].items() if share >= 0.005))
        if demo.get("regions"):
            facts.append("mostly " + ", ".join(map(md, demo["regions"])))
        st.markdown(" · ".join(facts))
        if profile.dates_only:
            st.caption(
                "Your timestamps carry dates only (every one at 00:00), so Reach cannot tell the best hours "
                "to post and claims none; Targeting uses the hour you set. Busiest days are still counted."
            )
        elif profile.best_hours:
            slots = ", ".join(f"{day} {hour:02d}:00" for day, hour in profile.best_slots)
            st.markdown(
                f"**Best posting hours:** {', '.join(f'{h:02d}:00' for h in profile.best_hours)} "
                f"(busiest slots: {slots})"
            )
        else:
            st.caption("No timestamps in this dataset: no best hours.")
        if tab.open:
            a, b = st.columns(2)
            a.plotly_chart(topics_figure(profile, tint), key=f"topics_{profile.id}")
            b.plotly_chart(radar_figure(profile, tint), key=f"radar_{profile.id}")
            if profile.hour_weekday is not None and not profile.dates_only:
                a, b = st.columns([2, 1])
                a.plotly_chart(heatmap_figure(profile, tint), key=f"heatmap_{profile.id}")
                if len(profile.action_mix):
                    b.plotly_chart(actions_figure(profile, tint), key=f"actions_{profile.id}")
            name_form(ws, info.id, report.k, profile)

st.subheader("Export")
members = report.assignments()
members["segment_name"] = members["segment"].map({p.id: p.name for p in report.profiles})
st.download_button(
    "Download segment membership (CSV)",
    safe_csv(members),
    key="export_segments",
    file_name=f"segments_dataset{info.id}_k{report.k}.csv",
    mime="text/csv",
    icon=":material/download:",
)
st.caption(
    f"{len(members):,} rows: user_id, segment, segment_name. Open the Interests page for the rules inside each segment."
)
