"""Pieces of the Inbox page: where mentions come from, filters, one card per mention, FAQ and template editors.

Every action calls one ``core.feedback.inbox`` function and hands its result to the next run through
``ui.state`` ("inbox_notice"), so a message survives the ``st.rerun`` that redraws the cards.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import clock
from core.content.templates import TemplateError
from core.delivery import outbox as publish
from core.delivery.channels import registry
from core.delivery.channels.base import PublishError
from core.delivery.outbox import OutboxError, PublishSettings
from core.feedback import inbox
from core.feedback.inbox import INTENT_LABELS, INTENTS, LANGS, FaqEntry, InboxError, InboxItem, InboxValidationError
from core.workspace import Workspace
from ui import state
from ui.outside_text import md, md_block
from ui.publish_views import channel_summary, length_caption

INTENT_COLOURS = {
    "question": "blue",
    "complaint": "red",
    "praise": "green",
    "purchase_intent": "orange",
    "other": "gray",
}
SHOW = {"waiting": "Waiting", "handled": "Handled", "all": "All"}
PAGE_SIZE = 50  # mentions drawn per run: each card has an editor, and the newest matter most


def notify(kind: str, message: str) -> None:
    """Show ``message`` (success, info, warning or error) at the top of the next run."""
    state.notify("inbox_notice", kind, message)


def render_notice() -> None:
    """The message left by the last action, once."""
    state.show_notice("inbox_notice")


def _act(fn, *args, **kwargs):
    """Run one core action; turn its readable errors into a notice. Returns the result or None."""
    try:
        return fn(*args, **kwargs)
    except InboxValidationError as exc:
        notify("error", "Not sent — " + "; ".join(map(md, exc.problems)) + ".")
    except (InboxError, OutboxError, PublishError, TemplateError) as exc:
        notify("error", md(exc))
    return None


def render_source(ws: Workspace) -> None:
    """Where mentions come from, and the refresh button."""
    channel, line = channel_summary(ws)
    left, right = st.columns([5, 1], vertical_alignment="center")
    if line.startswith("warning:"):
        left.warning(line.split(":", 1)[1])
    elif registry.is_live(channel):
        labels = [c.label for c in registry.connected_channels()]
        label = ", ".join(labels[:-1]) + f" and {labels[-1]}" if len(labels) > 1 else labels[0]
        left.info(
            f"Mentions come from {label}: **Refresh** fetches the ones that arrived since the last refresh; "
            "each reply is posted to the network its mention came from."
        )
    else:
        live = registry.live_channels()
        how = " ".join(f"To answer real mentions on {c.label}, {c.connect_hint}." for c in live)
        left.info(
            f"**{registry.label(channel)}**: no {registry.live_labels()} keys are set, so there are no real mentions to fetch, "
            f"and replies are recorded here, not sent. {how}"
        )
    if right.button("Refresh", icon=":material/refresh:", key="inbox_refresh", width="stretch"):
        with st.spinner("Fetching mentions…"):
            report = _act(inbox.refresh_mentions, ws)
        if report is not None:
            notify("warning" if report.deferred_until else "success", report.message)
        st.rerun()


def render_filters() -> tuple[bool | None, list[str]]:
    """(handled filter, intents) chosen by the operator."""
    left, right = st.columns([2, 5])
    left.segmented_control("Show", list(SHOW), format_func=SHOW.get, key="inbox_show")
    right.pills(
        "Intent (none selected: all)",
        list(INTENTS),
        selection_mode="multi",
        format_func=INTENT_LABELS.get,
        key="inbox_intents",
    )
    show = state.get("inbox_show") or "waiting"
    return {"waiting": False, "handled": True}.get(show), list(state.get("inbox_intents") or [])


def badge(intent: str, confidence: float) -> str:
    """The intent as a coloured Markdown badge with the model's confidence."""
    return f":{INTENT_COLOURS[intent]}-badge[{INTENT_LABELS[intent]} · {confidence:.0%}]"


def _key(item: InboxItem) -> str:
    """The mention's part of its widgets' keys: its ref, the channel joined by ``_`` (no colon in a CSS class)."""
    return item.ref.replace(":", "_", 1) if item.ref != item.id else item.id


def render_mention(ws: Workspace, item: InboxItem, settings: PublishSettings) -> None:
    """One mention: who, what, intent; the reply (sent, or editable with its checks) and its actions."""
    tz = settings.timezone
    with st.container(border=True, key=f"inbox_card_{_key(item)}"):
        who = f"@{item.author_username}" if item.author_username else (item.author_id or "someone")
        tags = [f"**{md(who)}**", clock.format_local(item.created_at, tz), badge(item.intent, item.confidence)]
        if registry.is_live(item.channel):
            tags.append(f":blue-badge[{registry.label(item.channel)}]")
        if item.is_demo:
            tags.append(":gray-badge[demo]")
        if item.handled:
            tags.append(":green-badge[:material/check: handled]")
        st.markdown(" · ".join(t for t in tags if t))
        st.markdown("> " + md_block(item.text).replace("\n", "\n> "))
        if item.reply_post_id is not None:
            _render_sent(ws, item)
        else:
            _render_draft(ws, item, settings)


def _render_sent(ws: Workspace, item: InboxItem) -> None:
    where = f" · [View on {registry.label(item.channel)}]({item.reply_url})" if item.reply_url else ""
    post = publish.get_post(ws, item.reply_post_id)
    if item.reply_state == "published":
        st.success(f"Replied (post {post.id}){where or ' · dry run, nothing was sent'}  \n{md_block(post.text)}")
    elif item.reply_state == "failed":
        st.error(f"The reply (post {post.id}) failed: {md(post.last_error)}")
        if st.button("Retry", type="primary", key=f"inbox_retry_{_key(item)}"):
            result = _act(inbox.retry_reply, ws, item.ref)
            if result is not None:
                _notify_result(result)
            st.rerun()
    else:
        st.info(
            f"Reply queued as post {post.id} ({item.reply_state}): {md(post.last_error or 'due now')}. "
            "It goes out from the outbox (Publish page)."
        )
    _handled_toggle(ws, item)


def _render_draft(ws: Workspace, item: InboxItem, settings: PublishSettings) -> None:
    # the editor round and the intent are in the key: after an FAQ or template edit, or a corrected
    # intent, the box starts from the new suggestion
    text = st.text_area(
        "Reply",
        value=item.suggested_reply,
        height=90,
        key=f"inbox_text_{_key(item)}_{item.intent}_{state.get('inbox_editor_round')}",
        help="Suggested from the reply template for this intent"
        + (f" and the FAQ entry “{md(item.faq_question)}”" if item.faq_question else "")
        + ". Edit it freely before sending.",
    )
    length_caption(text, settings, [item.channel])
    problems = inbox.check_reply(ws, text, channel=item.channel)
    for problem in problems:
        st.caption(f":red[{md(problem)}]")
    where = registry.label(item.channel) if registry.is_live(item.channel) else "the dry run (nothing is sent)"
    left, right, _, last = st.columns([1, 1.3, 1.5, 1.5], vertical_alignment="bottom")
    chosen = last.selectbox(
        "Intent",
        list(INTENTS),
        index=INTENTS.index(item.intent),
        format_func=INTENT_LABELS.get,
        key=f"inbox_intent_{_key(item)}_{item.intent}",
        help="Wrong? Pick the right one: the suggested reply follows it.",
    )
    if chosen != item.intent:
        if _act(inbox.set_intent, ws, item.ref, chosen) is not None:
            notify("success", f"Intent set to {INTENT_LABELS[chosen]}; the suggested reply follows it.")
        st.rerun()
    if left.button(
        "Reply",
        type="primary",
        key=f"inbox_send_{_key(item)}",
        disabled=bool(problems),
        help=f"Posts this reply to {where} through the outbox, once.",
    ):
        with st.spinner("Replying…"):
            result = _act(inbox.reply, ws, item.ref, text=text)
        if result is not None:
            _notify_result(result)
        st.rerun()
    _handled_toggle(ws, item, right)


def _notify_result(result: inbox.ReplyResult) -> None:
    replied = state.get("inbox_replied")
    if not result.created and result.outcome is None and result.mention_id in replied:
        # the second click of a double click: say again what the first one did, not "answered already"
        notify(*replied[result.mention_id])
        return
    kinds = {"published": "success", "deferred": "warning", "failed": "error", "skipped": "info"}
    kind = kinds[result.outcome.result] if result.outcome else "info"
    link = f" [View on {registry.label(result.post.channel)}]({result.post.url})" if result.post.url else ""
    if not registry.is_live(result.post.channel) and result.post.state == "published":
        link = " Dry run: recorded here, nothing was sent."
    moved = " It is under *Handled* now." if result.created else ""
    notify(kind, f"{md(result.message)}.{link}{moved}")
    replied[result.mention_id] = state.get("inbox_notice")


def _handled_toggle(ws: Workspace, item: InboxItem, where=st) -> None:
    label = "Mark as waiting" if item.handled else "Mark handled"
    if where.button(label, key=f"inbox_handled_{_key(item)}"):
        if _act(inbox.mark_handled, ws, item.ref, handled=not item.handled) is not None:
            notify(
                "success",
                f"Mention from @{md(item.author_username or item.author_id)} "
                + ("is waiting again." if item.handled else "marked handled."),
            )
        st.rerun()


# -- FAQ and templates ---------------------------------------------------------------------------
def render_faq_editor(ws: Workspace) -> None:
    """The FAQ as an editable table; saved only when every row is valid (edits stay on error)."""
    round_ = state.get("inbox_editor_round")
    frame = pd.DataFrame([e.__dict__ for e in inbox.list_faq(ws)], columns=["question", "answer", "lang"])
    edited = st.data_editor(
        frame,
        key=f"inbox_faq_{round_}",
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_config={
            "question": st.column_config.TextColumn("Question (and words customers use)", width="medium"),
            "answer": st.column_config.TextColumn("Answer", width="large"),
            "lang": st.column_config.SelectboxColumn("Language", options=list(LANGS), default="en", width="small"),
        },
    )
    if st.button("Save FAQ", key="inbox_save_faq"):
        rows = [
            FaqEntry(str(r.question or "").strip(), str(r.answer or "").strip(), str(r.lang or "en"))
            for r in edited.fillna("").itertuples()
        ]
        try:
            saved = inbox.save_faq(ws, rows)
        except InboxValidationError as exc:
            st.error("Not saved — " + "; ".join(exc.problems) + ". Your edits are still in the table.")
            return
        notify("success", f"FAQ saved ({len(saved)} entries).")
        state.put("inbox_editor_round", round_ + 1)
        st.rerun()


def render_template_editor(ws: Workspace) -> None:
    """The reply templates (one per intent and language) as an editable table."""
    round_ = state.get("inbox_editor_round")
    frame = pd.DataFrame(
        [{"intent": i, "lang": lang, "body": body} for (i, lang), body in inbox.list_reply_templates(ws).items()]
    )
    edited = st.data_editor(
        frame,
        key=f"inbox_templates_{round_}",
        hide_index=True,
        width="stretch",
        disabled=["intent", "lang"],
        column_config={
            "intent": st.column_config.TextColumn("Intent", width="small"),
            "lang": st.column_config.TextColumn("Language", width="small"),
            "body": st.column_config.TextColumn("Template", width="large"),
        },
    )
    st.caption(
        "Variables: `{{ handle }}`, `{{ name }}`, `{{ faq_answer }}`, `{{ faq_question }}`, "
        "`{{ product }}`, `{{ offer }}`, `{{ link }}`. A reply always starts with the customer's @handle."
    )
    if st.button("Save templates", key="inbox_save_templates"):
        templates = {(r.intent, r.lang): str(r.body or "") for r in edited.fillna("").itertuples()}
        try:
            inbox.save_reply_templates(ws, templates)
        except InboxValidationError as exc:
            st.error("Not saved — " + "; ".join(exc.problems) + ". Your edits are still in the table.")
            return
        notify("success", "Reply templates saved.")
        state.put("inbox_editor_round", round_ + 1)
        st.rerun()
