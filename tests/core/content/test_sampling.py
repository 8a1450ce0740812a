"""The sampler's guarantees, on a model whose weights are set by hand so each case is certain.

The numpy LSTM here is the same class a trained model loads into; only its weights are chosen
(no training), so a test can make the model want exactly the misbehaviour the sampler must stop.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.content.checks import weighted_length
from core.content.corpus import MENTION, URL, Corpus, SpanModel, Vocabulary, restore_placeholders
from core.content.generate import draft_scores
from core.content.lexicon import cut_at_boundary as _cut_at_boundary
from core.content.model import LanguageModel
from core.content.registry import ModelInfo

POSTS = [
    "Green tea and oats for breakfast today. @meadow #tea",
    "Oats, berries and tea: a calm start. https://shop.example/a",
    "Fresh berries in stock today, try them with oats.",
    "Tea time! Our green blend is back. @meadow @pantry",
]


def hand_set_model(
    favourite: str | None = None, *, units: int = 4, seed: int = 0, posts: list[str] = POSTS
) -> LanguageModel:
    """A 1-layer model with random small weights whose output leans hard towards ``favourite``."""
    corpus = Corpus(posts, [""] * len(posts), [""] * len(posts), name="hand-set")
    vocab = Vocabulary.build(corpus, min_count=1)
    rng = np.random.default_rng(seed)
    weights = {
        "embedding": rng.normal(0, 0.1, (vocab.size, 3)),
        "kernel_0": rng.normal(0, 0.1, (3, 4 * units)),
        "recurrent_0": rng.normal(0, 0.1, (units, 4 * units)),
        "bias_0": np.zeros(4 * units),
        "out_kernel": rng.normal(0, 0.1, (units, vocab.size)),
        "out_bias": np.zeros(vocab.size),
    }
    if favourite is not None:
        weights["out_bias"][vocab.char_ids[favourite]] = 8.0
    info = ModelInfo(
        model_id="hand-set",
        created_at="",
        corpus="hand-set",
        n_posts=len(posts),
        n_train=len(posts),
        n_val=0,
        val_bits_per_char=0.0,
        baseline_bits_per_char=0.0,
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
        mentions=["@meadowpantryofficial"],
    )
    return LanguageModel(info, vocab, SpanModel.build(posts), weights, posts)


def test_no_draft_runs_past_the_weighted_limit_and_none_stops_mid_word() -> None:
    lm = hand_set_model()
    for limit in (40, 60, 100):
        texts = lm.sample(
            16,
            seed=1,
            temperature=1.5,
            top_k=None,
            top_p=None,
            max_length=400,
            max_weighted_length=limit,
            link="https://meadowpantry.example/shop",
        )
        for text in texts:
            final = restore_placeholders(text, link="https://meadowpantry.example/shop", mentions=lm.info.mentions)
            assert weighted_length(final) <= limit, final
            # Cut after a sentence or a whole word of the corpus, never inside one.
            last = re.findall(r"[A-Za-z]+", text)
            assert not last or last[-1].lower() in lm.lexicon.words or text.endswith((".", "!", "?"))


def test_links_and_mentions_weigh_what_x_counts_in_the_sampler_budget() -> None:
    lm = hand_set_model()
    weights = lm.symbol_weights("https://meadowpantry.example/shop")
    # A link counts 23 after a space, its own length when glued to a word: the budget takes the larger.
    assert weights[lm.vocab.char_ids[URL]] == len("https://meadowpantry.example/shop")
    assert lm.symbol_weights("https://t.co/x")[lm.vocab.char_ids[URL]] == 23
    assert weights[lm.vocab.char_ids[MENTION]] == len("@meadowpantryofficial")
    assert weights[lm.vocab.char_ids["a"]] == 1
    assert lm.symbol_weights(None)[lm.vocab.char_ids[URL]] == 0  # no link: the placeholder is dropped


def test_mentions_are_capped_at_three_in_a_row() -> None:
    lm = hand_set_model(favourite=MENTION)
    texts = lm.sample(8, seed=3, max_length=60, known_words=False)
    assert all(MENTION * 3 in t.replace(" ", "") for t in texts)  # the model wants nothing else...
    assert not any(MENTION * 4 in t.replace(" ", "") for t in texts)  # ...and gets three at most


def test_drafts_spell_only_words_of_the_corpus() -> None:
    lm = hand_set_model()
    free = lm.sample(24, seed=2, temperature=2.0, top_k=None, top_p=None, max_length=80, known_words=False)
    kept = lm.sample(24, seed=2, temperature=2.0, top_k=None, top_p=None, max_length=80)
    words = {w for t in free for w in re.findall(r"[a-z]+", t.lower())}
    assert words - lm.lexicon.words  # random weights invent words...
    assert {
        w for t in kept for w in re.findall(r"[a-z]+", t.lower())
    } <= lm.lexicon.words  # ...unless kept to the corpus


def _joined_words(text: str) -> list[tuple[str, ...]]:
    """Runs of words joined by spaces or by a comma, colon or apostrophe, as (word, joiner, word, ...)."""
    runs = []
    for run in re.split(r"[^a-z,:' ]+|[.!?]", text.lower()):
        parts = re.findall(r"[a-z]+|[,:']", run)
        out: list[str] = []
        for part in parts:
            if part.isalpha():
                if out and out[-1].isalpha():
                    out.append("")  # a space between two words
                out.append(part)
            elif out and out[-1].isalpha():
                out.append(part)
            else:
                out = []  # two joiners in a row: the words are not joined
        runs.append(tuple(out[:-1] if out and not out[-1].isalpha() else out))
    return runs


def _word_pairs_and_triples(texts: list[str]) -> tuple[set, dict]:
    pairs, triples = set(), {}
    for text in texts:
        for run in _joined_words(text):
            words = run[::2]
            for i in range(len(words) - 1):
                pairs.add(run[2 * i : 2 * i + 3])
                if i >= 1:
                    triples.setdefault(run[2 * i - 2 : 2 * i + 2], set()).add(words[i + 1])
    return pairs, triples


def test_words_meet_only_as_they_do_in_the_corpus() -> None:
    lm = hand_set_model()
    for c, i in lm.vocab.char_ids.items():  # a model that writes letters and spaces, in any order
        lm.out_bias[i] = 4.0 if c == " " else 3.0 if c.isalpha() else 0.0
    pairs, triples = _word_pairs_and_triples(POSTS)
    free = lm.sample(24, seed=2, temperature=1.0, top_k=None, top_p=None, max_length=80, known_words=False)
    kept = lm.sample(24, seed=2, temperature=1.0, top_k=None, top_p=None, max_length=80)
    free_pairs, _ = _word_pairs_and_triples(free)
    assert free_pairs - pairs  # random weights put words side by side that never meet...
    contexts = {pair[:2] for pair in pairs}
    checked = 0
    for text in kept:  # ...kept to the corpus, each word follows the word before as the corpus has it
        for run in _joined_words(text):  # (when it has that word so joined to any other),
            for i in range(0, len(run) - 2, 2):
                if run[i : i + 2] in contexts:
                    assert run[i : i + 3] in pairs, (text, run[i : i + 3])
                    checked += 1
                # ...and the two words before, when the corpus has them joined so.
                if i >= 2 and run[i - 2 : i + 2] in triples:
                    assert run[i + 2] in triples[run[i - 2 : i + 2]], (text, run[i - 2 : i + 3])
    assert checked >= 20
    # A sentence starts with a word the corpus starts a sentence with.
    starters = {m.lower() for t in POSTS for m in re.findall(r"(?:^|[.!?]\s+)([A-Za-z]+)", t)}
    opened = [m.lower() for t in kept for m in re.findall(r"(?:^|[.!?]\s+)([A-Za-z]+)", t)]
    assert len(opened) >= 10 and set(opened) <= starters, set(opened) - starters


def test_a_sentence_that_goes_on_as_another_posts_ranks_behind_one_as_the_corpus_has_it() -> None:
    posts = ["Our green tea with honey is back.", "Try black tea with lemon today.", "Fresh mint tea for the evening."]
    lm = hand_set_model(posts=posts)
    lm.out_kernel[:], lm.out_bias[:] = 0.0, 0.0  # every symbol equally likely: only the text's shape counts
    # Each word follows the two before as some post has it, yet "green tea with lemon" is in no
    # post: the first post's sentence goes on as the second's. A sentence may also end where no
    # sentence of the corpus ends ("with honey.").
    assert [lm.lexicon.seams(t)[0] for t in posts] == [0, 0, 0]
    spliced, ends_early = "Our green tea with lemon today.", "Try black tea with honey."
    assert (lm.lexicon.seams(spliced), lm.lexicon.seams(ends_early)) == ((1, 6), (2, 5))
    as_written = "Try black tea with lemon today."  # same length, same words joined as the corpus joins them
    scores = draft_scores(lm, [as_written, spliced, ends_early])
    assert scores[0] < scores[1] < scores[2]


def test_no_capital_inside_a_word_begun_in_lower_case() -> None:
    lm = hand_set_model()
    free = lm.sample(24, seed=2, temperature=2.0, top_k=None, top_p=None, max_length=80, known_words=False)
    kept = lm.sample(24, seed=2, temperature=2.0, top_k=None, top_p=None, max_length=80)
    assert any(re.search(r"[a-z][A-Z]", t) for t in free)
    assert not any(re.search(r"[a-z][A-Z]", t) for t in kept)


def test_seeded_sampling_with_every_constraint_is_reproducible() -> None:
    lm = hand_set_model()
    kwargs = {"temperature": 1.2, "max_length": 120, "max_weighted_length": 70, "link": "https://x.example"}
    assert lm.sample(6, seed=9, **kwargs) == lm.sample(6, seed=9, **kwargs)
    assert lm.sample(6, seed=9, **kwargs) != lm.sample(6, seed=10, **kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Green tea for breakfast. Oats and berries are back in sto", "Green tea for breakfast."),
        ("Green tea for breakfast today with oats, berri", "Green tea for breakfast today with oats"),
        ("今天喝绿茶。明天喝红", "今天喝绿茶。"),
        ("Oats\ue000berries\ue000tea\ue001br", "Oats\ue000berries\ue000tea\ue001"),  # links glued, no space
    ],
)
def test_a_draft_that_had_to_stop_is_cut_after_a_sentence_or_a_word(text: str, expected: str) -> None:
    assert _cut_at_boundary(text) == expected


def test_no_third_copy_in_a_row_of_a_short_piece_but_banana_is_fine() -> None:
    lm = hand_set_model(favourite="a")
    lm.out_bias[lm.vocab.char_ids["n"]] = 8.0  # the model wants nothing but a and n, in any order
    texts = lm.sample(16, seed=1, temperature=1.0, max_length=60, known_words=False)
    assert any("anana" in t for t in texts)  # two copies of "an" and the start of a third: "banana"
    assert not any(re.search(r"(.{2,6})\1\1", t) for t in texts)  # never the whole third copy


def test_temperature_sharpens_the_words_but_leaves_the_end_of_post_its_own_share() -> None:
    prob = np.array([[0.5, 0.3, 0.2], [0.6, 0.4, 0.0]])
    is_end = np.array([[False, False, True], [False, True, False]])
    zc = np.log(np.maximum(prob, 1e-300)) / 0.4
    zc[prob <= 0] = -np.inf
    LanguageModel._untempered_end(zc, prob, is_end)
    p = np.exp(zc - zc.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p[:, 2][0], 0.2)  # the end keeps the model's 20 %...
    np.testing.assert_allclose(p[1, 1], 0.4)
    assert p[0, 0] / p[0, 1] == pytest.approx((0.5 / 0.3) ** (1 / 0.4))  # ...the words are sharpened


def test_writing_stops_once_enough_samples_have_ended() -> None:
    lm = hand_set_model()
    full = lm.sample(8, seed=5, temperature=1.0, max_length=200)
    early = lm.sample(8, seed=5, temperature=1.0, max_length=200, enough=2)
    assert sum(map(len, early)) < sum(map(len, full))
    assert sum(a == b for a, b in zip(early, full, strict=True)) >= 2  # those that had ended are unchanged
