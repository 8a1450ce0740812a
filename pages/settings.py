"""Settings: the channels Reach can post to, connected or not, each with a connection test that never posts."""

from __future__ import annotations

import streamlit as st

from ui import settings_views as views
from ui.resources import workspace

ws = workspace()
st.title("Settings")
st.caption(
    "The networks Reach posts to. Keys live in `.streamlit/secrets.toml` or the environment and are "
    "never shown here; a connection test asks whose account they are and posts nothing."
)

views.render_notice()
st.subheader("Channels")
views.render_channels(ws)
