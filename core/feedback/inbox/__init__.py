"""The inbox: mentions of the account, what each one wants, a suggested answer, and replies sent once.

* **Fetch** (:mod:`~core.feedback.inbox.fetch`): X's mentions newer than the last id seen, stored
  once per id, deferred after a 429; the demo's mentions, whose replies go to the dry run.
* **Intent** (:mod:`~core.feedback.inbox.intents`): question, complaint, praise, purchase intent
  or other, by a scikit-learn pipeline trained on ``core/data/inbox_intents.csv`` at first use in
  each process; and the language of a message (English or Chinese).
* **Answers** (:mod:`~core.feedback.inbox.answers`): the operator's FAQ and reply templates per
  intent and language, from starters for the demo shop.
* **Suggested reply** (:mod:`~core.feedback.inbox.suggest`): the closest FAQ entry fills the
  reply template of the mention's intent and language, addressed to the author's ``@handle``,
  shortened to X's weighted length and checked like a post.
* **Mentions** (:mod:`~core.feedback.inbox.mentions`): stored mentions with intent, suggestion and
  reply post; intents corrected and mentions marked handled by hand.
* **Reply** (:mod:`~core.feedback.inbox.replies`): through the outbox, as a reply to the mention,
  exactly once however often it is asked for; replying marks the mention handled.

This module is the inbox's public face: import from here.
"""

from __future__ import annotations

from core.feedback.inbox.answers import (
    STARTER_FAQ,
    STARTER_REPLY_TEMPLATES,
    FaqEntry,
    list_faq,
    list_reply_templates,
    save_faq,
    save_reply_templates,
)
from core.feedback.inbox.errors import InboxError, InboxValidationError
from core.feedback.inbox.fetch import DEMO_MENTIONS, RefreshReport, refresh_mentions, seed_demo_mentions
from core.feedback.inbox.intents import (
    DATA_PATH,
    INTENT_LABELS,
    INTENTS,
    LANGS,
    IntentGuess,
    classify,
    detect_language,
    held_out_split,
    intent_model,
    load_training_data,
    train_intent_model,
)
from core.feedback.inbox.mentions import InboxItem, get_mention, inbox_status, list_mentions, mark_handled, set_intent
from core.feedback.inbox.replies import ReplyResult, reply, retry_reply
from core.feedback.inbox.suggest import Suggestion, check_reply, suggest_reply

__all__ = [
    "DATA_PATH",
    "DEMO_MENTIONS",
    "INTENTS",
    "INTENT_LABELS",
    "LANGS",
    "STARTER_FAQ",
    "STARTER_REPLY_TEMPLATES",
    "FaqEntry",
    "InboxError",
    "InboxItem",
    "InboxValidationError",
    "IntentGuess",
    "RefreshReport",
    "ReplyResult",
    "Suggestion",
    "check_reply",
    "classify",
    "detect_language",
    "get_mention",
    "held_out_split",
    "inbox_status",
    "intent_model",
    "list_faq",
    "list_mentions",
    "list_reply_templates",
    "load_training_data",
    "mark_handled",
    "refresh_mentions",
    "reply",
    "retry_reply",
    "save_faq",
    "save_reply_templates",
    "seed_demo_mentions",
    "set_intent",
    "suggest_reply",
    "train_intent_model",
]
