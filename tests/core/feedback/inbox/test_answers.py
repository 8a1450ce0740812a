"""The FAQ and reply templates: edits are validated, and nothing is lost when they fail."""

from __future__ import annotations

import pytest

from core.feedback import inbox
from core.feedback.inbox import FaqEntry, InboxValidationError
from core.workspace import Workspace


def test_faq_and_template_edits_are_validated_and_nothing_is_lost(workspace: Workspace) -> None:
    before = inbox.list_faq(workspace)
    assert len(before) == len(inbox.STARTER_FAQ)
    with pytest.raises(InboxValidationError) as error:
        inbox.save_faq(workspace, [*before, FaqEntry("Do you sell kombucha?", ""), FaqEntry("x", "y", "fr")])
    assert error.value.problems == [
        f"row {len(before) + 1}: the answer is empty",
        f"row {len(before) + 2}: language 'fr' must be one of en, zh",
    ]
    assert inbox.list_faq(workspace) == before
    with pytest.raises(InboxValidationError, match=r"praise \(en\): 'nickname' is undefined"):
        inbox.save_reply_templates(workspace, {("praise", "en"): "Thanks {{ nickname }}!"})
    with pytest.raises(InboxValidationError, match="not allowed in a template"):
        inbox.save_reply_templates(workspace, {("praise", "en"): "{{ handle.__class__.__mro__ }}"})
    assert inbox.list_reply_templates(workspace) == inbox.STARTER_REPLY_TEMPLATES
    inbox.save_reply_templates(workspace, {("praise", "en"): "{{ handle }} You made our week, thank you!"})
    assert inbox.list_reply_templates(workspace)[("praise", "en")] == "{{ handle }} You made our week, thank you!"
    # an operator who empties the FAQ keeps it empty (the starters are not seeded again)
    inbox.save_faq(workspace, [])
    assert inbox.list_faq(workspace) == []
