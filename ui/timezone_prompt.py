"""The one question of the first start: the operator's time zone, proposed from the browser's."""

from __future__ import annotations

import streamlit as st

from core import clock
from core.delivery.outbox.settings import PublishSettings, known_timezones
from core.workspace import Workspace, WorkspaceError
from ui import state

#: The demo audience's home: its activity (and so its best hours) is Shanghai time.
DEMO_TIMEZONE = "Asia/Shanghai"


def ask_timezone(ws: Workspace) -> None:
    """Until the operator has chosen a time zone, ask for it above the page, the browser's proposed.

    Asked once per workspace: the answer is stored with the Publishing settings (where it can be
    changed later). A browser that reports no zone is not asked; times stay in UTC until it is set.
    """
    browser = st.context.timezone
    if ws.get_setting(clock.TIMEZONE_SETTING) is not None or not browser:
        return
    zones = known_timezones()
    with st.container(border=True, key="timezone_prompt"):
        st.markdown("**Which time zone are you in?** Reach shows every time and schedules every post in it.")
        pick, save = st.columns([3, 1], vertical_alignment="bottom")
        choice = pick.selectbox(
            "Your time zone",
            zones,
            index=zones.index(browser) if browser in zones else zones.index("UTC"),
            key="first_timezone",
            help="Proposed from your browser; you can change it later under Publishing settings on the Publish page.",
        )
        save.button("Use this time zone", key="first_timezone_save", type="primary", on_click=_save, args=(ws, choice))
        if _demo_active(ws):
            st.caption(
                f"The demo audience lives in Shanghai: its best hours are Shanghai time. Choose {DEMO_TIMEZONE} "
                "to schedule the demo's posts at the hours its audience is online."
            )


def _demo_active(ws: Workspace) -> bool:
    try:
        return ws.dataset().is_demo
    except WorkspaceError:
        return False


def _save(ws: Workspace, choice: str) -> None:
    PublishSettings.load(ws).save(ws, timezone=choice)
    state.notify("timezone_notice", "success", f"Times are now shown and scheduled in {choice}.")
