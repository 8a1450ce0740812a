"""The writer: a tiny LSTM trains, saves, loads, scores exactly and samples reproducibly."""

from __future__ import annotations

import json
import math
import re
from itertools import pairwise

import numpy as np
import pytest

from core.content.corpus import EOS, UNK, Corpus
from core.content.generate import draft_scores, fragments, generate_drafts, score_corpus
from core.content.model import load_keras_model, load_model
from core.content.ngram import CharNgram
from core.content.registry import ContentError, TrainConfig, TrainingCancelledError, list_models, newest_model_id
from core.content.train import train_model, tune_mixture
from core.demo import open_workspace

FRUITS = ["mango", "kiwi", "berry", "apple", "peach", "lemon", "grape", "melon"]
TINY = TrainConfig(units=16, embedding=8, epochs=3, batch_size=8, learning_rate=1e-2, seed=3)


def tiny_corpus() -> Corpus:
    texts, segments, topics = [], [], []
    for i in range(48):
        fruit = FRUITS[i % len(FRUITS)]
        if i % 2:
            texts.append(f"Try our {fruit} smoothie with oats today, post {i}! #smoothies")
            segments.append("young women")
            topics.append("smoothies")
        else:
            texts.append(f"Lift, then eat {fruit} and protein, day {i}. #fitness")
            segments.append("young men")
            topics.append("protein")
    return Corpus(texts, segments, topics, name="tiny")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    ws = open_workspace(tmp_path_factory.mktemp("content") / "ws", with_demo=False)
    messages = []
    lm = train_model(tiny_corpus(), ws, config=TINY, progress=lambda f, m: messages.append((f, m)))
    return ws, lm, messages


def test_a_tiny_model_trains_and_its_validation_loss_falls(trained) -> None:
    ws, lm, messages = trained
    history = [h["val_bits"] for h in lm.info.history]
    assert len(history) == 3 and history[-1] < history[0]
    assert lm.info.lstm_bits_per_char == pytest.approx(min(history))
    # The reported model is the validated mixture: never worse than the LSTM alone or the n-gram.
    assert lm.info.val_bits_per_char <= lm.info.lstm_bits_per_char + 1e-9
    assert lm.info.val_bits_per_char <= lm.info.baseline_bits_per_char + 1e-9
    assert 0.0 <= lm.info.mix_weight < 1.0 and lm.info.mix_order in range(3, 10) and lm.mixes
    assert messages[0] == (0.0, "Preparing the corpus…") and messages[-1][0] == 1.0
    assert all(b >= a for (a, _), (b, _) in pairwise(messages))
    assert newest_model_id(ws) == lm.model_id
    assert [m.model_id for m in list_models(ws)] == [lm.model_id]
    assert set(lm.info.baseline_by_order) == {str(k) for k in range(3, 10)}
    assert lm.info.segment_topics == {"young men": ["protein"], "young women": ["smoothies"]}


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


def test_generation_checks_every_draft_and_says_why_when_few_pass(trained) -> None:
    _, lm, _ = trained
    result = generate_drafts(lm, n=4, segment="young men", topics=["protein"], seed=2, banned_words=["the"])
    assert len(result.drafts) == 4
    for d in result.drafts:
        assert d.as_json().keys() == {"text", "weighted_length", "passes", "reasons"}
        assert d.passes == (not d.reasons)
    if result.n_passing < 4:
        assert result.message.startswith(f"only {result.n_passing} of 4 drafts passed the checks after")
    with pytest.raises(ContentError, match="n=0 must be between 1 and 100"):
        generate_drafts(lm, n=0)


def test_segment_names_map_onto_the_model_labels(trained) -> None:
    _, lm, _ = trained
    assert lm.control_labels("Young Men", ["protein", "yoga"]) == ("young men", ["protein"])
    assert lm.control_labels("segment 3 · smoothie fans", ["smoothies"]) == ("young women", ["smoothies"])
    assert lm.control_labels("nobody", ["gardening"]) == ("", [])


def test_cancelling_saves_nothing(tmp_path) -> None:
    ws = open_workspace(tmp_path / "ws", with_demo=False)
    with pytest.raises(TrainingCancelledError):
        train_model(tiny_corpus(), ws, config=TINY, should_stop=lambda: True)
    assert list_models(ws) == []
    assert not any((ws.home / "tmp").iterdir())


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


def test_ngram_distributions_sum_to_one() -> None:
    seqs = [np.array([3, 4, 3, 5, 1]), np.array([4, 4, 3, 1]), np.array([5, 3, 4, 4, 3, 1])]
    model = CharNgram(n_symbols=5, max_order=4).fit(seqs)
    for order in (1, 2, 4):
        for context in ([3, 4], [4, 4, 3], [5]):
            # Every possible next symbol (ids 1..5) after the same context.
            total = sum(2.0 ** -model.bits([np.array([*context, nxt])], order=order)[-1] for nxt in range(1, 6))
            assert total == pytest.approx(1.0, abs=1e-9), (order, context)


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


def test_the_mixture_weight_is_the_one_that_fits_validation_best() -> None:
    # Half the validation symbols favour the LSTM, half the n-gram of order 5: the best weight is
    # where the two pull equally, and an order that only hurts is not chosen.
    lstm = np.array([0.8, 0.8, 0.1, 0.1])
    ngram = {3: np.full(4, 0.01), 5: np.array([0.1, 0.1, 0.8, 0.8])}
    weight, order, total = tune_mixture(lstm, ngram)
    assert (weight, order) == (0.5, 5)
    assert total == pytest.approx(-4 * math.log2(0.45))
    # Validation symbols the n-gram never helps with leave the LSTM alone.
    assert tune_mixture(np.full(3, 0.5), {4: np.full(3, 0.1)})[:2] == (1.0, 0)


def test_ngram_next_probs_match_its_scores_and_sum_to_one() -> None:
    rng = np.random.default_rng(0)
    seqs = [np.append(rng.integers(2, 7, size=rng.integers(3, 20)), 1) for _ in range(60)]
    model = CharNgram(n_symbols=6, max_order=4).fit(seqs)
    post = np.array([3, 5, 2, 6, 4, 1])
    for order in (1, 3, 4):
        bits = model.bits([post], order=order)
        contexts = np.array([np.concatenate([np.zeros(6 - t, dtype=int), post[:t]]) for t in range(6)])
        probs = model.next_probs(contexts, post[:, None], order=order)[:, 0]
        np.testing.assert_allclose(probs, 2.0**-bits, rtol=1e-12)
        every = model.next_probs(contexts, np.tile(np.arange(1, 7), (6, 1)), order=order)
        np.testing.assert_allclose(every.sum(axis=1), 1.0, rtol=1e-12)


def test_ngram_looks_up_only_the_candidates_asked_for_and_gives_them_the_same_values() -> None:
    rng = np.random.default_rng(1)
    seqs = [np.append(rng.integers(2, 7, size=rng.integers(3, 20)), 1) for _ in range(60)]
    model = CharNgram(n_symbols=6, max_order=4).fit(seqs, labels=[i % 2 + 1 for i in range(60)])
    contexts = rng.integers(0, 7, size=(5, 3))
    candidates = np.tile(np.arange(1, 7), (5, 1))
    wanted = rng.random((5, 6)) < 0.5
    every = model.next_probs(contexts, candidates, order=4, labels=[1, 2, 1, 2, 0])
    some = model.next_probs(contexts, candidates, order=4, labels=[1, 2, 1, 2, 0], where=wanted)
    np.testing.assert_array_equal(some[wanted], every[wanted])
    np.testing.assert_allclose(every.sum(axis=1), 1.0, rtol=1e-12)


def test_fragments_count_short_sentences_run_ons_and_an_ending_mid_phrase() -> None:
    assert fragments("Breakfast. Our no-added.") == 2
    assert fragments("Oats with berries for breakfast. Small habits, real glow. #skincare") == 0
    assert fragments("Oats with berries for breakfast on the") == 1  # ends mid-phrase
    assert fragments("Oats with berries for breakfast, 🌿") == 0  # an emoji ends a post fine
    assert fragments("Try our new blend https://shop.example/tea") == 0
    assert fragments("今天喝绿茶。") == 0  # no Latin-script words: not judged
    run_on = "Oats and a scoop of protein a bowl of rice and cucumber on toast in under three pancakes."
    assert fragments(run_on) == 0
    assert fragments(run_on, max_words=12) == 1  # 17 words where the corpus stops at 12
    assert fragments("Oats with berries for breakfast. " + run_on, max_words=12) == 1


def test_a_fluent_post_scores_better_than_its_words_shuffled_or_cut_into_fragments(trained) -> None:
    _, lm, _ = trained
    post = "Try our mango smoothie with oats today, post 3! #smoothies"
    shuffled = "smoothie today, our with Try oats mango post 3! #smoothies"
    fragmented = "Try our. Mango smoothie. With oats today, post 3! #smoothies"
    scores = draft_scores(lm, [post, shuffled, fragmented], segments=["young women"] * 3, topics=["smoothies"] * 3)
    assert scores[0] < scores[1] and scores[0] < scores[2]


def test_drafts_kept_from_several_candidates_are_more_fluent_and_reproducible(trained) -> None:
    _, lm, _ = trained
    kwargs = {"n": 6, "segment": "young men", "topics": ["protein"], "seed": 4, "temperature": 1.0}
    written = generate_drafts(lm, candidates=1, **kwargs).drafts
    ranked = generate_drafts(lm, candidates=4, **kwargs)
    assert ranked.n_passing == 6
    assert ranked.sampled >= 4 * 6  # written as one batch of several candidates per draft

    def mean_score(drafts):
        return draft_scores(
            lm, [d.text for d in drafts], segments=[d.segment for d in drafts], topics=[d.topic for d in drafts]
        ).mean()

    assert mean_score(ranked.drafts) < mean_score(written)
    assert [d.text for d in generate_drafts(lm, candidates=4, **kwargs).drafts] == [d.text for d in ranked.drafts]
    with pytest.raises(ContentError, match="candidates=0"):
        generate_drafts(lm, candidates=0)


def test_drafts_are_not_ended_before_the_minimum_length(trained) -> None:
    _, lm, _ = trained
    texts = lm.sample(8, seed=2, min_length=30, max_length=40)
    assert all(len(t) >= 29 for t in texts)  # 30 symbols, less a trailing space stripped


def test_no_symbol_is_written_five_times_in_a_row(trained) -> None:
    _, lm, _ = trained
    texts = lm.sample(12, seed=4, temperature=3.0, top_k=None, top_p=None, max_length=120)
    assert not any(re.search(r"(.)\1{4,}", t) for t in texts)


def test_a_labelled_ngram_keeps_each_labels_counts_apart() -> None:
    tea = [np.array([3, 4, 3, 4, 1]), np.array([3, 3, 4, 1]), np.array([4, 3, 4, 3, 1])]
    oats = [np.array([5, 6, 5, 6, 1]), np.array([6, 5, 5, 1]), np.array([5, 6, 6, 1])]
    plain = CharNgram(n_symbols=6, max_order=3).fit(tea)
    # Every post under one label: exactly the model fitted without labels.
    one_label = CharNgram(n_symbols=6, max_order=3).fit(tea, labels=[2, 2, 2])
    post = np.array([3, 4, 4, 1])
    np.testing.assert_allclose(one_label.bits([post], labels=[2]), plain.bits([post]), rtol=1e-12)
    both = CharNgram(n_symbols=6, max_order=3).fit(tea + oats, labels=[1, 1, 1, 2, 2, 2])
    assert both.bits([post], labels=[1]).sum() < both.bits([post], labels=[2]).sum() - 5
    contexts = np.array([[0, 3, 4], [0, 5, 6]])
    every = both.next_probs(contexts, np.tile(np.arange(1, 7), (2, 1)), labels=[1, 2])
    np.testing.assert_allclose(every.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(every[0, 2], 2.0 ** -both.bits([np.array([3, 4, 3])], labels=[1])[-1], rtol=1e-12)


def test_the_right_segment_and_topic_score_a_post_lower_than_wrong_ones(trained) -> None:
    _, lm, _ = trained
    posts = ["Try our melon smoothie with oats today, post 77! #smoothies", "Try our kiwi smoothie with oats today!"]
    right, _ = lm.bits_per_char(posts, segments=["young women"] * 2, topics=["smoothies"] * 2)
    wrong, _ = lm.bits_per_char(posts, segments=["young men"] * 2, topics=["protein"] * 2)
    unlabelled, _ = lm.bits_per_char(posts)
    assert right < unlabelled < wrong


def test_drafts_follow_their_segment(trained) -> None:
    _, lm, _ = trained
    women = generate_drafts(lm, n=6, segment="young women", topics=["smoothies"], seed=1, resample=False).drafts
    men = generate_drafts(lm, n=6, segment="young men", topics=["protein"], seed=1, resample=False).drafts
    assert sum("smoothie" in d.text for d in women) > sum("smoothie" in d.text for d in men)
    assert sum("protein" in d.text or "Lift" in d.text for d in men) > sum(
        "protein" in d.text or "Lift" in d.text for d in women
    )


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


def test_the_sampler_steers_clear_of_copying_a_post(trained) -> None:
    _, lm, _ = trained
    # (spelling only the corpus's words is off: on this corpus "#smoo" can only go on as a copy)
    kwargs = {
        "n": 8,
        "segment": "young women",
        "topics": ["smoothies"],
        "seed": 3,
        "temperature": 0.3,
        "resample": False,
        "known_words": False,
        "candidates": 1,
    }
    free = generate_drafts(lm, avoid_copies=False, **kwargs).drafts
    guarded = generate_drafts(lm, **kwargs).drafts
    assert sum(d.near_copy for d in free) >= 4  # this corpus is one sentence with a fruit swapped in...
    assert not any(d.near_copy for d in guarded)  # ...yet no draft shares 40 characters with a post


def test_keeping_to_the_corpus_words_does_not_lead_into_copies(trained) -> None:
    _, lm, _ = trained
    # Spelling only the corpus's words, joined only as in the corpus: on one repeated sentence the
    # words alone lead back into a post, so the sampler leaves it at a word's start instead.
    kwargs = {
        "n": 8,
        "segment": "young women",
        "topics": ["smoothies"],
        "seed": 3,
        "temperature": 0.3,
        "resample": False,
        "candidates": 1,
    }
    free = generate_drafts(lm, avoid_copies=False, **kwargs).drafts
    guarded = generate_drafts(lm, **kwargs).drafts
    assert sum(d.near_copy for d in free) >= 4
    assert not any(d.near_copy for d in guarded)


def test_drafts_of_one_call_do_not_repeat_a_phrase_when_others_pass(trained) -> None:
    _, lm, _ = trained
    drafts = generate_drafts(lm, n=3, segment="young men", topics=["protein"], seed=2, candidates=6).drafts
    pieces = [{d.text.casefold()[i : i + 20] for i in range(len(d.text) - 19)} for d in drafts]
    assert len(drafts) == 3 and all(d.passes for d in drafts)
    assert not any(pieces[i] & pieces[j] for i in range(3) for j in range(i)), [d.text for d in drafts]
