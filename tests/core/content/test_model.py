"""The writer: a saved model loads, scores exactly and samples reproducibly."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from core.content.corpus import EOS, UNK
from core.content.generate import score_corpus
from core.content.model import load_keras_model, load_model
from tests.core.content.conftest import tiny_corpus


def test_save_and_load_give_identical_scores(trained) -> None:
    ws, lm, _ = trained
    loaded = load_model(ws, lm.model_id)
    corpus = tiny_corpus()
    assert score_corpus(loaded, corpus) == score_corpus(lm, corpus)
    assert loaded.info == lm.info


def test_numpy_inference_matches_the_saved_keras_model(trained) -> None:
    ws, lm, _ = trained
    keras_model = load_keras_model(ws, lm.model_id)
    seg, top = lm.vocab.control_ids("young women", "smoothies")
    x = np.array([[seg, top, *lm.vocab.encode("Try our kiwi smoothie")[0][:-1]]])
    np.testing.assert_allclose(lm.logits(x), keras_model.predict(x, verbose=0), atol=2e-4)


def test_bits_per_char_is_the_mean_over_characters_plus_end_of_post(trained) -> None:
    _, lm, _ = trained
    post = "Try our kiwi smoothie with oats today, post 99! #smoothies"
    seg, top = lm.vocab.control_ids("young women", "smoothies")
    ids, _ = lm.vocab.encode(post)
    logits = lm.logits(np.array([[seg, top, *ids[:-1]]]))[0, 1:].astype(np.float64)
    logits[:, : lm.vocab.first_char] = -np.inf  # padding and control tokens never come next...
    logits[:, [EOS, UNK]] = lm.logits(np.array([[seg, top, *ids[:-1]]]))[0, 1:, [EOS, UNK]].T  # ...these do
    p_lstm = np.exp(logits - logits.max(1, keepdims=True))
    p_lstm = (p_lstm / p_lstm.sum(1, keepdims=True))[np.arange(len(ids)), ids]
    ngram_ids = np.where(np.array(ids) >= lm.vocab.first_char, np.array(ids) - lm.vocab.first_char + 3, ids)
    order = lm.info.mix_order
    p_ngram = 2.0 ** -lm.ngram.bits([ngram_ids], order=order)
    # The post's own segment's and topic's n-grams (label = 1 + the label's index) have their weights too.
    # (here segment and topic go together, so one of the two may get all the weight).
    w, s, t = lm.info.mix_weight, lm.info.segment_weight, lm.info.topic_weight
    assert s + t > 0  # on this corpus a segment's posts differ from the others'
    p_segment = p_topic = p_ngram
    if s > 0:
        p_segment = 2.0 ** -lm.label_ngrams["segment"].bits(
            [ngram_ids], order=order, labels=[1 + lm.vocab.segments.index("young women")]
        )
    if t > 0:
        p_topic = 2.0 ** -lm.label_ngrams["topic"].bits(
            [ngram_ids], order=order, labels=[1 + lm.vocab.topics.index("smoothies")]
        )
    expected = -np.log2(w * p_lstm + s * p_segment + t * p_topic + (1 - w - s - t) * p_ngram).sum()
    bits, n_chars = lm.bits_per_char([post], segments=["young women"], topics=["smoothies"])
    assert n_chars == len(post) + 1
    assert bits == pytest.approx(expected / n_chars, rel=1e-9)


def test_unknown_characters_and_links_are_paid_for(trained) -> None:
    _, lm, _ = trained
    plain, _ = lm.bits_per_char(["Try our kiwi smoothie"])
    with_unknown, _ = lm.bits_per_char(["Try our kiwi smoothie ß"])
    assert with_unknown * 23 > plain * 22 + lm.vocab.oov_bits  # the unknown ß costs over 20 bits


def test_seeded_sampling_is_reproducible(trained) -> None:
    _, lm, _ = trained
    a = lm.sample(6, seed=5, controls=[("young men", "protein")])
    assert a == lm.sample(6, seed=5, controls=[("young men", "protein")])
    assert a != lm.sample(6, seed=6, controls=[("young men", "protein")])
    assert all(t.startswith("Hey ") for t in lm.sample(3, seed=1, opening="Hey"))


def test_segment_names_map_onto_the_model_labels(trained) -> None:
    _, lm, _ = trained
    assert lm.control_labels("Young Men", ["protein", "yoga"]) == ("young men", ["protein"])
    assert lm.control_labels("segment 3 · smoothie fans", ["smoothies"]) == ("young women", ["smoothies"])
    assert lm.control_labels("nobody", ["gardening"]) == ("", [])
    # An export may spell a topic with capitals: matched ignoring case, in the model's own spelling.
    assert lm.control_labels("Young Men", ["Protein", "YOGA"]) == ("young men", ["protein"])
    assert lm.vocab.control_ids("young men", "Protein") == lm.vocab.control_ids("young men", "protein")


def test_the_mixture_is_a_distribution_and_scores_posts_by_the_chain_rule(trained) -> None:
    _, lm, _ = trained
    post = "Try our kiwi smoothie"
    chain = 0.0
    for i in range(len(post) + 1):
        p = lm.next_distribution(post[:i], segment="young women", topic="smoothies")
        assert p.sum() == pytest.approx(1.0, abs=1e-9)
        assert p[: lm.vocab.first_char][[0, 3, 4]].sum() == 0.0  # padding and "any" never come next
        nxt = lm.vocab.char_ids[post[i]] if i < len(post) else EOS
        chain += -math.log2(p[nxt])
    bits, n_chars = lm.bits_per_char([post], segments=["young women"], topics=["smoothies"])
    assert chain / n_chars == pytest.approx(bits, rel=1e-9)


def test_drafts_are_not_ended_before_the_minimum_length(trained) -> None:
    _, lm, _ = trained
    texts = lm.sample(8, seed=2, min_length=30, max_length=40)
    assert all(len(t) >= 29 for t in texts)  # 30 symbols, less a trailing space stripped


def test_no_symbol_is_written_five_times_in_a_row(trained) -> None:
    _, lm, _ = trained
    texts = lm.sample(12, seed=4, temperature=3.0, top_k=None, top_p=None, max_length=120)
    assert not any(re.search(r"(.)\1{4,}", t) for t in texts)


def test_the_right_segment_and_topic_score_a_post_lower_than_wrong_ones(trained) -> None:
    _, lm, _ = trained
    posts = ["Try our melon smoothie with oats today, post 77! #smoothies", "Try our kiwi smoothie with oats today!"]
    right, _ = lm.bits_per_char(posts, segments=["young women"] * 2, topics=["smoothies"] * 2)
    wrong, _ = lm.bits_per_char(posts, segments=["young men"] * 2, topics=["protein"] * 2)
    unlabelled, _ = lm.bits_per_char(posts)
    assert right < unlabelled < wrong
