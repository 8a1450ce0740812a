"""Step 2 · Interests: which interests go together, overall or inside one segment, as post angles."""

from __future__ import annotations

import streamlit as st

from core.audience.rules import RuleExplosionError, RulesError, angles, hashtag_suggestions, rules_table
from core.safe_csv import safe_csv
from ui.audience_views import network_figure, rule_report, rules_scatter, segment_report, stored_k
from ui.outside_text import md
from ui.resources import active_dataset_or_stop, workspace

ws = workspace()
st.title("Interests")
st.caption(
    'Step 2 of 6 · Association rules between interests: "people into A also follow B". Each person is '
    "one basket of the topics they engaged with (at least twice), or one shopping basket."
)

info = active_dataset_or_stop(ws)

segments = segment_report(ws, info.id, stored_k(ws, info.id))
choices = {None: "All users", **{p.id: f"{p.id} · {p.name} ({p.size:,})" for p in segments.profiles}}

with st.container(border=True):
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    segment = c1.selectbox("Audience", list(choices), format_func=choices.get, key="rules_segment")
    min_support = c2.slider(
        "Min support",
        0.01,
        0.5,
        0.05,
        0.01,
        key="rules_support",
        help="Share of people who must share the whole interest set",
    )
    min_confidence = c3.slider(
        "Min confidence",
        0.05,
        1.0,
        0.3,
        0.05,
        key="rules_confidence",
        help="Of the people into A, the share also into B",
    )
    min_lift = c4.slider(
        "Min lift",
        1.0,
        5.0,
        1.2,
        0.1,
        key="rules_lift",
        help="How many times more often than by chance (1 = no relation)",
    )
    c1, c2 = st.columns([3, 6])
    max_len = c1.selectbox("Longest interest set", [2, 3, 4], index=1, key="rules_max_len")
    algorithm = c2.segmented_control("Algorithm", ["fpgrowth", "apriori"], default="fpgrowth", key="rules_algorithm")

try:
    report = rule_report(
        ws,
        info.id,
        min_support=min_support,
        min_confidence=min_confidence,
        max_len=max_len,
        algorithm=algorithm or "fpgrowth",
        segment=segment,
    )
except RuleExplosionError as exc:
    st.warning(f"Too many combinations to mine safely: {md(exc)}.")
    st.stop()
except RulesError as exc:
    st.error(md(exc))
    st.stop()

rules = report.rules[report.rules["lift"] >= min_lift]
m1, m2, m3 = st.columns(3)
m1.metric("People (transactions)", f"{report.n_transactions:,}")
m2.metric("Frequent interest sets", f"{report.n_itemsets:,}")
m3.metric("Rules shown", f"{len(rules):,}", help=f"{len(report.rules):,} before the lift filter")
if rules.empty:
    st.info("No rule passes these filters. Lower the support, confidence or lift.")
    st.stop()

st.subheader("Angles for your posts")
where = ""
if segment is not None:
    where = f" for {md(choices[segment].rsplit(' (', 1)[0])}"
    st.caption(
        f"Inside {md(choices[segment].rsplit(' (', 1)[0])}: support, confidence and lift are measured among "
        f"its {report.n_transactions:,} people, so lift compares with the segment's own average."
    )
for angle in angles(rules, kind=report.kind):
    st.markdown(f"- {md(angle.text)} · {md(' '.join(angle.hashtags))}")
st.caption(f"Hashtags to try{where}: " + md(" ".join(hashtag_suggestions(rules))))

left, right = st.columns(2)
left.plotly_chart(rules_scatter(rules), key="rules_scatter")
right.plotly_chart(network_figure(rules), key="rules_network")

st.subheader("Rules")
shown = rules_table(rules)
st.dataframe(
    shown,
    hide_index=True,
    key="rules_table",
    column_config={
        "support": st.column_config.NumberColumn(format="%.3f"),
        "confidence": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f"),
        "lift": st.column_config.NumberColumn(format="%.2f×"),
        "leverage": st.column_config.NumberColumn(format="%.4f"),
        "conviction": st.column_config.NumberColumn(format="%.2f"),
        "antecedent support": None,
        "consequent support": None,
    },
)
st.download_button(
    "Download rules (CSV)",
    safe_csv(shown),
    key="export_rules",
    icon=":material/download:",
    file_name=f"rules_dataset{info.id}{'' if segment is None else f'_segment{segment}'}.csv",
    mime="text/csv",
)
