"""Tests for core.audience.rules: exact rules on five baskets, brute-force supports, the explosion guard, angles."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.audience.features import behaviour_from_events
from core.audience.rules import (
    RULE_COLUMNS,
    RuleExplosionError,
    RulesError,
    angles,
    estimate_itemsets,
    hashtag,
    mine_rules,
    rules_as_json,
    transactions_from_behaviour,
    transactions_from_sets,
)

# mlxtend's own five-basket example.
BASKETS = [
    ["Milk", "Onion", "Nutmeg", "Kidney Beans", "Eggs", "Yogurt"],
    ["Dill", "Onion", "Nutmeg", "Kidney Beans", "Eggs", "Yogurt"],
    ["Milk", "Apple", "Kidney Beans", "Eggs"],
    ["Milk", "Unicorn", "Corn", "Kidney Beans", "Yogurt"],
    ["Corn", "Onion", "Onion", "Kidney Beans", "Ice cream", "Eggs"],
]
INF = math.inf
# antecedents, consequents, support, confidence, lift, leverage, conviction — worked out by hand, in
# the documented order (lift, then confidence, then support, highest first; then by text).
EXPECTED = [
    (("Kidney Beans", "Onion"), ("Eggs",), 0.6, 1.0, 1.25, 0.12, INF),
    (("Onion",), ("Eggs",), 0.6, 1.0, 1.25, 0.12, INF),
    (("Onion",), ("Eggs", "Kidney Beans"), 0.6, 1.0, 1.25, 0.12, INF),
    (("Eggs", "Kidney Beans"), ("Onion",), 0.6, 0.75, 1.25, 0.12, 1.6),
    (("Eggs",), ("Kidney Beans", "Onion"), 0.6, 0.75, 1.25, 0.12, 1.6),
    (("Eggs",), ("Onion",), 0.6, 0.75, 1.25, 0.12, 1.6),
    (("Eggs",), ("Kidney Beans",), 0.8, 1.0, 1.0, 0.0, INF),
    (("Eggs", "Onion"), ("Kidney Beans",), 0.6, 1.0, 1.0, 0.0, INF),
    (("Milk",), ("Kidney Beans",), 0.6, 1.0, 1.0, 0.0, INF),
    (("Onion",), ("Kidney Beans",), 0.6, 1.0, 1.0, 0.0, INF),
    (("Yogurt",), ("Kidney Beans",), 0.6, 1.0, 1.0, 0.0, INF),
    (("Kidney Beans",), ("Eggs",), 0.8, 0.8, 1.0, 0.0, 1.0),
]


@pytest.mark.parametrize("algorithm", ["fpgrowth", "apriori", "bitsets"])
def test_five_baskets_give_exactly_the_hand_computed_rules(algorithm: str) -> None:
    rules, n_itemsets = mine_rules(
        transactions_from_sets(BASKETS), min_support=0.6, min_confidence=0.7, max_len=None, algorithm=algorithm
    )
    assert n_itemsets == 11  # 5 items, 5 pairs, 1 triple with support >= 3/5
    assert list(rules.columns) == RULE_COLUMNS
    expected = pd.DataFrame(EXPECTED, columns=RULE_COLUMNS[:7])
    pd.testing.assert_frame_equal(rules[RULE_COLUMNS[:7]], expected, check_exact=False, atol=1e-12)


def test_json_turns_infinite_conviction_into_null() -> None:
    rules, _ = mine_rules(transactions_from_sets(BASKETS), min_support=0.6, min_confidence=0.7, max_len=None)
    first, *_, last = rules_as_json(rules)
    assert first == {
        "antecedents": ["Kidney Beans", "Onion"],
        "consequents": ["Eggs"],
        "support": 0.6,
        "confidence": 1.0,
        "lift": 1.25,
        "leverage": 0.12,
        "conviction": None,
    }
    assert last["conviction"] == 1.0


@settings(max_examples=40, deadline=None)
@given(
    baskets=st.lists(st.sets(st.sampled_from("abcdef"), min_size=1, max_size=6), min_size=1, max_size=25),
    min_support=st.sampled_from([0.1, 0.2, 0.25, 0.4]),
    min_confidence=st.sampled_from([0.0, 0.3, 0.6]),
)
def test_supports_and_rules_match_brute_force(
    baskets: list[set[str]], min_support: float, min_confidence: float
) -> None:
    n = len(baskets)

    def count(items: frozenset) -> int:
        return sum(items <= b for b in baskets)

    rules, _ = mine_rules(
        transactions_from_sets(baskets), min_support=min_support, min_confidence=min_confidence, max_len=3
    )
    found = set()
    for row in rules.itertuples(index=False):
        a, c = frozenset(row.antecedents), frozenset(row.consequents)
        both = count(a | c)
        assert row.support == pytest.approx(both / n)
        assert row.confidence == pytest.approx(both / count(a))
        assert row.lift == pytest.approx((both / count(a)) / (count(c) / n))
        found.add((a, c))
    # Completeness: every rule clearly above both thresholds was found.
    items = sorted(set().union(*baskets))
    for size in (2, 3):
        for combo in itertools.combinations(items, size):
            whole = frozenset(combo)
            if count(whole) / n < min_support + 1e-9:
                continue
            for r in range(1, size):
                for ante in itertools.combinations(combo, r):
                    a = frozenset(ante)
                    if count(whole) / count(a) >= min_confidence + 1e-9:
                        assert (a, whole - a) in found


@settings(max_examples=30, deadline=None)
@given(
    baskets=st.lists(st.sets(st.sampled_from("abcdefghij"), max_size=8), min_size=1, max_size=300),
    min_support=st.sampled_from([0.02, 0.05, 0.1, 1 / 3, 0.5]),
    max_len=st.sampled_from([2, 3, None]),
)
def test_bitsets_return_exactly_the_rules_of_mlxtend(
    baskets: list[set[str]], min_support: float, max_len: int | None
) -> None:
    # Empty baskets and one item in every basket included: the itemsets, supports and every
    # rule measure must be mlxtend's own, bit for bit.
    transactions = transactions_from_sets(baskets)
    if transactions.matrix.shape[1] == 0:
        return
    settings_ = {"min_support": min_support, "min_confidence": 0.0, "max_len": max_len, "max_itemsets": 10**6}
    fast, n_fast = mine_rules(transactions, algorithm="bitsets", **settings_)
    for engine in ("fpgrowth", "apriori"):
        rules, n_itemsets = mine_rules(transactions, algorithm=engine, **settings_)
        assert n_fast == n_itemsets
        pd.testing.assert_frame_equal(fast, rules, check_exact=True)


def test_explosion_guard_refuses_a_pathological_input() -> None:
    # 300 baskets that all hold the same 40 items: every one of 2^40 subsets is frequent.
    items = [f"item{i}" for i in range(40)]
    transactions = transactions_from_sets([items] * 300)
    with pytest.raises(RuleExplosionError) as refused:
        mine_rules(transactions, min_support=0.01, min_confidence=0.5, max_len=None)
    message = str(refused.value)
    assert "min_support=0.01" in message and "itemsets" in message
    assert "raise min_support" in message or "max_len" in message


def test_explosion_guard_sees_correlated_items_independence_would_miss() -> None:
    # Half the baskets hold the same 30 items, the rest one item each: item supports look modest.
    rng = np.random.default_rng(0)
    core = [f"c{i}" for i in range(30)]
    baskets = [core] * 100 + [[f"x{rng.integers(200)}"] for _ in range(100)]
    estimate = estimate_itemsets(transactions_from_sets(baskets), min_support=0.3, max_len=None)
    assert estimate.core_bound > 100_000 and estimate.capped
    with pytest.raises(RuleExplosionError, match="set max_len to"):
        mine_rules(transactions_from_sets(baskets), min_support=0.3, max_len=None)


def test_estimate_is_exact_for_items_in_every_basket() -> None:
    estimate = estimate_itemsets(transactions_from_sets([["a", "b", "c"]] * 4), min_support=0.5, max_len=2)
    assert (estimate.estimate, estimate.frequent_items) == (6, 3)  # 3 singles + 3 pairs


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_support": 0.0}, "min_support=0.0 must be in"),
        ({"min_confidence": 1.5}, "min_confidence=1.5 must be in"),
        ({"max_len": 1}, "max_len=1 must be at least 2"),
        ({"algorithm": "eclat"}, "algorithm='eclat' must be one of"),
    ],
)
def test_bad_settings_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        mine_rules(transactions_from_sets(BASKETS), **kwargs)


def test_topics_count_as_interests_from_two_events() -> None:
    events = pd.DataFrame(
        {"user_id": ["a", "a", "a", "b", "b"], "topic": ["fitness", "fitness", "yoga", "yoga", "yoga"]}
    )
    transactions = transactions_from_behaviour(behaviour_from_events(events))
    rows = {tuple(transactions.items[j] for j in np.flatnonzero(row)) for row in transactions.matrix.toarray()}
    assert rows == {("fitness",), ("yoga",)}  # a viewed yoga once: not an interest yet


def test_angles_read_like_a_marketer_would_say_them() -> None:
    rules = pd.DataFrame(
        [
            (("fitness",), ("meal prep",), 0.1, 0.6, 3.1, 0.05, 2.0, 0.2, 0.19),
            (("meal prep",), ("fitness",), 0.1, 0.5, 3.1, 0.05, 2.0, 0.19, 0.2),  # same pair: said once
            (("yoga",), ("smoothies",), 0.1, 0.4, 1.1, 0.01, 1.1, 0.2, 0.3),  # too weak
        ],
        columns=RULE_COLUMNS,
    )
    [angle] = angles(rules)
    assert angle.text == "People into fitness also follow meal prep — 3.1× more than average (60% of them)."
    assert angle.hashtags == ["#Fitness", "#MealPrep"]
    [basket] = angles(rules, kind="baskets")
    assert basket.text.startswith("Shoppers who buy fitness also buy meal prep — 3.1× more often than average")


@pytest.mark.parametrize(
    ("topic", "tag"),
    [
        ("meal prep", "#MealPrep"),
        ("skincare & beauty", "#SkincareBeauty"),
        ("健身", "#健身"),
        ("plant-based", "#PlantBased"),
    ],
)
def test_hashtags(topic: str, tag: str) -> None:
    assert hashtag(topic) == tag
