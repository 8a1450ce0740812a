"""Checks every draft passes before the operator sees it as "ready".

* **Length**: X's weighted length from ``twitter-text-parser`` (URLs count 23, CJK and emoji 2,
  other characters 1), at most 280 by default.
* **Near-copy**: the draft says again what one post of the corpus said: runs of 40 or more
  characters shared with that post make up 70 % or more of the draft *and* of the post (compared
  after NFC, case folding, collapsing whitespace and turning URLs and @mentions into placeholders,
  so a copied post with another link is still a copy). A sentence the brand wrote before may come
  back in a new post; the post itself may not.
* **Banned words**: an editable list; Latin-script words match whole words, case-insensitively,
  other scripts (Chinese) match anywhere.
* **Empty or garbage**: nothing written, too short (under 15 as X counts characters: CJK 2),
  mostly symbols, long runs of one character,
  leftover placeholder or unknown symbols, or (with a corpus index) more than a quarter of its
  Latin-script words never seen in the corpus.
* **Publishable** (:func:`publishing_problems`): no unresolved placeholder (``{link}``,
  ``{{ … }}``, a bare ``@mention`` token), no leading ``RT``, balanced quotes and brackets, no
  leftover HTML entity (``&amp;``), no ending mid-word or mid-sentence, no internal label (a
  segment's internal name, "× more than average", "% of them", support/lift/confidence figures),
  more than hashtags, mentions and links, no lost characters (runs of ``?`` or U+FFFD where emoji
  were), and a language the brand posts in.

The Studio, Targeting, the outbox's pre-flight and the Inbox all call :func:`check_draft`, so a
draft is publishable or not in one place.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import TYPE_CHECKING

from twitter_text import parse_tweet

from core.content.corpus import MENTION, URL, to_units, without_links_and_tags

if TYPE_CHECKING:
    from core.workspace import Workspace

__all__ = [
    "DEFAULT_BANNED_WORDS",
    "NEAR_COPY_CHARS",
    "NEAR_COPY_SHARE",
    "DraftCheck",
    "NearCopyIndex",
    "banned_hits",
    "check_draft",
    "load_banned_words",
    "publishing_problems",
    "save_banned_words",
    "script_of",
    "weighted_length",
]

NEAR_COPY_CHARS = 40
#: Share of the draft and of the post that shared runs must cover for the draft to repeat the post.
NEAR_COPY_SHARE = 0.7
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


def similar(a: Sequence, b: Sequence, at_least: float) -> bool:
    """Whether difflib's similarity ratio of ``a`` and ``b`` (texts or word lists) reaches ``at_least``.

    The same answer as ``SequenceMatcher(None, a, b, autojunk=False).ratio() >= at_least``, with
    difflib's cheap upper bounds ruling out most pairs before the full comparison.
    """
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return matcher.real_quick_ratio() >= at_least and matcher.quick_ratio() >= at_least and matcher.ratio() >= at_least


def canonical(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return re.sub(r"\s+", " ", to_units(text).casefold()).strip()


_WORD_RE = re.compile(r"[a-zA-Z\u00c0-\u024f]+(?:'[a-zA-Z\u00c0-\u024f]+)?")


def _latin_words(text: str) -> list[str]:
    """Latin-script words of a text, case-folded, without URLs, mentions and hashtags."""
    text = re.sub(r"#\w+", " ", URL_OR_MENTION.sub(" ", text))
    return _WORD_RE.findall(text.casefold())


class NearCopyIndex:
    """Every 40-character piece of a corpus, to tell whether a draft repeats one of its posts.

    It also keeps the corpus's words, so a draft made mostly of words the operator never wrote
    (a language model's invented spellings) is caught as garbage.
    """

    def __init__(self, posts: Iterable[str], *, chars: int = NEAR_COPY_CHARS) -> None:
        self.chars = chars
        self._pieces: set[int] = set()
        self._starts: set[int] = set()  # the first chars - 1 characters of every piece
        self._posts: list[str] = []  # canonical, to find the post a shared piece comes from
        self.words: set[str] = set()
        #: Scripts the corpus posts in (a script under 2 % of posts does not count).
        self.scripts: set[str] = set()
        scripts: dict[str, int] = {}
        n_posts = 0
        for post in posts:
            n_posts += 1
            script = script_of(post)
            scripts[script] = scripts.get(script, 0) + 1
            canon = canonical(post)
            self._posts.append(canon)
            self._pieces.update(hash(canon[i : i + chars]) for i in range(len(canon) - chars + 1))
            self._starts.update(hash(canon[i : i + chars - 1]) for i in range(len(canon) - chars + 1))
            self.words.update(_latin_words(post))
        self.scripts = {k for k, v in scripts.items() if k and v >= 0.02 * n_posts}

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

    def shares_run(self, text: str) -> bool:
        """Whether ``text`` shares ``chars`` or more consecutive characters with a corpus post."""
        canon = canonical(text)
        return any(hash(canon[i : i + self.chars]) in self._pieces for i in range(len(canon) - self.chars + 1))

    def copies(self, text: str) -> bool:
        """Whether ``text`` repeats a corpus post: shared runs of ``chars`` or more characters cover
        :data:`NEAR_COPY_SHARE` of the text and of that post."""
        canon = canonical(text)
        shared = [i for i in range(len(canon) - self.chars + 1) if hash(canon[i : i + self.chars]) in self._pieces]
        # The first piece of each run of shared pieces; each run covers its pieces and chars - 1 more.
        firsts = [i for k, i in enumerate(shared) if k == 0 or shared[k - 1] != i - 1]
        if len(shared) + (self.chars - 1) * len(firsts) < NEAR_COPY_SHARE * len(canon):
            return False
        posts = {p for p, post in enumerate(self._posts) if any(canon[i : i + self.chars] in post for i in firsts)}
        for p in posts:
            post = self._posts[p]
            covered: set[int] = set()
            for i in shared:
                if canon[i : i + self.chars] in post:
                    covered.update(range(i, i + self.chars))
            if len(covered) >= NEAR_COPY_SHARE * len(canon) and len(covered) >= NEAR_COPY_SHARE * len(post):
                return True
        return False


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


def banned_hits(text: str, banned_words: Sequence[str]) -> list[str]:
    """The banned words and phrases ``text`` contains (whole words for Latin ones), folded as compared."""
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


#: What an export writes where a link or a mention was, and what a template leaves unfilled.
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{\s*\w+\s*\}|(?<![\w@])@mention\b|\[(?:link|url|mention)\]", re.I)
_RETWEET = re.compile(r"^\W{0,3}RT\b", re.I)
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,8});", re.I)
#: Characters lost on the way: runs of "?" or U+FFFD where emoji were, and mojibake (UTF-8 read as
#: Latin-1 or Mac Roman: "â€™", "Ã©", "äóî").
_LOST = re.compile(r"\?{2,}|\ufffd|â€|Ã[\u0080-\u00bf]|äó[\u0080-\u017f]|Â[\u00a0-\u00bf]")
#: An unfinished ending: a joining mark, or a last word no sentence ends on ("… into your").
_OPEN_END = re.compile(r"[,;:(\-–—&/，、：；（]$")
_NON_FINAL = frozenset(
    """a an the and or but nor of to in into on onto at for with from by as than that which who whose your
    our my their his her its is are was were be been being will would can could should shall may might
    must has have had do does did not very so if because while when where whether about over under
    between through without""".split()
)
#: Analysis that must not reach public copy: "3.0× more than average", "82% of them", "lift 2.1".
_ANALYTICS = re.compile(
    r"\d(?:\.\d+)?\s*[×x]\s*(?:more|less|as likely)|\bmore than average\b|\d+\s*%\s*of them\b"
    r"|\b(?:support|lift|confidence|leverage|conviction|silhouette)\s*(?:of|=|:|is)?\s*\d",
    re.I,
)
_ANALYTICS_ZH = re.compile(r"支持度|置信度|提升度|\d+(?:\.\d+)?\s*倍于平均|高出平均")
_PAIRS = (("(", ")"), ("[", "]"), ("“", "”"), ("「", "」"), ("（", "）"), ("【", "】"))
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")


def script_of(text: str) -> str:
    """The main script of a text: "han" (Chinese characters), "latin", or "" (neither)."""
    content = without_links_and_tags(text)
    han, latin = len(_HAN_RE.findall(content)), len(_LATIN_RE.findall(content))
    if not han and not latin:
        return ""
    return "han" if han * 2 >= latin else "latin"


def _unbalanced(text: str) -> list[str]:
    marks = []
    # straight double quotes pair up; an apostrophe is not a quote
    if text.count('"') % 2:
        marks.append('"')
    for opening, closing in _PAIRS:
        depth = 0
        for c in text:
            depth += (c == opening) - (c == closing)
            if depth < 0:
                break
        if depth:
            marks.append(opening + closing)
    return marks


def _ends_mid_sentence(text: str) -> bool:
    """On a joining mark, or on a word no sentence ends on ("… into your")."""
    last = re.findall(r"[A-Za-z']+", text[-30:])
    return bool(_OPEN_END.search(text) or (last and text[-1].isalpha() and last[-1].casefold() in _NON_FINAL))


def publishing_problems(
    text: str, *, internal_names: Sequence[str] = (), languages: Sequence[str] | None = None, style: bool = True
) -> list[str]:
    """Why ``text`` cannot be published as it stands (none: it can), in words an owner acts on.

    Parameters
    ----------
    style
        Also judge how it reads (an unfinished ending, unbalanced quotes): for drafts Reach wrote.
        The outbox checks what the owner typed without it; the rest (placeholders, ``RT``,
        entities, lost characters, analysis wording) never goes out.
    internal_names
        Names that are Reach's own and never public (the segments' internal names).
    languages
        Scripts the brand posts in ("latin", "han"); None accepts any.
    """
    stripped = text.strip()
    problems = []
    if placeholder := _PLACEHOLDER.search(stripped):
        problems.append(f"an unfilled placeholder ({placeholder.group(0)})")
    if _RETWEET.search(stripped):
        problems.append("starts with RT (a retweet, not a post of yours)")
    for mark in _unbalanced(stripped) if style else ():
        problems.append(f"unbalanced {mark}")
    if entity := _ENTITY.search(stripped):
        problems.append(f"an HTML entity ({entity.group(0)}) instead of its character")
    if _LOST.search(stripped):
        problems.append("lost characters (?? or �, where emoji or Chinese were)")
    if style and _ends_mid_sentence(stripped):
        problems.append("ends mid-sentence")
    if stripped and not re.search(r"\w", without_links_and_tags(stripped)):
        problems.append("only hashtags, mentions or links")
    folded = stripped.casefold()
    for name in internal_names:
        name = name.strip()
        if len(name) >= 3 and name.casefold() in folded:
            problems.append(f"names an internal segment ({name})")
    if analysis := _ANALYTICS.search(stripped) or _ANALYTICS_ZH.search(stripped):
        problems.append(f"analysis wording in public copy ({analysis.group(0)})")
    script = script_of(stripped)
    if languages is not None and script and script not in languages:
        wanted = " or ".join({"latin": "English", "han": "Chinese"}.get(s, s) for s in languages) or "none"
        problems.append(f"not in a language you post in ({wanted})")
    return problems


def check_draft(
    text: str,
    *,
    near_copy: NearCopyIndex | None = None,
    banned_words: Sequence[str] = DEFAULT_BANNED_WORDS,
    max_weighted_length: int | None = MAX_WEIGHTED_LENGTH,
    internal_names: Sequence[str] = (),
    languages: Sequence[str] | None = None,
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
        X's limit (280) by X's weighted count; None leaves the length to the caller, which checks it
        by the count and limit of the channel the draft is for.
    internal_names, languages
        See :func:`publishing_problems` (with a corpus index, ``languages`` defaults to its scripts).

    Returns
    -------
    DraftCheck
        Weighted length and the reasons it fails (none: it passes).
    """
    length = weighted_length(text) if text else 0
    reasons = _garbage_reasons(text)
    if languages is None and near_copy is not None and near_copy.scripts:
        languages = sorted(near_copy.scripts)
    reasons += [
        r for r in publishing_problems(text, internal_names=internal_names, languages=languages) if r not in reasons
    ]
    if max_weighted_length is not None and length > max_weighted_length:
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
        reasons.append("near-copy: it says again what one of your posts said")
    for word in banned_hits(text, banned_words):
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
