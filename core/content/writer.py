"""The writer: a character-level LSTM language model trained on the operator's own posts.

Each post is fed as ``<segment> <topic> c1 c2 ... cn`` and the model predicts ``c1 ... cn <eos>``:
two control tokens say which segment and topic the post is for ("any" when the corpus has no such
label; a share of training posts has them blanked so the model also writes without them).
URLs and @mentions are single placeholder symbols (:mod:`core.content.corpus`).

* **Training** (:func:`train_model`) uses Keras on TensorFlow, imported only inside the function.
  Posts are batched by length with padding masked out, Adam with gradient clipping, early stopping
  on validation loss with the best weights kept, an optional time budget, a progress callback and
  a cancel check. The same seed gives the same model.
* **Mixture**: the model that scores and writes is ``w * p_lstm + (1 - w) * p_ngram``, the LSTM
  interpolated with the Kneser-Ney n-gram of :mod:`core.content.ngram` (fitted on the same training posts).
  Both are distributions over the same symbols (characters, unknown, end of post), so the mixture
  is one too. The weight ``w`` and the n-gram's order are chosen on the validation posts after
  training (:func:`tune_mixture`); ``w = 1`` is the LSTM alone. A small corpus leans on the
  n-gram, a large one on the LSTM. When posts carry segment or topic labels, the n-gram part is
  itself a mixture of the whole corpus's n-gram and the n-grams of the post's own segment and
  own topic (counts kept per label), with weights tuned on the same validation posts
  (:func:`tune_label_weights`): the control tokens then change the probabilities measurably even
  when the LSTM has had a minute to learn.
* **Sampling** (:meth:`LanguageModel.sample`) writes from the mixture with temperature, top-k and
  top-p, and steers clear of what the checks would reject: never past X's weighted limit (a draft
  that reaches it is cut after its last sentence or word), at most three @mentions/links in a row,
  no third copy in a row of a short piece, no end of post while the draft is too short or mostly
  symbols, only Latin-script words the corpus has, each after the words before it only as the
  corpus has them (:class:`Lexicon`: the two words before, else the one; a sentence's first word
  one the corpus starts sentences with), and no 40-character piece of a corpus post (after 24 to 32
  copied characters the draft leaves the post at a word). For a segment, at least
  :data:`DEFAULT_FOCUS` of the n-gram part is on the segment's and topic's own n-grams (split
  :data:`FOCUS_SPLIT`). Temperature sharpens the choice of words but not of the end
  of post, which keeps the model's own share (a low temperature would otherwise never end a draft).
* **Reranking** (:func:`generate_drafts`): 3 to 12 drafts are written per draft returned (more
  when fewer are asked for), in one batch, and the passing ones the model finds most fluent are
  kept: fewest bits per character under the model, plus a cost per sentence fragment or run-on,
  for ending mid-phrase, per word joined as the corpus never does, and per seam, where one post's
  sentence goes on as another's (:func:`draft_scores`).
* **Inference** (:class:`LanguageModel`) runs the trained weights in numpy, so scoring and
  sampling need no TensorFlow; the n-gram is refitted from the saved training posts on load
  (seconds for 10,000 posts; its tables are far larger than the posts).
* **Quality** is exact **bits per character**: over every post, ``-log2 p`` of each character
  and of one end-of-post symbol, divided by ``len(post) + 1``, on NFC text otherwise unchanged.
  Unknown characters and the spelling of URLs and @mentions are paid for in full
  (:class:`core.content.corpus.Vocabulary`, :class:`core.content.corpus.SpanModel`), identically for the
  n-gram baseline (:mod:`core.content.ngram`).

Models live in ``REACH_HOME/models/<model_id>/``: ``model.keras`` (the Keras model),
``weights.npz`` (the same weights for numpy inference), ``vocab.json``, ``spans.json``,
``posts.json`` (the corpus, for the near-copy check), ``ngram_posts.json`` and ``ngram_labels.json``
(which of those posts the n-grams are fitted on, and their labels) and ``meta.json`` (the model card).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import shutil
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from core.clock import utc_now
from core.content.checks import (
    MIN_CHARS,
    NEAR_COPY_CHARS,
    DraftCheck,
    NearCopyIndex,
    canonical,
    check_draft,
    weighted_length,
)
from core.content.corpus import (
    ANY_SEGMENT,
    ANY_TOPIC,
    EOS,
    MENTION,
    PAD,
    UNK,
    URL,
    Corpus,
    SpanModel,
    Vocabulary,
    frequent_placeholders,
    normalise_post,
    restore_placeholders,
    to_units,
)
from core.content.ngram import CharNgram
from core.workspace import Workspace

__all__ = [
    "DEFAULT_CANDIDATES",
    "DEFAULT_FOCUS",
    "DEFAULT_TEMPERATURE",
    "ContentError",
    "Draft",
    "GenerationResult",
    "LanguageModel",
    "Lexicon",
    "ModelInfo",
    "TrainConfig",
    "TrainingCancelledError",
    "draft_scores",
    "fragments",
    "generate_drafts",
    "list_models",
    "load_model",
    "newest_model_id",
    "score_corpus",
    "train_model",
    "tune_label_weights",
    "tune_mixture",
]

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

BASELINE_ORDERS = range(3, 10)
#: Sampling temperature of the page and the CLI: below 1 favours the corpus's own words (on the
#: demo corpus 0.5 reads better than 0.7: 1.18 vs 1.43 bits/char of drafts under the model).
DEFAULT_TEMPERATURE = 0.5
#: While writing, at least this share of the n-gram part goes to the segment's and topic's own
#: n-grams (scoring keeps the weights tuned on validation posts): drafts for a segment then read
#: like that segment's posts rather than like the corpus at large.
DEFAULT_FOCUS = 0.6
#: How that share is split between the segment's and the topic's n-grams (over the kinds the
#: corpus has). The segment counts most: the Studio asks for a segment's drafts, and spreads them
#: over its topics. On the demo, an independent classifier of segments finds the drafts' own
#: segment for 56 % of them with the focus on topics alone, 78 % with this split (its own
#: accuracy on real posts, cross-validated: 60 %).
FOCUS_SPLIT = {"segment": 2.0, "topic": 1.0}
#: The sampler never writes a symbol more times in a row (the checks reject 5).
MAX_RUN = 5
#: Most URL/@mention placeholders the sampler writes in a row (spaces between them included).
MAX_PLACEHOLDER_RUN = 3
#: The sampler completes no third copy in a row of a piece of 2 to this many symbols.
MAX_REPEATED_PIECE = 6
#: Drafts written per draft returned: the most fluent passing ones are kept (:func:`generate_drafts`).
#: At least this many; for a few drafts more, up to :data:`MAX_CANDIDATES`, as long as one batch
#: stays within :data:`CANDIDATE_ROWS` (the Studio's 5 drafts get 12 candidates each, 20 drafts 3).
DEFAULT_CANDIDATES = 3
MAX_CANDIDATES = 12
CANDIDATE_ROWS = 60
#: A sentence of fewer words than this is a fragment ("Breakfast. Our no-added.").
MIN_SENTENCE_WORDS = 3
#: What a fragment, or a draft that stops mid-phrase, costs in the ranking (bits per character).
FRAGMENT_PENALTY = 1.0
#: What a word joined to the two before it as the corpus never does costs in the ranking (where the
#: corpus has those two words so): the sampler must do it to leave a post it was copying.
JUNCTION_PENALTY = 0.2
#: What a seam costs in the ranking, per Latin-script word of the draft (:meth:`Lexicon.seams`: a
#: place where one post's sentence goes on as another's, which is where a draft's sense drifts).
SEAM_PENALTY = 3.0
#: Sentences of a draft, for the fragment rule: split after . ! ? … and the Chinese stops.
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")
#: A clean ending: a sentence end, a closing mark, an emoji or symbol, a hashtag, a link or mention.
_CLEAN_END = re.compile(r"(?:[.!?…。！？)\"'”’]|[^\w\s,;:(&/\-–—]|#\w+|@\w+|https?://\S+)$")
#: A word when counting a sentence's words ("no-added" and "you're" are one).
_SENTENCE_WORD = re.compile(r"[a-zA-Z\u00c0-\u024f]+(?:['’-][a-zA-Z\u00c0-\u024f]+)*")
#: What is not a word when counting a sentence's words: hashtags, mentions, links.
_NOT_WORDS = re.compile(r"[#@]\w+|https?://\S+")
#: Where a draft that reached X's limit (or the most symbols) may be cut: after a sentence ends.
_SENTENCE_END = re.compile(r"[.!?…。！？](?=\s|$)|[。！？]")
#: Latin-script letters: the words the sampler keeps to the corpus's own (see :class:`Lexicon`).
_LATIN_LETTER = re.compile(r"[a-zA-Z\u00c0-\u024f]")
_LATIN_WORD = re.compile(r"[a-zA-Z\u00c0-\u024f]+")
_OPEN_LATIN_WORD = re.compile(r"[a-zA-Z\u00c0-\u024f]+$")
META_FILE = "meta.json"
#: Below this many posts training uses a smaller LSTM and small batches (:meth:`TrainConfig.for_corpus`).
SMALL_CORPUS = 2_000


class ContentError(ValueError):
    """A content problem the operator can act on: unknown model, too few posts, bad settings."""


class TrainingCancelledError(ContentError):
    """Training stopped because the operator cancelled it; nothing was saved."""


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; the defaults are the Studio page's and the CLI's.

    ``max_seconds`` bounds the wall time: training stops after the batch that passes it and keeps
    the best weights seen so far. ``None`` scales it with the corpus (:meth:`time_budget`): about a
    minute for the demo's few hundred posts, 9 minutes for 10,000. The learning rate decays by
    ``lr_decay`` every epoch.

    ``units``, ``batch_size`` and ``learning_rate`` left at ``None`` follow the corpus
    (:meth:`for_corpus`): a small corpus gets a smaller LSTM and small batches, so its minute
    holds many more updates (on the demo's 335 posts, 128 units in batches of 8 reach 3.4
    bits/char alone where 256 units in batches of 64 reach 4.0).
    """

    units: int | None = None
    layers: int = 1
    embedding: int = 48
    seq_len: int = 160
    batch_size: int | None = None
    epochs: int = 30
    patience: int = 2
    learning_rate: float | None = None
    lr_decay: float = 0.9
    val_fraction: float = 0.1
    control_dropout: float = 0.15
    max_seconds: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("units", "layers", "embedding", "seq_len", "batch_size", "epochs"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ContentError(f"{name}={getattr(self, name)} must be at least 1")
        if self.layers > 3:
            raise ContentError(f"layers={self.layers} must be at most 3")
        if self.learning_rate is not None and not 0 < self.learning_rate < 1:
            raise ContentError(f"learning_rate={self.learning_rate} must be between 0 and 1")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ContentError(f"lr_decay={self.lr_decay} must be in (0, 1]")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ContentError(f"max_seconds={self.max_seconds} must be positive")
        if not 0.0 <= self.control_dropout < 1.0:
            raise ContentError(f"control_dropout={self.control_dropout} must be in [0, 1)")

    def for_corpus(self, n_posts: int) -> TrainConfig:
        """These settings with ``units``, ``batch_size`` and ``learning_rate`` chosen for ``n_posts``
        where they were left at ``None``: 128 units, batches of 8 and 1e-2 below
        :data:`SMALL_CORPUS` posts; 256 units, batches of 64 and 6e-3 from there."""
        small = n_posts < SMALL_CORPUS
        return replace(
            self,
            units=self.units or (128 if small else 256),
            batch_size=self.batch_size or (8 if small else 64),
            learning_rate=self.learning_rate or (1e-2 if small else 6e-3),
        )

    def time_budget(self, n_posts: int) -> float:
        """Training seconds for a corpus of ``n_posts``: ``max_seconds``, or 45 s + 50 ms a post, at most 540 s."""
        if self.max_seconds is not None:
            return self.max_seconds
        return min(540.0, 45.0 + 0.05 * n_posts)


@dataclass(frozen=True)
class ModelInfo:
    """The model card of a saved model (``meta.json``)."""

    model_id: str
    created_at: str
    corpus: str
    n_posts: int
    n_train: int
    n_val: int
    val_bits_per_char: float
    baseline_bits_per_char: float
    baseline_order: int
    baseline_by_order: dict[str, float]
    seconds: float
    epochs_run: int
    stopped: str
    history: list[dict]
    config: dict
    segments: list[str]
    topics: list[str]
    urls: list[str]
    mentions: list[str]
    segment_topics: dict[str, list[str]] = field(default_factory=dict)
    pass_rate: float | None = None
    near_copy_rate: float | None = None
    samples: list[str] = field(default_factory=list)
    #: Held-out bits/char of the LSTM alone (``val_bits_per_char`` is the mixture's).
    lstm_bits_per_char: float | None = None
    #: The LSTM's weight in its mixture with the n-gram (1: the LSTM alone), tuned on validation posts.
    mix_weight: float = 1.0
    #: Order of the Kneser-Ney n-gram in the mixture (0: none).
    mix_order: int = 0
    #: Weights in the mixture of the n-grams of the post's own segment and own topic (fitted on
    #: the training posts with that label); the whole corpus's n-gram has ``1 - mix_weight -
    #: segment_weight - topic_weight``.
    segment_weight: float = 0.0
    topic_weight: float = 0.0

    def as_json(self) -> dict:
        return asdict(self)

    @property
    def summary(self) -> str:
        """One line for Home and lists: "<id> · 1.92 bits/char (n-gram 2.10)"."""
        return (
            f"{self.model_id} · {self.val_bits_per_char:.2f} bits/char "
            f"(n-gram {self.baseline_bits_per_char:.2f}) · {self.n_posts:,} posts"
        )


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


def models_dir(ws: Workspace) -> Path:
    """Folder of the saved models."""
    return ws.home / "models"


def list_models(ws: Workspace) -> list[ModelInfo]:
    """Saved models, newest first (reads only the small ``meta.json`` files)."""
    out = []
    folder = models_dir(ws)
    if not folder.exists():
        return []
    for meta in folder.glob(f"*/{META_FILE}"):
        try:
            out.append(ModelInfo(**json.loads(meta.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError) as exc:
            log.warning("skipping unreadable model card %s: %s", meta, exc)
    return sorted(out, key=lambda m: (m.created_at, m.model_id), reverse=True)


def newest_model_id(ws: Workspace) -> str | None:
    """Id of the newest saved model, if any."""
    models = list_models(ws)
    return models[0].model_id if models else None


def _model_path(ws: Workspace, model_id: str | None) -> Path:
    if model_id is None:
        model_id = newest_model_id(ws)
        if model_id is None:
            raise ContentError("no model yet: train one in the Studio or with `python -m core train --corpus PATH`")
    path = models_dir(ws) / str(model_id)
    if "/" in str(model_id) or ".." in str(model_id) or not (path / META_FILE).exists():
        known = ", ".join(m.model_id for m in list_models(ws)) or "none"
        raise ContentError(f"model {model_id!r} does not exist (models: {known})")
    return path


def delete_model(ws: Workspace, model_id: str) -> None:
    """Remove a saved model."""
    path = _model_path(ws, model_id)
    shutil.rmtree(path)


# ---------------------------------------------------------------------------------------------
# Inference in numpy
# ---------------------------------------------------------------------------------------------


def _one_blas_thread(method):
    """Run numpy inference on one BLAS thread: its matrices are small, and on a busy 2-core
    machine OpenBLAS's threads wait for each other (a step took 20x longer with them)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return method(*args, **kwargs)

    return wrapper


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


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


class LanguageModel:
    """A trained model: vocabulary, weights and the corpus it learnt from; numpy inference only.

    Load one with :func:`load_model`; :func:`train_model` returns one too.
    """

    def __init__(
        self,
        info: ModelInfo,
        vocab: Vocabulary,
        spans: SpanModel,
        weights: dict[str, np.ndarray],
        posts: list[str],
        *,
        ngram: CharNgram | None = None,
        label_ngrams: dict[str, CharNgram] | None = None,
    ) -> None:
        if info.mix_weight < 1.0 and ngram is None:
            raise ContentError(
                f"model {info.model_id!r} mixes in an n-gram (weight {1 - info.mix_weight:.2f}) but none was given"
            )
        label_ngrams = dict(label_ngrams or {})
        for kind, weight in (("segment", info.segment_weight), ("topic", info.topic_weight)):
            if weight > 0 and kind not in label_ngrams:
                raise ContentError(f"model {info.model_id!r} mixes in a {kind} n-gram but none was given")
        self.info = info
        self.ngram = ngram
        #: Per-label n-grams ("segment", "topic"): counts kept per label (:mod:`core.content.ngram`).
        self.label_ngrams = label_ngrams
        self.vocab = vocab
        self.spans = spans
        self.posts = posts
        self.embedding = weights["embedding"].astype(np.float32)
        n_layers = sum(1 for k in weights if k.startswith("kernel_"))
        self.kernels = [weights[f"kernel_{i}"].astype(np.float32) for i in range(n_layers)]
        self.recurrent = [weights[f"recurrent_{i}"].astype(np.float32) for i in range(n_layers)]
        self.biases = [weights[f"bias_{i}"].astype(np.float32) for i in range(n_layers)]
        self.out_kernel = weights["out_kernel"].astype(np.float32)
        self.out_bias = weights["out_bias"].astype(np.float32)
        # The first layer's input projection of every symbol, precomputed: a lookup per step.
        self._input_table = self.embedding @ self.kernels[0] + self.biases[0]
        self._near_copy: NearCopyIndex | None = None

    @property
    def model_id(self) -> str:
        return self.info.model_id

    @property
    def units(self) -> int:
        return self.recurrent[0].shape[0]

    @property
    def near_copy_index(self) -> NearCopyIndex:
        """Index of the corpus's 40-character pieces (built on first use)."""
        if self._near_copy is None:
            self._near_copy = NearCopyIndex(self.posts)
        return self._near_copy

    def control_labels(self, segment_name: str, interests: Sequence[str] = ()) -> tuple[str, list[str]]:
        """The model's own segment label and topics for a segment from the audience step.

        A segment whose name is one of the corpus's segment labels uses it; otherwise the label
        whose posts cover most of the segment's interests (none when nothing overlaps). Topics are
        the segment's interests the model knows, or the label's most frequent topics.
        """
        labels = {s.casefold(): s for s in self.vocab.segments}
        label = labels.get(segment_name.strip().casefold(), "")
        wanted = [t for t in interests if t in self.vocab.topics]
        if not label and wanted:
            overlap = {s: len(set(wanted) & set(ts)) for s, ts in self.info.segment_topics.items()}
            best = max(overlap, key=lambda s: (overlap[s], s), default="")
            label = best if overlap.get(best) else ""
        topics = wanted or list(self.info.segment_topics.get(label, []))[:4]
        return label, topics

    def _zero_state(self, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (np.zeros((batch, r.shape[0]), np.float32), np.zeros((batch, r.shape[0]), np.float32))
            for r in self.recurrent
        ]

    def _step(
        self, tokens: np.ndarray, state: list[tuple[np.ndarray, np.ndarray]]
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Logits after feeding one symbol per row, and the new state."""
        new_state = []
        x = None
        for layer, (h, c) in enumerate(state):
            if layer == 0:
                z = self._input_table[tokens] + h @ self.recurrent[0]
            else:
                z = x @ self.kernels[layer] + h @ self.recurrent[layer] + self.biases[layer]
            i, f, g, o = np.split(z, 4, axis=1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            new_state.append((h, c))
            x = h
        return x @ self.out_kernel + self.out_bias, new_state

    @_one_blas_thread
    def logits(self, inputs: np.ndarray) -> np.ndarray:
        """Logits for a padded batch of input sequences, shape ``(batch, time, vocab)``."""
        state = self._zero_state(inputs.shape[0])
        out = []
        for t in range(inputs.shape[1]):
            logits, state = self._step(inputs[:, t], state)
            out.append(logits)
        return np.stack(out, axis=1)

    @property
    def mixes(self) -> bool:
        """Whether probabilities come from the LSTM-n-gram mixture rather than the LSTM alone."""
        return self.ngram is not None and self.info.mix_weight < 1.0

    @_one_blas_thread
    def _target_probs(
        self, texts: Sequence[str], segments: Sequence[str] | None, topics: Sequence[str] | None, batch_size: int = 256
    ) -> list[np.ndarray]:
        """The LSTM's probability of every symbol of every post (characters, unknown, end of post).

        The softmax is renormalised over those symbols: padding and control tokens never follow
        a character, so the LSTM's mass on them is given back to the symbols that can.
        """
        inputs, targets, _ = self._sequences(texts, segments, topics)
        probs: list[np.ndarray] = [np.empty(0)] * len(texts)
        forbidden = _forbidden(self.vocab)
        order = np.argsort([len(s) for s in inputs], kind="stable")
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(inputs[r]) for r in rows)
            x = np.full((len(rows), width), PAD, dtype=np.int64)
            y = np.full((len(rows), width), -1, dtype=np.int64)
            for j, r in enumerate(rows):
                x[j, : len(inputs[r])] = inputs[r]
                y[j, 1 : len(targets[r]) + 1] = targets[r]  # position 0 reads <segment>, predicts nothing
            state = self._zero_state(len(rows))
            out = np.ones((len(rows), width))
            for t in range(width):
                logits, state = self._step(x[:, t], state)
                valid = y[:, t] >= 0
                if valid.any():
                    z = logits[valid].astype(np.float64)
                    z[:, forbidden] = -np.inf
                    z -= z.max(axis=1, keepdims=True)
                    log_norm = np.log(np.exp(z).sum(axis=1))
                    out[valid, t] = np.exp(z[np.arange(z.shape[0]), y[valid, t]] - log_norm)
            for j, r in enumerate(rows):
                probs[r] = out[j, 1 : len(targets[r]) + 1]
        return probs

    def next_distribution(self, prefix: str = "", *, segment: str = "", topic: str = "") -> np.ndarray:
        """Probability of every symbol id coming next after ``prefix`` (the mixture when it mixes).

        Padding and control tokens get 0; characters, the unknown symbol and the end of post
        share the rest, so the vector sums to 1.
        """
        seg, top = self.vocab.control_ids(segment, topic)
        ids = self.vocab.encode(unicodedata.normalize("NFC", prefix))[0][:-1]  # a trailing space counts
        logits = self.logits(np.array([[seg, top, *ids]]))[0, -1].astype(np.float64)
        forbidden = _forbidden(self.vocab)
        logits[forbidden] = -np.inf
        p = np.exp(logits - logits.max())
        p /= p.sum()
        if self.mixes:
            allowed = np.flatnonzero(~forbidden)
            context = _ngram_ids(self.vocab, np.array([ids], dtype=np.int64).reshape(1, -1))
            p[allowed] = self._mix_next(
                p[allowed][None, :],
                context,
                _ngram_ids(self.vocab, allowed)[None, :],
                self._label_ids([segment], [topic]),
            )[0]
        return p

    def _label_ids(
        self, segments: Sequence[str] | None, topics: Sequence[str] | None, n: int | None = None
    ) -> dict[str, np.ndarray]:
        """Per label kind, the label id of each post for the per-label n-grams (0: none)."""
        n = n if n is not None else len(segments or topics or [])
        return {
            "segment": _label_array(self.vocab.segments, segments, n),
            "topic": _label_array(self.vocab.topics, topics, n),
        }

    def label_weights(self, focus: float | None = None) -> tuple[float, float]:
        """Segment and topic n-gram weights: the tuned ones, or while writing with ``focus``, at
        least that share of the n-gram part, split :data:`FOCUS_SPLIT` between the kinds of label
        the corpus has (validation may find a label no help to scoring, e.g. the demo's segments
        once the corpus has enough posts, yet drafts for a segment should sound like it)."""
        segment, topic = self.info.segment_weight, self.info.topic_weight
        rest = 1.0 - self.info.mix_weight
        kinds = [k for k in FOCUS_SPLIT if k in self.label_ngrams]
        if focus is None or not kinds or rest <= 0:
            return segment, topic
        share = max((segment + topic) / rest, min(max(focus, 0.0), 1.0))
        total = sum(FOCUS_SPLIT[k] for k in kinds)
        split = {k: FOCUS_SPLIT[k] / total if k in kinds else 0.0 for k in FOCUS_SPLIT}
        return rest * share * split["segment"], rest * share * split["topic"]

    def _mix_next(
        self,
        lstm: np.ndarray,
        context: np.ndarray,
        candidates: np.ndarray,
        labels: dict[str, np.ndarray],
        focus: float | None = None,
        where: np.ndarray | None = None,
    ) -> np.ndarray:
        """The mixture's probability of ``(batch, k)`` candidate n-gram ids given the LSTM's (only
        where ``where`` is true when given: elsewhere the value is meaningless)."""
        order = self.info.mix_order
        whole = self.ngram.next_probs(context, candidates, order=order, where=where)
        out = self.info.mix_weight * lstm
        rest = 1.0 - self.info.mix_weight
        for kind, weight in zip(("segment", "topic"), self.label_weights(focus), strict=True):
            if weight > 0:
                rows = labels[kind] > 0
                label_probs = whole.copy()
                if rows.any():
                    label_probs[rows] = self.label_ngrams[kind].next_probs(
                        context[rows],
                        candidates[rows],
                        order=order,
                        labels=labels[kind][rows],
                        where=None if where is None else where[rows],
                    )
                out = out + weight * label_probs
                rest -= weight
        return out + rest * whole

    def _ngram_probs(
        self, texts: Sequence[str], segments: Sequence[str] | None = None, topics: Sequence[str] | None = None
    ) -> list[np.ndarray]:
        """The n-gram part's probability of every symbol of every post, split by post: the whole
        corpus's n-gram, and those of the post's segment and topic when they have weight (a post
        without such a label gets the whole corpus's in their place)."""
        assert self.ngram is not None
        sequences = [_ngram_ids(self.vocab, self.vocab.encode(t)[0]) for t in texts]
        order = self.info.mix_order
        whole = 2.0 ** -self.ngram.bits(sequences, order=order)
        rest = 1.0 - self.info.mix_weight
        flat = np.zeros_like(whole)
        labels = self._label_ids(segments, topics, len(texts))
        for kind, weight in (("segment", self.info.segment_weight), ("topic", self.info.topic_weight)):
            if weight > 0:
                per_symbol = np.repeat(labels[kind], [len(s) for s in sequences])
                label_probs = 2.0 ** -self.label_ngrams[kind].bits(sequences, order=order, labels=labels[kind])
                flat += weight * np.where(per_symbol > 0, label_probs, whole)
                rest -= weight
        flat = (flat + rest * whole) / (1.0 - self.info.mix_weight)
        return np.split(flat, np.cumsum([len(s) for s in sequences])[:-1])

    def _sequences(
        self, texts: Sequence[str], segments: Sequence[str] | None, topics: Sequence[str] | None
    ) -> tuple[list[list[int]], list[list[int]], list[int]]:
        inputs, targets, unknown = [], [], []
        for i, text in enumerate(texts):
            seg, top = self.vocab.control_ids(segments[i] if segments else "", topics[i] if topics else "")
            ids, n_unk = self.vocab.encode(text)
            inputs.append([seg, top, *ids[:-1]])
            targets.append(ids)
            unknown.append(n_unk)
        return inputs, targets, unknown

    def post_bits(
        self,
        texts: Sequence[str],
        *,
        segments: Sequence[str] | None = None,
        topics: Sequence[str] | None = None,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Exact ``-log2 p(post)`` of every post (NFC), in bits, given its segment and topic.

        With an n-gram mixed in (:attr:`mixes`), each symbol's probability is
        ``w * p_lstm + (1 - w) * p_ngram``: two distributions over the same symbols, so their
        mixture is one too.
        """
        texts = [normalise_post(t) for t in texts]
        probs = self._target_probs(texts, segments, topics, batch_size)
        if self.mixes:
            w = self.info.mix_weight
            probs = [
                w * a + (1.0 - w) * b for a, b in zip(probs, self._ngram_probs(texts, segments, topics), strict=True)
            ]
        bits = np.array([-np.log2(p).sum() for p in probs])
        unknown = [self.vocab.encode(t)[1] for t in texts]
        bits += np.array(unknown) * self.vocab.oov_bits
        bits += np.array([self.spans.post_bits(t) for t in texts])
        return bits

    def bits_per_char(
        self, texts: Sequence[str], *, segments: Sequence[str] | None = None, topics: Sequence[str] | None = None
    ) -> tuple[float, int]:
        """Mean bits per character over ``texts`` (each with one end-of-post symbol), and the count."""
        texts = [normalise_post(t) for t in texts]
        n_chars = sum(len(t) + 1 for t in texts)
        if n_chars == 0:
            raise ContentError("there are no posts to score")
        return float(self.post_bits(texts, segments=segments, topics=topics).sum() / n_chars), n_chars

    @_one_blas_thread
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
                context[:, -1] = _ngram_ids(self.vocab, c)
                used += weights[c]
                content_used += content_weights[c]
                letters += is_letter[c]
                visible += is_visible[c]
                word = self._advance_word(word, c, self.lexicon.word_key(word) if known_words else ANY_WORD)
                tail = _canonical_tail(tail, self._canonical_char[c])
        words = [word] * n
        tails = [tail] * n
        guard = self.near_copy_index if avoid_copies else None
        forbidden = _forbidden(self.vocab)
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
                    _ngram_ids(self.vocab, cand[active]),
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
                                guard.copies_piece(_canonical_tail(tails[r], self._canonical_char.get(int(c), "\0")))
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
                    tails[r] = _canonical_tail(tails[r], self._canonical_char[c])
            logits, state = self._step(choice, state)
            context = np.roll(context, -1, axis=1)
            context[:, -1] = _ngram_ids(self.vocab, choice)
        prefix = opening + (" " if opening and not opening.endswith(" ") else "")
        texts = [self.vocab.decode(list(row)) for row in written]
        texts = [_cut_at_boundary(t, min_length) if c else t for t, c in zip(texts, cut, strict=True)]
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
        return frozenset(i for c, i in self.vocab.char_ids.items() if _LATIN_LETTER.fullmatch(c))

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


def _canonical_tail(tail: str, char: str) -> str:
    """The last :data:`NEAR_COPY_CHARS` characters of a canonical text after ``char`` (spaces collapsed)."""
    if char == " " and (not tail or tail.endswith(" ")):
        return tail
    return (tail + char)[-NEAR_COPY_CHARS:]


def _cut_at_boundary(text: str, min_length: int = 0) -> str:
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
        if _LATIN_LETTER.match(token):  # a whole word: what advance() does letter by letter
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
    for sentence in _SENTENCE_SPLIT.split(normalise_post(text)):
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
            if _LATIN_LETTER.fullmatch(c):
                self._ids_by_letter.setdefault(c.lower(), []).append(i)
        self._letter_ids = [i for ids in self._ids_by_letter.values() for i in ids]
        #: Which symbols are upper-case / lower-case Latin letters.
        self.upper = np.zeros(vocab.size, dtype=bool)
        self.lower = np.zeros(vocab.size, dtype=bool)
        for c, i in vocab.char_ids.items():
            if _LATIN_LETTER.fullmatch(c):
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


def _forbidden(vocab: Vocabulary) -> np.ndarray:
    """Symbols that never come next in a post: padding and the control tokens."""
    forbidden = np.ones(vocab.size, dtype=bool)
    forbidden[vocab.first_char :] = False
    forbidden[[EOS, UNK]] = False
    return forbidden


def _label_array(known: Sequence[str], labels: Sequence[str] | None, n: int) -> np.ndarray:
    """Label ids for the per-label n-grams: 1 + the label's index in ``known``, 0 when unknown."""
    index = {label: i + 1 for i, label in enumerate(known)}
    return np.array([index.get(label, 0) for label in labels] if labels else [0] * n, dtype=np.int64)


def _ngram_ids(vocab: Vocabulary, ids):
    """The n-gram's ids of LSTM symbols: 1 end of post, 2 unknown, 3... characters."""
    ids = np.asarray(ids, dtype=np.int64)
    return np.where(ids >= vocab.first_char, ids - vocab.first_char + 3, ids)


def _weights_from_keras(model) -> dict[str, np.ndarray]:
    """Embedding, LSTM and output weights of a trained Keras model, by name."""
    from keras import layers as kl

    out: dict[str, np.ndarray] = {}
    n_lstm = 0
    for layer in model.layers:
        if isinstance(layer, kl.Embedding):
            out["embedding"] = np.asarray(layer.get_weights()[0])
        elif isinstance(layer, kl.LSTM):
            kernel, recurrent, bias = layer.get_weights()
            out[f"kernel_{n_lstm}"], out[f"recurrent_{n_lstm}"], out[f"bias_{n_lstm}"] = kernel, recurrent, bias
            n_lstm += 1
        elif isinstance(layer, kl.Dense):
            out["out_kernel"], out["out_bias"] = layer.get_weights()
    return out


def load_model(ws: Workspace, model_id: str | None = None) -> LanguageModel:
    """A saved model (the newest without ``model_id``), ready to score and write; no TensorFlow needed."""
    path = _model_path(ws, model_id)
    info = ModelInfo(**json.loads((path / META_FILE).read_text(encoding="utf-8")))
    vocab = Vocabulary.from_json(json.loads((path / "vocab.json").read_text(encoding="utf-8")))
    spans = SpanModel.from_json(json.loads((path / "spans.json").read_text(encoding="utf-8")))
    posts = json.loads((path / "posts.json").read_text(encoding="utf-8"))
    with np.load(path / "weights.npz") as data:
        weights = {k: data[k] for k in data.files}
    ngram = None
    label_ngrams = {}
    if info.mix_order:
        train_index = json.loads((path / "ngram_posts.json").read_text(encoding="utf-8"))
        texts = [posts[i] for i in train_index]
        ngram = _fit_ngram(texts, vocab, info.mix_order)
        if (path / "ngram_labels.json").exists():  # every label kind, for writing (label_weights)
            labels = json.loads((path / "ngram_labels.json").read_text(encoding="utf-8"))
            label_ngrams = _fit_label_ngrams(texts, labels["segments"], labels["topics"], vocab, info.mix_order)
    return LanguageModel(info, vocab, spans, weights, posts, ngram=ngram, label_ngrams=label_ngrams)


def load_keras_model(ws: Workspace, model_id: str | None = None):
    """The saved Keras model itself (imports TensorFlow), e.g. to train further or inspect."""
    import keras

    return keras.saving.load_model(_model_path(ws, model_id) / "model.keras", compile=False)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def _training_rows(
    corpus: Corpus, vocab: Vocabulary, *, seq_len: int, dropout: float, rng: np.random.Generator
) -> list[tuple[list[int], list[int]]]:
    """(inputs, targets) windows of at most ``seq_len``; target -1 means "not scored"."""
    rows = []
    for text, segment, topic in zip(corpus.texts, corpus.segments, corpus.topics, strict=True):
        seg, top = vocab.control_ids(segment, topic)
        if rng.random() < dropout:
            seg = ANY_SEGMENT
        if rng.random() < dropout:
            top = ANY_TOPIC
        ids, _ = vocab.encode(text)
        inputs = [seg, top, *ids[:-1]]
        targets = [-1, *ids]
        for start in range(0, len(inputs), seq_len):
            rows.append((inputs[start : start + seq_len], targets[start : start + seq_len]))
    return rows


def _batches(rows: list[tuple[list[int], list[int]]], batch_size: int) -> list[tuple[np.ndarray, ...]]:
    """Length-bucketed, padded batches: (inputs, targets, weights)."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
    out = []
    for start in range(0, len(order), batch_size):
        pick = order[start : start + batch_size]
        width = max(len(rows[i][0]) for i in pick)
        width = int(math.ceil(width / 16) * 16)  # few distinct shapes, few retraces
        x = np.zeros((len(pick), width), dtype=np.int32)
        y = np.zeros((len(pick), width), dtype=np.int32)
        w = np.zeros((len(pick), width), dtype=np.float32)
        for j, i in enumerate(pick):
            inputs, targets = rows[i]
            x[j, : len(inputs)] = inputs
            t = np.array(targets)
            y[j, : len(t)] = np.maximum(t, 0)
            w[j, : len(t)] = t >= 0
        out.append((x, y, w))
    return out


def _fit_ngram(texts: Sequence[str], vocab: Vocabulary, max_order: int, labels=None) -> CharNgram:
    """The Kneser-Ney n-gram of training posts over the LSTM's characters, unknown and end of post
    (per label when ``labels`` are given)."""
    n_symbols = 2 + len(vocab.chars)
    return CharNgram(n_symbols=n_symbols, max_order=max_order).fit(
        [_ngram_ids(vocab, vocab.encode(t)[0]) for t in texts], labels=labels
    )


def _fit_label_ngrams(
    texts: Sequence[str],
    segments: Sequence[str],
    topics: Sequence[str],
    vocab: Vocabulary,
    order: int,
    *,
    segment: bool = True,
    topic: bool = True,
) -> dict[str, CharNgram]:
    """The per-segment and per-topic n-grams of training posts (posts without the label left out)."""
    out = {}
    for kind, known, labels, wanted in (
        ("segment", vocab.segments, segments, segment),
        ("topic", vocab.topics, topics, topic),
    ):
        ids = _label_array(known, labels, len(texts))
        if wanted and (ids > 0).any():
            keep = np.flatnonzero(ids > 0)
            out[kind] = _fit_ngram([texts[i] for i in keep], vocab, order, labels=ids[keep])
    return out


def _baseline(
    train: Corpus, val: Corpus, vocab: Vocabulary, spans: SpanModel, model: CharNgram | None = None
) -> dict[int, float]:
    """Exact held-out bits/char of the Kneser-Ney n-gram at each order of :data:`BASELINE_ORDERS`."""
    model = model or _fit_ngram(train.texts, vocab, max(BASELINE_ORDERS))
    sequences = [_ngram_ids(vocab, vocab.encode(t)[0]) for t in val.texts]
    extra = sum(vocab.encode(t)[1] * vocab.oov_bits + spans.post_bits(t) for t in val.texts)
    n_chars = sum(len(t) + 1 for t in val.texts)
    return {order: float((model.bits(sequences, order=order).sum() + extra) / n_chars) for order in BASELINE_ORDERS}


MIX_GRID = np.linspace(0.0, 1.0, 101)


def tune_mixture(lstm_probs: np.ndarray, ngram_probs: dict[int, np.ndarray]) -> tuple[float, int, float]:
    """The LSTM weight and n-gram order whose mixture gives validation symbols the fewest bits.

    Parameters
    ----------
    lstm_probs
        The LSTM's probability of every validation symbol.
    ngram_probs
        Per n-gram order, the n-gram's probability of the same symbols.

    Returns
    -------
    tuple
        ``(weight, order, total bits)``; weight 1 is the LSTM alone, 0 the n-gram alone. Weights
        are searched on a grid of 0.01 steps.
    """
    best = (1.0, 0, float(-np.log2(lstm_probs).sum()))
    for order, ngram in sorted(ngram_probs.items()):
        totals = [float(-np.log2(w * lstm_probs + (1.0 - w) * ngram).sum()) for w in MIX_GRID]
        i = int(np.argmin(totals))
        if totals[i] < best[2]:
            best = (float(MIX_GRID[i]), order, totals[i])
    return best


LABEL_GRID = np.linspace(0.0, 1.0, 21)


def tune_label_weights(
    lstm_probs: np.ndarray, mix_weight: float, whole: np.ndarray, segment: np.ndarray | None, topic: np.ndarray | None
) -> tuple[float, float, float]:
    """How much of the n-gram part goes to the post's segment's and topic's own n-grams.

    Parameters
    ----------
    lstm_probs, whole
        The LSTM's and the whole corpus's n-gram probability of every validation symbol.
    mix_weight
        The LSTM's weight (from :func:`tune_mixture`).
    segment, topic
        The per-label n-grams' probability of the same symbols (the whole corpus's where a post
        has no such label), or None.

    Returns
    -------
    tuple
        ``(segment weight, topic weight, total bits)`` as weights of the whole mixture, searched
        on a grid of 0.05 steps of the n-gram part; (0, 0) when the labels do not help.
    """
    base = mix_weight * lstm_probs
    rest = 1.0 - mix_weight
    segment = whole if segment is None else segment
    topic = whole if topic is None else topic
    best = (0.0, 0.0, float(-np.log2(base + rest * whole).sum()))
    for i, a in enumerate(LABEL_GRID):
        for b in LABEL_GRID[: len(LABEL_GRID) - i]:
            total = float(-np.log2(base + rest * ((1.0 - a - b) * whole + a * segment + b * topic)).sum())
            if total < best[2] - 1e-9:
                best = (float(rest * a), float(rest * b), total)
    return best


def _segment_topics(corpus: Corpus) -> dict[str, list[str]]:
    """Per segment label, its topics by how many posts have them."""
    counts: dict[str, Counter[str]] = {}
    for segment, topic in zip(corpus.segments, corpus.topics, strict=True):
        if segment and topic:
            counts.setdefault(segment, Counter())[topic] += 1
    return {s: [t for t, _ in c.most_common()] for s, c in sorted(counts.items())}


def _new_model_id(ws: Workspace) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    model_id, k = stamp, 1
    while (models_dir(ws) / model_id).exists():
        k += 1
        model_id = f"{stamp}-{k}"
    return model_id


def train_model(
    corpus: Corpus,
    ws: Workspace,
    *,
    config: TrainConfig | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    evaluate_drafts: int = 20,
) -> LanguageModel:
    """Train a model on ``corpus``, measure it against the n-gram baseline and save it in ``ws``.

    Parameters
    ----------
    corpus
        The posts (see :func:`core.content.corpus.read_corpus`); at least 10.
    ws
        Workspace to save into (``models/<model_id>/``).
    config
        Settings (the defaults are the page's).
    progress
        Called with (fraction done, message) after every few batches and every epoch.
    should_stop
        Checked after every batch; when it returns true training stops, nothing is saved and
        :class:`TrainingCancelledError` is raised.
    evaluate_drafts
        Drafts written after training for the model card's pass and near-copy rates (0: none).

    Returns
    -------
    LanguageModel
        The saved model, with its card in ``.info``.
    """
    config = (config or TrainConfig()).for_corpus(len(corpus))
    if len(corpus) < 10:
        raise ContentError(f"the corpus has {len(corpus)} posts; at least 10 are needed to train")
    started = time.monotonic()
    report = progress or (lambda fraction, message: None)
    report(0.0, "Preparing the corpus…")
    train, val = corpus.split(val_fraction=config.val_fraction)
    vocab = Vocabulary.build(train)
    spans = SpanModel.build(train.texts)
    rng = np.random.default_rng(config.seed)
    train_batches = _batches(
        _training_rows(train, vocab, seq_len=config.seq_len, dropout=config.control_dropout, rng=rng), config.batch_size
    )
    report(0.01, "Counting the n-gram baseline…")
    full_ngram = _fit_ngram(train.texts, vocab, max(BASELINE_ORDERS))
    baseline = _baseline(train, val, vocab, spans, full_ngram)

    report(0.02, "Starting TensorFlow…")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(config.seed)
    model = _build_keras(vocab.size, config, steps_per_epoch=len(train_batches))
    budget = config.time_budget(len(corpus))
    placeholder_info = ModelInfo(
        model_id="",
        created_at="",
        corpus=corpus.name,
        n_posts=len(corpus),
        n_train=len(train),
        n_val=len(val),
        val_bits_per_char=math.nan,
        baseline_bits_per_char=math.nan,
        baseline_order=0,
        baseline_by_order={},
        seconds=0.0,
        epochs_run=0,
        stopped="",
        history=[],
        config={},
        segments=[],
        topics=[],
        urls=[],
        mentions=[],
    )
    history: list[dict] = []
    best: dict = {"loss": math.inf, "weights": None, "epoch": 0}
    steps = len(train_batches)
    stopped = "converged"
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(steps)
        losses = []
        for k, b in enumerate(order):
            x, y, w = train_batches[b]
            losses.append(float(model.train_on_batch(x, y, sample_weight=w)))
            if should_stop is not None and should_stop():
                raise TrainingCancelledError("training cancelled; no model was saved")
            if k % 5 == 0 or k == steps - 1:
                fraction = 0.03 + 0.9 * min(1.0, (epoch - 1 + (k + 1) / steps) / config.epochs)
                report(
                    fraction,
                    f"Epoch {epoch} · batch {k + 1}/{steps} · "
                    f"train loss {np.mean(losses[-20:]) / math.log(2):.2f} bits/symbol",
                )
            if time.monotonic() - started > budget:
                stopped = "time budget"
                break
        # Early stopping watches the exact held-out bits per character, computed in numpy.
        probe = LanguageModel(placeholder_info, vocab, spans, _weights_from_keras(model), [])
        val_loss, _ = probe.bits_per_char(val.texts, segments=val.segments, topics=val.topics)
        history.append({"epoch": epoch, "train_bits": float(np.mean(losses) / math.log(2)), "val_bits": val_loss})
        log.info("epoch %d: train %.3f val %.3f bits/symbol", epoch, history[-1]["train_bits"], history[-1]["val_bits"])
        if val_loss < best["loss"]:
            best = {"loss": val_loss, "weights": model.get_weights(), "epoch": epoch}
        report(0.03 + 0.9 * epoch / config.epochs, f"Epoch {epoch} done · validation {val_loss:.3f} bits/char")
        if stopped == "time budget":
            break
        if epoch - best["epoch"] >= config.patience:
            stopped = "early stopping"
            break
    else:
        stopped = "epoch limit"
    if best["weights"] is not None:
        model.set_weights(best["weights"])

    report(0.94, "Mixing with the n-gram on the validation posts…")
    weights = _weights_from_keras(model)
    # The mixture weight and n-gram order are chosen on the validation posts (two numbers, so the
    # choice costs those posts next to nothing in optimism; the benchmark scores a separate set).
    val_texts = [normalise_post(t) for t in val.texts]
    lstm_alone = LanguageModel(placeholder_info, vocab, spans, weights, [])
    lstm_probs = np.concatenate(lstm_alone._target_probs(val_texts, val.segments, val.topics))
    val_sequences = [_ngram_ids(vocab, vocab.encode(t)[0]) for t in val_texts]
    whole_probs = {o: 2.0 ** -full_ngram.bits(val_sequences, order=o) for o in BASELINE_ORDERS}
    mix_weight, mix_order, _ = tune_mixture(lstm_probs, whole_probs)
    del full_ngram
    train_texts = set(train.texts)
    train_index = [i for i, t in enumerate(corpus.texts) if t in train_texts] if mix_order else []
    ngram = _fit_ngram(train.texts, vocab, mix_order) if mix_order else None
    # The segment's and topic's own n-grams, weighted on the same validation posts.
    label_ngrams = _fit_label_ngrams(train.texts, train.segments, train.topics, vocab, mix_order) if mix_order else {}
    segment_weight = topic_weight = 0.0
    if label_ngrams:
        whole = whole_probs[mix_order]
        val_labels = {
            "segment": _label_array(vocab.segments, val.segments, len(val)),
            "topic": _label_array(vocab.topics, val.topics, len(val)),
        }
        per_label = {}
        for kind, label_model in label_ngrams.items():
            per_symbol = np.repeat(val_labels[kind], [len(q) for q in val_sequences])
            probs = 2.0 ** -label_model.bits(val_sequences, order=mix_order, labels=val_labels[kind])
            per_label[kind] = np.where(per_symbol > 0, probs, whole)
        segment_weight, topic_weight, _ = tune_label_weights(
            lstm_probs, mix_weight, whole, per_label.get("segment"), per_label.get("topic")
        )
    model_id = _new_model_id(ws)
    frequent_urls, frequent_mentions = frequent_placeholders(corpus.texts)
    info = ModelInfo(
        model_id=model_id,
        created_at=utc_now(),
        corpus=corpus.name,
        n_posts=len(corpus),
        n_train=len(train),
        n_val=len(val),
        val_bits_per_char=math.nan,
        baseline_bits_per_char=min(baseline.values()),
        baseline_order=min(baseline, key=baseline.get),
        baseline_by_order={str(k): v for k, v in baseline.items()},
        seconds=0.0,
        epochs_run=epoch,
        stopped=stopped,
        history=history,
        config=asdict(config),
        segments=list(vocab.segments),
        topics=list(vocab.topics),
        urls=frequent_urls,
        mentions=frequent_mentions,
        segment_topics=_segment_topics(train),
        mix_weight=mix_weight,
        mix_order=mix_order,
        segment_weight=segment_weight,
        topic_weight=topic_weight,
    )
    lm = LanguageModel(info, vocab, spans, weights, list(corpus.texts), ngram=ngram, label_ngrams=label_ngrams)
    lstm_bits = best["loss"] if best["weights"] is not None else history[-1]["val_bits"]
    val_bits = lm.bits_per_char(val.texts, segments=val.segments, topics=val.topics)[0] if lm.mixes else lstm_bits
    log.info(
        "validation: LSTM %.3f, mixture (LSTM weight %.2f, order %d, segment %.2f, topic %.2f) %.3f bits/char",
        lstm_bits,
        mix_weight,
        mix_order,
        segment_weight,
        topic_weight,
        val_bits,
    )
    card = {"val_bits_per_char": val_bits, "lstm_bits_per_char": lstm_bits}
    if evaluate_drafts:
        report(0.97, "Writing sample drafts…")
        # The rates are the sampler's own, as written; the samples are what the Drafts tab returns.
        result = generate_drafts(lm, n=evaluate_drafts, seed=config.seed, resample=False, candidates=1)
        card |= {
            "pass_rate": sum(d.passes for d in result.drafts) / len(result.drafts),
            "near_copy_rate": sum(d.near_copy for d in result.drafts) / len(result.drafts),
            "samples": [d.text for d in generate_drafts(lm, n=5, seed=config.seed).drafts],
        }
    card["seconds"] = round(time.monotonic() - started, 1)
    lm.info = ModelInfo(**(info.as_json() | card))

    staged = ws.new_tmp_dir("model-")
    try:
        model.save(staged / "model.keras")
        np.savez(staged / "weights.npz", **weights)
        (staged / "vocab.json").write_text(json.dumps(vocab.as_json(), ensure_ascii=False), encoding="utf-8")
        (staged / "spans.json").write_text(json.dumps(spans.as_json(), ensure_ascii=False), encoding="utf-8")
        (staged / "posts.json").write_text(json.dumps(lm.posts, ensure_ascii=False), encoding="utf-8")
        # The n-gram is refitted from these posts on load: its tables are far larger than its corpus.
        (staged / "ngram_posts.json").write_text(json.dumps(train_index), encoding="utf-8")
        (staged / "ngram_labels.json").write_text(
            json.dumps(
                {
                    "segments": [corpus.segments[i] for i in train_index],
                    "topics": [corpus.topics[i] for i in train_index],
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        (staged / META_FILE).write_text(json.dumps(lm.info.as_json(), ensure_ascii=False, indent=1), encoding="utf-8")
        models_dir(ws).mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged), str(models_dir(ws) / model_id))
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    with ws.connect() as con:
        ws.audit("model.train", {"model_id": model_id, "corpus": corpus.name, "val_bits_per_char": val_bits}, con=con)
    report(1.0, f"Model {model_id} saved")
    return lm


def _build_keras(vocab_size: int, config: TrainConfig, *, steps_per_epoch: int = 1):
    import keras
    from keras import layers

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(vocab_size, config.embedding, mask_zero=True)(inputs)
    for _ in range(config.layers):
        x = layers.LSTM(config.units, return_sequences=True)(x)
    outputs = layers.Dense(vocab_size)(x)
    model = keras.Model(inputs, outputs)
    schedule = keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate, decay_steps=max(steps_per_epoch, 1), decay_rate=config.lr_decay
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


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
    known_topics = [t for t in topics if t in lm.vocab.topics] or [""]
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


def sentence_words(text: str) -> list[int]:
    """Latin-script words in each sentence of ``text`` (hashtags and links aside; 0 for none)."""
    return [len(_SENTENCE_WORD.findall(_NOT_WORDS.sub(" ", s))) for s in _SENTENCE_SPLIT.split(text.strip())]


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


def draft_check(
    lm: LanguageModel | None, text: str, *, banned_words: Sequence[str] = (), max_weighted_length: int = 280
) -> DraftCheck:
    """Checks of an edited draft (near-copy against the model's corpus when there is a model)."""
    return check_draft(
        text,
        near_copy=lm.near_copy_index if lm is not None else None,
        banned_words=banned_words,
        max_weighted_length=max_weighted_length,
    )
