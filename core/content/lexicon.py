"""The corpus's words and how it joins them: the word rules the sampler keeps and the seams the ranking counts."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

from core.content.checks import (
    NEAR_COPY_CHARS,
    canonical,
)
from core.content.corpus import (
    Vocabulary,
    normalise_post,
    to_units,
)

log = logging.getLogger(__name__)

#: What is not a word when counting a sentence's words: hashtags, mentions, links.
_NOT_WORDS = re.compile(r"[#@]\w+|https?://\S+")

#: A word when counting a sentence's words ("no-added" and "you're" are one).
_SENTENCE_WORD = re.compile(r"[a-zA-Z\u00c0-\u024f]+(?:['’-][a-zA-Z\u00c0-\u024f]+)*")

#: Sentences of a draft, for the fragment rule: split after . ! ? … and the Chinese stops.
SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")
#: Where a draft that reached X's limit (or the most symbols) may be cut: after a sentence ends.
_SENTENCE_END = re.compile(r"[.!?…。！？](?=\s|$)|[。！？]")
#: Latin-script letters: the words the sampler keeps to the corpus's own (see :class:`Lexicon`).
LATIN_LETTER = re.compile(r"[a-zA-Z\u00c0-\u024f]")
_LATIN_WORD = re.compile(r"[a-zA-Z\u00c0-\u024f]+")
_OPEN_LATIN_WORD = re.compile(r"[a-zA-Z\u00c0-\u024f]+$")

# ---------------------------------------------------------------------------------------------
# Inference in numpy
# ---------------------------------------------------------------------------------------------


#: What may stand between two words whose pairing the sampler keeps to the corpus's ("you're",
#: "skin-love", "oats, dates"); after anything else (a full stop, a digit, an emoji) a word starts
#: afresh.
_JOINERS = frozenset(",;:'-–—&/")

#: At a word's start, the last this many characters (as the near-copy check compares them) are
#: looked up in the corpus; when they copy a post, the word that comes next there is ruled out
#: where the two words before allow another one, so a draft leaves a post it has followed this far
#: where the corpus itself branches ...
COPY_RUN = 24
#: ... and after this many, for any word the last word allows (or, failing that, any word), well
#: before the 40 characters that make a near-copy.
COPY_RUN_LATE = 32


#: Which words the open word may be: (the words and joiners before it it is kept to, or None
#: for any word of the corpus; letters it may not start with).
WordKey = tuple["tuple[str, ...] | None", frozenset[str]]
ANY_WORD: WordKey = (None, frozenset())

#: Where the sampler is in the text, per row: (open word, which words it may be, the last two
#: words and the joiners between them, the joiners written since the last word).
WordState = tuple[str, WordKey, tuple[str, ...], str]
#: What stands before a sentence's first word in the corpus's contexts.
SENTENCE_START = "<s>"
#: After these the next word starts a sentence: one the corpus starts sentences with.
_SENTENCE_ENDS = frozenset(".!?…。！？")
#: At the start of a post or a sentence.
START: WordState = ("", ANY_WORD, (SENTENCE_START,), "")
#: After a digit, an emoji, a link, a hashtag's # or another script: any word may come.
FREE: WordState = ("", ANY_WORD, (), "")


def _joined(gap: str) -> str | None:
    """The joiners between two words ("" for a space, "," for ", "), or None when not joined."""
    gap = "".join(gap.split()).replace("’", "'")
    return gap if len(gap) <= 2 and all(c in _JOINERS for c in gap) else None


def canonical_tail(tail: str, char: str) -> str:
    """The last :data:`NEAR_COPY_CHARS` characters of a canonical text after ``char`` (spaces collapsed)."""
    if char == " " and (not tail or tail.endswith(" ")):
        return tail
    return (tail + char)[-NEAR_COPY_CHARS:]


def cut_at_boundary(text: str, min_length: int = 0) -> str:
    """A draft that had to stop early, cut after its last sentence, else its last word."""
    keep = max(min_length, len(text) // 3)
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if m.end() >= keep]
    if ends:
        return text[: ends[-1]]
    space = text.rfind(" ")
    if space >= keep:
        return text[:space].rstrip(" ,;:(&#/-–—")
    # No space late enough (Chinese, or links glued together): drop a Latin word left open.
    open_word = _OPEN_LATIN_WORD.search(text)
    if open_word and open_word.start() > 0:
        return text[: open_word.start()].rstrip(" ,;:(&#/-–—")
    return text


_TOKEN = re.compile(r"[a-zA-Z\u00c0-\u024f]+|\s+|.", re.DOTALL)


def _contexts(text: str) -> list[tuple[tuple[str, ...], str]]:
    """Each Latin-script word of ``text`` (lower case) with what the sampler keeps it to: the
    words and joiners before it as :meth:`Lexicon.advance` tracks them (empty when any may come)."""
    out = []
    state = START
    for token in _TOKEN.findall(to_units(normalise_post(text)) + "\0"):
        if LATIN_LETTER.match(token):  # a whole word: what advance() does letter by letter
            _, _, trail, gap = state
            context = (*trail, gap) if trail else None
            state = token.lower(), (context, frozenset()), trail, gap
            out.append((context or (), token.lower()))
        else:
            state = Lexicon.advance(state, " " if token.isspace() else token, False)
    return out


def _runs(contexts: list[tuple[tuple[str, ...], str]]) -> list[tuple[str, ...]]:
    """Each run of four Latin-script words of one sentence, with the joiners between them, from a
    text's :func:`_contexts`."""
    out = []
    previous: tuple[tuple[str, ...], str] | None = None
    for context, word in contexts:
        if previous and len(context) == 4 and len(previous[0]) == 4 and previous[0][2] == context[0]:
            out.append((*previous[0][:2], *context, word))
        previous = context, word
    return out


def _sentence_ends(text: str) -> list[tuple[str, ...]]:
    """The last two Latin-script words (lower case) of each sentence of ``text`` that has any."""
    out = []
    for sentence in SENTENCE_SPLIT.split(normalise_post(text)):
        words = _LATIN_WORD.findall(sentence.lower())
        if words:
            out.append(tuple(words[-2:]))
    return out


class Lexicon:
    """The Latin-script words of a corpus as prefix tables: which letter may come next in a word.

    A word is a run of Latin letters, lower-cased (``you're`` is ``you`` and ``re``). The sampler
    asks :meth:`blocked` while a word is open, so it spells only words the operator has written
    (an under-trained model otherwise invents "sumpking"), and only a word the operator has written
    after the two before it, with the same joiners (a space, a comma, an apostrophe...) between
    them; when the corpus never has those two words so, after the last one alone. "A scoop of
    collagen" may go on as "collagen in" or "collagen, flax" if the corpus has them, never as
    "collagen the". A character model sees only the last few letters before, and pieces of posts
    joined at words that never meet are what made its drafts read as collages ("Weekend the
    blender."). A sentence starts with a word the corpus starts sentences with (and its second
    word is one that follows that first word there). After a digit, an emoji, a link or another
    script any word of the corpus may start; those symbols themselves are free.

    Keeping to the corpus's word pairs also keeps a draft on one post for longer, so at a word's
    start after :data:`COPY_RUN` copied characters the word that post has next is ruled out where
    the corpus offers another, and after :data:`COPY_RUN_LATE` wherever that leads
    (:meth:`word_key`): the draft moves on to another post where their words meet.
    """

    def __init__(self, texts: Sequence[str], vocab: Vocabulary) -> None:
        self.words: set[str] = set()
        self._follow: dict[tuple[str, ...], set[str]] = {}
        self._copy_next: dict[int, dict[int, set[str]]] = {COPY_RUN: {}, COPY_RUN_LATE: {}}
        #: Hashes of the corpus's four-word runs and of its sentences' last two words (:meth:`seams`).
        self._runs: set[int] = set()
        self._ends: set[int] = {hash(end) for text in texts for end in _sentence_ends(text)}
        for text in texts:
            contexts = _contexts(text)
            self._runs.update(map(hash, _runs(contexts)))
            for context, word in contexts:
                self.words.add(word)
                if context:
                    self._follow.setdefault(context, set()).add(word)
                if len(context) == 4:
                    self._follow.setdefault(context[2:], set()).add(word)
            canon = canonical(text)
            for m in _LATIN_WORD.finditer(canon):
                for run, table in self._copy_next.items():
                    if m.start() >= run:
                        table.setdefault(hash(canon[m.start() - run : m.start()]), set()).add(m.group())
        self._tables: dict[tuple[str, ...] | None, dict[str, set[str]]] = {None: self._prefixes(self.words)}
        self._ids_by_letter: dict[str, list[int]] = {}
        for c, i in vocab.char_ids.items():
            if LATIN_LETTER.fullmatch(c):
                self._ids_by_letter.setdefault(c.lower(), []).append(i)
        self._letter_ids = [i for ids in self._ids_by_letter.values() for i in ids]
        #: Which symbols are upper-case / lower-case Latin letters.
        self.upper = np.zeros(vocab.size, dtype=bool)
        self.lower = np.zeros(vocab.size, dtype=bool)
        for c, i in vocab.char_ids.items():
            if LATIN_LETTER.fullmatch(c):
                self.upper[i], self.lower[i] = c.isupper(), c.islower()
        self._size = vocab.size
        self._cache: dict[tuple[tuple[str, ...] | None, frozenset[str], str], np.ndarray] = {}
        self._free = np.zeros(self._size, dtype=bool)

    @staticmethod
    def _prefixes(words: set[str]) -> dict[str, set[str]]:
        """Each prefix of ``words`` → the letters that may follow it."""
        table: dict[str, set[str]] = {}
        for word in words:
            for i in range(len(word)):
                table.setdefault(word[:i], set()).add(word[i])
        return table

    def joins(self, text: str) -> tuple[int, int]:
        """Of the words of ``text`` after two words the corpus has joined so (a sentence's first
        word after :data:`SENTENCE_START`): how many, and how many of those the corpus has there."""
        known = kept = 0
        for context, word in _contexts(text):
            if len(context) == 4 and (followers := self._follow.get(context)):
                known += 1
                kept += word in followers
        return known, kept

    def seams(self, text: str) -> tuple[int, int]:
        """(seams, Latin-script words) of ``text``. A seam is where it says what the corpus never
        does: a word after three words that no post has before it so, or a sentence ending on two
        words no sentence of the corpus ends on.

        The sampler joins posts where two words meet, so each seam is a place where one post's
        sentence goes on as another's, and that is where a draft's sense drifts ("Small moves
        every day is one of the month in the tray to wash.")."""
        contexts = _contexts(text)
        seams = sum(hash(run) not in self._runs for run in _runs(contexts)) + sum(
            hash(end) not in self._ends for end in _sentence_ends(text)
        )
        return seams, len(contexts)

    def _table(self, context: tuple[str, ...] | None) -> dict[str, set[str]]:
        """The prefix table of the words the corpus has after ``context`` (None: all its words)."""
        table = self._tables.get(context)
        if table is None:
            if len(self._tables) > 10_000:
                self._tables = {None: self._tables[None]}
            table = self._tables[context] = self._prefixes(self._follow[context])
        return table

    def _starts(self, key: WordKey) -> set[str]:
        """The letters a word ``key`` allows may start with."""
        context, avoid = key
        return self._table(context).get("", set()) - avoid

    def _copying(self, tail: str, run: int) -> frozenset[str]:
        """The first letters of the words that come next in the corpus after the last ``run``
        characters of ``tail`` (a word that starts the same way, "smoothie" for "smoothies", would
        go on copying as far as it agrees)."""
        if len(tail) < run:
            return frozenset()
        return frozenset(w[0] for w in self._copy_next[run].get(hash(tail[-run:]), ()))

    def word_key(self, state: WordState, tail: str = "") -> WordKey:
        """Which words may start in ``state`` (between words), with ``tail`` the text so far as
        the near-copy check compares it: those the corpus has after the two words before, else
        after the last one, else any; after :data:`COPY_RUN` copied characters less the words
        that would go on copying a post, where the two words before allow another one; after
        :data:`COPY_RUN_LATE` less those wherever that leads."""
        _, _, trail, gap = state
        contexts = ([(*trail, gap)] if len(trail) == 3 else []) + ([(trail[-1], gap)] if trail else [])
        contexts = [c for c in contexts if c in self._follow]
        if contexts and len(contexts[0]) == 4:
            avoid = self._copying(tail, COPY_RUN)
            if avoid and self._starts((contexts[0], avoid)):
                return contexts[0], avoid
        avoid = self._copying(tail, COPY_RUN_LATE)
        for context in [*contexts, None]:
            if self._starts((context, avoid)):
                return context, avoid
        return ANY_WORD

    @staticmethod
    def advance(state: WordState, char: str, letter: bool, key: WordKey = ANY_WORD) -> WordState:
        """``state`` after writing ``char`` (lower case when ``letter``, a Latin letter); ``key``:
        which words a word begun by ``char`` may be (:meth:`word_key`)."""
        word, current, trail, gap = state
        if letter:
            return word + char, (current if word else key), trail, gap
        if word:
            context = current[0]
            trail, gap = (*context[-2:-1], context[-1], word) if context else (word,), ""
        if char.isspace():
            return "", ANY_WORD, trail, gap
        if char in _SENTENCE_ENDS:
            return START
        gap += "'" if char == "’" else char
        if not trail or char not in _JOINERS or len(gap) > 2:
            return FREE
        return "", ANY_WORD, trail, gap

    def blocked(self, prefix: str, key: WordKey = ANY_WORD) -> np.ndarray:
        """Which symbols may not follow the open word ``prefix`` ("" before a word: the letters that
        start none of the words ``key`` allows). A prefix none of them starts with (a typed
        opening) leaves every symbol free."""
        context, avoid = key
        if prefix:
            avoid = frozenset()  # a word begun with a letter not ruled out: all its words allowed
        cached = self._cache.get((context, avoid, prefix))
        if cached is not None:
            return cached
        words = self._follow[context] if context is not None else self.words
        following = self._table(context).get(prefix, set()) - avoid
        if not following and prefix not in words:
            out = self._free if context is None else self.blocked(prefix)
        else:
            out = np.zeros(self._size, dtype=bool)
            if not prefix or prefix in words:
                out[self._letter_ids] = True  # the word may end here, or go on as a longer word
            else:
                out[:] = True  # only a letter that keeps it a word of the corpus
            for letter in following:
                out[self._ids_by_letter.get(letter, [])] = False
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[(context, avoid, prefix)] = out
        return out


def sentence_words(text: str) -> list[int]:
    """Latin-script words in each sentence of ``text`` (hashtags and links aside; 0 for none)."""
    return [len(_SENTENCE_WORD.findall(_NOT_WORDS.sub(" ", s))) for s in SENTENCE_SPLIT.split(text.strip())]
