"""Benchmark of the Studio's writer on real corpora (dev only; never run by the tests).

For each corpus: train with the page's default settings on up to 10,000 posts, then report
training time, held-out bits per character of the LSTM and of the best Kneser-Ney character
n-gram of orders 3-9 (fitted on the same training posts), the share of drafts passing the checks,
the near-copy rate and the time to write 20 checked drafts.

    .venv/bin/python bench/content.py                      # tweeteval emoji (train -> val)
    .venv/bin/python bench/content.py --corpus weibo 538   # more corpora
    .venv/bin/python bench/content.py --corpus demo        # the Studio's demo corpus
    .venv/bin/python bench/content.py --posts 2000 --max-seconds 120   # a quick look
    .venv/bin/python bench/content.py --keep /tmp/models   # train once; re-runs measure drafts only

Data: ``../shared/data`` (tweeteval emoji, weibo_covid, 538_twitter_ratio). Figures go to stdout
as one line per corpus plus a JSON line; copy them into bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.content.corpus import Corpus, SpanModel, Vocabulary, demo_corpus_path, read_corpus
from core.content.generate import generate_drafts
from core.content.model import LanguageModel, load_model
from core.content.registry import TrainConfig, newest_model_id
from core.content.sampling import ngram_ids as _ngram_ids
from core.content.train import _baseline, train_model
from core.demo import open_workspace

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def load(name: str, n_posts: int) -> tuple[Corpus, Corpus]:
    """(training corpus of at most n_posts, held-out corpus) for a named data set."""
    if name == "tweeteval":
        folder = DATA / "tweeteval" / "datasets" / "emoji"
        train = _lines(folder / "train_text.txt")[:n_posts]
        held = _lines(folder / "val_text.txt")
        return _corpus(train, "tweeteval-emoji-train"), _corpus(held, "tweeteval-emoji-val")
    if name == "demo":
        # The Studio's own case: the whole demo corpus, scored on its validation split (the posts
        # early stopping and the mixture weight were chosen on, as the model card does).
        corpus = read_corpus(demo_corpus_path())
        return corpus, corpus.split()[1]
    if name == "weibo":
        # The emotion label (fear, disgust, ...) as the topic: Chinese posts with a control token.
        corpus = read_corpus(DATA / "weibo_covid" / "labeledData.csv", text_column="review", topic_column="label")
        corpus = replace(corpus, topics=[WEIBO_EMOTIONS.get(t, "") for t in corpus.topics])
    elif name == "538":
        # Both accounts, the account as the segment: two voices the control token has to tell apart.
        parts = [
            read_corpus(DATA / "538_twitter_ratio" / f, text_column="text", segment_column="user")
            for f in ("BarackObama.csv", "realDonaldTrump.csv")
        ]
        corpus = Corpus(
            [t for c in parts for t in c.texts],
            [x for c in parts for x in c.segments],
            [x for c in parts for x in c.topics],
            name="538",
        )
    else:
        raise SystemExit(f"unknown corpus {name!r}")
    # Held out: every 5th post (by position) never seen in training; train on the rest.
    held = [i for i in range(len(corpus)) if i % 5 == 4][:5000]
    train = [i for i in range(len(corpus)) if i % 5 != 4][:n_posts]
    return _subset(corpus, train, f"{name}-train"), _subset(corpus, held, f"{name}-held-out")


WEIBO_EMOTIONS = {
    "0": "fear",
    "1": "disgust",
    "2": "optimism",
    "3": "surprise",
    "4": "gratitude",
    "5": "sadness",
    "6": "anger",
}


def _subset(corpus: Corpus, rows: list[int], name: str) -> Corpus:
    return Corpus(
        [corpus.texts[i] for i in rows],
        [corpus.segments[i] for i in rows],
        [corpus.topics[i] for i in rows],
        name=name,
        rows_read=len(rows),
    )


def _corpus(texts: list[str], name: str) -> Corpus:
    seen, keep = set(), []
    for t in texts:
        t = t.strip()
        if t and t not in seen:
            seen.add(t)
            keep.append(t)
    return Corpus(keep, [""] * len(keep), [""] * len(keep), name=name, rows_read=len(texts))


def _weights(lm: LanguageModel) -> dict[str, np.ndarray]:
    """The numpy weights of a loaded model, as :class:`LanguageModel` takes them."""
    out = {"embedding": lm.embedding, "out_kernel": lm.out_kernel, "out_bias": lm.out_bias}
    for i, (k, r, b) in enumerate(zip(lm.kernels, lm.recurrent, lm.biases, strict=True)):
        out |= {f"kernel_{i}": k, f"recurrent_{i}": r, f"bias_{i}": b}
    return out


def _control_effect(lm: LanguageModel, held: Corpus) -> dict:
    """Held-out bits/char with each post's own label, with another label, and with none."""
    out = {}
    for kind, known in (("segment", lm.vocab.segments), ("topic", lm.vocab.topics)):
        labels = held.segments if kind == "segment" else held.topics
        rows = [i for i, label in enumerate(labels) if label in known]
        if len(known) < 2 or not rows:
            continue
        texts = [held.texts[i] for i in rows]
        own = [labels[i] for i in rows]
        other = [known[(known.index(label) + 1) % len(known)] for label in own]
        fixed = {"segments": [held.segments[i] for i in rows], "topics": [held.topics[i] for i in rows]}

        def bits(given, fixed=fixed, kind=kind, texts=texts):
            return round(lm.bits_per_char(texts, **(fixed | {f"{kind}s": given}))[0], 4)

        out[kind] = {
            "posts": len(rows),
            "own_label": bits(own),
            "another_label": bits(other),
            "no_label": bits([""] * len(rows)),
        }
    return out


def _attribution(lm: LanguageModel, drafts: list, kind: str) -> float | None:
    """Share of drafts written for a label that the per-label n-grams score best under that label."""
    model = lm.label_ngrams.get(kind)
    known = lm.vocab.segments if kind == "segment" else lm.vocab.topics
    if model is None:
        return None
    hits = 0
    for d in drafts:
        ids = _ngram_ids(lm.vocab, lm.vocab.encode(d.text)[0])
        bits = [model.bits([ids], order=lm.info.mix_order, labels=[k + 1]).sum() for k in range(len(known))]
        hits += known[int(np.argmin(bits))] == getattr(d, kind)
    return round(hits / len(drafts), 3)


def _draft_bits(lm: LanguageModel, drafts: list) -> float:
    """Mean bits per character of drafts under the model, each with its own labels (fluency)."""
    texts = [d.text for d in drafts]
    bits = lm.post_bits(texts, segments=[d.segment for d in drafts], topics=[d.topic for d in drafts])
    return round(float(bits.sum() / sum(len(t) + 1 for t in texts)), 3)


_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


def _full_sentences(drafts: list) -> float:
    """Share of drafts whose every sentence with Latin-script words has at least 4 of them
    (hashtags, mentions and links aside): a readability proxy; the demo corpus's own posts score 0.77."""

    def full(text: str) -> bool:
        text = re.sub(r"[#@]\w+|https?://\S+", " ", text)
        parts = [p for p in _SENTENCE.split(text.strip()) if re.search(r"[A-Za-z]", p)]
        return all(len(re.findall(r"[A-Za-z']+", p)) >= 4 for p in parts)

    return round(sum(full(d.text) for d in drafts) / len(drafts), 3)


def _junctions(lm: LanguageModel, drafts: list) -> float:
    """Of the drafts' word triples whose first two words the corpus has joined so, the share whose
    third word is one the corpus has after them: how often a draft joins words as the brand does
    (the sampler keeps to it but leaves a copied post where it must)."""
    known, kept = np.array([lm.lexicon.joins(d.text) for d in drafts]).sum(axis=0)
    return round(float(kept / max(known, 1)), 3)


def _seams(lm: LanguageModel, drafts: list) -> float:
    """The drafts' seams (:meth:`Lexicon.seams`: a sentence going on as another post's, or ending
    where no sentence of the corpus ends) per Latin-script word: where their sense drifts."""
    seams, words = np.array([lm.lexicon.seams(d.text) for d in drafts]).sum(axis=0)
    return round(float(seams / max(words, 1)), 3)


def _judged(corpus: Corpus, drafts: list, kind: str) -> dict | None:
    """An independent judge of labels: TF-IDF words and characters into logistic regression, fitted
    on the training posts' labels. Its cross-validated accuracy on real posts gives the scale for
    the share of drafts it finds written for their own label."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline, make_union

    labels = corpus.segments if kind == "segment" else corpus.topics
    rows = [i for i, label in enumerate(labels) if label]
    if not kind or len({labels[i] for i in rows}) < 2:
        return None
    judge = make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True),
        ),
        LogisticRegression(max_iter=2000, C=10),
    )
    texts, y = [corpus.texts[i] for i in rows], [labels[i] for i in rows]
    real = float(cross_val_score(judge, texts, y, cv=5).mean())
    judge.fit(texts, y)
    hits = judge.predict([d.text for d in drafts]) == np.array([getattr(d, kind) for d in drafts])
    return {"real_posts_cv": round(real, 3), "drafts": round(float(hits.mean()), 3)}


def _controls(lm: LanguageModel, kind: str, label: str) -> dict:
    """What the Studio passes for a label: a segment with its most frequent topics, or a topic."""
    if kind == "segment":
        return {"segment": label, "topics": lm.info.segment_topics.get(label, [])[:4]}
    return {"topics": [label]} if kind else {}


def run(name: str, n_posts: int, config: TrainConfig, keep: Path | None = None) -> dict:
    train_corpus, held = load(name, n_posts)
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace((keep / name) if keep else Path(tmp) / "ws", with_demo=False)
        if keep and newest_model_id(ws):
            # A model kept by an earlier run with --keep: measure the drafts again without training.
            lm = load_model(ws)
            train_seconds = lm.info.seconds
        else:
            started = time.monotonic()
            lm = train_model(
                train_corpus,
                ws,
                config=config,
                evaluate_drafts=0,
                progress=lambda f, m: print(f"\r  {f:4.0%} {m[:80]:<80}", end="", file=sys.stderr),
            )
            train_seconds = time.monotonic() - started
            print(file=sys.stderr)
        # The mixture, the model the Studio uses, given each post's own labels (none on tweeteval).
        lstm_bits, n_chars = lm.bits_per_char(held.texts, segments=held.segments, topics=held.topics)
        alone = LanguageModel(
            replace(lm.info, mix_weight=1.0, mix_order=0, segment_weight=0.0, topic_weight=0.0),
            lm.vocab,
            lm.spans,
            _weights(lm),
            [],
        )
        lstm_alone, _ = alone.bits_per_char(held.texts, segments=held.segments, topics=held.topics)
        control = _control_effect(lm, held)
        # The baseline on the same split: fitted on the posts the LSTM trained on, scored on the held-out set.
        fit_part, _ = train_corpus.split(val_fraction=config.val_fraction)
        vocab = Vocabulary.build(fit_part)
        spans = SpanModel.build(fit_part.texts)
        assert vocab == lm.vocab
        by_order = _baseline(fit_part, held, vocab, spans)
        best_order = min(by_order, key=by_order.get)
        # Drafts for each label in turn (segment, else topic), as the Studio asks for a segment's.
        kind = "segment" if lm.vocab.segments else "topic" if lm.vocab.topics else ""
        labels = list(lm.vocab.segments or lm.vocab.topics) or [""]
        drafts, ranked = [], []
        for seed in range(5):
            for k, label in enumerate(labels):
                share = 20 // len(labels) + (k < 20 % len(labels))
                if share:
                    # As written (candidates=1: the sampler's own pass rate), and as the Studio
                    # returns them (the most fluent passing drafts of several candidates).
                    drafts += generate_drafts(
                        lm, n=share, seed=100 + seed, resample=False, candidates=1, **_controls(lm, kind, label)
                    ).drafts
                    ranked += generate_drafts(
                        lm, n=share, seed=100 + seed, resample=False, **_controls(lm, kind, label)
                    ).drafts
        # Why drafts fail, numbers folded so the same reason counts once.
        reasons = Counter(re.sub(r"\d+", "N", r).split(", e.g.")[0] for d in drafts for r in d.reasons)
        # Three checked drafts per label (the first five labels), as the Studio shows them.
        samples = {}
        for label in labels[:5]:
            samples[label or "any"] = [
                d.text for d in generate_drafts(lm, n=3, seed=7, **_controls(lm, kind, label)).drafts
            ]
        timings = []
        for seed in range(3):
            t = time.monotonic()
            generate_drafts(lm, n=20, seed=200 + seed, **({"segment": labels[0]} if kind == "segment" else {}))
            timings.append(time.monotonic() - t)
    return {
        "corpus": name,
        "train_posts": len(train_corpus),
        "held_out_posts": len(held),
        "held_out_chars": n_chars,
        "train_seconds": round(train_seconds, 1),
        "epochs": lm.info.epochs_run,
        "stopped": lm.info.stopped,
        "lstm_bits_per_char": round(lstm_bits, 4),
        "lstm_alone_bits_per_char": round(lstm_alone, 4),
        "mix_weight": lm.info.mix_weight,
        "mix_order": lm.info.mix_order,
        "val_bits_per_char": round(lm.info.val_bits_per_char, 4),
        "ngram_best_bits_per_char": round(by_order[best_order], 4),
        "ngram_best_order": best_order,
        "ngram_by_order": {k: round(v, 4) for k, v in by_order.items()},
        "pass_rate": sum(d.passes for d in drafts) / len(drafts),
        "near_copy_rate": sum(d.near_copy for d in drafts) / len(drafts),
        "ranked_pass_rate": sum(d.passes for d in ranked) / len(ranked),
        "ranked_near_copy_rate": sum(d.near_copy for d in ranked) / len(ranked),
        "draft_bits_per_char": {"written": _draft_bits(lm, drafts), "ranked": _draft_bits(lm, ranked)},
        "full_sentence_share": {"written": _full_sentences(drafts), "ranked": _full_sentences(ranked)},
        "junctions_as_in_corpus": {"written": _junctions(lm, drafts), "ranked": _junctions(lm, ranked)},
        "seams_per_word": {"written": _seams(lm, drafts), "ranked": _seams(lm, ranked)},
        "mean_draft_chars": {
            "written": round(float(np.mean([len(d.text) for d in drafts])), 1),
            "ranked": round(float(np.mean([len(d.text) for d in ranked])), 1),
        },
        "seconds_for_20_drafts": round(float(np.median(timings)), 2),
        "failure_reasons": dict(reasons.most_common()),
        "segment_weight": lm.info.segment_weight,
        "topic_weight": lm.info.topic_weight,
        "control_effect": control,
        "drafts_attributed_to_their_label": _attribution(lm, drafts, kind) if kind else None,
        "label_judged_by_a_classifier": _judged(train_corpus, ranked, kind),
        "sample": [d.text for d in drafts[:3]],
        "samples_by_label": samples,
        "config": {
            k: lm.info.config[k] for k in ("units", "layers", "seq_len", "batch_size", "learning_rate", "lr_decay")
        }
        | {"max_seconds": config.time_budget(len(train_corpus))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["tweeteval"], choices=["tweeteval", "weibo", "538", "demo"])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--max-seconds", type=float, default=None, help="override the training time budget")
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep each trained model in KEEP/<corpus>; a later run reuses it instead of training",
    )
    args = parser.parse_args()
    config = TrainConfig()
    if args.max_seconds is not None:
        config = replace(config, max_seconds=args.max_seconds)
    if args.units is not None:
        config = replace(config, units=args.units)
    if args.batch_size is not None:
        config = replace(config, batch_size=args.batch_size)
    for name in args.corpus:
        r = run(name, args.posts, config, args.keep)
        win = "below" if r["lstm_bits_per_char"] < r["ngram_best_bits_per_char"] else "NOT below"
        print(
            f"{name}: {r['train_posts']:,} posts, trained in {r['train_seconds']:.0f} s ({r['epochs']} epochs, "
            f"{r['stopped']}); held-out {r['lstm_bits_per_char']:.3f} bits/char (LSTM alone "
            f"{r['lstm_alone_bits_per_char']:.3f}, LSTM weight {r['mix_weight']:.2f}), {win} the best n-gram "
            f"(order {r['ngram_best_order']}: {r['ngram_best_bits_per_char']:.3f}); drafts passing "
            f"{r['pass_rate']:.0%}, near-copies {r['near_copy_rate']:.0%}; ranked drafts "
            f"{r['draft_bits_per_char']['ranked']:.3f} bits/char (as written "
            f"{r['draft_bits_per_char']['written']:.3f}); 20 drafts in "
            f"{r['seconds_for_20_drafts']:.2f} s"
        )
        print(json.dumps(r, ensure_ascii=False))
        sys.stdout.flush()
        if math.isnan(r["lstm_bits_per_char"]):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
