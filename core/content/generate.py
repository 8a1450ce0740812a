"""Drafts: write candidates, check them, rank the passing ones by fluency, and score a corpus."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from core.content.checks import (
    MIN_CHARS,
    canonical,
    check_draft,
)
from core.content.corpus import (
    Corpus,
    normalise_post,
    restore_placeholders,
)
from core.content.lexicon import sentence_words
from core.content.model import LanguageModel
from core.content.registry import ContentError
from core.content.sampling import DEFAULT_FOCUS, DEFAULT_TEMPERATURE, MIN_SENTENCE_WORDS

log = logging.getLogger(__name__)

#: Drafts written per draft returned: the most fluent passing ones are kept (:func:`generate_drafts`).
#: At least this many; for a few drafts more, up to :data:`MAX_CANDIDATES`, as long as one batch
#: stays within :data:`CANDIDATE_ROWS` (the Studio's 5 drafts get 12 candidates each, 20 drafts 3).
DEFAULT_CANDIDATES = 3
MAX_CANDIDATES = 12
CANDIDATE_ROWS = 60
#: What a fragment, or a draft that stops mid-phrase, costs in the ranking (bits per character).
FRAGMENT_PENALTY = 1.0
#: What a word joined to the two before it as the corpus never does costs in the ranking (where the
#: corpus has those two words so): the sampler must do it to leave a post it was copying.
JUNCTION_PENALTY = 0.2
#: What a seam costs in the ranking, per Latin-script word of the draft (:meth:`Lexicon.seams`: a
#: place where one post's sentence goes on as another's, which is where a draft's sense drifts).
SEAM_PENALTY = 3.0
#: A clean ending: a sentence end, a closing mark, an emoji or symbol, a hashtag, a link or mention.
_CLEAN_END = re.compile(r"(?:[.!?…。！？)\"'”’]|[^\w\s,;:(&/\-–—]|#\w+|@\w+|https?://\S+)$")

# ---------------------------------------------------------------------------------------------
# Scoring and drafts
# ---------------------------------------------------------------------------------------------


def score_corpus(lm: LanguageModel, corpus: Corpus) -> dict:
    """Bits per character of a model on every post of a corpus: ``{"bits_per_char", "n_chars"}``."""
    bits, n_chars = lm.bits_per_char(corpus.texts, segments=corpus.segments, topics=corpus.topics)
    return {"bits_per_char": bits, "n_chars": n_chars}


@dataclass(frozen=True)
class Draft:
    """A written draft with its checks."""

    text: str
    weighted_length: int
    passes: bool
    reasons: list[str]
    segment: str = ""
    topic: str = ""
    near_copy: bool = False

    def as_json(self) -> dict:
        """As printed by ``python -m core generate --json``."""
        return {
            "text": self.text,
            "weighted_length": self.weighted_length,
            "passes": self.passes,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class GenerationResult:
    """Drafts (passing ones first) and, when fewer than asked passed, why."""

    drafts: list[Draft]
    asked: int
    sampled: int
    message: str = ""

    @property
    def n_passing(self) -> int:
        return sum(d.passes for d in self.drafts)


def generate_drafts(
    lm: LanguageModel,
    *,
    n: int = 5,
    segment: str = "",
    topics: Sequence[str] = (),
    seed: int = 0,
    temperature: float = DEFAULT_TEMPERATURE,
    top_k: int | None = 40,
    top_p: float | None = 0.95,
    max_length: int = 280,
    opening: str = "",
    link: str | None = None,
    banned_words: Sequence[str] = (),
    max_weighted_length: int = 280,
    resample: bool = True,
    max_rounds: int = 6,
    known_words: bool = True,
    focus: float | None = DEFAULT_FOCUS,
    avoid_copies: bool = True,
    candidates: int | None = None,
) -> GenerationResult:
    """Write ``n`` drafts for a segment and check each; resample until ``n`` pass or give up.

    The character sampler's path (the Studio and the plan compose drafts with
    :func:`core.content.compose.compose_drafts`); kept for the bench and the model's tests. Its
    rounds share the candidates, the seen texts and the kept phrases, hence one function.

    Drafts cycle through ``topics`` (the segment's interests the model knows). URL and mention
    placeholders become ``link`` and the corpus's frequent mentions. The sampler keeps every draft
    within ``max_weighted_length`` and, with ``known_words``, to the corpus's own Latin-script words
    (:meth:`LanguageModel.sample`), and with ``focus`` leans on the segment's and topic's own
    posts. Without ``resample`` exactly ``n`` drafts come back, passing or
    not (the model card's pass rate uses that).

    Each round writes ``candidates`` drafts per draft still wanted, in one batch, and keeps the
    passing ones the model finds most fluent (:func:`draft_scores`: bits per character plus a cost
    per sentence fragment); ``candidates=1`` keeps them in the order written, None chooses by ``n``
    (:data:`DEFAULT_CANDIDATES` to :data:`MAX_CANDIDATES`).

    Returns
    -------
    GenerationResult
        Up to ``n`` drafts, passing ones first; ``message`` says why fewer passed when they did.
    """
    if n < 1 or n > 100:
        raise ContentError(f"n={n} must be between 1 and 100")
    if candidates is None:
        candidates = min(MAX_CANDIDATES, max(DEFAULT_CANDIDATES, CANDIDATE_ROWS // n))
    if candidates < 1:
        raise ContentError(f"candidates={candidates} must be at least 1")
    known_topics = [t for t in map(lm.vocab.topic_spelled, topics) if t] or [""]  # ignoring case
    passing: list[Draft] = []
    failing: list[Draft] = []
    seen: set[str] = set()
    sampled = 0
    rounds = max_rounds if resample else 1
    for round_no in range(rounds):
        want = n - len(passing)
        # Several drafts per draft wanted, written as one batch (a step costs about the same for
        # 20 rows or 60), and a few spare ones per round: most pass.
        batch = want if not resample else want + max(3, want // 4)
        batch = min(300, batch * candidates)
        controls = [(segment, known_topics[(sampled + i) % len(known_topics)]) for i in range(batch)]
        texts = lm.sample(
            batch,
            seed=seed * 1000 + round_no,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            max_length=max_length,
            opening=opening,
            controls=controls,
            min_length=MIN_CHARS,
            max_weighted_length=max_weighted_length,
            link=link,
            known_words=known_words,
            focus=focus,
            avoid_copies=avoid_copies,
            enough=None if candidates == 1 else max(want, batch // 2),
        )
        sampled += batch
        order: Sequence[int] = range(batch)
        if candidates > 1:
            # The most fluent first: fewest bits per character under the model, plus a cost per
            # sentence fragment and for an ending mid-phrase; checked in that order until enough pass.
            order = np.argsort(
                draft_scores(lm, texts, segments=[s for s, _ in controls], topics=[t for _, t in controls], link=link),
                kind="stable",
            )
        good: list[Draft] = []
        # A candidate repeating a phrase of a draft already kept waits until the others are checked:
        # five drafts that all end "in the shop and back counts" read as one.
        phrases: set[str] = set()
        for i in _spread(order, texts, phrases) if candidates > 1 else order:
            if len(good) >= want:
                break
            (seg, topic), final = controls[i], restore_placeholders(texts[i], link=link, mentions=lm.info.mentions)
            check = check_draft(
                final, near_copy=lm.near_copy_index, banned_words=banned_words, max_weighted_length=max_weighted_length
            )
            reasons = list(check.reasons)
            if final in seen:
                reasons.append("same as another draft")
            seen.add(final)
            draft = Draft(final, check.weighted_length, not reasons, reasons, seg, topic, check.near_copy)
            (good if draft.passes else failing).append(draft)
            if draft.passes:
                phrases |= _phrases(texts[i])
        passing += good
        if len(passing) >= n or (not resample and len(passing) + len(failing) >= n):
            break
    if not resample:
        drafts = (passing + failing)[:n]
        return GenerationResult(sorted(drafts, key=lambda d: not d.passes), n, sampled)
    drafts = passing[:n]
    message = ""
    if len(drafts) < n:
        reasons = [r for d in failing for r in d.reasons]
        common = max(set(reasons), key=reasons.count) if reasons else "no reason recorded"
        message = (
            f"only {len(drafts)} of {n} drafts passed the checks after {sampled} tries; "
            f"the most common problem was: {common}"
        )
        drafts += failing[: n - len(drafts)]
    return GenerationResult(drafts, n, sampled, message)


#: Drafts of one call that share this many characters (as the near-copy check compares them)
#: repeat a phrase: the later ones are checked last.
SHARED_PHRASE_CHARS = 20


def _phrases(text: str) -> set[str]:
    """Every :data:`SHARED_PHRASE_CHARS`-character piece of ``text`` as the near-copy check compares them."""
    canon = canonical(text)
    return {canon[j : j + SHARED_PHRASE_CHARS] for j in range(len(canon) - SHARED_PHRASE_CHARS + 1)}


def _spread(order: Sequence[int], texts: Sequence[str], kept: set[str]) -> Iterator[int]:
    """The indices of ``order``, but those whose text shares a phrase with ``kept`` when their
    turn comes (the caller adds the drafts it keeps) moved to the end, in their own order."""
    later = []
    for i in order:
        if _phrases(texts[i]) & kept:
            later.append(i)
        else:
            yield i
    yield from later


def fragments(text: str, max_words: int | None = None) -> int:
    """How many sentences of ``text`` are fragments (fewer than :data:`MIN_SENTENCE_WORDS` Latin-script
    words, hashtags and links aside) or run on (more than ``max_words``), plus one if it ends
    mid-phrase (on a word or a comma, not a sentence end, emoji, hashtag or link). Sentences without
    Latin-script words are not counted."""
    text = text.strip()
    count = 0
    for words in sentence_words(text):
        count += 0 < words < MIN_SENTENCE_WORDS or (max_words is not None and words > max_words)
    return count + (bool(text) and not _CLEAN_END.search(text))


def draft_scores(
    lm: LanguageModel,
    texts: Sequence[str],
    *,
    segments: Sequence[str] | None = None,
    topics: Sequence[str] | None = None,
    link: str | None = None,
) -> np.ndarray:
    """Ranking score of raw drafts (placeholders in; lower is better): the model's bits per character
    of each (its own fluency, end of post included) plus :data:`FRAGMENT_PENALTY` per
    :func:`fragments` of the draft as posted (``link`` and the corpus's mentions put back), a
    sentence longer than the corpus's run-on (:attr:`LanguageModel.longest_sentence`) included,
    plus :data:`JUNCTION_PENALTY` per word joined as the corpus never does (:meth:`Lexicon.joins`),
    plus :data:`SEAM_PENALTY` times the draft's seams per word (:meth:`Lexicon.seams`)."""
    texts = [normalise_post(t) for t in texts]
    bits = lm.post_bits(texts, segments=segments, topics=topics)
    per_char = bits / np.array([len(t) + 1 for t in texts])
    finals = [restore_placeholders(t, link=link, mentions=lm.info.mentions) for t in texts]
    longest = lm.longest_sentence
    lexicon = lm.lexicon
    breaks = np.array([known - kept for known, kept in map(lexicon.joins, texts)])
    seams = np.array([seams / max(1, words) for seams, words in map(lexicon.seams, texts)])
    return (
        per_char
        + FRAGMENT_PENALTY * np.array([fragments(t, longest) for t in finals])
        + JUNCTION_PENALTY * breaks
        + SEAM_PENALTY * seams
    )
