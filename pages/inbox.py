"""Inbox page (issue 6, in progress)."""

from __future__ import annotations

import streamlit as st

from ui.resources import workspace

ws = workspace()
st.title("Inbox")
