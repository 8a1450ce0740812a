"""Item and topic names keep the export's spelling through segments and rules, while case is
ignored for matching: "Hot chocolate" and "hot chocolate" in one export are one item."""

from __future__ import annotations

import random

from core.audience.rules import angles, run_rules
from core.audience.segments import run_segments
from core.intake.ingest import ingest


def _orders(n: int = 300, seed: int = 3) -> tuple[str, int]:
    """Long-form baskets: (CSV text, baskets holding hot chocolate in either spelling)."""
    rng = random.Random(seed)
    lines = ["order_id,product"]
    with_chocolate = 0
    for i in range(n):
        items = rng.sample(["Bread", "Eggs", "Butter", "Apples"], 2)
        if i % 2 == 0:  # every other basket: hot chocolate with whole milk, spelled two ways (3:2)
            items += ["Hot chocolate" if i % 10 < 6 else "hot chocolate", "Whole milk"]
            with_chocolate += 1
        lines += [f"T{i},{item}" for item in items]
    return "\n".join(lines) + "\n", with_chocolate


def test_one_spelling_shown_and_both_counted(workspace, write_file):
    text, with_chocolate = _orders()
    assert "hot chocolate" in text and "Hot chocolate" in text
    ingest(workspace, [write_file("orders.csv", text)])

    topics = set(workspace.load_events()["topic"])
    assert "Hot chocolate" in topics and "hot chocolate" not in topics

    report = run_rules(workspace, min_support=0.1, min_confidence=0.5, max_len=2)
    items = {item for row in report.rules.itertuples() for item in (*row.antecedents, *row.consequents)}
    assert "Hot chocolate" in items and "hot chocolate" not in items
    rule = report.rules[report.rules["antecedents"].map(tuple) == ("Hot chocolate",)]
    rule = rule[rule["consequents"].map(tuple) == ("Whole milk",)].iloc[0]
    assert rule["support"] == with_chocolate / report.n_transactions  # both spellings counted as one item
    assert rule["confidence"] == 1.0

    said = [a.public for a in angles(report.rules, kind="baskets")]
    assert any("Hot chocolate" in s for s in said) and not any("hot chocolate" in s for s in said)

    segments = run_segments(workspace, k=2)
    shown = [t for p in segments.profiles for t in p.top_topics]
    assert "Hot chocolate" in shown and "hot chocolate" not in shown
    assert not any("hot chocolate" in p.name for p in segments.profiles)
