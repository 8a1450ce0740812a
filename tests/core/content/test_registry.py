"""The model registry: model cards, model paths, the training configuration and what Home reports."""

from __future__ import annotations

import json

import pytest

from core.content.corpus import Corpus
from core.content.model import load_model
from core.content.registry import ContentError, TrainConfig
from core.content.train import train_model
from core.demo import open_workspace
from tests.core.content.conftest import tiny_corpus


def test_too_few_posts_and_unknown_models_are_user_errors(tmp_path) -> None:
    ws = open_workspace(tmp_path / "ws", with_demo=False)
    with pytest.raises(ContentError, match="the corpus has 3 posts; at least 10"):
        train_model(Corpus(["a", "b", "c"], [""] * 3, [""] * 3), ws)
    with pytest.raises(ContentError, match="no model yet"):
        load_model(ws)
    with pytest.raises(ContentError, match=r"model '\.\./x' does not exist"):
        load_model(ws, "../x")


def test_home_reports_the_trained_model(trained) -> None:
    from core.status import pipeline_status

    ws, lm, _ = trained
    content = next(s for s in pipeline_status(ws) if s.title == "Content")
    assert content.status == f"writer ready · learned from {lm.info.n_posts:,} posts"  # words an owner reads
    assert content.state == "done"


def test_a_model_card_from_before_label_ngrams_still_loads(trained) -> None:
    ws, lm, _ = trained
    path = ws.home / "models" / lm.model_id / "meta.json"
    card = json.loads(path.read_text(encoding="utf-8"))
    old = {k: v for k, v in card.items() if k not in ("segment_weight", "topic_weight")}
    path.write_text(json.dumps(old), encoding="utf-8")
    try:
        loaded = load_model(ws, lm.model_id)
        assert loaded.info.segment_weight == loaded.info.topic_weight == 0.0
        # It scores as before, labels or not (its segment n-grams serve only for writing).
        texts = tiny_corpus().texts[:6]
        labelled = loaded.bits_per_char(texts, segments=tiny_corpus().segments[:6], topics=tiny_corpus().topics[:6])
        assert labelled == loaded.bits_per_char(texts)
    finally:
        path.write_text(json.dumps(card), encoding="utf-8")


def test_a_small_corpus_trains_a_smaller_lstm_in_smaller_batches() -> None:
    small, large = TrainConfig().for_corpus(335), TrainConfig().for_corpus(10_000)
    assert (small.units, small.batch_size, small.learning_rate) == (128, 8, 1e-2)
    assert (large.units, large.batch_size, large.learning_rate) == (256, 64, 6e-3)
    assert TrainConfig(units=16, batch_size=32).for_corpus(335).units == 16  # what the operator sets stays
    assert TrainConfig(units=16, batch_size=32).for_corpus(335).batch_size == 32
    with pytest.raises(ContentError, match="units=0 must be at least 1"):
        TrainConfig(units=0)
