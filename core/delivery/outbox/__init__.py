"""The outbox: posts from draft to published, exactly once, with every change in the audit log.

A post moves ``draft → approved → scheduled → publishing → published``, or ends ``failed`` with
a reason the operator can act on (:mod:`~core.delivery.outbox.posts`). The operator's actions —
add, edit, approve, schedule, retry — run pre-flight first (:mod:`~core.delivery.outbox.actions`,
:mod:`~core.delivery.outbox.preflight`), one post or many at once (:mod:`~core.delivery.outbox.bulk`);
the calendar places each post on its day and hour (:mod:`~core.delivery.outbox.calendar`); publishing claims each post before the network call and
reconciles after a crash instead of sending twice (:mod:`~core.delivery.outbox.publishing`),
inside each channel's own daily cap (:mod:`~core.delivery.outbox.budget`). A channel out of paid
credits pauses and resumes on its own (:mod:`~core.delivery.outbox.credits`); what Reach's own X
calls cost is priced in :mod:`~core.delivery.outbox.costs`. Where a post goes is its channel
(:mod:`core.delivery.channels`).

This module is the outbox's public face: import from here.
"""

from __future__ import annotations

from core.delivery.channels.registry import default_channel
from core.delivery.outbox.actions import (
    add_post,
    add_to_channels,
    approve,
    delete_post,
    edit_post,
    retry,
    schedule,
    unapprove,
)
from core.delivery.outbox.budget import MAX_DAILY_CAP, Budget, budget, daily_cap, daily_caps, save_daily_caps
from core.delivery.outbox.bulk import (
    BulkReport,
    approve_many,
    delete_many,
    move_post,
    schedule_many,
    spread_over_best_hours,
    week_drafts,
)
from core.delivery.outbox.calendar import VIEWS, CalendarEntry, calendar_entries, post_time, view_days
from core.delivery.outbox.connections import ChannelStatus, channel_statuses, set_char_limit, verify_connection
from core.delivery.outbox.costs import CostSettings, MonthCosts, WeekEstimate, month_costs, week_estimate
from core.delivery.outbox.credits import CreditsPause
from core.delivery.outbox.posts import (
    OutboxError,
    OutboxState,
    Post,
    PreflightError,
    delivery_status,
    get_post,
    list_posts,
    outbox_counts,
    post_attempts,
)
from core.delivery.outbox.preflight import char_limit, length_problem, preflight, weighted_length
from core.delivery.outbox.publishing import (
    DueReport,
    Outcome,
    PublisherFactory,
    check_connection,
    connected_account,
    publish_due,
    publish_now,
)
from core.delivery.outbox.settings import PublishSettings, known_timezones

__all__ = [
    "MAX_DAILY_CAP",
    "VIEWS",
    "Budget",
    "BulkReport",
    "CalendarEntry",
    "ChannelStatus",
    "CostSettings",
    "CreditsPause",
    "DueReport",
    "MonthCosts",
    "OutboxError",
    "OutboxState",
    "Outcome",
    "Post",
    "PreflightError",
    "PublishSettings",
    "PublisherFactory",
    "WeekEstimate",
    "add_post",
    "add_to_channels",
    "approve",
    "approve_many",
    "budget",
    "calendar_entries",
    "channel_statuses",
    "char_limit",
    "check_connection",
    "connected_account",
    "daily_cap",
    "daily_caps",
    "default_channel",
    "delete_many",
    "delete_post",
    "delivery_status",
    "edit_post",
    "get_post",
    "known_timezones",
    "length_problem",
    "list_posts",
    "month_costs",
    "move_post",
    "outbox_counts",
    "post_attempts",
    "post_time",
    "preflight",
    "publish_due",
    "publish_now",
    "retry",
    "save_daily_caps",
    "schedule",
    "schedule_many",
    "set_char_limit",
    "spread_over_best_hours",
    "unapprove",
    "verify_connection",
    "view_days",
    "week_drafts",
    "week_estimate",
    "weighted_length",
]
