"""Targeting: which message goes to which segment, on which channel, at what hour — and the week's plan.

:mod:`~core.delivery.targeting.rules` holds the audience as targeting sees it (segments with their
best hours and weekdays), predicates and the stored, validated rules with their history;
:mod:`~core.delivery.targeting.plan` plans the week from them — templates filled in or the writer's
drafts, checked and timed — and queues it into the outbox exactly once.

This module is targeting's public face: import from here.
"""

from __future__ import annotations

from core.delivery.targeting.plan import MAX_PER_SEGMENT, PlanItem, QueueReport, WeeklyPlan, queue_plan, weekly_plan
from core.delivery.targeting.rules import (
    SOURCES,
    Audience,
    Predicate,
    Rule,
    RuleValidationError,
    SegmentFacts,
    TargetingError,
    audience,
    load_rules,
    parse_predicate,
    propose_rules,
    resolve,
    rule_history,
    save_rules,
    targeting_status,
    template_names,
    validate_rule,
)

__all__ = [
    "MAX_PER_SEGMENT",
    "SOURCES",
    "Audience",
    "PlanItem",
    "Predicate",
    "QueueReport",
    "Rule",
    "RuleValidationError",
    "SegmentFacts",
    "TargetingError",
    "WeeklyPlan",
    "audience",
    "load_rules",
    "parse_predicate",
    "propose_rules",
    "queue_plan",
    "resolve",
    "rule_history",
    "save_rules",
    "targeting_status",
    "template_names",
    "validate_rule",
    "weekly_plan",
]
