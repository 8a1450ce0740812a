"""Writing from the model: temperature, top-k/top-p, and the rules that keep drafts to what the checks accept."""

from __future__ import annotations

import functools
import logging
import math
import unicodedata
from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from core.content.checks import (
    weighted_length,
)
from core.content.corpus import (
    EOS,
    MENTION,
    PAD,
    UNK,
    URL,
    Vocabulary,
    normalise_post,
    restore_placeholders,
)
from core.content.lexicon import (
    ANY_WORD,
    LATIN_LETTER,
    START,
    Lexicon,
    WordKey,
    WordState,
    canonical_tail,
    cut_at_boundary,
    sentence_words,
)
from core.content.registry import ContentError

log = logging.getLogger(__name__)

#: Sampling temperature of the page and the CLI: below 1 favours the corpus's own words (on the
#: demo corpus 0.5 reads better than 0.7: 1.18 vs 1.43 bits/char of drafts under the model).
DEFAULT_TEMPERATURE = 0.5
#: While writing, at least this share of the n-gram part goes to the segment's and topic's own
#: n-grams (scoring keeps the weights tuned on validation posts): drafts for a segment then read
#: like that segment's posts rather than like the corpus at large.
DEFAULT_FOCUS = 0.6
#: The sampler never writes a symbol more times in a row (the checks reject 5).
MAX_RUN = 5
#: Most URL/@mention placeholders the sampler writes in a row (spaces between them included).
MAX_PLACEHOLDER_RUN = 3
#: The sampler completes no third copy in a row of a piece of 2 to this many symbols.
MAX_REPEATED_PIECE = 6
#: A sentence of fewer words than this is a fragment ("Breakfast. Our no-added.").
MIN_SENTENCE_WORDS = 3


def one_blas_thread(method):
    """Run numpy inference on one BLAS thread: its matrices are small, and on a busy 2-core
    machine OpenBLAS's threads wait for each other (a step took 20x longer with them)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return method(*args, **kwargs)

    return wrapper


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def forbidden_symbols(vocab: Vocabulary) -> np.ndarray:
    """Symbols that never come next in a post: padding and the control tokens."""
    forbidden = np.ones(vocab.size, dtype=bool)
    forbidden[vocab.first_char :] = False
    forbidden[[EOS, UNK]] = False
    return forbidden


def label_array(known: Sequence[str], labels: Sequence[str] | None, n: int) -> np.ndarray:
    """Label ids for the per-label n-grams: 1 + the label's index in ``known``, 0 when unknown."""
    index = {label: i + 1 for i, label in enumerate(known)}
    return np.array([index.get(label, 0) for label in labels] if labels else [0] * n, dtype=np.int64)


def ngram_ids(vocab: Vocabulary, ids):
    """The n-gram's ids of LSTM symbols: 1 end of post, 2 unknown, 3... characters."""
    ids = np.asarray(ids, dtype=np.int64)
    return np.where(ids >= vocab.first_char, ids - vocab.first_char + 3, ids)


class Sampler:
    """Writing from a :class:`~core.content.model.LanguageModel`: the sampler and its word rules."""

    @one_blas_thread
    def sample(
        self,
        n: int,
        *,
        seed: int = 0,
        temperature: float = DEFAULT_TEMPERATURE,
        top_k: int | None = 40,
        top_p: float | None = 0.95,
        max_length: int = 280,
        opening: str = "",
        controls: Sequence[tuple[str, str]] | None = None,
        min_length: int = 0,
        max_weighted_length: int | None = None,
        link: str | None = None,
        known_words: bool = True,
        focus: float | None = DEFAULT_FOCUS,
        avoid_copies: bool = True,
        enough: int | None = None,
    ) -> list[str]:
        """``n`` raw samples in parallel (placeholders still in), each with its (segment, topic).

        One long function on purpose: it is the per-symbol loop over a batch, and every rule reads and
        updates the same per-row arrays; helpers called per symbol would cost more than the LSTM step.

        A sample ends at the end-of-post symbol. One that reaches ``max_length`` symbols, or whose
        next symbol would take it past ``max_weighted_length`` (X's weighted length once ``link``
        and the corpus's mentions are put back), is cut after its last full sentence, or else
        its last full word, so it never runs over and never stops mid-word.

        Parameters
        ----------
        n
            Number of samples, drawn as one batch.
        seed
            Seed of the only random generator used: the same call gives the same texts.
        temperature
            Softmax temperature (> 0); lower is safer, higher is more varied.
        top_k, top_p
            Keep only the ``top_k`` most likely symbols / the smallest set with ``top_p`` of the mass.
        max_length
            Most symbols written after ``opening``.
        opening
            Words every sample starts with.
        controls
            Per sample ``(segment, topic)``; labels the model does not know mean "any".
        min_length
            The end of post is not drawn before the draft (opening included, links and mentions
            not) weighs this much as X counts it (a Chinese character 2).
        max_weighted_length
            X's limit for the whole draft, opening included (None: only ``max_length`` counts).
        link
            What URL placeholders become (see :meth:`symbol_weights`; without a link they are dropped).
        known_words
            Spell only Latin-script words the corpus has (:class:`Lexicon`); other scripts are free.
        focus
            Least share of the n-gram part for the segment's and topic's own n-grams
            (:meth:`label_weights`; None: the weights tuned for scoring).
        avoid_copies
            Never write the symbol that would make the last 40 characters (as the near-copy check
            compares them) a piece of a corpus post.
        enough
            Stop writing once this many samples have ended; the others are cut like
            one that reached the limit (None: write until every sample ends). A caller that keeps
            the best few of many samples saves the steps of the longest ones.
        """
        if n < 1:
            raise ContentError(f"n={n} must be at least 1")
        if not 0.05 <= temperature <= 3.0:
            raise ContentError(f"temperature={temperature} must be between 0.05 and 3")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            raise ContentError(f"top_p={top_p} must be in (0, 1]")
        rng = np.random.default_rng(seed)
        controls = list(controls or [("", "")] * n)
        if len(controls) < n:
            controls = [controls[i % len(controls)] for i in range(n)]
        ids = [self.vocab.control_ids(s, t) for s, t in controls[:n]]
        labels = self._label_ids([s for s, _ in controls[:n]], [t for _, t in controls[:n]], n)
        state = self._zero_state(n)
        _, state = self._step(np.array([i[0] for i in ids]), state)
        logits, state = self._step(np.array([i[1] for i in ids]), state)
        mixes = self.mixes
        # The n-gram's context: the last order - 1 symbols written, left-padded like a post's start.
        context = np.zeros((n, max(self.info.mix_order - 1, 1)), dtype=np.int64)
        weights = self.symbol_weights(link)
        content_weights = self.symbol_weights(None)
        content_weights[[self.vocab.char_ids[p] for p in (URL, MENTION) if p in self.vocab.char_ids]] = 0
        limit = math.inf if max_weighted_length is None else float(max_weighted_length)
        used = np.zeros(n)
        content_used = np.zeros(n)
        is_letter, is_visible = self._letter_table
        letters = np.zeros(n)
        visible = np.zeros(n)
        lexicon = self.lexicon if known_words else None
        word: WordState = START  # where the opening leaves the words (the same for every row so far)
        tail = ""  # the last characters written, as the near-copy check compares them
        opening = normalise_post(opening)
        if opening:
            for c in self.vocab.encode(opening)[0][:-1]:
                if c == UNK:
                    continue
                logits, state = self._step(np.full(n, c), state)
                context = np.roll(context, -1, axis=1)
                context[:, -1] = ngram_ids(self.vocab, c)
                used += weights[c]
                content_used += content_weights[c]
                letters += is_letter[c]
                visible += is_visible[c]
                word = self._advance_word(word, c, self.lexicon.word_key(word) if known_words else ANY_WORD)
                tail = canonical_tail(tail, self._canonical_char[c])
        words = [word] * n
        tails = [tail] * n
        guard = self.near_copy_index if avoid_copies else None
        forbidden = forbidden_symbols(self.vocab)
        placeholders = [self.vocab.char_ids[p] for p in (URL, MENTION) if p in self.vocab.char_ids]
        spaces = np.zeros(self.vocab.size, dtype=bool)
        spaces[[i for c, i in self.vocab.char_ids.items() if c.isspace()]] = True
        n_allowed = int((~forbidden).sum()) - 1  # the unknown symbol is never written
        k = n_allowed if top_k is None or top_k <= 0 else min(top_k, n_allowed)
        written = np.full((n, max_length), EOS, dtype=np.int64)
        last = np.full(n, PAD)
        run = np.zeros(n, dtype=np.int64)
        placeholder_run = np.zeros(n, dtype=np.int64)
        done = np.zeros(n, dtype=bool)
        cut = np.ones(n, dtype=bool)  # cleared when a row ends with its own end of post
        rows = np.arange(n)
        for step in range(max_length):
            z = logits.astype(np.float64)
            z[:, forbidden] = -np.inf
            z -= z.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(z).sum(axis=1, keepdims=True))
            z[:, UNK] = -np.inf
            # No end of post before the draft's words weigh min_length (a Chinese character 2), nor
            # while it is mostly symbols ("我的天！！！！。"): the checks would reject it.
            z[(content_used < min_length) | (letters < 0.5 * visible), EOS] = -np.inf
            # No fifth copy of a symbol in a row: such a draft would fail the garbage check anyway.
            z[run >= MAX_RUN - 1, last[run >= MAX_RUN - 1]] = -np.inf
            # No symbol that completes a third copy in a row of a short piece ("[哈哈][哈哈][哈哈]",
            # "so so so"); "banana" (a, then "an" twice) is fine.
            for width in range(2, MAX_REPEATED_PIECE + 1):
                if step >= 3 * width - 1:
                    first = written[:, step - 3 * width + 1 : step - 2 * width + 1]
                    second = written[:, step - 2 * width + 1 : step - width + 1]
                    third = written[:, step - width + 1 : step]
                    again = (first == second).all(axis=1) & (third == second[:, :-1]).all(axis=1)
                    z[again, second[again, -1]] = -np.inf
            # No long rows of @mentions or links (spaces between them count as part of the row).
            if placeholders:
                z[np.ix_(placeholder_run >= MAX_PLACEHOLDER_RUN, placeholders)] = -np.inf
            if lexicon is not None:
                # Between words, which word may come next: as the corpus joins words, and not the
                # one that would go on copying a post (the row keeps it until the word ends).
                keys = [
                    lexicon.word_key(w, tails[r] if guard is not None else "") if not w[0] else w[1]
                    for r, w in enumerate(words)
                ]
                blocked = np.stack([lexicon.blocked(w[0], key) for w, key in zip(words, keys, strict=True)])
                # No capital inside a word begun in lower case ("bananA"); "NEW" and "Oats" are fine.
                blocked |= lexicon.upper[None, :] & lexicon.lower[last][:, None]
                # A row whose every remaining symbol is blocked (rare) is left free rather than stuck.
                free = ~np.isfinite(np.where(blocked, -np.inf, z)).any(axis=1)
                z[blocked & ~free[:, None]] = -np.inf
            # Only the k symbols the LSTM likes best are candidates: sorting and the n-gram's
            # look-ups touch k columns, not the vocabulary.
            cand = np.argpartition(-z, k - 1, axis=1)[:, :k]
            prob = np.exp(np.take_along_axis(z, cand, axis=1) - log_norm)
            allowed = np.isfinite(np.take_along_axis(z, cand, axis=1))
            if mixes:  # rows already ended write nothing more: their n-gram look-ups are skipped
                active = np.flatnonzero(~done)
                prob[active] = self._mix_next(
                    prob[active],
                    context[active],
                    ngram_ids(self.vocab, cand[active]),
                    {kind: ids[active] for kind, ids in labels.items()},
                    focus,
                    where=allowed[active],
                )
            # Symbols masked above stay out, whatever the n-gram thinks of them.
            prob = np.where(allowed, prob, 0.0)
            # No symbol that completes a piece of a corpus post as long as the near-copy check's.
            if guard is not None:
                for r in np.flatnonzero(~done):
                    if guard.may_copy(tails[r]):
                        copying = np.array(
                            [
                                guard.copies_piece(canonical_tail(tails[r], self._canonical_char.get(int(c), "\0")))
                                for c in cand[r]
                            ]
                        )
                        # Unless copying is all that is left (the spelling of a word leads there).
                        if ((prob[r] > 0) & ~copying).any():
                            prob[r, copying] = 0.0
            zc = np.log(np.maximum(prob, 1e-300)) / temperature
            zc[prob <= 0] = -np.inf
            if temperature != 1.0:
                self._untempered_end(zc, prob, cand == EOS)
            order = np.argsort(-zc, axis=1, kind="stable")
            cand, zc = np.take_along_axis(cand, order, axis=1), np.take_along_axis(zc, order, axis=1)
            p = np.exp(zc - zc[:, :1])
            p /= p.sum(axis=1, keepdims=True)
            if top_p is not None and top_p < 1.0:
                p = np.where(np.cumsum(p, axis=1) - p < top_p, p, 0.0)
                p /= p.sum(axis=1, keepdims=True)
            draws = rng.random(n)[:, None]
            pick = np.minimum((draws > np.cumsum(p, axis=1)).sum(axis=1), k - 1)
            choice = np.where(done, EOS, cand[rows, pick])
            cut &= ~(~done & (choice == EOS))
            # A symbol that would take the draft past X's limit is not written: the draft is cut.
            choice = np.where(used + weights[choice] > limit, EOS, choice)
            used += weights[choice]
            content_used += content_weights[choice]
            letters += is_letter[choice]
            visible += is_visible[choice]
            written[:, step] = choice
            run = np.where(choice == last, run + 1, 1)
            last = choice
            placeholder_run = np.where(
                np.isin(choice, placeholders), placeholder_run + 1, np.where(spaces[choice], placeholder_run, 0)
            )
            done |= choice == EOS
            if done.all() or (enough is not None and done.sum() >= enough):
                break
            for r in np.flatnonzero(~done):
                c = int(choice[r])
                if lexicon is not None:
                    words[r] = self._advance_word(words[r], c, keys[r])
                if guard is not None:
                    tails[r] = canonical_tail(tails[r], self._canonical_char[c])
            logits, state = self._step(choice, state)
            context = np.roll(context, -1, axis=1)
            context[:, -1] = ngram_ids(self.vocab, choice)
        prefix = opening + (" " if opening and not opening.endswith(" ") else "")
        texts = [self.vocab.decode(list(row)) for row in written]
        texts = [cut_at_boundary(t, min_length) if c else t for t, c in zip(texts, cut, strict=True)]
        if max_weighted_length is not None:
            # The budget above adds up symbols; X also counts a bare domain ("shop.com") as a link.
            # What still runs over loses its last word until it fits.
            texts = [self._fit(prefix, t, max_weighted_length, link, weights) for t in texts]
        return [(prefix + t).strip() for t in texts]

    @staticmethod
    def _untempered_end(zc: np.ndarray, prob: np.ndarray, is_end: np.ndarray) -> None:
        """Give the end of post, in place, the share of the candidates' mass the model gives it.

        Temperature sharpens which words come next; applied to the end of post as well, a low
        temperature also all but forbids ending (the next space always wins), and drafts ramble
        on to the limit. Here the other candidates keep their tempered proportions.
        """
        rows = np.flatnonzero(is_end.any(axis=1))
        if rows.size == 0:
            return
        col = is_end[rows].argmax(axis=1)
        total = prob[rows].sum(axis=1)
        end = prob[rows, col] / np.where(total > 0, total, 1.0)
        others = zc[rows].copy()
        others[np.arange(rows.size), col] = -np.inf
        top = others.max(axis=1)
        ok = (end > 0) & (end < 1) & np.isfinite(top)
        with np.errstate(divide="ignore", invalid="ignore"):
            rest = top + np.log(np.exp(others - top[:, None]).sum(axis=1))
            zc[rows[ok], col[ok]] = np.log(end[ok]) - np.log1p(-end[ok]) + rest[ok]

    def _fit(self, prefix: str, text: str, limit: int, link: str | None, weights: np.ndarray) -> str:
        """``text`` without as many final words as it takes for the draft to fit in ``limit``."""
        # Symbol weights plus 23 per dot (a bare domain counts as a link) bound X's count from
        # above: below the limit there is nothing to check (X's parser takes milliseconds).
        ids = self.vocab.encode(prefix + text)[0]
        if weights[ids].sum() + 23 * (prefix + text).count(".") <= limit:
            return text
        while (
            text
            and weighted_length(restore_placeholders(prefix + text, link=link, mentions=self.info.mentions)) > limit
        ):
            cut = max(text.rstrip().rfind(" "), 0)
            text = text[:cut].rstrip(" ,;:(&#/-–—")
        return text

    @functools.cached_property
    def _letters(self) -> frozenset[int]:
        """Ids of the Latin-script letters of the vocabulary."""
        return frozenset(i for c, i in self.vocab.char_ids.items() if LATIN_LETTER.fullmatch(c))

    @functools.cached_property
    def _letter_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Per symbol: is it a letter, is it a visible character (as the garbage check counts)."""
        letter = np.zeros(self.vocab.size)
        visible = np.zeros(self.vocab.size)
        for c, i in self.vocab.char_ids.items():
            if c not in (URL, MENTION) and not c.isspace() and unicodedata.category(c) not in ("Cf", "Mn", "Me"):
                visible[i] = 1.0
                letter[i] = float(c.isalpha())
        return letter, visible

    @functools.cached_property
    def _canonical_char(self) -> dict[int, str]:
        """Each symbol as the near-copy check sees it (case-folded, any space one space)."""
        out = {i: " " if c.isspace() else c.casefold() for c, i in self.vocab.char_ids.items()}
        return out | {EOS: "", UNK: "\ufffd"}

    @functools.cached_property
    def _lower(self) -> dict[int, str]:
        """Lower case of each Latin-script letter id."""
        return {i: self.vocab.chars[i - self.vocab.first_char].lower() for i in self._letters}

    def _advance_word(self, state: WordState, c: int, key: WordKey = ANY_WORD) -> WordState:
        """The sampler's :data:`WordState` after symbol ``c`` (``key``: see :meth:`Lexicon.advance`)."""
        if c in self._letters:
            return Lexicon.advance(state, self._lower[c], True, key)
        return Lexicon.advance(state, self._canonical_char.get(c, "\0") or "\0", False)

    @functools.cached_property
    def longest_sentence(self) -> int:
        """Words in a sentence the corpus rarely goes past (its 99th percentile, at least
        :data:`MIN_SENTENCE_WORDS`): a draft's sentence longer than that reads as a run-on."""
        counts = [n for post in self.posts for n in sentence_words(post) if n]
        return max(MIN_SENTENCE_WORDS, int(np.percentile(counts, 99))) if counts else 10**9

    @functools.cached_property
    def lexicon(self) -> Lexicon:
        """The corpus's Latin-script words, for the sampler (built on first use)."""
        return Lexicon(self.posts, self.vocab)

    @functools.cached_property
    def _char_weights(self) -> np.ndarray:
        weights = np.zeros(self.vocab.size)
        for c, i in self.vocab.char_ids.items():
            weights[i] = max(weighted_length(c), 1) if c not in (URL, MENTION) else 0
        return weights

    def symbol_weights(self, link: str | None = None) -> np.ndarray:
        """X's weighted length of each symbol once placeholders are restored (an upper bound).

        A URL weighs 23 or the link's length if longer (0 without ``link``: it is dropped), an
        @mention as much as the longest
        of the corpus's frequent mentions, a character its own weight (CJK and emoji 2).
        """
        weights = self._char_weights.copy()
        if URL in self.vocab.char_ids:
            # 23 after a space; glued to a word X does not see a link and counts every character.
            weights[self.vocab.char_ids[URL]] = max(23, len(link)) if link else 0
        if MENTION in self.vocab.char_ids:
            weights[self.vocab.char_ids[MENTION]] = max((weighted_length(m) for m in self.info.mentions), default=0)
        return weights
