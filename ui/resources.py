"""Cached resources and data shared by the pages."""

from __future__ import annotations

import os

import streamlit as st

from core.demo import open_workspace
from core.workspace import DatasetInfo, Workspace, WorkspaceError, default_home


@st.cache_resource(show_spinner="Preparing the workspace (the first start imports the demo)…")
def _open(home: str) -> Workspace:
    return open_workspace(home)


def workspace() -> Workspace:
    """The workspace of ``REACH_HOME``, opened (and on first start filled with the demo) once.

    Every page starts with this call, so it is also where a page that was reached without the
    login gate (see ``ui.auth.page_allowed``) is sent to ``app.py``, which shows the gate.
    """
    from streamlit import config
    from streamlit.runtime.pages_manager import PagesManager

    from ui import auth

    # On a fresh server, a first visit by a page's own address (``/publish``) runs that page through
    # Streamlit's legacy ``pages/`` fallback, which lists raw file names and skips app.py; that mode
    # lasts until st.navigation runs once. End it now and rerun: app.py then frames the same page.
    # (AppTest restores that mode before every run, and a rerun would drop the run's widget event.)
    if PagesManager.uses_pages_directory and not config.get_option("global.appTest"):
        PagesManager.uses_pages_directory = False
        st.rerun()
    if not auth.page_allowed():
        st.switch_page("app.py")
    return _open(str(default_home().resolve()) if "REACH_HOME" not in os.environ else os.environ["REACH_HOME"])


def active_dataset_or_stop(ws: Workspace) -> DatasetInfo:
    """The active dataset; without one, a note that says where to get one, and the page stops."""
    try:
        return ws.dataset()
    except WorkspaceError as exc:
        st.info(str(exc))
        st.stop()
        raise  # st.stop() ends the script run; this line only satisfies the type checker
