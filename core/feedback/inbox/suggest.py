"""The reply Reach suggests for a mention, and the checks a reply must pass.

The FAQ entry closest to the mention (TF-IDF cosine over the FAQ in the mention's language) fills
the reply template of the mention's intent and language (Jinja2 in the sandbox of
:mod:`core.content.templates`); Chinese mentions (by script, or X's ``lang``) get the Chinese
template and FAQ. Every suggestion starts with the author's ``@handle``, is shortened to fit X's
weighted length and is checked like a post (:func:`check_reply`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sklearn.feature_extraction.text import TfidfVectorizer

from core.content.checks import banned_hits, load_banned_words, publishing_problems, weighted_length
from core.content.templates import load_brand, render_template
from core.delivery.channels import registry
from core.delivery.channels.base import Mention
from core.delivery.outbox import PublishSettings, char_limit
from core.feedback.inbox.answers import FaqEntry, list_faq, list_reply_templates
from core.feedback.inbox.intents import CHINESE_CHARACTERS, LANGS, classify, detect_language, prepare_text
from core.workspace import Workspace

if TYPE_CHECKING:
    from core.feedback.inbox.mentions import InboxItem

FAQ_MIN_SIMILARITY = 0.15  # below this the closest FAQ entry is not about the mention
FAQ_INTENTS = ("question", "complaint", "purchase_intent", "other")  # praise gets a thank-you, no FAQ


@dataclass(frozen=True)
class Suggestion:
    """A suggested reply, the FAQ entry it used (if any) and what the checks say about it."""

    text: str
    faq_question: str | None
    problems: list[str]


class _FaqIndex:
    """TF-IDF over the FAQ of one language (question and answer of each entry), for the closest entry.

    English is compared by words (without stop words), Chinese by characters and character pairs
    (it has no spaces between words).
    """

    def __init__(self, entries: list[FaqEntry], lang: str) -> None:

        self.entries = entries
        self.vectorizer = None
        if entries:
            if lang == "zh":
                self.vectorizer = TfidfVectorizer(
                    analyzer="char", ngram_range=(1, 2), sublinear_tf=True, preprocessor=prepare_text
                )
            else:
                self.vectorizer = TfidfVectorizer(
                    analyzer="word", stop_words="english", sublinear_tf=True, preprocessor=prepare_text
                )
            try:
                self.matrix = self.vectorizer.fit_transform([f"{e.question} {e.answer}" for e in entries])
            except ValueError:  # only stop words: nothing to compare with
                self.vectorizer = None

    def best(self, text: str) -> tuple[FaqEntry | None, float]:
        if self.vectorizer is None:
            return None, 0.0
        scores = (self.matrix @ self.vectorizer.transform([text]).T).toarray().ravel()
        index = int(scores.argmax())
        return self.entries[index], float(scores[index])


@dataclass
class ReplyContext:
    """What every suggestion of one listing shares (loaded once)."""

    templates: dict[tuple[str, str], str]
    faq: dict[str, _FaqIndex]
    brand: dict[str, str]
    banned: list[str]
    char_limit: int

    @classmethod
    def load(cls, ws: Workspace) -> ReplyContext:
        entries = list_faq(ws)
        return cls(
            list_reply_templates(ws),
            {lang: _FaqIndex([e for e in entries if e.lang == lang], lang) for lang in LANGS},
            load_brand(ws),
            load_banned_words(ws),
            PublishSettings.load(ws).char_limit,
        )


def check_reply(
    ws: Workspace, text: str, *, channel: str | None = None, _context: ReplyContext | None = None
) -> list[str]:
    """Why ``text`` cannot go out as a reply (empty list when it can), each rule applied once: empty,
    the length (X's weighted length, or the count and limit of ``channel`` when the reply goes to
    Mastodon or Bluesky), banned words, and what never goes out (placeholders, ``RT``, entities,
    lost characters, analysis wording). The style and garbage checks of generated drafts ("too
    short", an unfinished ending) do not apply: "@ana 谢谢！" is a fine reply."""
    banned = _context.banned if _context else load_banned_words(ws)
    if not text.strip():
        return ["the reply is empty"]
    rules = registry.channel(channel) if channel in registry.channel_names() else None
    reasons = []
    if rules is None or rules.weighted_length is weighted_length:  # counted as X counts
        used = weighted_length(text)
        allowed = _context.char_limit if _context else PublishSettings.load(ws).char_limit
        if used > allowed:
            reasons.append(f"too long for X ({used} of {allowed})")
    else:
        used, allowed = rules.weighted_length(text), char_limit(ws, rules.name)
        if used > allowed:
            reasons.append(f"too long for {rules.label}: {used:,} of {allowed:,} characters by {rules.length_rule}")
    reasons += [f"banned word: {word}" for word in banned_hits(text, banned)]
    return reasons + publishing_problems(text, style=False)


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?。！？])(?:\s|$)", text)
    return match.group(1) if match else text


def _fit(text: str, limit: int) -> str:
    """``text`` cut at a word (or, in Chinese, a character) so its weighted length is within ``limit``."""
    if weighted_length(text) <= limit:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with the ellipsis (length grows with the prefix)
    while low < high:
        middle = (low + high + 1) // 2
        if weighted_length(text[:middle] + "…") <= limit:
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    if " " in cut and not CHINESE_CHARACTERS.search(cut[-1:]):
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:—-") + "…"


def suggest_reply(
    ws: Workspace, mention: InboxItem | Mention, *, intent: str | None = None, _context: ReplyContext | None = None
) -> Suggestion:
    """The reply Reach suggests for ``mention``: its intent's template in its language, filled with the
    author's handle and the closest FAQ answer, shortened to X's limit and checked.

    Raises
    ------
    TemplateError
        When a stored template cannot be rendered (the editor refuses to save such templates).
    """
    context = _context or ReplyContext.load(ws)
    text = mention.text
    lang = detect_language(text, hint=getattr(mention, "lang", None))
    if intent is None:
        intent = getattr(mention, "intent", None) or classify([text])[0].intent
    username = (getattr(mention, "author_username", None) or "").lstrip("@")
    handle = f"@{username}" if username else ""
    faq_entry = None
    if intent in FAQ_INTENTS:
        faq_entry, score = context.faq[lang].best(text)
        if score < FAQ_MIN_SIMILARITY:
            faq_entry = None
    brand = context.brand
    values = {
        "handle": handle,
        "name": username,
        "faq_question": faq_entry.question if faq_entry else "",
        "faq_answer": faq_entry.answer if faq_entry else "",
        "product": brand.get("product", ""),
        "offer": brand.get("offer", ""),
        "link": brand.get("link", ""),
    }
    body = context.templates[(intent, lang)]
    reply_text = render_template(body, values)
    if weighted_length(reply_text) > context.char_limit and faq_entry:
        reply_text = render_template(body, {**values, "faq_answer": _first_sentence(faq_entry.answer)})
    if handle and handle.casefold() not in reply_text.casefold():
        # the handle tells X and the customer who is answered, and keeps replies to different people apart
        reply_text = f"{handle} {reply_text}"
    reply_text = _fit(reply_text, context.char_limit)
    return Suggestion(
        reply_text, faq_entry.question if faq_entry else None, check_reply(ws, reply_text, _context=context)
    )
