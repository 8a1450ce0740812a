"""Draft checks: X's weighted length, near-copies, banned words, garbage."""

from __future__ import annotations

import difflib
import random

import pytest

from core.content.checks import (
    DEFAULT_BANNED_WORDS,
    NearCopyIndex,
    check_draft,
    load_banned_words,
    save_banned_words,
    similar,
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


def test_a_near_copy_says_again_what_one_post_said() -> None:
    post = (
        "Our marine collagen stirs into your morning latte without a trace of taste. "
        "Try it in oat milk, or in your evening cocoa with a spoon of honey."
    )
    index = NearCopyIndex([post, "Oat milk froths best when it is cold from the fridge."])
    repeated = (
        "Our marine collagen stirs into your morning latte without a trace of taste! "
        "Try it in oat milk, or in your evening cocoa with honey"
    )
    check = check_draft(repeated, near_copy=index, banned_words=())
    assert check.near_copy
    assert check.reasons == ["near-copy: it says again what one of your posts said"]
    # One sentence of it, under 70 % of the post, is the brand's line used again, not the post.
    assert not check_draft("Try it in oat milk. Oat milk froths best cold.", near_copy=index, banned_words=()).near_copy
    assert check_draft(post[:80] + " Try it.", near_copy=NearCopyIndex([post[:90]]), banned_words=()).near_copy
    sentence = "Our marine collagen stirs into your morning latte without a trace of taste."
    assert not check_draft(sentence, near_copy=index, banned_words=()).near_copy
    assert index.shares_run(sentence)


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


# -- publishable: one rule, one passing and one failing example each, in English and Chinese -------
PUBLISHABLE_RULES = [
    # (what fails, a text that fails, a text that passes, words in the reason)
    (
        "placeholder",
        "New bundle is live: {link} #skincare",
        "New bundle is live: https://shop.example/b #skincare",
        "placeholder ({link})",
    ),
    ("template tag", "Hi {{ segment }}, our oats are back.", "Hi there, our oats are back.", "placeholder"),
    (
        "bare mention token",
        "Thanks @mention for the tip!",
        "Thanks @meadowpantry for the tip!",
        "placeholder (@mention)",
    ),
    ("retweet", "RT @meadowpantry Oat bars are back in stock.", "Oat bars are back in stock.", "starts with RT"),
    ("unbalanced quote", '"Oat bars are back in stock.', '"Oat bars" are back in stock.', 'unbalanced "'),
    ("unbalanced bracket", "Oat bars (new recipe are back.", "Oat bars (new recipe) are back.", "unbalanced ()"),
    ("chinese bracket", "燕麦棒（新配方回来了。", "燕麦棒（新配方）回来了。", "unbalanced （）"),
    ("entity", "Oats &amp; honey, back today.", "Oats & honey, back today.", "HTML entity (&amp;)"),
    ("mid-sentence", "Stir the oats into your", "Stir the oats into your yoghurt.", "ends mid-sentence"),
    ("chinese mid-sentence", "晚饭吃七分饱，饭后散步，", "晚饭吃七分饱，饭后散步二十分钟。", "ends mid-sentence"),
    ("only tags", "#oats #breakfast https://shop.example/b", "Oats for breakfast. #oats #breakfast", "only hashtags"),
    ("lost emoji", "#杭州西湖今起有序开放# ????", "杭州西湖今天起有序开放，欢迎来散步。", "lost characters"),
    ("replacement char", "Oat bars are back \ufffd today.", "Oat bars are back today.", "lost characters"),
    (
        "analysis",
        "People into low sugar also follow heart health, 3.0× more than average.",
        "People who cut sugar often care for their heart too.",
        "analysis wording",
    ),
    ("share", "Runners love it (82% of them).", "Runners love it.", "analysis wording"),
    ("lift", "Collagen and yoga: lift 2.4 this month.", "Collagen and yoga, a good pair.", "analysis wording"),
    (
        "chinese placeholder",
        "新品上架：{link} 快来看看。",
        "新品上架：https://shop.example/b 快来看看。",
        "placeholder",
    ),
    ("chinese retweet", "RT @meadow 燕麦棒今天回来了。", "燕麦棒今天回来了。", "starts with RT"),
    ("chinese entity", "燕麦&amp;蜂蜜，今天到货。", "燕麦和蜂蜜，今天到货。", "HTML entity"),
    ("chinese tags only", "#燕麦 #早餐", "燕麦配早餐，刚刚好。#燕麦", "only hashtags"),
    ("chinese analysis", "喜欢低糖的人也关注心脏健康，提升度 3.0。", "少糖的日子，心脏也轻松。", "analysis wording"),
]


@pytest.mark.parametrize(("what", "bad", "good", "reason"), PUBLISHABLE_RULES, ids=[r[0] for r in PUBLISHABLE_RULES])
def test_each_publishing_rule_fails_its_example_and_passes_the_fixed_one(what, bad, good, reason) -> None:
    failed = check_draft(bad, banned_words=())
    assert not failed.passes
    assert any(reason in r for r in failed.reasons), failed.reasons
    assert check_draft(good, banned_words=()).passes, check_draft(good, banned_words=()).reasons


def test_internal_segment_names_never_reach_public_copy() -> None:
    names = ["55+ · joint health, gardening", "年轻女性 · 护肤"]
    bad = check_draft("55+ · joint health, gardening, this one's for you: 15% off.", internal_names=names)
    assert "names an internal segment (55+ · joint health, gardening)" in bad.reasons
    assert not check_draft("年轻女性 · 护肤的朋友们，新品到了。", internal_names=names).passes
    assert check_draft("For your garden days: 15% off our joint care tea.", internal_names=names).passes


def test_a_draft_in_a_language_the_brand_does_not_post_in_fails() -> None:
    english_only = NearCopyIndex(["Oat bars are back in stock today.", "Fresh berries for breakfast."])
    assert english_only.scripts == {"latin"}
    failed = check_draft("燕麦棒今天到货了，快来尝尝。", near_copy=english_only)
    assert any("not in a language you post in (English)" in r for r in failed.reasons)
    assert check_draft("Oat bars with fresh berries today.", near_copy=english_only).passes
    both = NearCopyIndex(["Oat bars are back in stock today.", "燕麦棒今天到货了。"])
    assert check_draft("新鲜浆果配燕麦，早餐刚刚好。", near_copy=both).passes


def test_similar_answers_as_difflibs_full_ratio() -> None:
    rng = random.Random(7)
    words = "oat milk protein bar green tea collagen honey kale 燕麦 奶".split()
    pairs = []
    for _ in range(3000):
        a = " ".join(rng.choices(words, k=rng.randint(0, 14)))
        b = " ".join(rng.choices(words, k=rng.randint(0, 14)))
        if rng.random() < 0.4:  # near copies, where the cheap bounds cannot decide
            b = a[: len(a) // 2] + b[:4] + a[len(a) // 2 :]
        pairs += [(a, b), (a.split(), b.split())]
    answers = {at_least: [similar(a, b, at_least) for a, b in pairs] for at_least in (0.5, 0.9)}
    for at_least, got in answers.items():
        expected = [difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= at_least for a, b in pairs]
        assert got == expected
        assert 0 < sum(got) < len(got)  # both answers occur
