"""Pieces of the Publish page: connection, budget meter, composer, outbox, actions, history, settings.

Every action calls one ``core.delivery.outbox`` function and hands its result to the next run through
``ui.state`` ("publish_notice"), so a message survives the ``st.rerun`` that refreshes the tables.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from core import clock
from core.delivery import outbox as publish
from core.delivery.channels import registry
from core.delivery.channels.base import ErrorKind, PublishError
from core.delivery.outbox import OutboxError, OutboxState, Post, PublishSettings
from core.delivery.outbox.costs import PRICED_CHANNEL
from core.workspace import Workspace
from ui import state
from ui.outside_text import md, md_block, show
from ui.resources import workspace

STATE_ICONS = {
    "draft": "✎ draft",
    "approved": "✓ approved",
    "scheduled": "→ scheduled",
    "publishing": "↻ publishing",
    "published": "● published",
    "failed": "✕ failed",
}


def notify(kind: str, message: str) -> None:
    """Show ``message`` (success, info, warning or error) at the top of the next run."""
    state.notify("publish_notice", kind, message)


def render_notice() -> None:
    """The message left by the last action, once."""
    state.show_notice("publish_notice")


def _act(fn, *args, success: str | None = None, **kwargs):
    """Run one core action; turn its readable errors into a notice. Returns the result or None."""
    try:
        result = fn(*args, **kwargs)
    except publish.PreflightError as exc:
        notify("error", "Not approved — " + "; ".join(map(md, exc.problems)) + ".")
        return None
    except (OutboxError, PublishError) as exc:
        notify("error", md(exc))
        return None
    if success:
        notify("success", success)
    return result


# -- connection and budget ------------------------------------------------------------------------
def channel_summary(ws: Workspace) -> tuple[str, str]:
    """(default channel, one line saying where posts go) — never a key."""
    channel = registry.channel(publish.default_channel())
    if not channel.live:
        live = registry.live_channels()
        how = " ".join(f"To publish to {c.label}, {c.connect_hint}." for c in live)
        return channel.name, (
            f"info:**{channel.label}** — no {registry.live_labels()} keys are set, so posts are recorded here and nothing is sent. "
            + how
        )
    try:
        registry.publisher_for(ws, channel.name)  # reads the keys; no network call
    except PublishError as exc:
        return channel.name, f"warning:{exc}"
    handle = publish.connected_account(ws, channel.name)
    others = _also_connected(ws, channel.name)
    if handle:
        return channel.name, f"success:Publishing to {channel.label}, connected as **{handle}**.{others}"
    return channel.name, (
        f"info:{channel.label} keys are set. Check the connection to see which account they belong to.{others}"
    )


def _also_connected(ws: Workspace, default: str) -> str:
    """`` Also connected: Bluesky (@name).`` for the other channels with keys, or nothing."""
    others = [c for c in registry.connected_channels() if c.name != default]
    if not others:
        return ""
    names = ", ".join(c.label + (f" ({h})" if (h := publish.connected_account(ws, c.name)) else "") for c in others)
    return f" Also connected: {names} — choose the channels of each post under *New post* (Settings tests each)."


def render_connection(ws: Workspace) -> str:
    """Where posts go, and a button to ask the channel who the keys belong to. Returns the default channel."""
    channel, line = channel_summary(ws)
    kind, message = line.split(":", 1)
    left, right = st.columns([5, 1], vertical_alignment="center")
    getattr(left, kind)(message)
    if registry.is_live(channel) and right.button("Check connection", key="publish_check_connection"):
        handle = _act(publish.check_connection, ws, channel)
        if handle:
            notify("success", f"Connected as **{handle}**.")
        st.rerun()
    return channel


def _countdown(until: str | None) -> str:
    if not until:
        return ""
    left = datetime.fromisoformat(until) - datetime.now(UTC)
    minutes = max(0, int(left.total_seconds() // 60))
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def budget_channels(ws: Workspace, channel: str, settings: PublishSettings) -> list[str]:
    """The channels whose daily cap the page shows: the chosen one, every connected one, and any used in 24 h."""
    names = [channel, *(c.name for c in registry.connected_channels())]
    names += [n for n in registry.channel_names() if publish.budget(ws, n, settings=settings).used]
    return [n for n in registry.channel_names() if n in names]


def render_budget(ws: Workspace, channel: str, settings: PublishSettings) -> None:
    """One daily cap meter per channel in use (each the operator's own limit, not the network's), with when
    the next slot frees up."""
    for name in budget_channels(ws, channel, settings):
        _render_meter(ws, name, settings)


def _render_meter(ws: Workspace, channel: str, settings: PublishSettings) -> None:
    meter = publish.budget(ws, channel, settings=settings)
    label = f"Your daily cap ({registry.label(channel)}): {meter.used} of {meter.limit:,} posts in the last 24 h"
    st.progress(min(1.0, meter.used / meter.limit), text=label)
    if meter.remaining == 0:
        st.caption(
            f"Budget used up. The next post can go out in {_countdown(meter.resets_at)} "
            f"({clock.format_local(meter.resets_at, settings.timezone)}); queued posts wait until then."
        )
    elif meter.used:
        st.caption(
            f"{meter.remaining:,} left. The oldest post leaves the 24-hour window in "
            f"{_countdown(meter.resets_at)} ({clock.format_local(meter.resets_at, settings.timezone)})."
        )
    else:
        st.caption(f"{meter.remaining:,} posts left in the next 24 hours.")
    if channel == PRICED_CHANNEL:
        prices = publish.CostSettings.load(ws)
        st.caption(
            f"A limit you set, not X's: X's API is pay-per-use, and each post costs "
            f"${prices.x_post_create_usd:.3f} (${prices.x_post_create_with_url_usd:.3f} with a link) in credits."
        )


# -- times -------------------------------------------------------------------------------------
def time_picker(key: str, settings: PublishSettings, initial: str | None = None) -> datetime | None:
    """A date and time in the operator's time zone, returned as UTC (None if the time does not exist)."""
    tz = settings.timezone
    start = (
        clock.to_local(initial, tz)
        if initial
        else (clock.to_local(datetime.now(UTC), tz) + timedelta(hours=1)).replace(minute=0, second=0)
    )
    left, right = st.columns(2)
    day = left.date_input(
        f"Date ({tz})", value=start.date(), min_value=date.today() - timedelta(days=1), key=f"{key}_date"
    )
    wall = right.time_input(
        f"Time ({tz})", value=time(start.hour, start.minute), step=timedelta(minutes=15), key=f"{key}_time"
    )
    try:
        return clock.to_utc(datetime.combine(day, wall), tz)
    except clock.TimeError as exc:
        st.error(md(exc))
        return None


def channel_lengths(
    ws: Workspace, text: str, channels: list[str], settings: PublishSettings, *, labelled: bool = False
) -> list[str]:
    """One line per channel: ``Mastodon: 123 / 500 characters by Mastodon's count…``, red when over
    (the channel's name is left out for a single channel unless ``labelled``)."""
    lines = []
    for name in channels:
        rules = registry.channel(name)
        used = rules.weighted_length(text)
        limit = publish.char_limit(ws, name, settings)
        colour = "red" if used > limit else "gray"
        label = f"{rules.label}: " if len(channels) > 1 or labelled else ""
        lines.append(f":{colour}[{label}{used:,} / {limit:,} characters] by {rules.length_rule}")
    return lines


def length_caption(text: str, settings: PublishSettings, channels: list[str] | None = None) -> None:
    """``123 / 280`` by each channel's own count and limit (default: the default channel), red when over."""
    ws = workspace()
    st.caption("  \n".join(channel_lengths(ws, text, channels or [publish.default_channel()], settings)))


# -- composer ----------------------------------------------------------------------------------
def render_composer(ws: Workspace, settings: PublishSettings, channel: str) -> None:
    """A new post: save as draft, or approve (pre-flight first)."""
    round_ = state.get("publish_compose_round")
    text = st.text_area(
        "Text", key=f"compose_text_{round_}", height=110, placeholder="What do you want to tell your audience?"
    )
    a, b, c = st.columns(3)
    segment = a.text_input("Segment (optional)", key=f"compose_segment_{round_}")
    template = b.text_input("Template (optional)", key=f"compose_template_{round_}")
    options = list(registry.channel_names())
    chosen = c.multiselect(
        "Channels",
        options,
        default=[channel],
        format_func=registry.label,
        key=f"compose_channels_{round_}",
        help="One post per channel, each published once; each channel counts length its own way.",
    )
    length_caption(text, settings, chosen or [channel])
    at = None
    if st.toggle("Schedule for later", key=f"compose_later_{round_}"):
        at = time_picker(f"compose_at_{round_}", settings)
    # Not disabled while empty: the text reaches the script only when the box loses focus, so a
    # button disabled by the last run would stay grey while the operator types.
    save = st.columns([1, 1, 4], gap="small")
    approve_ = save[1].button("Approve", type="primary", key="compose_approve")
    if save[0].button("Save draft", key="compose_save") or approve_:
        posts = _act(
            publish.add_to_channels,
            ws,
            text,
            chosen,
            segment=segment,
            template=template,
            at=at,
            approve=bool(approve_),
        )
        if posts:
            post = posts[0]
            what = (
                "approved and "
                + (
                    f"scheduled for {clock.format_local(post.scheduled_at, settings.timezone)}"
                    if post.state == OutboxState.SCHEDULED
                    else "due now"
                )
                if approve_
                else "saved"
            )
            where = ", ".join(f"#{p.id} on {registry.label(p.channel)}" for p in posts)
            notify("success", f"Post {where} {what}." if len(posts) > 1 else f"Post {post.id} {what}.")
            state.put("publish_compose_round", round_ + 1)  # empties the composer
            state.put("publish_selected", post.id)
        st.rerun()


# -- outbox ------------------------------------------------------------------------------------
def _when(post: Post, tz: str) -> str:
    if post.published_at:
        return clock.format_local(post.published_at, tz)
    if post.state in (OutboxState.APPROVED, OutboxState.SCHEDULED):
        return clock.format_local(post.due_at, tz)
    return clock.format_local(post.scheduled_at, tz) if post.scheduled_at else ""


def outbox_table(posts: list[Post], tz: str) -> pd.DataFrame:
    """The outbox as a table, times in the operator's zone."""
    return pd.DataFrame(
        [
            {
                "#": p.id,
                "state": STATE_ICONS[p.state],
                "text": p.text,
                "channel": registry.label(p.channel),
                "segment": p.segment or "",
                "when": _when(p, tz),
                "tries": p.attempts,
                "note": (p.last_error or "") if p.state != OutboxState.PUBLISHED else "",
            }
            for p in posts
        ],
        columns=["#", "state", "text", "channel", "segment", "when", "tries", "note"],
    )


def _outcome_note(outcome: publish.Outcome) -> str:
    """One post's line under "Published …": its reason; waiting for credits is explained once, in the banner about credits."""
    if outcome.kind == ErrorKind.CREDITS:
        return "waits in the queue until X has credits again"
    return md(outcome.message)


def render_outbox(ws: Workspace, settings: PublishSettings) -> None:
    """Filter, table, "publish due now", and the selected post's actions."""
    all_posts = publish.list_posts(ws)
    due = [
        p
        for p in all_posts
        if p.state in (OutboxState.APPROVED, OutboxState.SCHEDULED) and (p.due_at or "") <= clock.utc_now()
    ]
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    shown = left.pills(  # pills wrap onto a second line on a narrow screen
        "Filter by state (none selected: all)",
        [str(s) for s in OutboxState],
        selection_mode="multi",
        format_func=lambda s: STATE_ICONS[s],
        key="publish_filter",
    )
    if right.button(f"Publish due now ({len(due)})", key="publish_due_now", disabled=not due):
        with st.spinner("Publishing due posts…"):
            report = _act(publish.publish_due, ws)
        if report is not None:
            notify(
                "warning" if report.failed or report.deferred else "success",
                f"Published {len(report.published)}, deferred {len(report.deferred)}, "
                f"failed {len(report.failed)}."
                + "".join(
                    f"\n\n- post {o.post_id}: {_outcome_note(o)}" for o in report.outcomes if o.result != "published"
                ),
            )
        st.rerun()
    posts = [p for p in all_posts if not shown or p.state in shown]
    if not all_posts:
        st.info("The outbox is empty. Write a post above, or send drafts here from the Studio.")
        return
    st.dataframe(
        outbox_table(posts, settings.timezone),
        hide_index=True,
        width="stretch",
        column_config={
            "text": st.column_config.TextColumn(width="large"),
            "note": st.column_config.TextColumn(width="medium"),
        },
    )
    by_id = {p.id: p for p in all_posts}
    if state.get("publish_selected") not in by_id:
        state.put("publish_selected", all_posts[0].id)
    st.selectbox(
        "Post", list(by_id), key="publish_selected", format_func=lambda i: f"#{i} · {by_id[i].text[:80]}"
    )  # no state: labels must stay stable
    render_actions(ws, by_id[state.get("publish_selected")], settings)


def render_actions(ws: Workspace, post: Post, settings: PublishSettings) -> None:
    """What can be done with ``post`` in its state."""
    tz = settings.timezone
    with st.container(border=True):
        st.markdown(
            f"**#{post.id} · {STATE_ICONS[post.state]}** · {registry.label(post.channel)}"
            + (f" · segment *{md(post.segment)}*" if post.segment else "")
            + (f" · template *{md(post.template)}*" if post.template else "")
        )
        if post.state == OutboxState.PUBLISHED:
            show(post.text)
            st.success(
                f"Published {clock.format_local(post.published_at, tz)}"
                + (
                    f" · [View on {registry.label(post.channel)}]({post.url})"
                    if post.url
                    else " · dry run, nothing was sent"
                )
            )
            return
        if post.state == OutboxState.PUBLISHING:
            show(post.text)
            st.info(
                f"Being published right now. If the process that sends it stops, the next run checks "
                f"{registry.label(post.channel)} "
                "for it before sending it again."
            )
            return
        if post.state == OutboxState.FAILED:
            st.error(f"Failed: {md(post.last_error)}")
        elif post.last_error:
            st.warning(md(post.last_error))
        _edit_and_act(ws, post, settings)


def _edit_and_act(ws: Workspace, post: Post, settings: PublishSettings) -> None:
    tz = settings.timezone
    editable = post.state == OutboxState.DRAFT
    text = st.text_area(
        "Text",
        value=post.text,
        key=f"edit_text_{post.id}_{post.updated_at}",
        height=110,
        help=None if editable else "Saving a change takes the post back to draft.",
    )
    length_caption(text, settings, [post.channel])
    options = list(registry.channel_names())
    channel = st.selectbox(
        "Channel",
        options,
        index=options.index(post.channel),
        format_func=registry.label,
        key=f"edit_channel_{post.id}_{post.updated_at}",
        help=None if editable else "Saving a change takes the post back to draft.",
    )
    changed = text != post.text or channel != post.channel
    if post.state in (OutboxState.APPROVED, OutboxState.SCHEDULED):
        st.caption(f"Due {clock.format_local(post.due_at, tz)}.")
    at = None
    if st.toggle("Set a time", key=f"edit_later_{post.id}", value=post.state == OutboxState.SCHEDULED):
        at = time_picker(
            f"edit_at_{post.id}",
            settings,
            post.scheduled_at if post.scheduled_at and post.scheduled_at > clock.utc_now() else None,
        )
    buttons = st.columns([1, 1, 1, 1, 2], gap="small")
    if changed and buttons[0].button("Save changes", key=f"save_{post.id}"):
        _act(publish.edit_post, ws, post.id, text=text, channel=channel, success=f"Post {post.id} saved as a draft.")
        st.rerun()
    if post.state in (OutboxState.DRAFT, OutboxState.FAILED) and not changed:
        label = "Approve" if post.state == OutboxState.DRAFT else "Retry"
        if buttons[0].button(label, type="primary", key=f"approve_{post.id}"):
            if post.state == OutboxState.DRAFT:
                done = _act(publish.approve, ws, post.id, at=at)
            else:
                done = _act(publish.retry, ws, post.id)
            if done is not None:
                notify("success", f"Post {post.id} {done.state}, due {clock.format_local(done.due_at, tz)}.")
            st.rerun()
    if post.state in (OutboxState.APPROVED, OutboxState.SCHEDULED) and not changed:
        if buttons[0].button("Publish now…", type="primary", key=f"publish_{post.id}"):
            state.put("publish_confirm", post.id)
        if (at or post.state == OutboxState.SCHEDULED) and buttons[1].button(
            "Save time" if at else "Make due now", key=f"schedule_{post.id}"
        ):
            _act(publish.schedule, ws, post.id, at, success=f"Post {post.id} rescheduled.")
            st.rerun()
        if buttons[2].button("Back to draft", key=f"unapprove_{post.id}"):
            _act(publish.unapprove, ws, post.id, success=f"Post {post.id} is a draft again.")
            st.rerun()
    if post.state == OutboxState.DRAFT and at and buttons[1].button("Save time", key=f"draft_time_{post.id}"):
        _act(publish.schedule, ws, post.id, at, success=f"Post {post.id} keeps that time for when it is approved.")
        st.rerun()
    if buttons[3].button("Delete", key=f"delete_{post.id}"):
        _act(publish.delete_post, ws, post.id, success=f"Post {post.id} deleted.")
        st.rerun()


def _forget_confirm() -> None:
    state.put("publish_confirm", None)


@st.dialog("Publish now?", on_dismiss=_forget_confirm)
def confirm_publish(ws: Workspace, post_id: int) -> None:
    """The confirm dialog; its button is the only way one click sends a post."""
    post = publish.get_post(ws, post_id)
    channel = registry.channel(post.channel)
    if channel.live:
        handle = publish.connected_account(ws, channel.name)
        as_whom = f" as **{handle}**" if handle else ""
        st.write(f"This posts to **{channel.label}**{as_whom}, now. It cannot be taken back here.")
    else:
        st.write(f"**{channel.label}**: the post is recorded as published; nothing is sent.")
    st.markdown("> " + post.text.replace("\n", "\n> "))
    left, right = st.columns(2)
    if left.button(
        "Publish",
        type="primary",
        key="confirm_publish_yes",
        disabled=post.state not in (OutboxState.APPROVED, OutboxState.SCHEDULED),
    ):
        with st.spinner("Publishing…"):
            outcome = _act(publish.publish_now, ws, post_id)
        if outcome is not None:
            kinds = {"published": "success", "deferred": "warning", "failed": "error", "skipped": "info"}
            link = f" [View on {channel.label}]({outcome.url})" if outcome.url else ""
            notify(kinds[outcome.result], md(f"{outcome.message[:1].upper()}{outcome.message[1:]}.") + link)
        _forget_confirm()
        st.rerun()
    if right.button("Cancel", key="confirm_publish_no"):
        _forget_confirm()
        st.rerun()


# -- history and settings --------------------------------------------------------------------------
def render_history(ws: Workspace, settings: PublishSettings, *, limit: int = 20) -> None:
    """Published posts, newest first, each with its link."""
    posts = sorted(
        publish.list_posts(ws, states=[OutboxState.PUBLISHED]), key=lambda p: p.published_at or "", reverse=True
    )[:limit]
    if not posts:
        st.caption("Nothing published yet.")
        return
    for post in posts:
        when = clock.format_local(post.published_at, settings.timezone)
        where = f"[View on {registry.label(post.channel)}]({post.url})" if post.url else "dry run · not sent"
        tags = " · ".join(md(t) for t in (post.segment, post.template) if t)
        st.markdown(f"**{when}** · #{post.id}{f' · {tags}' if tags else ''} · {where}  \n{md_block(post.text)}")


CAP_HELP = {
    "x": "X bills each post on pay-per-use; default 17",
    "mastodon": "Mastodon servers allow 300 posts per 3 hours; default 300",
    "bluesky": "Bluesky allows 1,666 posts an hour; default 1,666",
    "dry-run": "Nothing leaves Reach; default 10,000",
}


def render_settings(ws: Workspace, settings: PublishSettings) -> None:
    """Time zone, length limit and daily budget."""
    zones = publish.known_timezones()
    with st.form("publish_settings"):
        tz = st.selectbox(
            "Your time zone (times are shown and entered in it)",
            zones,
            index=zones.index(settings.timezone) if settings.timezone in zones else zones.index("UTC"),
        )
        limit = st.radio(
            "Post length limit",
            [280, 25_000],
            index=0 if settings.char_limit == 280 else 1,
            format_func=lambda n: "280 (standard)" if n == 280 else "25,000 (X Premium)",
            horizontal=True,
        )
        st.markdown("**Daily caps** (posts per rolling 24 hours on each channel; your own limits)")
        caps = publish.daily_caps(ws, settings=settings)
        columns = st.columns(len(caps))
        chosen = {
            name: column.number_input(
                registry.label(name),
                min_value=1,
                max_value=publish.MAX_DAILY_CAP,
                value=cap,
                step=1,
                key=f"publish_cap_{name}",
                help=CAP_HELP.get(name),
            )
            for column, (name, cap) in zip(columns, caps.items(), strict=True)
        }
        if st.form_submit_button("Save settings"):
            saved = _act(settings.save, ws, timezone=tz, char_limit=int(limit))
            if saved is not None:
                _act(
                    publish.save_daily_caps,
                    ws,
                    {name: int(cap) for name, cap in chosen.items()},
                    success="Settings saved.",
                )
            st.rerun()
