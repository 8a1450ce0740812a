"""The Home page's pipeline statuses, read from the workspace."""

from __future__ import annotations

from core.delivery import outbox as publish
from core.feedback import results
from core.status import pipeline_status
from core.workspace import Workspace


def _step(ws: Workspace, title: str):
    return next(s for s in pipeline_status(ws) if s.title == title)


def test_delivery_points_to_results_once_posts_are_measured(workspace: Workspace, no_x_keys: None) -> None:
    assert _step(workspace, "Delivery").status == "0 queued · 0 published today"
    publish.add_post(
        workspace, "Overnight oats for busy mornings", channel="dry-run", segment="55+", template="Tip", approve=True
    )
    publish.publish_due(workspace)
    results.refresh_metrics(workspace)
    delivery = _step(workspace, "Delivery")
    assert delivery.status == "0 queued · 1 published today · 1 with simulated metrics"  # the dry run's
    assert delivery.page == "pages/results.py"


def test_interaction_counts_mentions_waiting(workspace: Workspace) -> None:
    assert (_step(workspace, "Interaction").status, _step(workspace, "Interaction").state) == (
        "no mentions yet",
        "todo",
    )
    with workspace.connect() as con:
        con.executemany(
            "INSERT INTO mentions (id, text, fetched_at, handled) VALUES (?, ?, ?, ?)",
            [
                ("1", "do you ship to Leeds?", "2026-11-28T09:00:00+00:00", 0),
                ("2", "love the oat bars", "2026-11-28T09:00:00+00:00", 0),
                ("3", "thanks!", "2026-11-28T09:00:00+00:00", 1),
            ],
        )
    step = _step(workspace, "Interaction")
    assert (step.status, step.state, step.page) == ("2 mentions waiting", "todo", "pages/inbox.py")
    with workspace.connect() as con:
        con.execute("UPDATE mentions SET handled = 1")
    assert _step(workspace, "Interaction").status == "all 3 mentions handled"


def test_delivery_shows_the_months_x_spend(workspace: Workspace, x_env) -> None:
    publish.add_post(workspace, "Kimchi, the quick way", approve=True)
    publish.publish_due(workspace)
    # one post ($0.015) and the account's own user read ($0.010)
    assert _step(workspace, "Delivery").status == "0 queued · 1 published today · X ≈ $0.03 this month"


def test_delivery_counts_drafts_waiting_for_approval(workspace: Workspace, no_x_keys: None) -> None:
    for text in ("Chia pudding, three ways", "Oat bars are back in stock"):
        publish.add_post(workspace, text, channel="dry-run")
    publish.add_post(workspace, "A walk after lunch helps", channel="dry-run", approve=True)
    step = _step(workspace, "Delivery")
    assert (step.status, step.state) == ("2 drafts to approve · 1 queued · 0 published today", "todo")
    assert step.next_action.startswith("Approve 2 drafts waiting")
