"""Training the writer: the Keras LSTM on the operator's posts, then the n-gram mixture tuned on held-out posts."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime

import numpy as np

from core.clock import utc_now
from core.content.compose import compose_drafts
from core.content.corpus import (
    ANY_SEGMENT,
    ANY_TOPIC,
    Corpus,
    SpanModel,
    Vocabulary,
    frequent_placeholders,
    normalise_post,
)
from core.content.model import LanguageModel, build_keras, fit_label_ngrams, fit_ngram, weights_from_keras
from core.content.ngram import CharNgram
from core.content.registry import META_FILE, ContentError, ModelInfo, TrainConfig, TrainingCancelledError, models_dir
from core.content.sampling import label_array, ngram_ids
from core.workspace import Workspace

log = logging.getLogger(__name__)


Progress = Callable[[float, str], None]

BASELINE_ORDERS = range(3, 10)

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


def _baseline(
    train: Corpus, val: Corpus, vocab: Vocabulary, spans: SpanModel, model: CharNgram | None = None
) -> dict[int, float]:
    """Exact held-out bits/char of the Kneser-Ney n-gram at each order of :data:`BASELINE_ORDERS`."""
    model = model or fit_ngram(train.texts, vocab, max(BASELINE_ORDERS))
    sequences = [ngram_ids(vocab, vocab.encode(t)[0]) for t in val.texts]
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

    One function on purpose: it is the training recipe read top to bottom (split, vocabulary, LSTM,
    baselines, mixture, card, save), and its steps share the split, the vocabulary and the model.

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
    full_ngram = fit_ngram(train.texts, vocab, max(BASELINE_ORDERS))
    baseline = _baseline(train, val, vocab, spans, full_ngram)

    report(0.02, "Starting TensorFlow…")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(config.seed)
    model = build_keras(vocab.size, config, steps_per_epoch=len(train_batches))
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
        probe = LanguageModel(placeholder_info, vocab, spans, weights_from_keras(model), [])
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
    weights = weights_from_keras(model)
    # The mixture weight and n-gram order are chosen on the validation posts (two numbers, so the
    # choice costs those posts next to nothing in optimism; the benchmark scores a separate set).
    val_texts = [normalise_post(t) for t in val.texts]
    lstm_alone = LanguageModel(placeholder_info, vocab, spans, weights, [])
    lstm_probs = np.concatenate(lstm_alone._target_probs(val_texts, val.segments, val.topics))
    val_sequences = [ngram_ids(vocab, vocab.encode(t)[0]) for t in val_texts]
    whole_probs = {o: 2.0 ** -full_ngram.bits(val_sequences, order=o) for o in BASELINE_ORDERS}
    mix_weight, mix_order, _ = tune_mixture(lstm_probs, whole_probs)
    del full_ngram
    train_texts = set(train.texts)
    train_index = [i for i, t in enumerate(corpus.texts) if t in train_texts] if mix_order else []
    ngram = fit_ngram(train.texts, vocab, mix_order) if mix_order else None
    # The segment's and topic's own n-grams, weighted on the same validation posts.
    label_ngrams = fit_label_ngrams(train.texts, train.segments, train.topics, vocab, mix_order) if mix_order else {}
    segment_weight = topic_weight = 0.0
    if label_ngrams:
        whole = whole_probs[mix_order]
        val_labels = {
            "segment": label_array(vocab.segments, val.segments, len(val)),
            "topic": label_array(vocab.topics, val.topics, len(val)),
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
    lm.post_labels = (list(corpus.segments), list(corpus.topics))
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
        # The share of asked-for drafts the composer could make publishable, and five of them.
        result = compose_drafts(lm, n=evaluate_drafts, seed=config.seed)
        card |= {
            "pass_rate": len(result.drafts) / evaluate_drafts,
            "near_copy_rate": sum(lm.near_copy_index.copies(d.text) for d in result.drafts) / evaluate_drafts,
            "samples": [d.text for d in result.drafts[:5]],
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
        (staged / "labels.json").write_text(
            json.dumps({"segments": list(corpus.segments), "topics": list(corpus.topics)}, ensure_ascii=False),
            encoding="utf-8",
        )
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
