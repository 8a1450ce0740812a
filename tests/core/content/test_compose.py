"""Composed drafts: publishable, new, on the segment's interests, and honest when there is nothing to say."""

from __future__ import annotations

import re

import pytest

from core.audience.demo_groups import SIGNATURE_TOPICS
from core.content.checks import check_draft
from core.content.compose import compose_drafts, compose_for_segment, sentence_blocks
from core.content.model import LanguageModel, load_model
from core.demo import install_demo_model
from core.workspace import open_workspace

SENTENCE = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")


@pytest.fixture(scope="module")
def demo_writer(tmp_path_factory: pytest.TempPathFactory) -> LanguageModel:
    """The writer the demo ships with (a real Keras LSTM's weights, run in numpy)."""
    ws = open_workspace(tmp_path_factory.mktemp("compose") / "workspace")
    return load_model(ws, install_demo_model(ws))


def _write(lm: LanguageModel, group: str, **options):
    return compose_for_segment(lm, group, SIGNATURE_TOPICS[group], **options)


def test_every_draft_passes_the_checks_and_copies_no_post(demo_writer: LanguageModel) -> None:
    result = _write(demo_writer, "seniors", n=8, seed=3, internal_names=["seniors"])
    assert len(result.drafts) == 8 and not result.message
    for draft in result.drafts:
        assert check_draft(draft.text, near_copy=demo_writer.near_copy_index, internal_names=["seniors"]).passes
        assert draft.text not in demo_writer.posts
    assert len({d.text for d in result.drafts}) == 8


def test_drafts_are_made_of_the_segments_own_sentences(demo_writer: LanguageModel) -> None:
    segments, _topics = demo_writer.post_labels
    label, _ = demo_writer.control_labels("young men", SIGNATURE_TOPICS["young men"])
    theirs = " ".join(p for p, s in zip(demo_writer.posts, segments, strict=True) if s == label)
    others = " ".join(p for p, s in zip(demo_writer.posts, segments, strict=True) if s != label)
    for draft in _write(demo_writer, "young men", n=6, seed=1).drafts:
        sentences = [s for s in SENTENCE.split(draft.text) if s]
        # every sentence is one of the brand's own, and most come from this segment's posts
        assert all(s in theirs or s in others for s in sentences), draft.text
        assert sum(s in theirs for s in sentences) * 2 >= len(sentences), draft.text


def test_the_same_seed_gives_the_same_drafts_and_exclude_gives_new_ones(demo_writer: LanguageModel) -> None:
    first = [d.text for d in _write(demo_writer, "young women", n=4, seed=5).drafts]
    assert first == [d.text for d in _write(demo_writer, "young women", n=4, seed=5).drafts]
    again = [d.text for d in _write(demo_writer, "young women", n=4, seed=5, exclude=first).drafts]
    assert again and not set(again) & set(first)


def test_nothing_on_the_segments_interests_says_so(demo_writer: LanguageModel) -> None:
    result = compose_drafts(demo_writer, n=3, segment="", topics=[], interests=["motorsport", "cryptocurrency"])
    assert result.drafts == []
    assert "your posts say nothing about motorsport, cryptocurrency yet" in result.message


def test_only_sentences_that_stand_alone_are_building_blocks() -> None:
    posts = [
        "Yoga teaches patience. It takes time. Read more: https://x.example/y",
        "Heart-friendly and warming. Our new tea is here!",
        "RT @someone Great post here today.",
        "Drink more water every day. Your skin will thank you.",
    ]
    texts = [b.text for b in sentence_blocks(posts)]
    assert "Yoga teaches patience." in texts and "Drink more water every day." in texts
    assert "It takes time." not in texts  # leans on the sentence before it
    assert not any(t.startswith("Read more") for t in texts)  # points at what is not there
    assert not any("RT" in t for t in texts)
    heart = next(b for b in sentence_blocks(posts) if b.text.startswith("Heart-friendly"))
    assert not heart.complete  # no verb: a fragment that only follows its own sentence
