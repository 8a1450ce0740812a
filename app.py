"""Reach: frames the app and routes every page. No model code here."""

from __future__ import annotations

import os

import streamlit as st

from core.workspace import WorkspaceError
from ui import auth, state, warm_up
from ui.outside_text import md
from ui.resources import workspace, workspace_for_login
from ui.timezone_prompt import ask_timezone

st.set_page_config(
    page_title="Reach", page_icon="🌿", layout="wide"
)  # an emoji icon is drawn in the page; a :material: one is fetched from Google
state.init()

if auth.exposed_without_login():
    auth.explain_login_setup()
    st.stop()
if auth.exposed_without_upload_gate():
    auth.explain_upload_gate()
    st.stop()
if not auth.gate(workspace_for_login()):
    st.stop()

ws = workspace()


def _activate_chosen() -> None:
    try:
        ws.activate(state.get("sidebar_dataset"))
    except WorkspaceError as exc:
        st.toast(md(exc))


with st.sidebar:
    datasets = ws.datasets()
    if datasets:
        names = {d.id: f"{d.name} (#{d.id})" for d in datasets}
        # The workspace, not the widget, says which dataset is active (pages can change it).
        state.put("sidebar_dataset", ws.active_dataset_id())
        st.selectbox(
            "Active dataset", list(names), format_func=names.get, key="sidebar_dataset", on_change=_activate_chosen
        )
    else:
        st.caption("No dataset yet: import one on the Data page.")

pages = {
    "Overview": [st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)],
    "1 · Data": [st.Page("pages/data.py", title="Data", icon=":material/upload_file:")],
    "2 · Audience": [
        st.Page("pages/segments.py", title="Segments", icon=":material/groups:"),
        st.Page("pages/interests.py", title="Interests", icon=":material/hub:"),
    ],
    "3 · Content": [st.Page("pages/studio.py", title="Studio", icon=":material/edit_note:")],
    "4 · Targeting": [st.Page("pages/targeting.py", title="Targeting", icon=":material/target:")],
    "5 · Delivery": [
        st.Page("pages/publish.py", title="Publish", icon=":material/send:"),
        st.Page("pages/calendar.py", title="Calendar", icon=":material/calendar_month:"),
        st.Page("pages/results.py", title="Results", icon=":material/monitoring:"),
    ],
    "6 · Interaction": [st.Page("pages/inbox.py", title="Inbox", icon=":material/forum:")],
    "Settings": [st.Page("pages/settings.py", title="Settings", icon=":material/settings:")],
}
page = st.navigation(pages)
# What the pages will ask, computed in the background (tests that need the segments unchanged turn it off).
if ws.active_dataset_id() is not None and os.environ.get("REACH_COMPUTE_AHEAD", "1") != "0":
    warm_up.start(str(ws.home), ws.active_dataset_id())
ask_timezone(ws)
state.show_notice("timezone_notice")
page.run()
