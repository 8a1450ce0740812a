"""Cached audience results and the Plotly figures of the Segments and Interests pages.

Caching: every cached function is keyed on the workspace home and the dataset id (ids are never
reused, so a new or re-imported dataset never hits a stale entry) plus the settings. Names the
operator gives are read from the workspace on every run, outside the cache, so a rename shows at
once without recomputing anything.
"""

from __future__ import annotations

import base64
import io
import logging

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from PIL import Image
from plotly.subplots import make_subplots

from core.audience.features import WEEKDAYS, Behaviour, load_behaviour
from core.audience.profiles import audience_phrase, public_phrases, save_public_phrase
from core.audience.rules import RuleReport, run_rules
from core.audience.segments import (
    WEAK_SILHOUETTE,
    SegmentReport,
    last_run,
    rename_segment,
    run_segments,
    save_run,
    segment_names,
    store_report,
    stored_report,
)
from core.workspace import Workspace
from ui import state
from ui.outside_text import chart_label, md
from ui.resources import workspace_at

log = logging.getLogger(__name__)

#: The Interests page's settings as it opens (computed ahead by ``ui.warm_up``).
DEFAULT_RULES = {"min_support": 0.05, "min_confidence": 0.3, "max_len": 3, "algorithm": "fpgrowth", "segment": None}

PALETTE = [
    "#2e7d4f",
    "#d1495b",
    "#edae49",
    "#00798c",
    "#6a4c93",
    "#8d6a9f",
    "#f08a4b",
    "#3d5a80",
    "#98c1d9",
    "#bc4749",
    "#6b705c",
    "#457b9d",
]


@st.cache_data(show_spinner=False, max_entries=3)
def _behaviour(home: str, dataset_id: int) -> Behaviour:
    return load_behaviour(workspace_at(home), dataset_id)


@st.cache_data(show_spinner=False, max_entries=8)
def _segments(home: str, dataset_id: int, k: int | None) -> SegmentReport:
    ws = workspace_at(home)
    stored = stored_report(ws, dataset_id, k)
    if stored is not None:
        return stored
    report = run_segments(ws, dataset_id, k=k, behaviour=_behaviour(home, dataset_id))
    store_report(ws, report)
    return report


@st.cache_data(show_spinner=False, max_entries=16)
def _rules(
    home: str,
    dataset_id: int,
    min_support: float,
    min_confidence: float,
    max_len: int | None,
    algorithm: str,
    segment: int | None,
    k: int | None,
) -> RuleReport:
    labels = _segments(home, dataset_id, k).segmentation.labels if segment is not None else None
    return run_rules(
        workspace_at(home),
        dataset_id,
        min_support=min_support,
        min_confidence=min_confidence,
        max_len=max_len,
        algorithm=algorithm,
        segment=segment,
        behaviour=_behaviour(home, dataset_id),
        labels=labels,
    )


def segment_report(ws: Workspace, dataset_id: int, k: int | None) -> SegmentReport:
    """Segments of a dataset (cached), with a progress bar while they are computed, names applied."""
    bar = st.progress(
        0.3,
        text="Finding segments: building features and trying k = 2 … 12…" if k is None else f"Finding {k} segments…",
    )
    report = segment_report_cached(ws, dataset_id, k)
    bar.empty()
    return report


def segment_report_cached(ws: Workspace, dataset_id: int, k: int | None) -> SegmentReport:
    """Segments of a dataset from the cache (computed on a miss), the run stored, names applied; no output."""
    report = _segments(str(ws.home), dataset_id, k)
    stored = last_run(ws, dataset_id)
    if stored is None or stored["k"] != report.k or stored["summary"].get("auto") != report.segmentation.auto:
        save_run(ws, report)
    return report.with_names(segment_names(ws, dataset_id, report.k))


def stored_k(ws: Workspace, dataset_id: int) -> int | None:
    """The k of the dataset's latest segmentation when it was fixed; None for automatic or none."""
    run = last_run(ws, dataset_id)
    if run is None or run["summary"].get("auto", True):
        return None
    return run["k"]


def rule_report(
    ws: Workspace,
    dataset_id: int,
    *,
    min_support: float,
    min_confidence: float,
    max_len: int | None,
    algorithm: str,
    segment: int | None,
) -> RuleReport:
    """Rules (cached) with a spinner; per-segment rules use the latest segmentation's k."""
    with st.spinner("Mining interest rules…"):
        return rule_report_cached(
            ws,
            dataset_id,
            min_support=min_support,
            min_confidence=min_confidence,
            max_len=max_len,
            algorithm=algorithm,
            segment=segment,
        )


def rule_report_cached(
    ws: Workspace,
    dataset_id: int,
    *,
    min_support: float,
    min_confidence: float,
    max_len: int | None,
    algorithm: str,
    segment: int | None,
) -> RuleReport:
    """Rules from the cache (mined on a miss); per-segment rules use the latest segmentation's k; no output."""
    k = stored_k(ws, dataset_id)
    return _rules(str(ws.home), dataset_id, min_support, min_confidence, max_len, algorithm, segment, k)


def weak_structure_advice(report: SegmentReport) -> str:
    """What a low silhouette means for the operator, and what to try instead."""
    silhouette = report.segmentation.silhouette
    more_data = "import more data (more events per person, or a user table with age and gender)"
    if report.segmentation.auto:
        what = (
            f"Automatic already chose the number with the best silhouette (k = {report.k}), so another "
            f"number will not separate them better; a fixed number of segments can still give you more, "
            f"narrower groups to write for. To do better, {more_data}."
        )
    else:
        what = f"To do better, try another number of segments or Automatic (it picks the best), or {more_data}."
    return (
        f"The silhouette is {silhouette:.2f}, below {WEAK_SILHOUETTE}: these segments overlap more than they "
        f"differ, so read their names and profiles as loose tendencies rather than distinct groups. {what}"
    )


# -- figures ------------------------------------------------------------------------------------
def colour(segment: int) -> str:
    """The colour of a segment, the same on every chart."""
    return PALETTE[segment % len(PALETTE)]


def k_curve_figure(report: SegmentReport) -> go.Figure:
    """Silhouette (left axis) and inertia / elbow (right axis) per k, the chosen k marked."""
    curve = report.segmentation.curve
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=curve["k"],
            y=curve["silhouette"],
            name="silhouette (higher is better)",
            mode="lines+markers",
            line={"color": "#2e7d4f"},
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=curve["k"],
            y=curve["inertia"],
            name="inertia (look for the elbow)",
            mode="lines+markers",
            line={"color": "#999999", "dash": "dot"},
        ),
        secondary_y=True,
    )
    fig.add_vline(x=report.k, line={"color": "#d1495b", "dash": "dash"}, annotation_text=f"k = {report.k}")
    fig.update_layout(
        title="How many segments? Silhouette and elbow",
        height=360,
        legend={"orientation": "h", "y": -0.5, "yanchor": "top"},  # below the k axis title, not over it
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
    )
    fig.update_xaxes(title_text="k (number of segments)", dtick=1)
    fig.update_yaxes(title_text="silhouette", secondary_y=False)
    fig.update_yaxes(title_text="inertia", secondary_y=True, showgrid=False)
    return fig


#: The map's picture in pixels: about twice the chart's plot area at 1280 px, so dots stay sharp on
#: a high-density screen, and a dot's radius in those pixels (about 4 screen pixels across).
MAP_PICTURE = (880, 780)
MAP_DOT_RADIUS = 4.0
MAP_DOT_OPACITY = 0.6


@st.cache_data(show_spinner=False, max_entries=8)
def map_picture(frame: pd.DataFrame, bounds: tuple[float, float, float, float]) -> str:
    """The map's dots drawn into one PNG (a ``data:`` address): every person a dot in their segment's colour.

    Where dots overlap, their colours mix and grow opaque like Plotly markers of opacity 0.6. One
    picture instead of thousands of markers: a software-drawn WebGL scatter of 6,000 points took
    about a third of a second of the browser's time on every visit of the page.
    """
    width, height = MAP_PICTURE
    x0, x1, y0, y1 = bounds
    col = np.rint((frame["x"].to_numpy() - x0) / (x1 - x0) * (width - 1)).astype(np.int64)
    row = np.rint((y1 - frame["y"].to_numpy()) / (y1 - y0) * (height - 1)).astype(np.int64)
    segments = frame["segment"].to_numpy()
    reach = int(np.ceil(MAP_DOT_RADIUS))
    disc = [
        (dy, dx)
        for dy in range(-reach, reach + 1)
        for dx in range(-reach, reach + 1)
        if dx * dx + dy * dy <= MAP_DOT_RADIUS**2
    ]
    ids = sorted(set(segments.tolist()))
    counts = np.zeros((len(ids), height, width), dtype=np.float32)
    for i, segment in enumerate(ids):
        r, c = row[segments == segment], col[segments == segment]
        for dy, dx in disc:
            rr, cc = r + dy, c + dx
            inside = (rr >= 0) & (rr < height) & (cc >= 0) & (cc < width)
            np.add.at(counts[i], (rr[inside], cc[inside]), 1.0)
    total = counts.sum(axis=0)
    rgb = np.array([[int(colour(int(s))[j : j + 2], 16) for j in (1, 3, 5)] for s in ids], dtype=np.float32)
    mixed = np.einsum("khw,kc->hwc", counts, rgb) / np.maximum(total, 1.0)[..., None]
    alpha = 255 * (1 - (1 - MAP_DOT_OPACITY) ** total)
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([mixed, alpha]).round().astype(np.uint8), "RGBA").save(buffer, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def map_figure(report: SegmentReport) -> go.Figure:
    """The 2-D PCA map: every person a dot (drawn as one picture), each segment's number at its centre."""
    frame = report.map
    names = {p.id: p.name for p in report.profiles}
    pad_x = 0.03 * float(np.ptp(frame["x"]) or 1.0)
    pad_y = 0.03 * float(np.ptp(frame["y"]) or 1.0)
    bounds = (
        float(frame["x"].min()) - pad_x,
        float(frame["x"].max()) + pad_x,
        float(frame["y"].min()) - pad_y,
        float(frame["y"].max()) + pad_y,
    )
    x0, x1, y0, y1 = bounds
    fig = go.Figure()
    fig.add_layout_image(
        source=map_picture(frame[["x", "y", "segment"]], bounds),
        xref="x",
        yref="y",
        x=x0,
        y=y1,
        sizex=x1 - x0,
        sizey=y1 - y0,
        sizing="stretch",
        layer="above",  # over the grid, as markers would be
    )
    centres = frame.groupby("segment", sort=True)[["x", "y"]].median()
    for segment, centre in centres.iterrows():
        fig.add_annotation(
            x=centre["x"],
            y=centre["y"],
            text=f"<b>{int(segment)}</b>",
            hovertext=chart_label(f"{segment} · {names.get(segment, segment)}"),
            showarrow=False,
            font={"size": 14, "color": colour(int(segment))},
            bgcolor="rgba(255, 255, 255, 0.85)",
            bordercolor=colour(int(segment)),
            borderpad=2,
        )
    explained = frame.attrs.get("explained", [0.0, 0.0])
    shown = (
        f"{len(frame):,} of {len(report.user_ids):,} users"
        if len(frame) < len(report.user_ids)
        else f"all {len(frame):,} users"
    )
    fig.update_layout(
        title=f"Segment map ({shown}, PCA)",
        height=460,
        # no key: the bars of Segment sizes beside it are the key (same colours, names in full)
        showlegend=False,
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
    )
    fig.update_xaxes(title_text=f"PC 1 ({explained[0]:.0%} of variance)", zeroline=False, range=[x0, x1])
    fig.update_yaxes(title_text=f"PC 2 ({explained[1]:.0%} of variance)", zeroline=False, range=[y0, y1])
    return fig


def sizes_figure(report: SegmentReport) -> go.Figure:
    """Users per segment as horizontal bars."""
    profiles = report.profiles[::-1]
    fig = go.Figure(
        go.Bar(
            x=[p.size for p in profiles],
            # long names on two lines: on one, the longest pushed the bars off the chart or was cut at the left
            y=[_wrap(chart_label(f"{p.id} · {p.name}"), 26) for p in profiles],
            orientation="h",
            marker_color=[colour(p.id) for p in profiles],
            text=[f"{p.share:.0%}" for p in profiles],
            textposition="auto",
            hovertemplate="%{y}: %{x:,} users<extra></extra>",
        )
    )
    fig.update_layout(
        title="Segment sizes", height=60 + 44 * len(profiles), margin={"t": 40, "b": 10, "l": 10, "r": 10}
    )
    fig.update_yaxes(automargin=True)
    fig.update_xaxes(nticks=4, tickformat="~s")  # few, short counts: they stay level in a narrow column
    return fig


def topics_figure(profile, colour_hex: str) -> go.Figure:
    """Distinguishing topics: lift vs. everyone, bars of the top eight."""
    top = profile.topics[profile.topics["lift"] > 1].head(8).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=top["lift"],
            y=[chart_label(t) for t in top["topic"]],
            orientation="h",
            marker_color=colour_hex,
            text=[f"{v:.1f}×" for v in top["lift"]],
            textposition="auto",
            customdata=np.column_stack([top["share"], top["overall"]]),
            hovertemplate="%{y}: %{customdata[0]:.1%} of the segment's events vs "
            "%{customdata[1]:.1%} overall<extra></extra>",
        )
    )
    fig.add_vline(x=1.0, line={"color": "#999999", "dash": "dot"})
    fig.update_layout(title="Topics vs. everyone (lift)", height=280, margin={"t": 40, "b": 10, "l": 10, "r": 10})
    fig.update_yaxes(automargin=True)
    return fig


def radar_figure(profile, colour_hex: str) -> go.Figure:
    """Topic shares of the segment against all users on the topics that matter most to it."""
    top = profile.topics.sort_values("share", ascending=False).head(8)
    labels = [_wrap(chart_label(t), 12) for t in top["topic"]]
    theta = [*labels, labels[0]]
    fig = go.Figure()
    fig.add_trace(
        go.Scatterpolar(
            r=[*top["overall"], top["overall"].iloc[0]], theta=theta, name="everyone", line={"color": "#aaaaaa"}
        )
    )
    fig.add_trace(
        go.Scatterpolar(
            r=[*top["share"], top["share"].iloc[0]],
            theta=theta,
            name="this segment",
            fill="toself",
            line={"color": colour_hex},
        )
    )
    fig.update_layout(
        title="Share of events by topic",
        height=280,
        showlegend=False,
        polar={"radialaxis": {"tickformat": ".0%"}, "angularaxis": {"tickfont": {"size": 11}}},
        margin={"t": 60, "b": 40, "l": 80, "r": 80},  # room for the topic names around the circle
    )
    return fig


def heatmap_figure(profile, colour_hex: str) -> go.Figure:
    """Events by weekday × hour: when this segment is online."""
    fig = go.Figure(
        go.Heatmap(
            z=profile.hour_weekday,
            x=[f"{h:02d}" for h in range(24)],
            y=list(WEEKDAYS),
            colorscale=[[0, "#fbfaf6"], [1, colour_hex]],
            showscale=False,
            hovertemplate="%{y} %{x}h: %{z:,.0f} events<extra></extra>",
        )
    )
    fig.update_layout(
        title="When they are active (weekday × hour)", height=250, margin={"t": 40, "b": 10, "l": 10, "r": 10}
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def actions_figure(profile, colour_hex: str) -> go.Figure:
    """Action mix of the segment."""
    mix = profile.action_mix
    fig = go.Figure(
        go.Bar(x=mix.index, y=mix.to_numpy(), marker_color=colour_hex, hovertemplate="%{x}: %{y:.1%}<extra></extra>")
    )
    fig.update_layout(
        title="Action mix", height=250, margin={"t": 40, "b": 10, "l": 10, "r": 10}, yaxis={"tickformat": ".0%"}
    )
    fig.update_xaxes(automargin=True)  # rotated action names stay in the chart
    return fig


def rules_scatter(rules: pd.DataFrame) -> go.Figure:
    """Support × confidence, coloured by lift (WebGL for many rules)."""
    text = rules["antecedents"].map(" + ".join) + " → " + rules["consequents"].map(" + ".join)
    fig = go.Figure(
        go.Scattergl(
            x=rules["support"],
            y=rules["confidence"],
            mode="markers",
            text=text,
            marker={
                "color": rules["lift"],
                "colorscale": "Viridis",
                "size": 8,
                "showscale": True,
                "colorbar": {"title": {"text": "lift"}},
            },
            hovertemplate="%{text}<br>support %{x:.3f} · confidence %{y:.2f} · lift %{marker.color:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Rules: support × confidence, coloured by lift", height=460, margin={"t": 50, "b": 10, "l": 10, "r": 10}
    )
    fig.update_xaxes(title_text="support (share of people)")
    fig.update_yaxes(title_text="confidence")
    return fig


def network_figure(rules: pd.DataFrame, *, max_rules: int = 60) -> go.Figure:
    """Items as nodes, the strongest one-to-one rules as edges (so every interest bundle shows,
    not only the few items of the very strongest triples)."""
    pairs = rules[(rules["antecedents"].map(len) == 1) & (rules["consequents"].map(len) == 1)]
    top = (pairs if len(pairs) else rules).head(max_rules)
    edges: dict[tuple[str, str], float] = {}
    support: dict[str, float] = {}
    for row in top.itertuples(index=False):
        for a in row.antecedents:
            for c in row.consequents:
                key = tuple(sorted((a, c)))
                edges[key] = max(edges.get(key, 0.0), float(row.lift))
        for item in (*row.antecedents, *row.consequents):
            support[item] = max(support.get(item, 0.0), float(row.support))
    nodes = sorted(support)
    pos = _spread_labels(_spring_layout(nodes, edges))
    xs, ys = [float(pos[n][0]) for n in nodes], [float(pos[n][1]) for n in nodes]
    fig = go.Figure()
    # one trace per line width (lift rounded to a step), each edge a segment of it between Nones:
    # a few traces draw as fast as one, sixty (one per edge) made the page slow to show
    widths: dict[float, list[tuple[str, str]]] = {}
    for (a, c), lift in edges.items():
        widths.setdefault(round(0.5 + 1.2 * min(lift, 6.0), 1), []).append((a, c))
    for width, pairs_drawn in sorted(widths.items()):
        fig.add_trace(
            go.Scatter(
                x=[x for a, c in pairs_drawn for x in (pos[a][0], pos[c][0], None)],
                y=[y for a, c in pairs_drawn for y in (pos[a][1], pos[c][1], None)],
                mode="lines",
                line={"width": width, "color": "rgba(46,125,79,0.35)"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[pos[n][0] for n in nodes],
            y=[pos[n][1] for n in nodes],
            mode="markers+text",
            text=[chart_label(n) for n in nodes],
            # names beside the node, pointing away from the middle: chains of nodes do not cover them
            textposition=["middle left" if pos[n][0] < 0 else "middle right" for n in nodes],
            showlegend=False,
            marker={
                "size": [12 + 40 * support[n] for n in nodes],
                "color": "#edae49",
                "line": {"color": "#1f2a24", "width": 1},
            },
            hovertemplate="%{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Interest network (strongest {len(top)} one-to-one rules)",
        height=520,
        # room for the names beside the outermost nodes, and for the nodes the spreading pushed out
        xaxis={"visible": False, "range": [min(xs, default=0) - 1.0, max(xs, default=0) + 1.0]},
        yaxis={"visible": False, "range": [min(ys, default=0) - 0.15, max(ys, default=0) + 0.15]},
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
    )
    return fig


def _spring_layout(nodes: list[str], edges: dict[tuple[str, str], float], iterations: int = 150) -> dict:
    """A small deterministic force-directed layout (Fruchterman–Reingold) for tens of nodes."""
    n = len(nodes)
    if n == 0:
        return {}
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xy = np.column_stack([np.cos(angle), np.sin(angle)])
    index = {node: i for i, node in enumerate(nodes)}
    weight = np.zeros((n, n))
    for (a, c), lift in edges.items():
        weight[index[a], index[c]] = weight[index[c], index[a]] = lift
    k = 1.0 / np.sqrt(n)
    temperature = 0.1
    for _ in range(iterations):
        delta = xy[:, None, :] - xy[None, :, :]
        dist = np.maximum(np.linalg.norm(delta, axis=2), 1e-3)
        force = (k * k / dist**2 - weight * dist / k)[:, :, None] * delta
        move = force.sum(axis=1)
        length = np.maximum(np.linalg.norm(move, axis=1, keepdims=True), 1e-9)
        xy += move / length * np.minimum(length, temperature)
        temperature *= 0.98
    return {node: xy[index[node]] for node in nodes}


def _spread_labels(pos: dict, *, iterations: int = 200) -> dict:
    """Positions scaled to [-1, 1] and pushed apart until no two labels' boxes overlap (or it gives up).

    A node and its name beside it take about 0.03 of the x range per character (plus the marker)
    and 0.12 of the y range; two nodes whose boxes overlap move apart along the shorter overlap.
    """
    if len(pos) < 2:
        return pos
    names = list(pos)
    xy = np.array([pos[n] for n in names], dtype=float)
    xy = (xy - xy.mean(axis=0)) / np.maximum(np.abs(xy - xy.mean(axis=0)).max(axis=0), 1e-9)
    half_width = np.array([0.015 * len(n) + 0.05 for n in names])
    half_height = 0.06
    for _ in range(iterations):
        moved = False
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                dx, dy = xy[j] - xy[i]
                over_x = half_width[i] + half_width[j] - abs(dx)
                over_y = 2 * half_height - abs(dy)
                if over_x <= 0 or over_y <= 0:
                    continue
                moved = True
                if over_y < over_x:  # a small step apart vertically clears it
                    step = np.array([0.0, (over_y / 2 + 0.005) * (1 if dy >= 0 else -1)])
                else:
                    step = np.array([(over_x / 2 + 0.005) * (1 if dx >= 0 else -1), 0.0])
                xy[i] -= step
                xy[j] += step
        if not moved:
            break
    return {n: xy[i] for i, n in enumerate(names)}


def _wrap(text: str, width: int) -> str:
    """``text`` broken onto lines of about ``width`` characters at spaces (Plotly's ``<br>``)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def name_form(ws: Workspace, dataset_id: int, k: int, profile) -> None:
    """The segment's name (internal, for you) and how posts call it (public), saved together."""
    phrase = public_phrases(ws).get(str(profile.id)) or audience_phrase(list(profile.top_topics))
    with st.form(key=f"rename_{k}_{profile.id}", border=False):
        c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
        new_name = c1.text_input(
            "Name",
            value=profile.name,
            max_chars=80,
            help=f"For you, never in posts. Generated: {md(profile.generated_name)}. Empty restores it.",
        )
        new_phrase = c2.text_input(
            "In posts, call them",
            value=phrase,
            max_chars=80,
            help="How templates and plans address this segment in public copy. Empty restores the generated phrase.",
        )
        if c3.form_submit_button("Save"):
            rename_segment(ws, dataset_id, k, profile.id, new_name)
            save_public_phrase(ws, dataset_id, profile.id, new_phrase)
            state.put("segments_renamed", profile.id)  # its tab's label changed: the page reopens it
            st.rerun()
