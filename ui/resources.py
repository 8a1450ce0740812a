"""Cached resources and data shared by the pages.

The workspace is opened one way: pages call :func:`workspace`; a cached function, keyed on the
workspace's home as a string, reopens it with :func:`workspace_at` (the same cached object). Every
cached value is keyed on what invalidates it: a dataset id (ids are never reused), the time of the
dataset's latest segmentation, a model's id and creation time.
"""

from __future__ import annotations

import os
from dataclasses import replace

import streamlit as st
from streamlit import config
from streamlit.runtime.pages_manager import PagesManager

from core.audience.profiles import SegmentProfile, segment_profiles
from core.audience.segments import last_run
from core.demo import open_workspace
from core.workspace import DatasetInfo, Workspace, WorkspaceError, default_home
from ui import auth
from ui.outside_text import md


@st.cache_resource(show_spinner="Preparing the workspace (the first start imports the demo)…")
def workspace_at(home: str) -> Workspace:
    """The workspace at ``home``, opened (and on first start filled with the demo) once per process.

    For cached functions, which take ``str(ws.home)`` as their key; pages call :func:`workspace`.
    """
    return open_workspace(home)


def workspace() -> Workspace:
    """The workspace of ``REACH_HOME``, opened (and on first start filled with the demo) once.

    Every page starts with this call, so it is also where a page that was reached without the
    login gate (see ``ui.auth.page_allowed``) is sent to ``app.py``, which shows the gate.
    """
    # On a fresh server, a first visit by a page's own address (``/publish``) runs that page through
    # Streamlit's legacy ``pages/`` fallback, which lists raw file names and skips app.py; that mode
    # lasts until st.navigation runs once. End it now and rerun: app.py then frames the same page.
    # (AppTest restores that mode before every run, and a rerun would drop the run's widget event.)
    if PagesManager.uses_pages_directory and not config.get_option("global.appTest"):
        PagesManager.uses_pages_directory = False
        st.rerun()
    if not auth.page_allowed():
        st.switch_page("app.py")
    return workspace_at(_home())


def workspace_for_login() -> Workspace:
    """The workspace for the login form itself, which records every attempt (no login check here)."""
    return workspace_at(_home())


def _home() -> str:
    # str(Path(...)) as Workspace.home spells it, so cached functions keyed on str(ws.home) share it
    return str(default_home().resolve() if "REACH_HOME" not in os.environ else default_home())


def active_dataset_or_stop(ws: Workspace) -> DatasetInfo:
    """The active dataset; without one, a note that says where to get one, and the page stops."""
    try:
        return ws.dataset()
    except WorkspaceError as exc:
        st.info(md(exc))
        st.stop()
        raise  # st.stop() ends the script run; this line only satisfies the type checker


@st.cache_data(show_spinner=False, max_entries=8)
def _profiles(home: str, dataset_id: int | None, run_at: str | None, with_angles: bool) -> list[SegmentProfile]:
    # dataset_id and run_at only key the entry: a new dataset or segmentation never reads stale angles
    return segment_profiles(workspace_at(home), with_angles=with_angles)


def cached_profiles(
    ws: Workspace, *, with_angles: bool = True, spinner: str = "Reading the audience segments…"
) -> list[SegmentProfile]:
    """The active dataset's segment profiles, computed once per dataset and segmentation run.

    The cache is keyed on the active dataset id and the time of its latest segmentation (with the
    interest-rule angles mined once per run). Names are read from the workspace on every call,
    outside the cache, so a segment renamed on the Segments page shows at once.
    """
    with st.spinner(spinner):
        return profiles_cached(ws, with_angles=with_angles)


def profiles_cached(ws: Workspace, *, with_angles: bool = True) -> list[SegmentProfile]:
    """:func:`cached_profiles` without a spinner (for the thread that computes ahead)."""
    current = segment_profiles(ws)  # the stored run's segments and names; no rules mined
    dataset_id = ws.active_dataset_id()
    run = last_run(ws, dataset_id) if dataset_id is not None else None
    cached = _profiles(str(ws.home), dataset_id, run["created_at"] if run else None, with_angles)
    names = {p.id: p.name for p in current}
    return [replace(p, name=names.get(p.id, p.name)) for p in cached]
