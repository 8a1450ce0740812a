"""Checks every draft passes before the operator sees it as "ready".

* **Length**: X's weighted length from ``twitter-text-parser`` (URLs count 23, CJK and emoji 2,
  other characters 1), at most 280 by default.
* **Near-copy**: the draft shares a run of 40 or more characters with a post of the corpus
  (compared after NFC, case folding, collapsing whitespace and turning URLs and @mentions into
  placeholders, so a copied post with another link is still a copy).
* **Banned words**: an editable list; Latin-script words match whole words, case-insensitively,
  other scripts (Chinese) match anywhere.
* **Empty or garbage**: nothing written, too short (under 15 as X counts characters: CJK 2),
  mostly symbols, long runs of one character,
  leftover placeholder or unknown symbols, or (with a corpus index) more than a quarter of its
  Latin-script words never seen in the corpus.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from twitter_text import parse_tweet

from core.content.corpus import MENTION, URL, to_units

if TYPE_CHECKING:
    from core.workspace import Workspace

__all__ = [
    "DEFAULT_BANNED_WORDS",
    "NEAR_COPY_CHARS",
    "DraftCheck",
    "NearCopyIndex",
    "check_draft",
    "load_banned_words",
    "save_banned_words",
    "weighted_length",
]

NEAR_COPY_CHARS = 40
MIN_CHARS = 15
MAX_WEIGHTED_LENGTH = 280
MAX_UNKNOWN_WORD_SHARE = 0.25

#: Starter list for a health-food brand: medical claims and promises advertising rules forbid.
DEFAULT_BANNED_WORDS: tuple[str, ...] = (
    "cure",
    "cures",
    "miracle",
    "guaranteed",
    "detox your",
    "treats cancer",
    "prescription",
    "治愈",
    "根治",
    "神药",
)


def weighted_length(text: str) -> int:
    """X's weighted length of ``text`` (URLs 23, CJK and emoji 2, others 1)."""
    return int(parse_tweet(text).weightedLength)


def canonical(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return re.sub(r"\s+", " ", to_units(text).casefold()).strip()


_WORD_RE = re.compile(r"[a-zA-Z\u00c0-\u024f]+(?:'[a-zA-Z\u00c0-\u024f]+)?")


def _latin_words(text: str) -> list[str]:
    """Latin-script words of a text, case-folded, without URLs, mentions and hashtags."""
    text = re.sub(r"#\w+", " ", URL_OR_MENTION.sub(" ", text))
    return _WORD_RE.findall(text.casefold())


class NearCopyIndex:
    """Every 40-character piece of a corpus, to tell whether a draft copies one of its posts.

    It also keeps the corpus's words, so a draft made mostly of words the operator never wrote
    (a language model's invented spellings) is caught as garbage.
    """

    def __init__(self, posts: Iterable[str], *, chars: int = NEAR_COPY_CHARS) -> None:
        self.chars = chars
        self._pieces: set[int] = set()
        self._starts: set[int] = set()  # the first chars - 1 characters of every piece
        self.words: set[str] = set()
        for post in posts:
            canon = canonical(post)
            self._pieces.update(hash(canon[i : i + chars]) for i in range(len(canon) - chars + 1))
            self._starts.update(hash(canon[i : i + chars - 1]) for i in range(len(canon) - chars + 1))
            self.words.update(_latin_words(post))

    def unknown_words(self, text: str) -> list[str]:
        """Latin-script words of ``text`` that never occur in the corpus."""
        return [w for w in _latin_words(text) if w not in self.words]

    def __len__(self) -> int:
        return len(self._pieces)

    def may_copy(self, tail: str) -> bool:
        """Whether ``tail`` (canonical: case-folded, spaces collapsed) ends with ``chars - 1``
        characters that start a piece of the corpus: the next character may complete a copy."""
        return len(tail) >= self.chars - 1 and hash(tail[-(self.chars - 1) :]) in self._starts

    def copies_piece(self, tail: str) -> bool:
        """Whether the last ``chars`` characters of the canonical ``tail`` are a piece of the corpus."""
        return len(tail) >= self.chars and hash(tail[-self.chars :]) in self._pieces

    def copies(self, text: str) -> bool:
        """Whether ``text`` shares ``chars`` or more consecutive characters with a corpus post."""
        canon = canonical(text)
        return any(hash(canon[i : i + self.chars]) in self._pieces for i in range(len(canon) - self.chars + 1))


@dataclass(frozen=True)
class DraftCheck:
    """What the checks say about one draft."""

    text: str
    weighted_length: int
    reasons: list[str]
    near_copy: bool = False

    @property
    def passes(self) -> bool:
        return not self.reasons


def _banned_hits(text: str, banned_words: Sequence[str]) -> list[str]:
    folded = unicodedata.normalize("NFC", text).casefold()
    hits = []
    for word in banned_words:
        word = unicodedata.normalize("NFC", word.strip()).casefold()
        if not word:
            continue
        if word.isascii():
            if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", folded):
                hits.append(word)
        elif word in folded:
            hits.append(word)
    return hits


def _garbage_reasons(text: str) -> list[str]:
    stripped = text.strip()
    if not stripped:
        return ["empty"]
    reasons = []
    if URL in stripped or MENTION in stripped or "\ufffd" in stripped:
        reasons.append("contains an unknown symbol")
    content = URL_OR_MENTION.sub("", stripped)
    # What a reader sees: no spaces, and no invisible or combining marks (Weibo posts end in
    # zero-width spaces; an emoji carries a variation selector), which are neither words nor symbols.
    visible = [c for c in content if not c.isspace() and unicodedata.category(c) not in _INVISIBLE]
    letters = sum(1 for c in visible if c.isalpha())
    # Counted as X counts them (a Chinese character is 2): ten characters make a Chinese post.
    size = weighted_length(content) if content else 0
    if size < MIN_CHARS:
        reasons.append(f"too short ({size} characters, at least {MIN_CHARS})")
    elif letters < 0.5 * len(visible):
        reasons.append("mostly symbols, not words")
    if re.search(r"(.)\1{4,}", content):
        reasons.append("a character repeated 5 or more times")
    if re.search(r"[A-Za-z0-9_./-]{40,}", content):
        reasons.append("a word of 40 or more characters")
    return reasons


_INVISIBLE = frozenset({"Cf", "Mn", "Me"})
URL_OR_MENTION = re.compile(r"(?:https?://|www\.)\S+|(?<![\w@])@\w{1,30}", re.IGNORECASE)


def check_draft(
    text: str,
    *,
    near_copy: NearCopyIndex | None = None,
    banned_words: Sequence[str] = DEFAULT_BANNED_WORDS,
    max_weighted_length: int = MAX_WEIGHTED_LENGTH,
) -> DraftCheck:
    """Run every check on a draft.

    Parameters
    ----------
    text
        The draft as it would be posted.
    near_copy
        Index of the corpus posts (no near-copy or made-up-word check without one).
    banned_words
        Words and phrases a draft must not contain.
    max_weighted_length
        X's limit (280).

    Returns
    -------
    DraftCheck
        Weighted length and the reasons it fails (none: it passes).
    """
    length = weighted_length(text) if text else 0
    reasons = _garbage_reasons(text)
    if length > max_weighted_length:
        reasons.append(f"too long for X ({length} of {max_weighted_length})")
    if near_copy is not None and near_copy.words and not reasons:
        words = _latin_words(text)
        unknown = near_copy.unknown_words(text)
        if len(words) >= 4 and len(unknown) > MAX_UNKNOWN_WORD_SHARE * len(words):
            reasons.append(
                f"mostly made-up words ({len(unknown)} of {len(words)} not in the corpus, "
                f"e.g. {', '.join(unknown[:3])})"
            )
    copies = bool(near_copy is not None and text and near_copy.copies(text))
    if copies:
        reasons.append(f"near-copy of a corpus post ({near_copy.chars}+ characters in common)")
    for word in _banned_hits(text, banned_words):
        reasons.append(f"banned word: {word}")
    return DraftCheck(text, length, reasons, copies)


BANNED_WORDS_SETTING = "content.banned_words"


def load_banned_words(ws: Workspace) -> list[str]:
    """The workspace's banned words (the starter list until the operator edits it)."""
    stored = ws.get_setting(BANNED_WORDS_SETTING)
    return list(DEFAULT_BANNED_WORDS) if stored is None else list(json.loads(stored))


def save_banned_words(ws: Workspace, words: Iterable[str]) -> list[str]:
    """Store banned words (one per entry; blanks and repeats dropped); return what was stored."""
    clean = list(dict.fromkeys(w.strip() for w in words if w and w.strip()))
    with ws.connect() as con:
        ws.set_setting(BANNED_WORDS_SETTING, json.dumps(clean, ensure_ascii=False), con=con)
        ws.audit("content.banned_words", {"count": len(clean)}, con=con)
    return clean
