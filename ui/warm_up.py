"""Compute ahead: what the pages will ask of the active dataset, in a background thread.

The first visit to Segments, Interests, Studio or Targeting used to wait for the segmentation, the
targeting facts and the interest rules. As soon as a dataset is active, one thread per process and
dataset fills the same caches the pages read (their ``st.cache_data`` entries, the stored segment
run and targeting facts in the workspace, the segment report's file in the workspace), in the order
the pipeline's pages come. A page that asks for a value still being computed waits for that
computation (Streamlit holds one lock per cached value) instead of starting a second one. A run
already stored in the workspace (the demo arrives segmented) is read, not computed again.
"""

from __future__ import annotations

import logging
import threading

import streamlit as st

from core.delivery import targeting
from core.workspace import WorkspaceError
from ui.audience_views import DEFAULT_RULES, rule_report_cached, segment_report_cached, stored_k
from ui.resources import profiles_cached, workspace_at

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False, max_entries=4)
def start(home: str, dataset_id: int) -> threading.Thread:
    """Start (once per process, workspace and dataset) the thread that computes ahead for ``dataset_id``."""
    thread = threading.Thread(
        target=_compute_ahead, args=(home, dataset_id), name=f"reach-warm-{dataset_id}", daemon=True
    )
    thread.start()
    return thread


def _compute_ahead(home: str, dataset_id: int) -> None:
    ws = workspace_at(home)
    try:
        segment_report_cached(ws, dataset_id, stored_k(ws, dataset_id))  # Segments, and every page after it
        if ws.active_dataset_id() != dataset_id:
            return
        targeting.audience(ws, dataset_id)  # Targeting's per-segment facts, stored in the workspace
        rule_report_cached(ws, dataset_id, **DEFAULT_RULES)  # Interests as it opens
        profiles_cached(ws)  # Studio and Targeting: segments with their interest angles
    except (WorkspaceError, ValueError) as exc:  # a dataset the pages will explain themselves
        log.info("nothing computed ahead for dataset %s: %s", dataset_id, exc)
    except Exception:  # the pages compute on demand as before; a failure here must not go unseen in the log
        log.exception("computing ahead for dataset %s failed", dataset_id)
