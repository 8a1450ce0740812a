"""Writing drafts: every draft is checked, fragments are counted, drafts are ranked and steer clear of copies."""

from __future__ import annotations

import pytest

from core.content.generate import draft_scores, fragments, generate_drafts
from core.content.registry import ContentError


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


def test_drafts_follow_their_segment(trained) -> None:
    _, lm, _ = trained
    women = generate_drafts(lm, n=6, segment="young women", topics=["smoothies"], seed=1, resample=False).drafts
    men = generate_drafts(lm, n=6, segment="young men", topics=["protein"], seed=1, resample=False).drafts
    assert sum("smoothie" in d.text for d in women) > sum("smoothie" in d.text for d in men)
    assert sum("protein" in d.text or "Lift" in d.text for d in men) > sum(
        "protein" in d.text or "Lift" in d.text for d in women
    )


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
