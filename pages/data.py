"""Step 1 · Data: import behaviour exports, map their columns, see what was rejected and why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import streamlit as st

from core.intake.ingest import IngestError, ingest
from ui import state
from ui.data_views import COUNT_COLUMNS, file_plan, render_report, stage_upload
from ui.outside_text import md
from ui.resources import active_dataset_or_stop, workspace

ws = workspace()
st.title("Data")
st.caption(
    "Step 1 of 6 · Upload the behaviour exports of your social accounts. Reach finds the encoding, "
    "the delimiter and the columns; you check the mapping; every rejected row is counted with its reason."
)


def _forget_delete() -> None:
    state.put("confirm_delete", None)


@st.dialog("Delete dataset?", on_dismiss=_forget_delete)
def confirm_delete(dataset_id: int) -> None:
    info = ws.dataset(dataset_id)
    st.write(
        f"**{md(info.name)}** (#{info.id}) — {info.n_events:,} events, {info.n_users:,} users. "
        "Its cleaned data and original uploads are removed from the workspace. This cannot be undone."
    )
    left, right = st.columns(2)
    if left.button("Delete", type="primary", key="confirm_delete_yes"):
        ws.delete_dataset(dataset_id)
        _forget_delete()
        st.rerun()
    if right.button("Keep it", key="confirm_delete_no"):
        _forget_delete()
        st.rerun()


# -- import -----------------------------------------------------------------------------------
st.subheader("Import")
if state.get("last_import") is not None:
    st.success(state.get("last_import"))
    state.put("last_import", None)
uploads = st.file_uploader(
    "Behaviour exports: events, a user table, or baskets (CSV, TSV or TXT). Several files become one dataset.",
    type=["csv", "tsv", "txt"],
    accept_multiple_files=True,
    key=f"uploader_{state.get('uploader_round')}",
)
if uploads:
    plans = []
    for upload in uploads:
        with st.expander(md(upload.name), expanded=True):
            path = stage_upload(ws, upload)
            plans.append((upload, path, file_plan(path, upload.name, str(upload.file_id))))
    usable = [p for p in plans if p[2] is not None]
    default_name = Path(uploads[0].name).stem
    name = st.text_input("Dataset name", value=default_name, key="import_name")
    if st.button(
        f"Import {len(usable)} file{'s' if len(usable) != 1 else ''}" if usable else "Import",
        type="primary",
        disabled=not usable or len(usable) < len(plans),
        key="import_button",
    ):
        bar = st.progress(0.0, text="Reading…")
        try:
            result = ingest(
                ws,
                [p[1] for p in usable],
                name=name,
                kinds=[p[2][0] for p in usable],
                mappings=[p[2][1] for p in usable],
                display_names=[p[0].name for p in usable],
                progress=lambda f, msg: bar.progress(min(f, 1.0), text=msg),
            )
        except IngestError as exc:
            bar.empty()
            st.error(md(exc))
        else:
            bar.empty()
            for _upload, path, _plan in usable:
                shutil.rmtree(path.parent, ignore_errors=True)
            state.put(
                "last_import",
                f"Imported **{md(result.name)}** as dataset #{result.dataset_id}: "
                f"{result.n_events:,} events, {result.n_users:,} users. It is now the active dataset.",
            )
            state.put("uploader_round", state.get("uploader_round") + 1)  # clears the uploader
            st.rerun()

# -- catalogue --------------------------------------------------------------------------------
st.subheader("Datasets")
datasets = ws.datasets()
if not datasets:
    st.info("No dataset yet. Upload an export above.")
    st.stop()
table = pd.DataFrame(
    [
        {
            "active": "●" if d.active else "",
            "id": d.id,
            "name": d.name,
            "kind": d.kind,
            "events": d.n_events,
            "users": d.n_users,
            "rejected": d.report.get("rows_rejected", 0),
            "imported (UTC)": d.created_at.replace("T", " ")[:16],
            "demo": "yes" if d.is_demo else "",
        }
        for d in datasets
    ]
)
st.dataframe(table, hide_index=True, column_config=COUNT_COLUMNS)
names = {d.id: f"{d.name} (#{d.id})" for d in datasets}
# One active dataset, chosen in the sidebar: it is the one shown below and the one Delete… removes.
current = ws.active_dataset_id()
if current in names and st.button(f"Delete {md(names[current])}…", key="delete_button", icon=":material/delete:"):
    state.put("confirm_delete", current)
# Kept in session state so the dialog stays open across reruns until answered or dismissed.
if state.get("confirm_delete") in names:
    confirm_delete(state.get("confirm_delete"))

# -- validation report of the active dataset ---------------------------------------------------
active = active_dataset_or_stop(ws)
st.subheader(f"Validation report · {md(active.name)}")
render_report(active.report, ws.load_rejected(active.id))
