"""Pieces of the Data page: staged uploads, the mapping editor, the validation report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from core.intake.errors import IngestError
from core.intake.inspection import FileInspection, inspect_file
from core.intake.mapping import CANONICAL_COLUMNS, mapping_problem
from core.safe_csv import safe_csv
from core.textfiles import DELIMITER_NAMES
from core.workspace import Workspace
from ui import state
from ui.outside_text import md

KIND_LABELS = {
    "events": "Events (one row per interaction)",
    "users": "User table (one row per user)",
    "baskets": "Baskets (purchases)",
}
KIND_COLUMNS = {
    "events": ["user_id", "timestamp", "action", "topic", "platform"],
    "users": ["user_id", "age", "gender", "region"],
    "baskets": ["transaction_id", "item", "user_id", "timestamp"],
}
NONE = "— none —"
COUNT_COLUMNS = {
    c: st.column_config.NumberColumn(format="localized")
    for c in ("read", "accepted", "rejected", "duplicates", "events", "users")
}


def stage_upload(ws: Workspace, upload, area: str = "uploads") -> Path:
    """Keep an uploaded file on disk (once per upload) so it can be streamed.

    The file goes into a fresh folder of the workspace's own ``tmp/`` (``ws.new_tmp_dir``), named
    after ``area``; the session remembers it per upload, so the page's reruns reuse the file.
    """
    staged = state.get("staged_uploads")
    known = staged.get(upload.file_id)
    if known is not None and Path(known).exists():
        return Path(known)
    path = ws.new_tmp_dir(f"{area}-") / Path(upload.name).name
    path.write_bytes(upload.getbuffer())
    state.put("staged_uploads", {**staged, upload.file_id: str(path)})
    return path


def file_plan(path: Path, display_name: str, key: str) -> tuple[str, dict[str, str]] | None:
    """Kind selector, detection summary, preview and mapping editor for one file.

    Returns the chosen (kind, mapping), or None when the file cannot be used (message shown).
    """
    try:
        detected = inspect_file(path, name=display_name, strict=False)
    except IngestError as exc:
        st.error(md(exc))
        return None
    kinds = list(KIND_LABELS)
    kind = st.selectbox(
        "This file holds", kinds, index=kinds.index(detected.kind), format_func=KIND_LABELS.get, key=f"kind_{key}"
    )
    info = detected if kind == detected.kind else _reinspect(path, display_name, kind)
    if info is None:
        return None
    n = len(info.columns)
    st.caption(
        f"Encoding **{info.encoding}** · delimiter **{info.delimiter_name}** · "
        f"{n} column{'s' if n != 1 else ''}" + (" · one basket per line" if info.per_line_baskets else "")
    )
    st.dataframe(info.preview, hide_index=True, height=min(38 + 35 * len(info.preview), 260))
    if n == 1 and not info.per_line_baskets and len(str(info.columns[0]).split()) > 1:
        st.error(
            f"{md(display_name)}: Reach found a single column — its fields seem to be separated by spaces, "
            "which Reach does not split. Save the file with commas, semicolons, tabs or `|` between the "
            "fields and a first row naming the columns (for example `user_id,timestamp,topic`), then upload it "
            "again.",
            icon=":material/error:",
        )
        return None
    mapping = {} if info.per_line_baskets else _mapping_editor(info, kind, key)
    problem = mapping_problem(kind, mapping, info.per_line_baskets, info.columns, display_name)
    if problem:
        st.error(md(problem.replace(" (--map user_id=COLUMN)", "").replace(" (--map topic=COLUMN)", "")))
        return None
    return kind, mapping


def _reinspect(path: Path, display_name: str, kind: str) -> FileInspection | None:
    try:
        return inspect_file(path, kind=kind, name=display_name, strict=False)
    except IngestError as exc:
        st.error(md(exc))
        return None


def _mapping_rows(files: list[dict]) -> pd.DataFrame:
    """One row per file and mapped column, readable at any width (a joined list was cut off in a cell)."""
    rows = [
        {"file": f["file"], "Reach column": canonical, "column in the file": source}
        for f in files
        for canonical, source in f["mapping"].items()
    ]
    rows += [
        {"file": f["file"], "Reach column": "item", "column in the file": "one basket per line (every field)"}
        for f in files
        if not f["mapping"]
    ]
    return pd.DataFrame(rows, columns=["file", "Reach column", "column in the file"])


def _mapping_editor(info: FileInspection, kind: str, key: str) -> dict[str, str]:
    st.markdown("**Column mapping** — which column of the file is which")
    options = [NONE, *info.columns]
    mapping: dict[str, str] = {}
    canonicals = KIND_COLUMNS[kind]
    for column, canonical in zip(st.columns(len(canonicals)), canonicals, strict=True):
        current = info.mapping.get(canonical)
        choice = column.selectbox(
            canonical,
            options,
            index=options.index(current) if current in options else 0,
            help=CANONICAL_COLUMNS[canonical],
            key=f"map_{key}_{kind}_{canonical}",
        )
        if choice != NONE:
            mapping[canonical] = choice
    return mapping


def render_report(report: dict, rejected: pd.DataFrame) -> None:
    """Counts, rejection reasons with sample rows, and the rejected rows as a download."""
    cols = st.columns(4)
    cols[0].metric("Rows read", f"{report['rows_read']:,}")
    cols[1].metric("Accepted", f"{report['rows_accepted']:,}")
    cols[2].metric("Rejected", f"{report['rows_rejected']:,}")
    cols[3].metric("Duplicates removed", f"{report['duplicates_removed']:,}")
    files = report.get("files", [])
    if files:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "file": f["file"],
                        "kind": f["kind"],
                        "encoding": f["encoding"],
                        "delimiter": DELIMITER_NAMES.get(f["delimiter"], f["delimiter"]),
                        "read": f["rows_read"],
                        "accepted": f["rows_accepted"],
                        "rejected": f["rows_rejected"],
                        "duplicates": f["duplicates_removed"],
                        "notes": "; ".join(f.get("notes", [])),
                    }
                    for f in files
                ]
            ),
            hide_index=True,
            column_config=COUNT_COLUMNS,
        )
        st.markdown("**Column mapping** — which column of each file became which of Reach's")
        st.dataframe(_mapping_rows(files), hide_index=True)
    if not report["reasons"]:
        st.success("Every row was accepted or was an exact duplicate.")
        return
    reasons = pd.DataFrame(sorted(report["reasons"].items(), key=lambda kv: -kv[1]), columns=["reason", "rows"])
    fig = px.bar(
        reasons,
        x="rows",
        y="reason",
        orientation="h",
        text="rows",
        height=80 + 40 * len(reasons),
        color_discrete_sequence=["#c0504d"],
    )
    fig.update_layout(margin=dict(l=0, r=0, t=10, b=0), yaxis_title=None, xaxis_title="rejected rows")
    st.plotly_chart(fig)
    if not rejected.empty:
        samples = rejected.groupby("reason", sort=False).head(5)
        st.markdown("**Sample rejected rows**")
        st.dataframe(samples[["reason", "file", "row"]], hide_index=True)
        st.download_button(
            "Download all rejected rows (CSV)", safe_csv(rejected), file_name="rejected_rows.csv", mime="text/csv"
        )
