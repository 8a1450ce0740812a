"""Draft checks: X's weighted length, near-copies, banned words, garbage."""

from __future__ import annotations

import pytest

from core.content.checks import (
    DEFAULT_BANNED_WORDS,
    NearCopyIndex,
    check_draft,
    load_banned_words,
    save_banned_words,
    weighted_length,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("你好", 4),  # CJK characters count 2
        ("😀", 2),  # an emoji counts 2
        ("👩‍👩‍👧", 2),  # a ZWJ family sequence is one emoji
        ("see https://example.com/a/very/long/path/that/goes/on/and/on", 4 + 23),  # any URL counts 23
        ("Café ☕ 咖啡 https://t.co/x", 4 + 1 + 2 + 1 + 4 + 1 + 23),
    ],
)
def test_weighted_length_counts_like_x(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_a_280_cjk_character_draft_is_too_long_but_140_fit() -> None:
    assert check_draft("好吃" * 70, banned_words=()).passes
    long = check_draft("好吃" * 70 + "呀", banned_words=())
    assert long.weighted_length == 282
    assert "too long for X (282 of 280)" in long.reasons


def test_near_copy_needs_40_shared_characters() -> None:
    post = "Our marine collagen stirs into your morning latte without a trace of taste."
    index = NearCopyIndex([post])
    copied = "Fun fact: " + post[:40] + " — try it."
    assert check_draft(copied, near_copy=index, banned_words=()).near_copy
    assert (
        "near-copy of a corpus post (40+ characters in common)"
        in check_draft(copied, near_copy=index, banned_words=()).reasons
    )
    shorter = "Fun fact: " + post[:39] + " and more words here."
    assert not check_draft(shorter, near_copy=index, banned_words=()).near_copy


def test_near_copy_ignores_case_spacing_and_links() -> None:
    index = NearCopyIndex(["New bundle is live at https://shop.example/a so go and get it while it lasts!"])
    assert index.copies("NEW bundle is live at   https://other.example/b so go and get it while it lasts")


def test_banned_words_match_whole_words_and_chinese_anywhere() -> None:
    banned = ["cure", "治愈"]
    assert check_draft("This tea will cure your cold, honest.", banned_words=banned).reasons == ["banned word: cure"]
    assert check_draft("Keep your snacks secure in a jar today.", banned_words=banned).passes
    assert check_draft("这款茶可以治愈一切烦恼，快来试试吧！", banned_words=banned).reasons == ["banned word: 治愈"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Hi there", "too short (8 characters, at least 15)"),
        ("!!! ??? ### $$$ %%% &&& ***", "mostly symbols, not words"),
        ("Sooooooo good, our smoothie of the week", "a character repeated 5 or more times"),
        ("Try our \ue000 smoothie bundle this week", "contains an unknown symbol"),
    ],
)
def test_garbage_is_caught(text: str, reason: str) -> None:
    assert reason in check_draft(text, banned_words=()).reasons


def test_invisible_characters_are_neither_words_nor_symbols() -> None:
    # Weibo posts often end in zero-width spaces; an emoji can carry a variation selector.
    assert check_draft("我也不要这样的，今天真的太累了！ \u200b\u200b\u200b", banned_words=()).passes
    assert check_draft("Love it ❤\ufe0f❤\ufe0f❤\ufe0f see you soon", banned_words=()).passes
    assert (
        "mostly symbols, not words"
        in check_draft("好的！！！？？？……！！！。。。～～ \u200b\u200b\u200b", banned_words=()).reasons
    )


def test_made_up_words_fail_when_the_corpus_is_known() -> None:
    index = NearCopyIndex(["Our green smoothie has spinach, banana and ginger in it today."])
    assert check_draft("Our green smoothie has banana and ginger.", near_copy=index, banned_words=()).passes
    bad = check_draft("Oor gren smothie hsa spinch bnana and gnger.", near_copy=index, banned_words=())
    assert any(r.startswith("mostly made-up words") for r in bad.reasons)


def test_banned_words_are_kept_in_the_workspace(workspace) -> None:
    assert load_banned_words(workspace) == list(DEFAULT_BANNED_WORDS)
    assert save_banned_words(workspace, ["  miracle ", "", "miracle", "神药"]) == ["miracle", "神药"]
    assert load_banned_words(workspace) == ["miracle", "神药"]
