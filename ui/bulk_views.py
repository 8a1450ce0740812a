"""Many posts at once, on the Publish and Calendar pages: approve the week in one click, and approve,
schedule or delete the drafts the operator picks.

Every action calls one ``core.delivery.outbox`` bulk function; what it did is left for the next run
through ``ui.state`` under the page's notice key, so it survives the ``st.rerun`` that redraws the
tables. Costly or far-reaching actions (delete, approve the week) ask once, listing the posts.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from core import clock
from core.delivery import outbox as publish
from core.delivery.channels import registry
from core.delivery.outbox import BulkReport, OutboxState, Post, PublishSettings
from core.delivery.outbox.bulk import WEEK_DAYS
from core.delivery.targeting import audience
from core.workspace import Workspace
from ui import state

MAX_REASONS = 8  # refusals listed under a bulk notice; the rest are counted


def _notify(notice_key: str, report: BulkReport, verb: str) -> None:
    """One notice for a bulk action: how many, and why each refused post stayed."""
    kind = "success" if not report.refused else ("warning" if report.done else "error")
    lines = [report.summary(verb)[:1].upper() + report.summary(verb)[1:] + "."]
    refused = list(report.refused.items())
    lines += [f"- post {post_id}: {reason}" for post_id, reason in refused[:MAX_REASONS]]
    if len(refused) > MAX_REASONS:
        lines.append(f"- and {len(refused) - MAX_REASONS} more")
    state.notify(notice_key, kind, "\n".join(lines))


def render_post_list(posts: list[Post], tz: str, problems: dict[int, list[str]] | None = None) -> None:
    """The posts a confirmation lists, one after the other: when, segment, channel, text, and (when given)
    what stops each. Post text and segment names come from outside: shown as text."""
    with st.container(height=min(80 + 70 * len(posts), 360), border=True):
        for post in posts:
            when = clock.format_local(publish.post_time(post), tz) if publish.post_time(post) else "due now"
            reasons = (problems or {}).get(post.id, [])
            mark = (" · :red[✕ stays a draft: " + "; ".join(reasons) + "]") if reasons else ""
            mark = mark or (" · ✓ passes pre-flight" if problems is not None else "")
            # the caption holds only what the app wrote; segment names and post text are shown as text
            st.caption(f"**#{post.id}** · {when} · {registry.label(post.channel)}{mark}")
            st.text(f"[{post.segment or 'no segment'}] {post.text}")


def best_hours(ws: Workspace) -> dict[str, tuple[int, ...]]:
    """segment name → its best hours to post (busiest first), from the active dataset's segments."""
    found = audience(ws)
    return {s.name: s.posting_hours for s in found.segments} if found else {}


# -- approve the week -------------------------------------------------------------------------------
def render_approve_week(ws: Workspace, notice_key: str, *, key: str) -> None:
    """The "Approve the week" button: one click, then one confirmation listing what will go out."""
    week = publish.week_drafts(ws)
    if st.button(
        f"Approve the week ({len(week)})",
        key=key,
        type="primary" if week else "secondary",
        disabled=not week,
        icon=":material/done_all:",
        help="Approve every draft that has a time in the next seven days, after one confirmation.",
    ):
        state.put("bulk_confirm", ("week", notice_key))
    if not week:
        queued = _queued_this_week(ws)
        st.caption(
            f"Nothing left to approve: {queued} post{'s are' if queued != 1 else ' is'} queued for the next seven days."
            if queued
            else "No drafts with a time in the next seven days. Queue the week on Targeting."
        )


def _queued_this_week(ws: Workspace) -> int:
    """Approved or scheduled posts due within the next seven days."""
    now = clock.now()
    start, end = clock.iso(now), clock.iso(now + timedelta(days=WEEK_DAYS))
    queued = publish.list_posts(ws, states=[OutboxState.APPROVED, OutboxState.SCHEDULED])
    return sum(1 for p in queued if p.due_at and start < p.due_at <= end)


# -- the drafts the operator picks ----------------------------------------------------------------------
def _select_all(ids: list[int]) -> None:
    state.put("bulk_selected", ids)


def render_bulk(ws: Workspace, settings: PublishSettings, notice_key: str) -> None:
    """Pick drafts, then approve them, schedule them over their segments' best hours, or delete them."""
    drafts = publish.list_posts(ws, states=[OutboxState.DRAFT])
    if not drafts:
        st.caption("No drafts waiting for approval.")
        return
    by_id = {p.id: p for p in drafts}
    state.put("bulk_selected", [i for i in state.get("bulk_selected") if i in by_id])
    tz = settings.timezone
    pick, every = st.columns([5, 1], vertical_alignment="bottom")
    pick.multiselect(
        f"Drafts to act on ({len(drafts)} waiting)",
        list(by_id),
        key="bulk_selected",
        format_func=lambda i: f"#{i} · {by_id[i].text[:40]}",
        placeholder="Choose drafts, or select all",
    )
    every.button("Select all", key="bulk_select_all", on_click=_select_all, args=(list(by_id),))
    chosen = [by_id[i] for i in state.get("bulk_selected")]
    n = len(chosen)
    buttons = st.container(horizontal=True, gap="small")
    if buttons.button(f"Approve ({n})", key="bulk_approve", disabled=not n, type="primary"):
        report = publish.approve_many(ws, [p.id for p in chosen])
        _notify(notice_key, report, "approved (each keeps its time, or is due now)")
        st.rerun()
    if buttons.button(
        f"Schedule at best hours ({n})",
        key="bulk_schedule",
        disabled=not n,
        help="Approve them and spread them one a day per segment over each segment's best hours, from now on.",
    ):
        with st.spinner("Reading each segment's best hours…"):
            hours = best_hours(ws)
        report = publish.schedule_many(ws, [p.id for p in chosen], hours, tz=tz)
        _notify(notice_key, report, "approved and scheduled at their segments' best hours")
        st.rerun()
    if buttons.button(f"Delete… ({n})", key="bulk_delete", disabled=not n):
        state.put("bulk_confirm", ("delete", notice_key))


# -- the one confirmation ----------------------------------------------------------------------------
def _forget_confirm() -> None:
    state.put("bulk_confirm", None)


def render_confirm(ws: Workspace, settings: PublishSettings) -> None:
    """The open confirmation, if any (kept in session state so it stays open across reruns)."""
    pending = state.get("bulk_confirm")
    if pending is None:
        return
    what, notice_key = pending
    if what == "week":
        _confirm_week(ws, settings, notice_key)
    else:
        _confirm_delete(ws, settings, notice_key)


@st.dialog("Approve the week?", width="large", on_dismiss=_forget_confirm)
def _confirm_week(ws: Workspace, settings: PublishSettings, notice_key: str) -> None:
    week = publish.week_drafts(ws)
    problems = {p.id: publish.preflight(ws, p.text, exclude_post_id=p.id, channel=p.channel) for p in week}
    passing = [p for p in week if not problems[p.id]]
    live = sorted({registry.label(p.channel) for p in passing if registry.is_live(p.channel)})
    st.write(
        f"{len(passing)} of {len(week)} draft{'s' if len(week) != 1 else ''} will be approved and go out at "
        f"their times ({settings.timezone})"
        + (f", to {' and '.join(live)}." if live else "; on the dry run nothing is sent.")
    )
    if len(passing) < len(week):
        st.warning("Drafts that fail pre-flight stay drafts; the list says why.")
    render_post_list(week, settings.timezone, problems)
    left, right = st.columns(2)
    if left.button(f"Approve {len(passing)}", type="primary", key="bulk_week_yes", disabled=not passing):
        report = publish.approve_many(ws, [p.id for p in week])
        _notify(notice_key, report, "approved for the week")
        _forget_confirm()
        st.rerun()
    if right.button("Cancel", key="bulk_week_no"):
        _forget_confirm()
        st.rerun()


@st.dialog("Delete these drafts?", width="large", on_dismiss=_forget_confirm)
def _confirm_delete(ws: Workspace, settings: PublishSettings, notice_key: str) -> None:
    ids = state.get("bulk_selected")
    posts = [p for p in publish.list_posts(ws, states=[OutboxState.DRAFT]) if p.id in ids]
    st.write(f"{len(posts)} draft{'s' if len(posts) != 1 else ''} will be deleted. This cannot be undone.")
    render_post_list(posts, settings.timezone)
    left, right = st.columns(2)
    if left.button(f"Delete {len(posts)}", type="primary", key="bulk_delete_yes", disabled=not posts):
        report = publish.delete_many(ws, [p.id for p in posts])
        _notify(notice_key, report, "deleted")
        _forget_confirm()
        st.rerun()
    if right.button("Cancel", key="bulk_delete_no"):
        _forget_confirm()
        st.rerun()
