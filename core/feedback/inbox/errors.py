"""The inbox's exceptions: an action that cannot happen, and edits or a reply that fail their checks."""

from __future__ import annotations


class InboxError(Exception):
    """An inbox action that cannot happen (unknown mention, nothing to fetch); the message says why."""


class InboxValidationError(InboxError):
    """Edits or a reply text that cannot be saved or sent; ``problems`` lists each reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
