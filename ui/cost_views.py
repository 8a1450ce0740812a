"""What X costs, on the pages: the out-of-credits message, the month's spend, a week's estimate, and
the cost settings (prices, how often Reach reads). Shared by Home, Publish, Results and Targeting."""

from __future__ import annotations

from datetime import date

import streamlit as st

from core.delivery import outbox as publish
from core.delivery.channels import registry
from core.delivery.outbox import CostSettings, OutboxError, PublishSettings, credits, month_costs, week_estimate
from core.delivery.outbox.costs import PRICED_CHANNEL
from core.delivery.targeting import WeeklyPlan
from core.workspace import Workspace
from ui import state

TOP_UP_URL = "https://developer.x.com/"


def render_credits(ws: Workspace, *, with_button: bool = False) -> bool:
    """The one message to top up X credits while X is paused (and, on Publish, a "try now" button).

    Returns True when X is paused.
    """
    pause = credits.paused(ws, PRICED_CHANNEL)
    if pause is None:
        return False
    tz = PublishSettings.load(ws).timezone
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.error(pause.message_in(tz), icon=":material/credit_card_off:")
    if with_button and right.button("Topped up? Try now", key="credits_try_now"):
        credits.try_now(ws, PRICED_CHANNEL)
        with st.spinner("Trying X…"):
            report = publish.publish_due(ws)
        still = credits.paused(ws, PRICED_CHANNEL)
        kind = "error" if still else "success"
        text = (
            still.message_in(tz)
            if still
            else f"X has credits again: {len(report.published)} post(s) published, the rest follow on schedule."
        )
        state.notify("publish_notice", kind, text)
        st.rerun()
    elif not with_button:
        right.link_button("Top up", TOP_UP_URL)
    return True


def month_line(ws: Workspace) -> str | None:
    """This month's X spend by Reach's own calls, or None when Reach has not called X this month."""
    found = month_costs(ws)
    if not found.posts and not found.reads:
        return None
    return found.line()


def render_month_spend(ws: Workspace) -> None:
    """A caption with this month's estimated X spend (nothing before the first call)."""
    line = month_line(ws)
    if line:
        st.caption(
            f":material/payments: {line}. An estimate from Reach's own calls; the X Developer Console has the bill."
        )


def render_week_estimate(ws: Workspace, plan: WeeklyPlan) -> None:
    """What queueing ``plan`` would cost on X, before it is queued."""
    posts = [(i.text, i.scheduled_at) for i in plan.items if i.passes and PRICED_CHANNEL in registry.split(i.channel)]
    if not posts:
        st.caption("No post of this plan goes to X, so it costs nothing on X's pay-per-use API.")
        return
    settings = CostSettings.load(ws)
    found = week_estimate(ws, posts, start=plan.start, end=plan.end, settings=settings)
    st.info(
        f"{found.line()}. Metric reads follow the cost settings (every {settings.metrics_every_hours:g} h, "
        f"for {settings.metrics_for_days} days after publishing); X bills a post read once a day however often "
        "it is read. Prices: Publish → Costs and reading.",
        icon=":material/payments:",
    )


def render_cost_settings(ws: Workspace) -> None:
    """Prices per call (with the date they were checked) and how often Reach reads X."""
    settings = CostSettings.load(ws)
    st.caption(
        "X's API is pay-per-use: credits bought in the X Developer Console pay for each post created and each "
        "post or user read (a read of the same post or user is billed once per UTC day). Compare these "
        "prices with the Developer Console and note the date."
    )
    with st.form("cost_settings"):
        a, b = st.columns(2)
        create = a.number_input("Post created ($)", 0.0, 100.0, settings.x_post_create_usd, 0.001, format="%.3f")
        create_url = b.number_input(
            "Post created with a link ($)", 0.0, 100.0, settings.x_post_create_with_url_usd, 0.001, format="%.3f"
        )
        post_read = a.number_input("Post read ($)", 0.0, 100.0, settings.x_post_read_usd, 0.001, format="%.3f")
        user_read = b.number_input("User read ($)", 0.0, 100.0, settings.x_user_read_usd, 0.001, format="%.3f")
        checked = st.date_input("Prices checked on", value=date.fromisoformat(settings.prices_checked))
        c, d = st.columns(2)
        metrics_every = c.number_input(
            "Read metrics at most every (hours, scheduled runs)", 0.25, 720.0, settings.metrics_every_hours, 1.0
        )
        metrics_days = d.number_input(
            "Measure X posts for (days after publishing)", 1, 3650, settings.metrics_for_days, 1
        )
        mentions_every = c.number_input(
            "Fetch mentions at most every (minutes, scheduled runs)", 1.0, 10080.0, settings.mentions_every_minutes, 5.0
        )
        retry = d.number_input(
            "Out of credits: try X again after (minutes)", 1.0, 1440.0, settings.credits_retry_minutes, 5.0
        )
        if st.form_submit_button("Save cost settings"):
            try:
                settings.save(
                    ws,
                    x_post_create_usd=float(create),
                    x_post_create_with_url_usd=float(create_url),
                    x_post_read_usd=float(post_read),
                    x_user_read_usd=float(user_read),
                    prices_checked=checked.isoformat(),
                    metrics_every_hours=float(metrics_every),
                    metrics_for_days=int(metrics_days),
                    mentions_every_minutes=float(mentions_every),
                    credits_retry_minutes=float(retry),
                )
            except OutboxError as exc:
                st.error(str(exc))
            else:
                state.notify("publish_notice", "success", "Cost settings saved.")
                st.rerun()
