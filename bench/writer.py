"""Benchmark of the composing writer on a trained model (dev only; never run by the tests).

For a workspace with a trained model it composes drafts per segment (seeds x segments x drafts,
as the Studio writes them) and reports: the share passing the checks, near-copies, the time for 20
drafts, and an independent segment judge (TF-IDF words and characters into logistic regression,
fitted on the corpus's real posts with their segment labels, cross-validated on them for scale).
With ``--kit DIR`` it also writes a blind-grading kit: ``items.txt`` (drafts shuffled together
with real posts of the same corpus, numbered, nothing saying which is which) and ``key.json``.

    .venv/bin/python bench/writer.py --home /tmp/ws_demo --demo-segments --kit /tmp/kit_demo
    .venv/bin/python bench/writer.py --home /tmp/ws_538 --kit /tmp/kit_538     # no segments: everyone
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline, make_union

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.audience.demo_groups import GROUPS, SIGNATURE_TOPICS
from core.content.compose import compose_drafts, compose_for_segment
from core.content.model import load_model
from core.workspace import open_workspace


def judge_fit(texts: list[str], labels: list[str]):
    judge = make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True),
        ),
        LogisticRegression(max_iter=2000, C=10),
    )
    real = float(cross_val_score(judge, texts, labels, cv=5).mean())
    return judge.fit(texts, labels), real


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--demo-segments", action="store_true", help="write for the demo's five groups")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument(
        "--first-seed", type=int, default=1, help="seeds run from this one (another round: other drafts)"
    )
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--controls", type=int, default=40)
    parser.add_argument("--kit")
    args = parser.parse_args()
    lm = load_model(open_workspace(args.home))
    groups = list(GROUPS) if args.demo_segments else [""]
    drafts, asked, started = [], 0, time.perf_counter()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for group in groups:
            if group:
                result = compose_for_segment(lm, group, SIGNATURE_TOPICS[group], n=args.n, seed=seed)
            else:
                result = compose_drafts(lm, n=args.n, seed=seed)
            asked += args.n
            drafts += [(group, d) for d in result.drafts]
    seconds = time.perf_counter() - started
    walls, cpus = [], []
    for seed in (97, 98, 99):  # the median of three, wall and CPU (the CPU time holds under load)
        t0, c0 = time.perf_counter(), time.process_time()
        compose_drafts(lm, n=20, seed=seed)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    twenty, twenty_cpu = sorted(walls)[1], sorted(cpus)[1]
    near = sum(lm.near_copy_index.copies(d.text) for _, d in drafts)
    sharing = sum(lm.near_copy_index.shares_run(d.text) for _, d in drafts)
    alone = sum(not any(c in d.text.rstrip()[:-1] for c in ".!?。！？") for _, d in drafts)
    figures = {
        "asked": asked,
        "returned": len(drafts),
        "passing": sum(d.passes for _, d in drafts),
        "near_copies": near,
        "sharing_40_chars": sharing,
        "one_sentence": alone,
        "distinct": len({d.text for _, d in drafts}),
        "seconds_all": round(seconds, 2),
        "seconds_20_drafts": round(twenty, 2),
        "cpu_seconds_20_drafts": round(twenty_cpu, 2),
        "load_average": round(os.getloadavg()[0], 1),
    }
    segments, _topics = lm.post_labels
    if args.demo_segments and any(segments):
        rows = [i for i, s in enumerate(segments) if s]
        judge, real = judge_fit([lm.posts[i] for i in rows], [segments[i] for i in rows])
        hits = judge.predict([d.text for _, d in drafts]) == np.array([g for g, _ in drafts])
        figures["segment_judge_real_posts_cv"] = round(real, 3)
        figures["segment_judge_drafts"] = round(float(hits.mean()), 3)
    print(json.dumps(figures))
    if args.kit:
        kit = Path(args.kit)
        kit.mkdir(parents=True, exist_ok=True)
        rng = random.Random(7)
        used = list(dict.fromkeys(d.text for _, d in drafts))
        controls = rng.sample([p for p in lm.posts if p not in used], min(args.controls, len(lm.posts)))
        items = [("draft", text) for text in used] + [("real", p) for p in controls]
        rng.shuffle(items)
        lines = [f"{i + 1}. {' '.join(text.split())}" for i, (_, text) in enumerate(items)]
        (kit / "items.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (kit / "key.json").write_text(json.dumps([k for k, _ in items]), encoding="utf-8")
        print(f"kit: {len(items)} items ({len(used)} drafts, {len(controls)} real posts) in {kit}")


if __name__ == "__main__":
    main()
