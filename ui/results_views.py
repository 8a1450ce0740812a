"""Pieces of the Results page: refresh button, recommendation cards, charts, top posts, CSV import.

Every action calls one ``core.feedback.results`` function and leaves its message in ``ui.state``
("results_notice"), so it survives the rerun that redraws the page with the new numbers.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import clock
from core.delivery.channels import registry
from core.delivery.channels.base import PublishError
from core.delivery.outbox import PublishSettings
from core.feedback import results
from core.feedback.results import CSV_COLUMNS, REQUIRED_COLUMNS, Recommendation, Results, ResultsError, TemplateOdds
from core.feedback.results.recommendations import COUNT
from core.workspace import Workspace
from ui import state
from ui.data_views import stage_upload
from ui.outside_text import chart_label, md
from ui.resources import workspace_at

NONE = "— none —"
_SOURCE_LABELS = {"simulated": "simulated", "csv": "imported CSV"}  # sources that are not a channel
SIMULATED_NOTE = (
    "Metrics of **dry-run** posts are **simulated**: nothing was posted, so Reach makes up plausible, "
    "repeatable numbers (growing with the hours since publishing) to let you try the whole loop. "
    f"For real metrics, connect {registry.live_labels()} (keys in `.streamlit/secrets.toml`; Settings checks them)."
)
METRIC_LABELS = {
    "impressions": "Impressions",
    "engagements": "Engagements",
    "likes": "Likes",
    "reposts": "Reposts",
    "replies": "Replies",
}


def notify(kind: str, message: str) -> None:
    """Show ``message`` (success, info, warning or error) at the top of the next run."""
    state.notify("results_notice", kind, message)


def render_notice() -> None:
    """The message left by the last action, once."""
    state.show_notice("results_notice")


def _rate(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.2%}"


# -- refresh ----------------------------------------------------------------------------------------
def render_refresh(ws: Workspace, settings: PublishSettings) -> None:
    """The Refresh button (with progress while X is read) and, when X is rate limited, until when."""
    left, right = st.columns([4, 1], vertical_alignment="center")
    until = results.metrics_not_before(ws)
    if until:
        left.warning(
            f"X's rate limit for reading metrics was reached; X is asked again after "
            f"{clock.format_local(until, settings.timezone)}. Simulated metrics still refresh.",
            icon=":material/hourglass_top:",
        )
    else:
        live = [c.label for c in registry.live_channels()]
        networks = ", ".join(live[:-1]) + f" and {live[-1]}" if len(live) > 1 else live[0]
        left.caption(
            f"Metrics are read from {networks} for their posts and simulated for dry-run posts. Cron can run "
            "`python -m core metrics-refresh` after `publish-due`."
        )
    right.button(
        "Refresh metrics",
        type="primary",
        icon=":material/refresh:",
        key="results_refresh",
        on_click=_refresh,
        args=(ws, settings.timezone),
    )


def _refresh(ws: Workspace, tz: str) -> None:
    """Button callback: read metrics (a progress bar while X is read); the outcome becomes the notice."""
    bar = st.progress(0.0, text="Reading metrics…")
    with st.spinner("Reading metrics…"):
        try:
            report = results.refresh_metrics(
                ws, progress=lambda done, total: bar.progress(done / total, text=f"{done} of {total} X posts read")
            )
        except PublishError as exc:  # refresh_metrics reports X's errors; never show a traceback regardless
            notify("error", str(exc))
            return
    bar.empty()
    kind = "error" if report.problem else "warning" if report.deferred_until else "success"
    notify(kind, report.message(tz))


# -- empty state and notes --------------------------------------------------------------------------
def render_empty(found: Results) -> bool:
    """Say what to do when nothing was measured yet; True when the page has nothing else to show."""
    if not found.posts.empty:
        return False
    if found.unmeasured:
        st.info(
            f"{_plural(found.unmeasured, 'published post')} {'has' if found.unmeasured == 1 else 'have'} no "
            "metrics yet: press **Refresh metrics**.",
            icon=":material/refresh:",
        )
    else:
        st.info(
            "Nothing to measure yet. Publish posts (queue the week on Targeting, then publish on the Publish "
            "page — without X keys they go to the dry run and get simulated metrics), or import an engagement "
            "CSV of posts you made elsewhere below.",
            icon=":material/monitoring:",
        )
        st.page_link("pages/publish.py", label="Open Publish", icon=":material/send:")
    return True


def render_notes(found: Results) -> None:
    """Simulated metrics, unmeasured posts, posts without impressions: say so."""
    if found.simulated:
        st.info(SIMULATED_NOTE, icon=":material/science:")
    if found.unmeasured:
        st.caption(
            f"{_plural(found.unmeasured, 'published post')} {'has' if found.unmeasured == 1 else 'have'} no "
            "metrics yet — press Refresh metrics."
        )
    if found.without_impressions:
        unrated = found.posts[found.posts["engagement_rate"].isna()]
        networks = [registry.label(c) for c in sorted(set(unrated["channel"])) if registry.is_live(c)]
        why = [f"{' and '.join(networks)} {'shows' if len(networks) == 1 else 'show'} none"] if networks else []
        if (unrated["channel"] == "imported").any():
            why.append("exports without them")
        st.caption(
            f"{_plural(found.without_impressions, 'post')} {'has' if found.without_impressions == 1 else 'have'} "
            f"no impressions ({'; '.join(why) or 'none were read'}): their "
            "likes, reposts and replies are kept and shown, but they are left out of engagement rates, "
            "which need impressions."
        )


# -- recommendation cards ---------------------------------------------------------------------------
def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _name(odds: TemplateOdds) -> str:
    """A template's name, marked when no post of this segment tried it."""
    return odds.template + (" (untried)" if odds.posts == 0 else "")


def card_text(rec: Recommendation) -> str:
    """What a recommendation card says: one verdict with its odds, what is untried, and what to do next."""
    leader = rec.leader
    pick = next(c for c in rec.candidates if c.template == rec.template)
    if rec.settled and leader.template == rec.template:
        text = f"Use **{md(rec.template)}** next: {rec.probability_best:.0%} chance it is the best template."
    elif rec.settled:
        text = (
            f"**{md(leader.template)}** is very likely the best ({leader.probability_best:.0%}). This time Thompson "
            f"sampling tries **{md(_name(pick))}** ({rec.probability_best:.0%}) to keep checking; choose "
            f"{md(leader.template)} on Targeting if you prefer."
        )
    else:
        odds = ", ".join(f"{md(_name(c))} {c.probability_best:.0%}" for c in rec.ranked)
        more = rec.posts_to_settle()
        text = f"**Too early to tell.** Chance each template is the best: {odds}."
        if more is not None:
            text += f" Publish about {_plural(more, 'more post')} per template to know."
        text += f" Meanwhile Thompson sampling tries **{md(_name(pick))}** next."
    untried = [c.template for c in rec.ranked if c.posts == 0]
    if untried and rec.settled:
        text += f" Untried here: {', '.join(map(md, untried))}."
    return text


def _evidence(odds: TemplateOdds) -> str:
    """A candidate's measured posts and what they achieved, in the recommendation's measure."""
    if not odds.posts:
        return "no post yet"
    if odds.measure == COUNT:
        return (
            f"{_plural(odds.posts, 'post')}, {odds.engagements:,} engagements, "
            f"{odds.observed_rate:.1f} per post observed"
        )
    return f"{_plural(odds.posts, 'post')}, {odds.impressions:,} impressions, {_rate(odds.observed_rate)} observed"


def render_recommendations(recs: list[Recommendation]) -> None:
    """Per channel, one card per segment: the next template, the probability each template is best, and the evidence."""
    if not recs:
        st.caption(
            "Recommendations need measured posts with a segment and template (posts queued from Targeting have both)."
        )
        return
    channels = list(dict.fromkeys(r.channel for r in recs))
    for channel in channels:
        mine = [r for r in recs if r.channel == channel]
        st.markdown(f"**{md(results.channel_title(channel))}** · measured: {md(results.measured(mine[0]))}")
        columns = st.columns(2)
        for i, rec in enumerate(mine):
            with columns[i % 2].container(border=True):
                st.markdown(f"**{md(rec.segment)}**" + (" · simulated metrics" if rec.simulated else ""))
                st.markdown(card_text(rec))
                for odds in rec.ranked:  # measured first: an untried template is never listed above them
                    st.progress(
                        min(1.0, odds.probability_best),
                        text=f"{_name(odds)} — {odds.probability_best:.0%} chance best · {_evidence(odds)}",
                    )
                st.caption(
                    f"Evidence: {_plural(rec.posts, 'measured post')} in this segment on "
                    f"{md(results.channel_title(channel))}. "
                    + (
                        "Each post counts as a limited number of trials, so a single viral post does not settle it."
                        if rec.measure != COUNT
                        else "This network shows no impressions, so posts are compared by their engagements; "
                        "a single busy post does not settle it."
                    )
                )


# -- charts -----------------------------------------------------------------------------------------
def metrics_figure(history: pd.DataFrame, metric: str, tz: str, simulated: bool) -> go.Figure:
    """One line per post: ``metric`` at each refresh (local time), coloured by template.

    A template's posts share one trace, each post's line broken from the next by a gap: a trace
    per post (dozens) made the page slow to build and to draw.
    """
    frame = history.assign(
        when=history["fetched_at"].dt.tz_convert(tz).dt.tz_localize(None),
        template=history["template"].fillna("no template"),
        segment=history["segment"].fillna("—"),
    ).sort_values(["post_id", "fetched_at"])
    fig = go.Figure()
    for template, rows in frame.groupby("template", sort=True):
        rows = rows.reset_index(drop=True)
        gap = rows["post_id"].ne(rows["post_id"].shift(-1))  # the last refresh of each post ends its line
        ends = rows[gap].assign(**{metric: None})  # a gap row after each post's last point breaks the line
        lines = pd.concat([rows, ends]).sort_index(kind="stable")
        fig.add_trace(
            go.Scatter(
                x=lines["when"],
                y=lines[metric],
                mode="lines+markers",
                name=chart_label(template),
                customdata=lines[["post_id", "segment", "source"]].astype(str).map(chart_label).to_numpy(),
                hovertemplate="post %{customdata[0]} · %{customdata[1]} · %{customdata[2]}<br>"
                "%{x|%d %b %H:%M}: %{y:,}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        title=f"{METRIC_LABELS[metric]} over time" + (" (simulated)" if simulated else ""),
        height=360,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend_title_text="template",
        xaxis_title=f"refreshed ({tz})",
        yaxis_title=METRIC_LABELS[metric],
    )
    first, last = frame["when"].min(), frame["when"].max()
    if last - first < pd.Timedelta(hours=1):  # one refresh so far: an hour either side, not a millisecond axis
        fig.update_xaxes(range=[first - pd.Timedelta(hours=1), last + pd.Timedelta(hours=1)])
    return fig


def heatmap_figure(by_pair: pd.DataFrame, simulated: bool) -> go.Figure:
    """Segments × templates, coloured by engagement rate, each cell with its rate and number of posts."""
    rates = by_pair.pivot(index="segment", columns="template", values="engagement_rate")
    posts = by_pair.pivot(index="segment", columns="template", values="rated_posts").reindex_like(rates)
    text = [
        [
            ("" if pd.isna(r) else f"{r:.2%}<br>{int(n)} post{'s' if n != 1 else ''}")
            for r, n in zip(rr, nn, strict=True)
        ]
        for rr, nn in zip(rates.to_numpy(), posts.fillna(0).to_numpy(), strict=True)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=rates.to_numpy() * 100,
            x=list(rates.columns),
            y=list(rates.index),
            text=text,
            texttemplate="%{text}",
            colorscale="Greens",
            colorbar={"title": "rate %"},
            hovertemplate="%{y} × %{x}: %{z:.2f}%<extra></extra>",
        )
    )
    fig.update_layout(
        title="Engagement rate by segment × template" + (" (simulated)" if simulated else ""),
        height=140 + 60 * len(rates.index),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


def hour_figure(by_hour: pd.DataFrame, tz: str, simulated: bool) -> go.Figure:
    """Engagement rate by local posting hour, with the number of posts on each bar."""
    frame = by_hour.dropna(subset=["engagement_rate"])
    fig = go.Figure(
        go.Bar(
            x=frame["hour"].astype(int),
            y=frame["engagement_rate"] * 100,
            text=[f"{int(n)} post{'s' if n != 1 else ''}" for n in frame["rated_posts"]],
            textposition="outside",
            textangle=0,
            marker_color="#2e7d4f",
            hovertemplate="%{x}:00 · %{y:.2f}%<extra></extra>",
        )
    )
    fig.update_layout(
        # the zone on a line of its own: on one line the title ran out of a phone-wide chart
        title=f"Engagement rate by posting hour<br><sup>{tz}" + (" · simulated" if simulated else "") + "</sup>",
        height=330,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        yaxis_title="rate %",
    )
    fig.update_xaxes(range=[-0.5, 23.5], dtick=2, title="hour")
    return fig


@st.cache_data(show_spinner=False, max_entries=4)
def _measured(home: str, version: str) -> tuple[Results, pd.DataFrame]:
    # version (results_version) only keys the entry: a new metric, post, import or template recomputes
    ws = workspace_at(home)
    return results.results(ws), results.metrics_history(ws)


def measured(ws: Workspace) -> tuple[Results, pd.DataFrame]:
    """The Results page's figures and the metrics' time series, computed once per state of what they read."""
    found, history = _measured(str(ws.home), results.results_version(ws))
    return replace(found, not_before=results.metrics_not_before(ws)), history


def render_charts(found: Results, history: pd.DataFrame, tz: str) -> None:
    """Metrics over time, the segment × template heatmap and performance by hour."""
    render_channels(found)
    if not history.empty:
        metric = st.segmented_control(
            "Metric", list(METRIC_LABELS), format_func=METRIC_LABELS.get, required=True, key="results_metric"
        )
        st.plotly_chart(metrics_figure(history, metric or "impressions", tz, found.simulated), key="results_over_time")
        if history["fetched_at"].nunique() < 2:
            st.caption(
                "One refresh so far: each later refresh adds a point per post, so the lines show how posts grow."
            )
    by_pair = results.performance(found.posts, ["segment", "template"])
    by_pair = by_pair[by_pair["rated_posts"] > 0]
    if not by_pair.empty:
        st.plotly_chart(heatmap_figure(by_pair, found.simulated), key="results_heatmap")
    by_hour = results.performance(found.posts, ["hour"])
    if by_hour["rated_posts"].sum() > 0:
        st.plotly_chart(hour_figure(by_hour, tz, found.simulated), key="results_by_hour")
    with st.expander("Every segment × template × hour", icon=":material/table:"):
        st.dataframe(
            found.by_cell,
            hide_index=True,
            key="results_cells",
            column_config={"engagement_rate": st.column_config.NumberColumn("engagement rate", format="percent")},
        )


def render_channels(found: Results) -> None:
    """Posts and engagement per channel, when posts come from more than one."""
    table = found.by_channel
    if table is None or len(table) < 2:
        return
    st.markdown("**By channel**")
    shown = table.assign(
        channel=table["channel"].map(
            lambda n: _SOURCE_LABELS.get(n, registry.label(n)) if n != "imported" else "imported CSV"
        )
    )
    st.dataframe(
        shown,
        hide_index=True,
        key="results_by_channel",
        column_config={
            "engagements_per_post": st.column_config.NumberColumn("engagements per post", format="%.1f"),
            "engagement_rate": st.column_config.NumberColumn(
                "engagement rate",
                format="percent",
                help="Empty where the network shows no impressions (Mastodon, Bluesky)",
            ),
        },
    )


# -- top posts --------------------------------------------------------------------------------------
def top_posts(found: Results, tz: str, *, limit: int = 20) -> pd.DataFrame:
    """The best posts: by engagement rate where there are impressions, else by engagements."""
    posts = found.posts.sort_values(["engagement_rate", "engagements"], ascending=False, na_position="last")
    return pd.DataFrame(
        {
            "Post": posts["text"].str.slice(0, 120),
            "Segment": posts["segment"],
            "Template": posts["template"],
            "Engagement rate": posts["engagement_rate"],
            "Impressions": posts["impressions"],
            "Engagements": posts["engagements"],
            "Likes": posts["likes"],
            "Source": posts["source"].map(
                {**{name: registry.label(name) for name in registry.channel_names()}, **_SOURCE_LABELS}
            ),
            "Published": [clock.format_local(p, tz) if isinstance(p, str) else "" for p in posts["published_at"]],
            "Link": posts["url"],
        }
    ).head(limit)


def render_top_posts(found: Results, tz: str) -> None:
    """Top posts with links; imported ones say where they came from."""
    st.dataframe(
        top_posts(found, tz),
        hide_index=True,
        key="results_top_posts",
        column_config={
            "Post": st.column_config.TextColumn(width="large"),
            "Likes": st.column_config.NumberColumn(format="localized"),
            "Engagement rate": st.column_config.NumberColumn(
                format="percent", help="(likes + reposts + replies + quotes) / impressions"
            ),
            "Impressions": st.column_config.NumberColumn(format="localized"),
            "Engagements": st.column_config.NumberColumn(format="localized"),
            "Link": st.column_config.LinkColumn(display_text="open"),
        },
    )


# -- engagement CSV import --------------------------------------------------------------------------
def _mapping_key(column: str) -> str:
    return f"results_map_{column}_{state.get('results_upload_round')}"


def render_import_expander(ws: Workspace, *, open_it: bool) -> None:
    """The import in an expander that stays open across the reruns of an upload (opened when ``open_it``)."""
    if open_it:
        state.put("results_import_open", True)
    with st.expander(
        "Import an engagement CSV", icon=":material/upload_file:", key="results_import_open", on_change="rerun"
    ):
        render_import(ws)


def render_import(ws: Workspace) -> None:
    """Upload an engagement export, see how its columns are read, change the mapping, import."""
    upload = st.file_uploader(
        "Engagement export of posts made elsewhere (CSV, any encoding)",
        type=["csv", "tsv", "txt"],
        key=f"results_upload_{state.get('results_upload_round')}",
    )
    if upload is None:
        st.caption(
            "Columns are found by name — text, date/created_at, likes/favorites, retweets/reposts, replies, "
            "quotes, impressions, id or url — and you can change the mapping before importing."
        )
        return
    path = stage_upload(ws, upload, "engagement")
    chosen = {c: state.widget_value(_mapping_key(c)) for c in CSV_COLUMNS}  # None: not drawn yet
    overrides = {c: "" if v == NONE else v for c, v in chosen.items() if v is not None}
    try:
        preview = results.inspect_engagement_csv(path, mapping=overrides, name=upload.name)
    except ResultsError as exc:
        st.error(md(exc), icon=":material/error:")
        return
    st.caption(
        f"{preview.rows:,} rows · {preview.encoding} · delimiter {preview.delimiter!r} · "
        f"columns found: {', '.join(preview.columns)}"
    )
    cols = st.columns(4)
    for i, column in enumerate(CSV_COLUMNS):
        options = [NONE, *preview.columns]
        current = preview.mapping.get(column, NONE)
        cols[i % 4].selectbox(
            column + (" *" if column in REQUIRED_COLUMNS else ""),
            options,
            index=options.index(current),
            key=_mapping_key(column),
        )
    st.dataframe(preview.sample, hide_index=True, key="results_import_preview")
    for note in preview.notes:
        st.caption(f"Note: {md(note)}.")
    if preview.missing:
        st.error(
            f"Choose the {' and '.join(preview.missing)} column (columns found: {', '.join(preview.columns)}).",
            icon=":material/error:",
        )
    st.button(
        "Import",
        type="primary",
        icon=":material/upload:",
        disabled=bool(preview.missing),
        key="results_import",
        on_click=_import,
        args=(ws, path, preview.mapping, upload.name),
    )
    render_import_error()


def _import(ws: Workspace, path: Path, mapping: dict[str, str], name: str) -> None:
    """Button callback: import the file with the mapping shown; on success the uploader starts empty."""
    try:
        report = results.import_engagement_csv(ws, path, mapping=mapping, name=name)
    except ResultsError as exc:
        state.put("results_import_error", f"Nothing was imported: {exc}")
        return
    lines = [report.summary()] + [f"- line {line}: {why}" for line, why in report.rejected[:10]]
    notify("warning" if report.rejected else "success", "\n".join(lines))
    state.put("results_upload_round", state.get("results_upload_round") + 1)


def render_import_error() -> None:
    """The error of the last import attempt, once, by the Import button."""
    message = state.get("results_import_error")
    if message:
        st.error(message, icon=":material/error:")
        state.put("results_import_error", None)
