"""Pieces of the Settings page: every channel, connected or not, with a connection test that never posts.

Keys are never shown: a channel says only whether its keys are set, what is missing, and whose
account they are (after a test or a post). Each action calls one ``core.delivery.outbox`` function.
"""

from __future__ import annotations

import streamlit as st

from core.delivery import outbox as publish
from core.delivery.channels.base import PublishError
from core.workspace import Workspace
from ui import state


def render_notice() -> None:
    """The message left by the last action, once."""
    state.show_notice("settings_notice")


def _status_line(status: publish.ChannelStatus) -> tuple[str, str]:
    """(kind, message) for one channel — never a key."""
    if not status.live:
        return "info", "Always on: posts are recorded in Reach and nothing is sent."
    if not status.configured:
        return "info", f"Not connected. To connect, {status.connect_hint}."
    if status.problem:
        return "warning", status.problem
    if status.handle:
        return "success", f"Connected as **{status.handle}**."
    return "info", "Keys are set. Test the connection to see which account they belong to."


def render_channel(ws: Workspace, status: publish.ChannelStatus) -> None:
    """One channel's card: whether it is connected, its length rule, and *Test connection*."""
    with st.container(border=True, key=f"settings_channel_{status.name}"):
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.markdown(f"**{status.label}**")
        kind, message = _status_line(status)
        getattr(left, kind)(message)
        left.caption(f"Posts up to {status.char_limit:,} characters by {status.length_rule}.")
        if status.live and right.button(
            "Test connection",
            key=f"settings_test_{status.name}",
            disabled=not status.configured,
            help="Asks the network whose keys these are. Nothing is posted.",
        ):
            try:
                with st.spinner(f"Asking {status.label}…"):
                    handle = publish.verify_connection(ws, status.name)
            except PublishError as exc:
                state.notify("settings_notice", "error", f"{status.label}: {exc.message}")
            else:
                state.notify("settings_notice", "success", f"{status.label}: connected as **{handle}**.")
            st.rerun()
        if status.name == "mastodon" and status.configured:
            _mastodon_limit(ws, status)


def _mastodon_limit(ws: Workspace, status: publish.ChannelStatus) -> None:
    """Mastodon instances may allow more than 500 characters; the test reads it, the owner may set it."""
    limit = st.number_input(
        "Your instance's post length limit",
        min_value=1,
        max_value=100_000,
        value=status.char_limit,
        step=50,
        key=f"settings_limit_{status.char_limit}",
        help="500 on most instances; Test connection reads your instance's own limit.",
    )
    if int(limit) != status.char_limit and st.button("Save limit", key="settings_limit_save"):
        try:
            publish.set_char_limit(ws, status.name, int(limit))
        except ValueError as exc:
            state.notify("settings_notice", "error", str(exc))
        else:
            state.notify("settings_notice", "success", f"Mastodon posts may now be {int(limit):,} characters long.")
        st.rerun()


def render_channels(ws: Workspace) -> None:
    """Every channel, in the order Reach prefers them."""
    for status in publish.channel_statuses(ws):
        render_channel(ws, status)
