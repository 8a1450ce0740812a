"""Pieces of the Targeting page: rules editor, per-segment preview, coverage chart, queue button.

The rules editor always shows the stored rules (or the proposals when none are stored) as its
data, so a save that fails validation changes nothing on screen: the operator's edits stay in the
editor and the messages appear under it, one per bad row. A successful save bumps
``targeting_editor_round`` so the editor starts again from what was stored.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.content.model import LanguageModel
from core.content.registry import list_models
from core.delivery import targeting
from core.delivery.channels import registry
from core.delivery.outbox import default_channel
from core.delivery.targeting import (
    MAX_PER_SEGMENT,
    Audience,
    Rule,
    RuleValidationError,
    TargetingError,
    WeeklyPlan,
)
from core.feedback.results import (
    Recommendation,
    channel_recommendations,
    channel_title,
    for_channel,
    measured,
    results_version,
)
from core.workspace import Workspace
from ui import state
from ui.outside_text import md
from ui.resources import workspace_at
from ui.studio_views import cached_model

COLUMNS = ["id", "Segment", "Who (predicate)", "Template", "Channel", "Hour", "Active", "Posts at"]
BEST_HOUR = "best hour"
HOUR_OPTIONS = [BEST_HOUR] + [f"{h:02d}:00" for h in range(24)]
#: The "Fill the week from" choice → the plan's source.
FILL_SOURCES = {"Writer": "writer", "Templates": "template"}


def notify(kind: str, message: str, where: str = "top") -> None:
    """Show ``message`` on the next run, at the top of the page or (``where="queue"``) by the queue button."""
    state.put("targeting_notice", (kind, message, where))


def render_notice(where: str = "top") -> None:
    """The message left by the last action for this place, once."""
    notice = state.get("targeting_notice")
    if notice and notice[2] == where:
        kind, message, _ = notice
        getattr(st, kind)(message)
        state.put("targeting_notice", None)


def load_audience(ws: Workspace) -> Audience | None:
    """The active dataset's segments with their facts (profiled once per segmentation run)."""
    with st.spinner("Reading each segment's best hours and demographics (once per segmentation)…"):
        return targeting.audience(ws)


# -- rules editor -----------------------------------------------------------------------------------
def _reach_text(rule: Rule, aud: Audience) -> str:
    """``"20:00 (best hour)"`` for a segment rule; ``"0 at 20:00, 2 at 22:00"`` for a predicate rule."""
    hits = [s for s in aud.segments if rule.reaches(s)]
    if not hits:
        return "nobody"
    best = ""
    if rule.hour is None:  # a dataset without times of day has no best hour: say the hour is a default
        best = (
            " (best hour)" if all(s.best_hour is not None for s in hits) else " (default: no time of day in the data)"
        )
    if rule.segment_id is not None:
        return f"{rule.hour_for(hits[0]):02d}:00{best}"
    return ", ".join(f"{s.id} at {rule.hour_for(s):02d}:00" for s in hits) + best


def rules_frame(rules: list[Rule], aud: Audience) -> pd.DataFrame:
    """The editor's table: one row per rule, segments by label, hours as "20:00" or "best hour"."""
    rows = []
    for rule in rules:
        seg = aud.segment(rule.segment_id) if rule.segment_id is not None else None
        rows.append(
            {
                "id": rule.id,
                "Segment": seg.label if seg else None,
                "Who (predicate)": rule.predicate or "",
                "Template": rule.template,
                "Channel": rule.channel,
                "Hour": BEST_HOUR if rule.hour is None else f"{int(rule.hour):02d}:00",
                "Active": rule.active,
                "Posts at": _reach_text(rule, aud),
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({"id": "Int64", "Active": "bool"})


def _blank(value) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or value is pd.NA
        or (isinstance(value, str) and not value.strip())
    )


def _hour(value):
    """ "20:00", 20 or 20.0 → 20; empty or "best hour" → None; anything else as it is, for validation to name."""
    if _blank(value) or value == BEST_HOUR:
        return None
    text = str(value).strip().removesuffix(":00")
    try:
        number = float(text)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


def rules_from_frame(frame: pd.DataFrame, aud: Audience, sources: dict[int, str] | None = None) -> list[Rule]:
    """The editor's rows as rules (labels back to segment ids; "best hour" or empty is the best hour).

    ``sources`` (rule id → source) keeps the source of saved rules, which the editor does not show.
    """
    sources = sources or {}
    by_label = {s.label: s.id for s in aud.segments}
    out = []
    for row in frame.to_dict("records"):
        label = row.get("Segment")
        hour = _hour(row.get("Hour"))
        rule_id = row.get("id")
        out.append(
            Rule(
                template="" if _blank(row.get("Template")) else str(row["Template"]),
                segment_id=None if _blank(label) else by_label.get(label, -1),
                predicate=None if _blank(row.get("Who (predicate)")) else str(row["Who (predicate)"]).strip(),
                channel="" if _blank(row.get("Channel")) else str(row["Channel"]),
                hour=hour,
                active=True if _blank(row.get("Active")) else bool(row["Active"]),
                id=None if _blank(rule_id) else int(rule_id),
                source="template" if _blank(rule_id) else sources.get(int(rule_id), "template"),
            )
        )
    return out


def render_rules_editor(ws: Workspace, aud: Audience, rules: list[Rule], proposed: bool, templates: list[str]) -> None:
    """The rules table, its Save button and the messages of a save that failed."""
    if proposed:
        st.info(
            "No rules yet for this segmentation. Reach proposes one per segment — its best hour and the "
            "template measured results recommend, else the starter that fits its interests. Edit them if you "
            "like, then **Save rules** to use them; nothing is saved until you do.",
            icon=":material/lightbulb:",
        )
    key = f"targeting_rules_{state.get('targeting_editor_round')}"
    edited = st.data_editor(
        rules_frame(rules, aud),
        key=key,
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_order=COLUMNS[1:],
        column_config={
            "Segment": st.column_config.SelectboxColumn(
                options=[s.label for s in aud.segments],
                width=252,  # the columns fit 820 px; segment names run to 40 characters
                help="The segment this rule is for; leave empty and fill *Who* for a rule by demographics",
            ),
            "Who (predicate)": st.column_config.TextColumn(
                width="small",
                help="Instead of a segment: e.g. gender=female; age=18-29; interest=skincare & "
                "beauty (every clause must hold for the segment's majority)",
            ),
            "Template": st.column_config.SelectboxColumn(
                options=templates, required=True, default=templates[0], width=100
            ),
            "Channel": st.column_config.SelectboxColumn(
                options=registry.choices(),
                required=True,
                default=default_channel(),
                format_func=registry.label,
                width=95,
                help="One channel, or several (one post on each, each published once)",
            ),
            "Hour": st.column_config.SelectboxColumn(
                options=HOUR_OPTIONS,
                default=BEST_HOUR,
                width=75,
                help="Local posting hour, or the segment's best hour",
            ),
            "Active": st.column_config.CheckboxColumn(default=True, width=68),
            "Posts at": st.column_config.TextColumn(
                disabled=True,
                width=120,
                help="When the saved rule posts (local time); for a predicate rule, the segments it reaches",
            ),
        },
    )
    _save_rules(ws, aud, edited, proposed)


def _save_rules(ws: Workspace, aud: Audience, edited: pd.DataFrame, proposed: bool) -> None:
    """The Save button under the rules editor, and the messages of the last save that failed."""
    errors: dict = state.get("targeting_errors")
    if st.button(
        "Save rules" if not proposed else "Accept and save the proposals",
        type="primary",
        icon=":material/save:",
        key="targeting_save",
    ):
        submitted = rules_from_frame(edited, aud, {r.id: r.source for r in targeting.load_rules(ws, aud)})
        try:
            saved = targeting.save_rules(ws, submitted, aud)
        except RuleValidationError as exc:
            state.put(
                "targeting_errors",
                {row: [_describe_row(submitted[row], aud), msgs] for row, msgs in exc.errors.items()},
            )
            st.rerun()
        state.put("targeting_errors", {})
        state.put("targeting_editor_round", state.get("targeting_editor_round") + 1)
        notify("success", f"Saved {len(saved)} rule{'s' if len(saved) != 1 else ''}.")
        st.rerun()
    if errors:
        lines = [
            f"- **Row {row + 1}** ({md(who)}): {'; '.join(map(md, msgs))}"
            for row, (who, msgs) in sorted(errors.items())
        ]
        st.error(
            "Nothing was saved — fix these rows (your edits are still in the table):\n\n" + "\n".join(lines),
            icon=":material/error:",
        )


# -- what measured results recommend ---------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=4)
def _recommendations(home: str, version: str) -> list[Recommendation]:
    # version (results_version) only keys the entry: a new metric, post, import or template recomputes
    return channel_recommendations(workspace_at(home))


def recommendations(ws: Workspace) -> list[Recommendation]:
    """Every channel's per-segment recommendations from its own measured posts (see the Results page).

    Computed once per state of what they read (they are seeded, so the same state gives the same picks).
    """
    return _recommendations(str(ws.home), results_version(ws))


def proposal_templates(recs: list[Recommendation]) -> dict[str, str]:
    """segment name → the recommended template for proposed rules, which post to the dry run (see propose_rules)."""
    return {segment: rec.template for segment, rec in for_channel(recs, registry.dry_run_channel()).items()}


def _use_recommendation(ws: Workspace, aud: Audience, rule_id: int, template: str) -> None:
    """Button callback: give one saved rule the recommended template (recorded in the rule history)."""
    rules = [replace(r, template=template) if r.id == rule_id else r for r in targeting.load_rules(ws, aud)]
    try:
        targeting.save_rules(ws, rules, aud)
    except RuleValidationError as exc:
        notify("error", f"The recommendation could not be used: {exc}")
        return
    state.put("targeting_editor_round", state.get("targeting_editor_round") + 1)
    notify("success", f"Rule {rule_id} now uses the template *{template}*.")


def render_recommendations(
    ws: Workspace, aud: Audience, rules: list[Rule], proposed: bool, recs: list[Recommendation]
) -> None:
    """Per segment rule: the template measured results recommend on the rule's channel, how likely it is
    best, and "Use it"."""
    if not recs:
        st.caption(
            "Once published posts have metrics, the Results page recommends a template per segment and channel here."
        )
        return
    shown = 0
    for rule in rules:
        seg = aud.segment(rule.segment_id) if rule.segment_id is not None else None
        rec = for_channel(recs, rule.channel).get(seg.name) if seg else None
        if rec is None:
            continue
        shown += 1
        untried = " (untried here)" if rec.template in rec.untried else ""
        words = (
            f"{md(seg.label)} on {md(registry.label(rule.channel))}: results recommend **{md(rec.template)}**{untried}"
            f" — {rec.probability_best:.0%} chance it is the best template by {md(measured(rec))} "
            f"({rec.posts} measured post{'s' if rec.posts != 1 else ''}"
            f"{'' if rec.channel in registry.split(rule.channel) else ' of ' + md(channel_title(rec.channel))}"
            f"{', simulated metrics' if rec.simulated else ''})"
        )
        if rec.leader.template != rec.template:
            words += f"; {md(rec.leader.template)} leads with {rec.leader.probability_best:.0%}"
        if not rec.settled:
            more = rec.posts_to_settle()
            words += "; too early to tell" + (
                f": about {more} more post{'s' if more != 1 else ''} per template to know" if more else ""
            )
        text, action = st.columns([5, 1], vertical_alignment="center")
        text.markdown(words)
        if rule.template == rec.template:
            action.caption("in use" if not proposed else "proposed")
        elif rule.id is not None:
            action.button(
                "Use it",
                key=f"targeting_use_{rule.id}",
                icon=":material/auto_awesome:",
                on_click=_use_recommendation,
                args=(ws, aud, rule.id, rec.template),
                help=f"Switch this rule from {md(rule.template)} to {md(rec.template)} (you can change it back)",
            )
    if shown:
        st.caption(
            "Recommendations come from Thompson sampling on each channel's own measured posts (see Results); "
            "you can always choose another template in the table."
        )


def _describe_row(rule: Rule, aud: Audience) -> str:
    if rule.segment_id is not None and aud.segment(rule.segment_id):
        return aud.segment(rule.segment_id).label
    return rule.predicate or "no segment"


def render_history(ws: Workspace) -> None:
    """Every change to the rules, newest first."""
    history = targeting.rule_history(ws)
    if not history:
        st.caption("No changes yet.")
        return
    frame = pd.DataFrame(history)[
        [
            "changed_at",
            "rule_id",
            "version",
            "action",
            "segment_id",
            "predicate",
            "template",
            "channel",
            "hour",
            "active",
        ]
    ]
    st.dataframe(frame, hide_index=True, width="stretch", key="targeting_history")


# -- who fills the week ------------------------------------------------------------------------------
def render_fill_choice(ws: Workspace) -> tuple[str, int, LanguageModel | None]:
    """ "Fill the week from: Writer / Templates" and the writer's posts per segment.

    Returns (source, posts per segment, the newest writer model or None). Templates give one post
    per segment: the same text twice in a week would be refused as a duplicate.
    """
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    choice = left.radio(
        "Fill the week from",
        list(FILL_SOURCES),
        horizontal=True,
        key="targeting_fill",
        help="Writer: drafts composed from your own posts by the newest writer model (Studio); "
        "Templates: each rule's template filled in for the segment",
    )
    source = FILL_SOURCES[choice]
    if source == "template":
        return source, 1, None
    per_segment = right.number_input(
        "Posts per segment", min_value=1, max_value=MAX_PER_SEGMENT, step=1, key="targeting_per_segment"
    )
    models = list_models(ws)
    if not models:
        st.info(
            "No writer model yet: the week is filled from the templates. Train one in the Studio.",
            icon=":material/edit_note:",
        )
        return source, int(per_segment), None
    return source, int(per_segment), cached_model(ws, models[0])


def plan_frame(plan: WeeklyPlan) -> pd.DataFrame:
    """One row per post of the week: segment, local time, who wrote it, the text and its checks."""
    return pd.DataFrame(
        [
            {
                "Segment": f"{i.segment_id} · {i.segment}",
                "When": f"{i.local_time:%a %d %b %H:%M}",
                "Source": i.source,
                "Text": i.text,
                "Checks": "pass" if i.passes else "fail",
                "Notes": "; ".join(i.reasons),
            }
            for i in plan.items
        ],
        columns=["Segment", "When", "Source", "Text", "Checks", "Notes"],
    )


def render_plan_table(plan: WeeklyPlan) -> None:
    """The week's posts as a table, each with its source."""
    if plan.items:
        st.dataframe(plan_frame(plan), hide_index=True, width="stretch", key="targeting_plan")


# -- preview and coverage ---------------------------------------------------------------------------
def render_preview(plan: WeeklyPlan) -> None:
    """One tab per reached segment: the post, its time, and its checks with reasons."""
    if not plan.items:
        st.info("No active rule reaches any segment yet.")
        return
    several = len({i.segment_id for i in plan.items}) < len(plan.items)
    tabs = st.tabs(
        [
            f"{'✓' if i.passes else '✕'} {i.segment_id} · {md(i.segment.split(' · ')[0])}"
            + (f" · {i.local_time:%a}" if several else "")
            for i in plan.items
        ]
    )
    for tab, item in zip(tabs, plan.items, strict=True):
        with tab:
            made_by = "written by the writer" if item.source == "writer" else f"template *{md(item.template)}*"
            st.markdown(
                f"**{item.segment_id} · {md(item.segment)}** — {made_by} on "
                f"{registry.label(item.channel) if registry.is_live(item.channel) else 'the dry run'}, "
                f"{item.local_time:%a %d %b %H:%M} ({plan.timezone})"
            )
            with st.container(border=True):
                st.text(item.text or "(nothing rendered)")
            for note in item.notes:
                st.caption(md(note))
            c1, c2 = st.columns([1, 3])
            counted_by = registry.channel(item.counted_by)
            c1.metric(
                "Length" if len(registry.split(item.channel)) < 2 else f"Length on {counted_by.label}",
                f"{item.weighted_length} / {item.char_limit}",
                help=f"By {counted_by.length_rule}"
                + (" — the tightest fit of the rule's channels" if len(registry.split(item.channel)) > 1 else ""),
            )
            if item.passes:
                c2.success(
                    "Checks pass: length, banned words, not a near-duplicate of a queued or recent post.",
                    icon=":material/check_circle:",
                )
            else:
                c2.error("Checks fail:\n\n" + "\n".join(f"- {md(p)}" for p in item.problems), icon=":material/cancel:")
            if item.queued_post_id is not None:
                st.caption(f"Already in the outbox as post {item.queued_post_id}.")


def coverage_figure(plan: WeeklyPlan, aud: Audience) -> go.Figure:
    """Segments × days of the coming week, a marker where a post is scheduled; unreached rows flagged."""
    days = plan.days
    day_labels = [f"{d:%a %d %b}" for d in days]
    unreached = {s.id for s in plan.unreached}
    labels = {s.id: (f"⚠ {s.label} — not reached" if s.id in unreached else s.label) for s in aud.segments}
    order = [labels[s.id] for s in reversed(aud.segments)]
    fig = go.Figure()
    ok = [i for i in plan.items if i.passes]
    bad = [i for i in plan.items if not i.passes]
    for items, name, colour, symbol in (
        (ok, "scheduled post", "#2e7d4f", "circle"),
        (bad, "post failing checks", "#d1495b", "x"),
    ):
        fig.add_trace(
            go.Scatter(
                x=[f"{i.local_time.date():%a %d %b}" for i in items],
                y=[labels[i.segment_id] for i in items],
                mode="markers+text",
                name=name,
                text=[f"{i.local_time:%H:%M}" for i in items],
                textposition="middle right",
                marker={"size": 18, "color": colour, "symbol": symbol},
                hovertext=[f"{i.template or i.source} · {i.channel} · {i.local_time:%a %H:%M}" for i in items],
                hoverinfo="text+y",
            )
        )
    if unreached:
        fig.add_trace(
            go.Scatter(
                x=[day_labels[0]] * len(unreached),
                y=[labels[s] for s in unreached],
                mode="markers",
                name="no rule reaches it",
                marker={"size": 12, "color": "#edae49", "symbol": "triangle-up"},
                hoverinfo="y",
            )
        )
    fig.update_layout(
        title=f"Coverage of the coming week ({plan.timezone})",
        height=140 + 48 * len(aud.segments),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.15},
        plot_bgcolor="#fafafa",
    )
    fig.update_xaxes(categoryorder="array", categoryarray=day_labels, type="category", range=[-0.5, len(days) - 0.5])
    fig.update_yaxes(categoryorder="array", categoryarray=order, type="category", range=[-0.5, len(order) - 0.5])
    return fig


# -- queueing ---------------------------------------------------------------------------------------
def _queue(ws: Workspace, plan: WeeklyPlan, approve: bool) -> None:
    """Button callback: queue once; a second click on the same plan adds nothing and keeps the first message."""
    pending = state.get("targeting_notice")
    try:
        report = targeting.queue_plan(ws, plan, approve=approve)
    except TargetingError as exc:
        notify("error", str(exc), "queue")
        return
    if not report.added and report.skipped and not report.refused:
        if pending is None:
            notify("info", "This week's plan is already in the outbox — nothing was added.", "queue")
        return
    lines = [
        report.summary()
        + (" as approved, scheduled posts." if approve else " as drafts — review and approve them on the Publish page.")
    ]
    lines += [f"- {seg}: {reason}" for seg, reason in report.refused]
    notify("warning" if report.refused else "success", "\n".join(lines), "queue")


def render_queue(ws: Workspace, plan: WeeklyPlan) -> None:
    """How to queue the week, and the button that does it (idempotent: a double click adds nothing)."""
    ready = [i for i in plan.items if i.passes]
    waiting = [i for i in ready if i.queued_post_id is None]
    approve = st.toggle(
        "Approve and schedule them (otherwise: drafts for review on the Publish page)", key="targeting_approve"
    )
    posts = sum(len(registry.split(i.channel)) for i in waiting)  # one outbox post per channel of a rule
    label = f"Queue the week ({posts} post{'s' if posts != 1 else ''})"
    disabled = plan.proposed or not waiting
    st.button(
        label,
        type="primary",
        icon=":material/playlist_add:",
        key="targeting_queue",
        disabled=disabled,
        on_click=_queue,
        args=(ws, plan, approve),
    )
    render_notice("queue")
    if plan.proposed:
        st.caption("Save the rules first: the week is queued from saved rules only.")
    elif ready and not waiting:
        st.caption("Every post of this week's plan is already in the outbox.")
    if len(ready) < len(plan.items):
        failing = len(plan.items) - len(ready)
        st.caption(
            f"{failing} post{'s' if failing != 1 else ''} {'fails its' if failing == 1 else 'fail their'} checks "
            "and will not be queued."
        )
    queued = [i for i in plan.items if i.queued_post_id is not None]
    if queued:
        st.page_link(
            "pages/publish.py",
            label=f"{len(queued)} of this week's posts are in the outbox — open Publish",
            icon=":material/send:",
        )
