"""Benchmark of the Studio's writer on real corpora (dev only; never run by the tests).

For each corpus: train with the page's default settings on up to 10,000 posts, then report
training time, held-out bits per character of the LSTM and of the best Kneser-Ney character
n-gram of orders 3-9 (fitted on the same training posts), the share of drafts passing the checks,
the near-copy rate and the time to write 20 checked drafts.

    .venv/bin/python bench/content.py                      # tweeteval emoji (train -> val)
    .venv/bin/python bench/content.py --corpus weibo 538   # more corpora
    .venv/bin/python bench/content.py --corpus demo        # the Studio's demo corpus
    .venv/bin/python bench/content.py --posts 2000 --max-seconds 120   # a quick look

Data: ``../shared/data`` (tweeteval emoji, weibo_covid, 538_twitter_ratio). Figures go to stdout
as one line per corpus plus a JSON line; copy them into bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.content import LanguageModel, TrainConfig, _baseline, generate_drafts, train_model
from core.corpus import Corpus, SpanModel, Vocabulary, demo_corpus_path, read_corpus
from core.workspace import open_workspace

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
        corpus = read_corpus(DATA / "weibo_covid" / "labeledData.csv", text_column="review")
    elif name == "538":
        corpus = read_corpus(DATA / "538_twitter_ratio" / "BarackObama.csv", text_column="text")
    else:
        raise SystemExit(f"unknown corpus {name!r}")
    # Held out: every 5th post (by position) never seen in training; train on the rest.
    texts = corpus.texts
    held = [t for i, t in enumerate(texts) if i % 5 == 4][:5000]
    train = [t for i, t in enumerate(texts) if i % 5 != 4][:n_posts]
    return _corpus(train, f"{name}-train"), _corpus(held, f"{name}-held-out")


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


def run(name: str, n_posts: int, config: TrainConfig) -> dict:
    train_corpus, held = load(name, n_posts)
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(Path(tmp) / "ws", with_demo=False)
        started = time.monotonic()
        lm = train_model(train_corpus, ws, config=config, evaluate_drafts=0,
                         progress=lambda f, m: print(f"\r  {f:4.0%} {m[:80]:<80}", end="", file=sys.stderr))
        train_seconds = time.monotonic() - started
        print(file=sys.stderr)
        lstm_bits, n_chars = lm.bits_per_char(held.texts)  # the mixture: the model the Studio uses
        alone = LanguageModel(replace(lm.info, mix_weight=1.0, mix_order=0), lm.vocab, lm.spans,
                              _weights(lm), [])
        lstm_alone, _ = alone.bits_per_char(held.texts)
        # The baseline on the same split: fitted on the posts the LSTM trained on, scored on the held-out set.
        fit_part, _ = train_corpus.split(val_fraction=config.val_fraction)
        vocab = Vocabulary.build(fit_part)
        spans = SpanModel.build(fit_part.texts)
        assert vocab == lm.vocab
        by_order = _baseline(fit_part, held, vocab, spans)
        best_order = min(by_order, key=by_order.get)
        drafts = []
        for seed in range(5):
            drafts += generate_drafts(lm, n=20, seed=100 + seed, resample=False).drafts
        timings = []
        for seed in range(3):
            t = time.monotonic()
            generate_drafts(lm, n=20, seed=200 + seed)
            timings.append(time.monotonic() - t)
    return {
        "corpus": name, "train_posts": len(train_corpus), "held_out_posts": len(held), "held_out_chars": n_chars,
        "train_seconds": round(train_seconds, 1), "epochs": lm.info.epochs_run, "stopped": lm.info.stopped,
        "lstm_bits_per_char": round(lstm_bits, 4), "lstm_alone_bits_per_char": round(lstm_alone, 4),
        "mix_weight": lm.info.mix_weight, "mix_order": lm.info.mix_order,
        "val_bits_per_char": round(lm.info.val_bits_per_char, 4), "ngram_best_bits_per_char": round(by_order[best_order], 4),
        "ngram_best_order": best_order, "ngram_by_order": {k: round(v, 4) for k, v in by_order.items()},
        "pass_rate": sum(d.passes for d in drafts) / len(drafts),
        "near_copy_rate": sum(d.near_copy for d in drafts) / len(drafts),
        "seconds_for_20_drafts": round(float(np.median(timings)), 2),
        "sample": [d.text for d in drafts[:3]],
        "config": {"units": config.units, "layers": config.layers, "seq_len": config.seq_len,
                   "batch_size": config.batch_size, "learning_rate": config.learning_rate,
                   "lr_decay": config.lr_decay, "max_seconds": config.time_budget(len(train_corpus))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["tweeteval"], choices=["tweeteval", "weibo", "538", "demo"])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--max-seconds", type=float, default=None, help="override the training time budget")
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args()
    config = TrainConfig()
    if args.max_seconds is not None:
        config = replace(config, max_seconds=args.max_seconds)
    if args.units is not None:
        config = replace(config, units=args.units)
    if args.batch_size is not None:
        config = replace(config, batch_size=args.batch_size)
    for name in args.corpus:
        r = run(name, args.posts, config)
        win = "below" if r["lstm_bits_per_char"] < r["ngram_best_bits_per_char"] else "NOT below"
        print(f"{name}: {r['train_posts']:,} posts, trained in {r['train_seconds']:.0f} s ({r['epochs']} epochs, "
              f"{r['stopped']}); held-out {r['lstm_bits_per_char']:.3f} bits/char (LSTM alone "
              f"{r['lstm_alone_bits_per_char']:.3f}, LSTM weight {r['mix_weight']:.2f}), {win} the best n-gram "
              f"(order {r['ngram_best_order']}: {r['ngram_best_bits_per_char']:.3f}); drafts passing "
              f"{r['pass_rate']:.0%}, near-copies {r['near_copy_rate']:.0%}; 20 drafts in "
              f"{r['seconds_for_20_drafts']:.2f} s")
        print(json.dumps(r, ensure_ascii=False))
        sys.stdout.flush()
        if math.isnan(r["lstm_bits_per_char"]):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
