"""Home: the whole pipeline at a glance, each step with its status and the next thing to do."""

from __future__ import annotations

import streamlit as st

from core.status import pipeline_status
from ui import cost_views, home_views
from ui.outside_text import diagram_label, md
from ui.resources import workspace

ws = workspace()
st.title("Reach")
st.caption("From your audience's behaviour to posts that reach the right people, and whether they worked.")
cost_views.render_credits(ws)

steps = pipeline_status(ws)
lines = ["flowchart LR"]
for i, step in enumerate(steps):
    # A Markdown string label: bold title, status on the next line.
    status = diagram_label(step.status)
    lines.append(f'    s{i}["`**{i + 1} · {step.title}**\n{status}`"]:::{step.state}')
    if i:
        lines.append(f"    s{i - 1} --> s{i}")
lines += [
    "    classDef done fill:#d8eeda,stroke:#2e7d4f,color:#1f2a24",
    "    classDef todo fill:#fff6dc,stroke:#c9a227,color:#1f2a24",
]
# Six boxes in a row are unreadable on a phone: there the step cards below, stacked, say the same.
st.html("<style>@media (max-width: 640px) { .st-key-home_diagram { display: none; } }</style>")
with st.container(key="home_diagram"):
    st.mermaid_chart("\n".join(lines), alt="The six steps of the Reach pipeline and their status")

next_step = next((s for s in steps if s.state == "todo"), None)
if next_step is not None:
    st.info(f"**Next:** {next_step.next_action}")

cols = st.columns(len(steps))
for column, step in zip(cols, steps, strict=True):
    with column.container(border=True):
        st.markdown(f"**{step.title}**")
        st.caption(md(step.status))
        if step.page:
            st.page_link(step.page, label="Open", icon=":material/arrow_forward:")

home_views.render_fortnight(ws)
