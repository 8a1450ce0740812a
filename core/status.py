"""Where the operator stands in the pipeline: one status line per step, for the Home page."""

from __future__ import annotations

import json
from dataclasses import dataclass

from core.content.registry import list_models
from core.delivery.outbox import month_costs, outbox_counts
from core.delivery.targeting import targeting_status
from core.workspace import Workspace, WorkspaceError

__all__ = ["StepStatus", "pipeline_status"]


@dataclass(frozen=True)
class StepStatus:
    """One pipeline step: its title, a status line, done or todo, and what to do next."""

    title: str
    status: str
    state: str  # "done" or "todo"
    next_action: str
    page: str | None = None


def pipeline_status(ws: Workspace) -> list[StepStatus]:
    """The six steps in order with what the workspace says about each."""
    try:
        active = ws.dataset()
        data = StepStatus(
            "Data",
            f"{active.name}: {active.n_events:,} events, {active.n_users:,} users",
            "done",
            "Import more exports on the Data page.",
            "pages/data.py",
        )
    except WorkspaceError:
        data = StepStatus(
            "Data", "no dataset yet", "todo", "Upload your behaviour exports on the Data page.", "pages/data.py"
        )
    return [
        data,
        _audience_status(ws),
        _content_status(ws),
        _targeting_status(ws),
        _delivery_status(ws),
        _interaction_status(ws),
    ]


def _content_status(ws: Workspace) -> StepStatus:
    """Reads the newest model card only (no TensorFlow, no weights)."""
    page = "pages/studio.py"
    models = list_models(ws)
    if not models:
        return StepStatus(
            "Content",
            "no model yet",
            "todo",
            "Train the writer on your own posts (or the demo posts) in the Studio.",
            page,
        )
    m = models[0]
    return StepStatus(
        "Content",
        f"writer ready · learned from {m.n_posts:,} posts",
        "done",
        "Write drafts for each segment in the Studio.",
        page,
    )


def _audience_status(ws: Workspace) -> StepStatus:
    """Reads the stored segmentation of the active dataset (never clusters on the Home page)."""
    page = "pages/segments.py"
    dataset_id = ws.active_dataset_id()
    if dataset_id is None:
        return StepStatus("Audience", "waiting for data", "todo", "Import data first, then find segments.", page)
    with ws.connect() as con:
        run = con.execute("SELECT k, summary FROM segment_runs WHERE dataset_id = ?", (dataset_id,)).fetchone()
    if run is None:
        return StepStatus(
            "Audience", "not segmented yet", "todo", "Find your audience segments on the Segments page.", page
        )
    named = json.loads(run["summary"]).get("named", 0)
    status = f"{run['k']} segments named" + (f" ({named} renamed by you)" if named else "")
    return StepStatus("Audience", status, "done", "Check the interest rules on the Interests page.", page)


def _targeting_status(ws: Workspace) -> StepStatus:
    """Counts saved rules and the segments they reach (stored facts only; never clusters)."""
    page = "pages/targeting.py"
    status = targeting_status(ws)
    if status is None:
        return StepStatus("Targeting", "waiting for segments", "todo", "Find segments first, then target them.", page)
    line, all_reached = status
    if all_reached:
        return StepStatus("Targeting", line, "done", "Preview the week and queue it for the outbox.", page)
    return StepStatus(
        "Targeting", line, "todo", "Give every segment a template and an hour on the Targeting page.", page
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _delivery_status(ws: Workspace) -> StepStatus:
    """Counts from the outbox (one query; no call to X on the Home page)."""
    counts = outbox_counts(ws)
    drafts, queued, published_today = counts["drafts"], counts["queued"], counts["published_today"]
    page = "pages/publish.py"
    parts = [f"{_plural(drafts, 'draft')} to approve"] if drafts else []
    parts += [f"{queued} queued", f"{published_today} published today"]
    if counts["failed"]:
        parts.append(f"{counts['failed']} failed")
    with ws.connect() as con:  # dry-run posts have made-up metrics: counted apart, never as measured
        measured, real = con.execute(
            "SELECT COUNT(DISTINCT post_id), COUNT(DISTINCT CASE WHEN source != 'simulated' THEN post_id END) "
            "FROM post_metrics"
        ).fetchone()
    if real:
        parts.append(f"{real} measured")
    if measured > real:
        parts.append(f"{measured - real} with simulated metrics")
    spent = month_costs(ws)  # Reach's own X calls this month, priced (no call to X)
    if spent.posts or spent.reads:
        parts.append(f"X ≈ ${spent.estimated_usd:,.2f} this month")
    status = " · ".join(parts)
    if drafts:
        return StepStatus(
            "Delivery",
            status,
            "todo",
            f"Approve {_plural(drafts, 'draft')} waiting on the Publish page (or the whole week at once).",
            page,
        )
    if measured:
        return StepStatus(
            "Delivery",
            status,
            "done",
            "See which template works best for each segment on the Results page.",
            "pages/results.py",
        )
    if queued or published_today:
        return StepStatus("Delivery", status, "done", "Check the outbox and publish what is due.", page)
    return StepStatus("Delivery", status, "todo", "Write or approve a post on the Publish page.", page)


def _interaction_status(ws: Workspace) -> StepStatus:
    """Counts stored mentions (no call to X on the Home page)."""
    page = "pages/inbox.py"
    with ws.connect() as con:
        waiting, total = con.execute("SELECT COALESCE(SUM(handled = 0), 0), COUNT(*) FROM mentions").fetchone()
    if waiting:
        return StepStatus(
            "Interaction",
            f"{waiting} mention{'s' if waiting != 1 else ''} waiting",
            "todo",
            "Answer your mentions in the Inbox: each comes with a suggested reply.",
            page,
        )
    status = f"all {total} mentions handled" if total else "no mentions yet"
    return StepStatus(
        "Interaction", status, "done" if total else "todo", "Refresh the Inbox to fetch new mentions.", page
    )
