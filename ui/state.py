"""Every session-state key the app uses, with its default, in one place."""

from __future__ import annotations

from typing import Any

import streamlit as st

# key -> default
DEFAULTS: dict[str, Any] = {
    "authenticated": False,
    "login_token": None,  # signed login token the browser is yet to keep in a cookie (ui.auth)
    "last_import": None,  # message about the import just made, shown once
    "uploader_round": 0,  # bumped after an import so the uploader starts empty
    "upload_mappings": {},  # file id -> {canonical: source}, edits in the mapping editor
    "upload_kinds": {},  # file id -> kind chosen in the import form
    "staged_uploads": {},  # file id -> where ui.data_views.stage_upload keeps the upload on disk
    "confirm_delete": None,  # dataset id waiting for confirmation
    "sidebar_dataset": None,  # widget: the active-dataset selector in the sidebar
    "timezone_notice": None,  # (kind, message) after the time zone was chosen, shown once
    "publish_notice": None,  # (kind, message) left by a Publish-page action, shown once
    "settings_notice": None,  # (kind, message) left by a Settings-page action, shown once
    "publish_confirm": None,  # post id waiting in the "Publish now?" dialog
    "publish_selected": None,  # widget: the post whose actions the Publish page shows
    "publish_filter": [],  # widget: states shown in the outbox table (none chosen: all)
    "publish_compose_round": 0,  # bumped after a post is added so the composer starts empty
    "bulk_selected": [],  # widget: the drafts picked for a bulk action (Publish page)
    "bulk_confirm": None,  # ("week" or "delete", notice key) waiting in a bulk confirmation dialog
    "calendar_notice": None,  # (kind, message) left by a Calendar action, shown once
    "calendar_view": "days",  # widget: the calendar shows seven "days" from a day on, a "week" or a "month"
    "calendar_anchor": None,  # widget: the first day, or a day in the week or month (None: today, operator's zone)
    "calendar_jump": None,  # the day a moved post went to, shown on the next run
    "calendar_post": None,  # widget: the post opened below the calendar
    "calendar_last_pick": [],  # post ids of the last chart click, so each click opens its post once
    "studio_drafts": {},  # draft id -> {"text", "segment", "template" or "seed"}: the Studio's current drafts
    "studio_draft_round": 0,  # bumped on every generation so draft editors start from the new text
    "studio_notice": None,  # (kind, message) left by a Studio action, shown once
    "studio_model": None,  # widget: the model chosen on the Studio's Model tab
    "studio_keep_all": False,  # widget: keep retweets, quotes and link-only posts in the corpus
    "studio_seed": 0,  # widget: the seed of the next "Write drafts"; moves on after each
    "studio_seed_used": None,  # the seed of the write under way (set as its button is clicked)
    "segments_renamed": None,  # the id of the segment just renamed, whose profile tab opens again
    "targeting_notice": None,  # (kind, message, "top" or "queue") left by a Targeting action, shown once
    "targeting_errors": {},  # editor row -> validation messages of the last failed save
    "targeting_editor_round": 0,  # bumped after a save so the rules editor (targeting_rules_<round>) restarts
    "targeting_approve": False,  # widget: queue the week approved and scheduled instead of as drafts
    "targeting_fill": "Templates",  # widget: fill the week from the "Writer" or the "Templates"
    "targeting_per_segment": 3,  # widget: the writer's posts per segment in the week
    # Results page
    "results_notice": None,  # (kind, message) left by a Results action, shown once
    "results_metric": "impressions",  # widget: the metric the "over time" chart shows
    "results_import_open": False,  # widget: the "Import an engagement CSV" expander is open
    "results_import_error": None,  # why the last engagement CSV import stored nothing, shown once
    "results_upload_round": 0,  # bumped after an import so the uploader (results_upload_<round>) and the
    # mapping selectboxes (results_map_<column>_<round>) start empty
    # Inbox page
    "inbox_notice": None,  # (kind, message) left by an Inbox action, shown once
    "inbox_show": "waiting",  # widget: waiting (unhandled), handled or all mentions
    "inbox_intents": [],  # widget: intents shown (none chosen: all)
    "inbox_editor_round": 0,  # bumped after a save so the FAQ/template editors (inbox_faq_<round>,
    # inbox_templates_<round>) restart from what was stored
    "inbox_replied": {},  # mention id -> the notice of its reply, repeated for a double click's 2nd click
}


def init() -> None:
    """Put every default into ``st.session_state`` once per session."""
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if isinstance(value, dict) else value


def get(key: str) -> Any:
    """A session value (its default if unset)."""
    if key not in DEFAULTS:
        raise KeyError(f"unknown session key {key!r}; add it to ui.state.DEFAULTS")
    return st.session_state.get(key, DEFAULTS[key])


def put(key: str, value: Any) -> None:
    """Set a session value."""
    if key not in DEFAULTS:
        raise KeyError(f"unknown session key {key!r}; add it to ui.state.DEFAULTS")
    st.session_state[key] = value


def widget_value(key: str, default: Any = None) -> Any:
    """The value of a widget whose key is built at run time (``results_map_<column>_<round>``).

    Such keys are not in ``DEFAULTS``: they name one drawing of a widget, and ``default`` stands in
    until the widget has been drawn.
    """
    return st.session_state.get(key, default)


def pop(key: str) -> None:
    """Forget the value of a widget whose key is built at run time, so it is drawn from its ``value`` again."""
    st.session_state.pop(key, None)


def notify(key: str, kind: str, message: str) -> None:
    """Leave ``message`` (success, info, warning or error) under ``key`` for the next run to show once."""
    put(key, (kind, message))


def show_notice(key: str) -> None:
    """Show the message left under ``key``, once."""
    notice = get(key)
    if notice:
        kind, message = notice[:2]
        getattr(st, kind)(message)
        put(key, None)
