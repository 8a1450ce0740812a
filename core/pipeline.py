"""Where the operator stands in the pipeline: one status line per step, for the Home page."""

from __future__ import annotations

from dataclasses import dataclass

from core.workspace import Workspace, WorkspaceError

__all__ = ["StepStatus", "pipeline_status"]


@dataclass(frozen=True)
class StepStatus:
    """One pipeline step: its title, a status line, done/todo/later, and what to do next."""

    title: str
    status: str
    state: str  # "done", "todo" or "later" (not in this version of Reach yet)
    next_action: str
    page: str | None = None


def pipeline_status(ws: Workspace) -> list[StepStatus]:
    """The six steps in order with what the workspace says about each."""
    try:
        active = ws.dataset()
        data = StepStatus("Data", f"{active.name}: {active.n_events:,} events, {active.n_users:,} users", "done",
                          "Import more exports on the Data page.", "pages/data.py")
    except WorkspaceError:
        data = StepStatus("Data", "no dataset yet", "todo", "Upload your behaviour exports on the Data page.",
                          "pages/data.py")
    later = "not in this version yet"
    return [
        data,
        StepStatus("Audience", later, "later", "Find segments and interest rules."),
        StepStatus("Content", later, "later", "Train the writer on your own posts."),
        StepStatus("Targeting", later, "later", "Match each segment with a message and an hour."),
        StepStatus("Delivery", later, "later", "Approve and publish from the outbox."),
        StepStatus("Interaction", later, "later", "Answer mentions and replies."),
    ]
