"""The trained writer: a character LSTM (run in numpy) mixed with the corpus's n-grams; loading a saved model."""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Sequence

import numpy as np

from core.content.checks import (
    NearCopyIndex,
)
from core.content.corpus import (
    PAD,
    SpanModel,
    Vocabulary,
    normalise_post,
)
from core.content.ngram import CharNgram
from core.content.registry import META_FILE, ContentError, ModelInfo, TrainConfig, model_path
from core.content.sampling import Sampler, forbidden_symbols, label_array, ngram_ids, one_blas_thread, sigmoid
from core.workspace import Workspace

log = logging.getLogger(__name__)

#: How that share is split between the segment's and the topic's n-grams (over the kinds the
#: corpus has). The segment counts most: the Studio asks for a segment's drafts, and spreads them
#: over its topics. On the demo, an independent classifier of segments finds the drafts' own
#: segment for 56 % of them with the focus on topics alone, 78 % with this split (its own
#: accuracy on real posts, cross-validated: 60 %).
FOCUS_SPLIT = {"segment": 2.0, "topic": 1.0}


class LanguageModel(Sampler):
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
        #: Each post's segment and topic label ("" where the corpus has none), for composing.
        self.post_labels: tuple[list[str], list[str]] = ([""] * len(posts), [""] * len(posts))

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
        wanted = [t for t in map(self.vocab.topic_spelled, interests) if t]  # ignoring case
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
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            new_state.append((h, c))
            x = h
        return x @ self.out_kernel + self.out_bias, new_state

    @one_blas_thread
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

    @one_blas_thread
    def _target_probs(
        self, texts: Sequence[str], segments: Sequence[str] | None, topics: Sequence[str] | None, batch_size: int = 256
    ) -> list[np.ndarray]:
        """The LSTM's probability of every symbol of every post (characters, unknown, end of post).

        The softmax is renormalised over those symbols: padding and control tokens never follow
        a character, so the LSTM's mass on them is given back to the symbols that can.
        """
        inputs, targets, _ = self._sequences(texts, segments, topics)
        probs: list[np.ndarray] = [np.empty(0)] * len(texts)
        forbidden = forbidden_symbols(self.vocab)
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
        forbidden = forbidden_symbols(self.vocab)
        logits[forbidden] = -np.inf
        p = np.exp(logits - logits.max())
        p /= p.sum()
        if self.mixes:
            allowed = np.flatnonzero(~forbidden)
            context = ngram_ids(self.vocab, np.array([ids], dtype=np.int64).reshape(1, -1))
            p[allowed] = self._mix_next(
                p[allowed][None, :],
                context,
                ngram_ids(self.vocab, allowed)[None, :],
                self._label_ids([segment], [topic]),
            )[0]
        return p

    def _label_ids(
        self, segments: Sequence[str] | None, topics: Sequence[str] | None, n: int | None = None
    ) -> dict[str, np.ndarray]:
        """Per label kind, the label id of each post for the per-label n-grams (0: none)."""
        n = n if n is not None else len(segments or topics or [])
        return {
            "segment": label_array(self.vocab.segments, segments, n),
            "topic": label_array(self.vocab.topics, topics, n),
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
        sequences = [ngram_ids(self.vocab, self.vocab.encode(t)[0]) for t in texts]
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


def weights_from_keras(model) -> dict[str, np.ndarray]:
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
    path = model_path(ws, model_id)
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
        ngram = fit_ngram(texts, vocab, info.mix_order)
        if (path / "ngram_labels.json").exists():  # every label kind, for writing (label_weights)
            labels = json.loads((path / "ngram_labels.json").read_text(encoding="utf-8"))
            label_ngrams = fit_label_ngrams(texts, labels["segments"], labels["topics"], vocab, info.mix_order)
    lm = LanguageModel(info, vocab, spans, weights, posts, ngram=ngram, label_ngrams=label_ngrams)
    if (path / "labels.json").exists():
        labels = json.loads((path / "labels.json").read_text(encoding="utf-8"))
        lm.post_labels = (labels["segments"], labels["topics"])
    return lm


def load_keras_model(ws: Workspace, model_id: str | None = None):
    """The saved Keras model itself (imports TensorFlow), e.g. to train further or inspect."""
    import keras

    return keras.saving.load_model(model_path(ws, model_id) / "model.keras", compile=False)


def build_keras(vocab_size: int, config: TrainConfig, *, steps_per_epoch: int = 1):
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


def fit_ngram(texts: Sequence[str], vocab: Vocabulary, max_order: int, labels=None) -> CharNgram:
    """The Kneser-Ney n-gram of training posts over the LSTM's characters, unknown and end of post
    (per label when ``labels`` are given)."""
    n_symbols = 2 + len(vocab.chars)
    return CharNgram(n_symbols=n_symbols, max_order=max_order).fit(
        [ngram_ids(vocab, vocab.encode(t)[0]) for t in texts], labels=labels
    )


def fit_label_ngrams(
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
        ids = label_array(known, labels, len(texts))
        if wanted and (ids > 0).any():
            keep = np.flatnonzero(ids > 0)
            out[kind] = fit_ngram([texts[i] for i in keep], vocab, order, labels=ids[keep])
    return out
