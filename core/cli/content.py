"""``python -m core train | score | generate``: the Studio's writer from the command line."""

from __future__ import annotations

import argparse
import sys

from core.audience.profiles import find_segment, segment_profiles
from core.cli.output import print_json, say
from core.content.checks import load_banned_words
from core.content.compose import compose_drafts, compose_for_segment
from core.content.corpus import CorpusError, read_corpus
from core.content.generate import score_corpus
from core.content.model import load_model
from core.content.registry import ContentError, TrainConfig
from core.content.sampling import DEFAULT_TEMPERATURE
from core.content.templates import TemplateError, load_brand
from core.content.train import train_model
from core.demo import open_workspace

__all__ = ["USER_ERRORS", "register"]

USER_ERRORS: tuple[type[Exception], ...] = (ContentError, CorpusError, TemplateError)

_DEFAULTS = TrainConfig()


def register(sub: argparse._SubParsersAction) -> None:
    """Add the content subcommands to the CLI."""
    p = sub.add_parser("train", help="train the writer (LSTM) on past posts; it becomes the newest model")
    p.add_argument("--corpus", required=True, metavar="PATH", help="CSV or text file of past posts")
    p.add_argument("--text-column", metavar="COL", help="column holding the post text (default: found by name)")
    p.add_argument(
        "--keep-all", action="store_true", help="keep retweets, quotes and link-only posts (left out by default)"
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=_DEFAULTS.epochs,
        metavar="N",
        help=f"most epochs; early stopping usually ends sooner (default {_DEFAULTS.epochs})",
    )
    p.add_argument("--seed", type=int, default=_DEFAULTS.seed, metavar="S", help="random seed (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_train)

    p = sub.add_parser("score", help="bits per character of a model on every post of a file")
    p.add_argument("--model", required=True, metavar="ID")
    p.add_argument("--corpus", required=True, metavar="PATH")
    p.add_argument("--text-column", metavar="COL")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_score)

    p = sub.add_parser("generate", help="write drafts with the newest (or a given) model, checked for X")
    p.add_argument("--model", metavar="ID", help="model id (default: the newest)")
    p.add_argument("--segment", metavar="ID", help="segment id or name (see `python -m core segments`)")
    p.add_argument("--n", type=int, default=5, metavar="N", help="number of drafts (default 5)")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument(
        "--temperature",
        type=float,
        default=DEFAULT_TEMPERATURE,
        metavar="T",
        help=f"0.05-3, default {DEFAULT_TEMPERATURE}",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=_generate)


def _train(args: argparse.Namespace) -> int:
    ws = open_workspace()
    corpus = read_corpus(args.corpus, text_column=args.text_column, keep_all=args.keep_all)
    config = TrainConfig(epochs=args.epochs, seed=args.seed)

    def progress(fraction: float, message: str) -> None:
        if not args.json:
            sys.stderr.write(f"\r{fraction:4.0%} {message[:90]:<90}")
            sys.stderr.flush()

    lm = train_model(corpus, ws, config=config, progress=progress)
    info = lm.info
    out = {
        "model_id": info.model_id,
        "val_bits_per_char": round(info.val_bits_per_char, 4),
        "baseline_bits_per_char": round(info.baseline_bits_per_char, 4),
        "n_posts": info.n_posts,
        "seconds": info.seconds,
        # n_posts + sum(left_out) = the file's records
        "left_out": dict(corpus.left_out),
    }
    if args.json:
        print_json(out)
        return 0
    sys.stderr.write("\n")
    say(
        f"model {info.model_id}: {info.val_bits_per_char:.3f} bits/char on {info.n_val:,} held-out posts "
        f"(n-gram baseline {info.baseline_bits_per_char:.3f}), {info.n_posts:,} posts, {info.seconds:.0f} s"
    )
    if corpus.left_out:
        say("left out: " + ", ".join(f"{n:,} {reason}" for reason, n in corpus.left_out.items()))
    if info.pass_rate is not None:
        say(f"drafts passing the checks: {info.pass_rate:.0%}, near-copies: {info.near_copy_rate:.0%}")
    return 0


def _score(args: argparse.Namespace) -> int:
    ws = open_workspace()
    lm = load_model(ws, args.model)
    corpus = read_corpus(args.corpus, text_column=args.text_column)
    out = score_corpus(lm, corpus)
    if args.json:
        print_json({"bits_per_char": round(out["bits_per_char"], 4), "n_chars": out["n_chars"]})
        return 0
    say(f"{out['bits_per_char']:.3f} bits/char over {out['n_chars']:,} characters")
    return 0


def _generate(args: argparse.Namespace) -> int:
    ws = open_workspace()
    lm = load_model(ws, args.model)
    profiles = segment_profiles(ws)
    options = {
        "n": args.n,
        "seed": args.seed,
        "temperature": args.temperature,
        "banned_words": load_banned_words(ws),
        "link": load_brand(ws)["link"] or None,
        "internal_names": [p.name for p in profiles],
    }
    if args.segment is None:
        result = compose_drafts(lm, **options)
    else:
        profile = find_segment(profiles, args.segment)
        if profile is None:
            known = ", ".join(f"{p.id} ({p.name})" for p in profiles)
            raise ContentError(f"segment {args.segment!r} does not exist (segments: {known})")
        result = compose_for_segment(lm, profile.name, profile.interests, **options)
    if args.json:
        print_json({"drafts": [d.as_json() for d in result.drafts]})
        if result.message:
            sys.stderr.write(result.message + "\n")
        return 0
    for i, d in enumerate(result.drafts, start=1):
        say(f"{i}. [{d.weighted_length}/280 {'ok' if d.passes else 'FAILS'}] {d.text}")
        for reason in d.reasons:
            say(f"   - {reason}")
    if result.message:
        say(result.message)
    return 0
