"""The character n-gram: its distributions sum to one and labelled counts stay apart."""

from __future__ import annotations

import numpy as np
import pytest

from core.content.ngram import CharNgram


def test_ngram_distributions_sum_to_one() -> None:
    seqs = [np.array([3, 4, 3, 5, 1]), np.array([4, 4, 3, 1]), np.array([5, 3, 4, 4, 3, 1])]
    model = CharNgram(n_symbols=5, max_order=4).fit(seqs)
    for order in (1, 2, 4):
        for context in ([3, 4], [4, 4, 3], [5]):
            # Every possible next symbol (ids 1..5) after the same context.
            total = sum(2.0 ** -model.bits([np.array([*context, nxt])], order=order)[-1] for nxt in range(1, 6))
            assert total == pytest.approx(1.0, abs=1e-9), (order, context)


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
