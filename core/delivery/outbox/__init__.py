"""The outbox: posts from draft to published, exactly once, with every change in the audit log.

A post moves ``draft → approved → scheduled → publishing → published``, or ends ``failed`` with
a reason the operator can act on (:mod:`~core.delivery.outbox.posts`). The operator's actions —
add, edit, approve, schedule, retry — run pre-flight first (:mod:`~core.delivery.outbox.actions`,
:mod:`~core.delivery.outbox.preflight`); publishing claims each post before the network call and
reconciles after a crash instead of sending twice (:mod:`~core.delivery.outbox.publishing`),
inside a daily budget per channel (:mod:`~core.delivery.outbox.budget`). A channel out of paid
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
from core.delivery.outbox.budget import Budget, budget
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
    post_attempts,
)
from core.delivery.outbox.preflight import char_limit, preflight, weighted_length
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
    "Budget",
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
    "budget",
    "channel_statuses",
    "char_limit",
    "check_connection",
    "connected_account",
    "default_channel",
    "delete_post",
    "delivery_status",
    "edit_post",
    "get_post",
    "known_timezones",
    "list_posts",
    "month_costs",
    "post_attempts",
    "preflight",
    "publish_due",
    "publish_now",
    "retry",
    "schedule",
    "set_char_limit",
    "unapprove",
    "verify_connection",
    "week_estimate",
    "weighted_length",
]
