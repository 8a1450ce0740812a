"""The intake's one error: input that cannot be used, said in one line."""

from __future__ import annotations

__all__ = ["IngestError"]


class IngestError(ValueError):
    """Input that cannot be used; the message is one line saying what to fix."""
