"""Step 6 · Inbox: mentions with their intent, a suggested reply to edit, one-click reply (sent once)."""

from __future__ import annotations

import streamlit as st

from core.delivery.outbox import PublishSettings
from core.feedback import inbox
from ui import inbox_views as views
from ui.resources import workspace

ws = workspace()
settings = PublishSettings.load(ws)
st.title("Inbox")
st.caption(
    "Step 6 of 6 · What people say to you, sorted by what they want: questions, complaints, praise, "
    "people ready to buy. Each comes with a suggested reply from your FAQ and reply templates; a reply "
    "goes out once, through the outbox, even after a double click."
)

views.render_notice()
views.render_source(ws)
handled, intents = views.render_filters()
with st.spinner("Reading the mentions…"):
    mentions = inbox.list_mentions(ws, handled=handled, intents=intents, limit=views.PAGE_SIZE)
waiting, total = inbox.inbox_status(ws)
st.caption(
    f"{waiting} of {total} mentions waiting for an answer · showing {len(mentions)}"
    + (
        f" (the newest {views.PAGE_SIZE}; narrow the filter or answer some to see older ones)."
        if len(mentions) == views.PAGE_SIZE
        else "."
    )
)
if any(m.is_demo for m in mentions):
    st.caption(
        ":gray-badge[demo] mentions (authors `demo_…`) come with the demo so you can try the inbox; "
        "replies to them go to the dry run and are never sent."
    )
if not mentions:
    st.info("Nothing here. " + ("Everything is answered." if total else "No mentions yet: press Refresh."))
for item in mentions:
    views.render_mention(ws, item, settings)

with st.expander("FAQ and reply templates", icon=":material/edit_note:"):
    st.markdown(
        "**FAQ** — the suggested reply quotes the answer whose question is closest to the mention "
        "(in the mention's language)."
    )
    views.render_faq_editor(ws)
    st.markdown("**Reply templates** — one per intent and language (Jinja2, like the Studio's templates).")
    views.render_template_editor(ws)
