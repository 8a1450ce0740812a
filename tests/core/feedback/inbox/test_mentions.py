"""Stored mentions: filtered by handled and intent, marked handled by hand."""

from __future__ import annotations

import pytest

from core.feedback import inbox
from core.feedback.inbox import InboxError
from core.workspace import Workspace


def test_handled_filter_and_marking(workspace: Workspace, no_x_keys: None) -> None:
    inbox.seed_demo_mentions(workspace)
    everything = inbox.list_mentions(workspace, suggest=False)
    assert inbox.inbox_status(workspace) == (len(everything), len(everything))
    inbox.mark_handled(workspace, "demo-2")
    assert [m.id for m in inbox.list_mentions(workspace, handled=True)] == ["demo-2"]
    assert "demo-2" not in {m.id for m in inbox.list_mentions(workspace, handled=False)}
    assert inbox.inbox_status(workspace) == (len(everything) - 1, len(everything))
    inbox.mark_handled(workspace, "demo-2", handled=False)
    assert inbox.list_mentions(workspace, handled=True) == []
    corrected = inbox.set_intent(workspace, "demo-7", "question")  # "Happy Friday" read as a question
    assert (corrected.intent, corrected.confidence) == ("question", 1.0)
    assert inbox.get_mention(workspace, "demo-7", suggest=True).suggested_reply.startswith(
        "@demo_anna Thanks for asking!"
    )
    with pytest.raises(InboxError, match="intent 'joy' is not one of"):
        inbox.set_intent(workspace, "demo-7", "joy")
    praise = inbox.list_mentions(workspace, intents=["praise"], suggest=False)
    assert praise and all(m.intent == "praise" for m in praise)
    with pytest.raises(InboxError, match="unknown mention id 'nope'"):
        inbox.mark_handled(workspace, "nope")
    with pytest.raises(InboxError, match="intents \\['joy'\\] are not among"):
        inbox.list_mentions(workspace, intents=["joy"])
