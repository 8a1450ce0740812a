"""Which rows an events import stores, checked row by row against an oracle written out here.

Intake is tuned for speed (timestamps read from the bytes, categories cleaned on their distinct
values, duplicates found by row hashes across blocks); none of that may change which rows are
stored, in which order, with which values, nor which are rejected and why. The export below is
random but seeded: exact copies of earlier lines (near and far), timestamps in the fast formats,
padded, in other formats, impossible or out of range, blank fields, padded and differently cased
categories, over many small blocks.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections import Counter

import pytest

import core.intake.ingest
from core.intake.ingest import ingest

REASONS = {
    "user": "empty user id",
    "action": "empty action",
    "topic": "empty topic",
    "ts_empty": "empty timestamp",
    "ts_bad": "unparseable timestamp",
    "ts_range": "timestamp out of range",
}


def _timestamp(rng: random.Random) -> tuple[str, dt.datetime | None, str | None]:
    """(text as exported, the time it means, the reason it is refused or None)."""
    when = dt.datetime(rng.choice([2019, 2023, 2024, 2025]), rng.randint(1, 12), rng.randint(1, 28))
    when += dt.timedelta(seconds=rng.randint(0, 86_399))
    kind = rng.random()
    if kind < 0.70:
        return when.strftime("%Y-%m-%d %H:%M:%S"), when, None
    if kind < 0.78:
        return when.strftime("%Y-%m-%dT%H:%M:%S"), when, None
    if kind < 0.82:
        return f"  {when:%Y-%m-%d %H:%M:%S} ", when, None
    if kind < 0.86:
        return when.strftime("%Y/%m/%d %H:%M"), when.replace(second=0), None
    if kind < 0.88:
        return str(calendar.timegm(when.timetuple())), when, None
    if kind < 0.91:  # a day the month does not have
        month = rng.choice([2, 4, 6, 9, 11])
        day = 31 if month != 2 else rng.choice([30, 31])
        return f"2024-{month:02d}-{day:02d} 10:00:00", None, REASONS["ts_bad"]
    if kind < 0.93:
        return (
            rng.choice(["2024-13-01 10:00:00", "2024-06-01 25:00:00", "2024-06-01 10:61:00", "soon"]),
            None,
            REASONS["ts_bad"],
        )
    if kind < 0.96:
        return when.replace(year=1985).strftime("%Y-%m-%d %H:%M:%S"), None, REASONS["ts_range"]
    return rng.choice(["", "  "]), None, REASONS["ts_empty"]


def _export(n: int, seed: int) -> tuple[str, list[tuple], Counter, int]:
    """(CSV text, expected stored events in order, expected reasons, expected duplicates)."""
    rng = random.Random(seed)
    topics = ["Yoga", "#yoga ", "herbal tea", " Herbal Tea", "#Herbal Tea", "running", "Meal prep"]
    lines: list[str] = []
    seen: set[str] = set()
    stored: list[tuple] = []
    reasons: Counter = Counter()
    duplicates = 0
    for _ in range(n):
        if lines and rng.random() < 0.05:
            line = rng.choice(lines[-20:] if rng.random() < 0.5 else lines)
            lines.append(line)
            duplicates += 1
            continue
        user = (
            rng.choice(["", " ", f"u{rng.randint(1, 400)}", f" u{rng.randint(1, 400)} "])
            if rng.random() < 0.03
            else f"u{rng.randint(1, 400)}"
        )
        action = rng.choice(["view", "Like", " share ", "PURCHASE"]) if rng.random() > 0.01 else ""
        topic = rng.choice(topics) if rng.random() > 0.01 else rng.choice(["", " # "])
        text, when, refused = _timestamp(rng)
        line = f"{user},{text},{action},{topic},{rng.choice(['X', 'weibo', ' Instagram'])}"
        if line in seen:  # drawn twice by chance: a duplicate too
            lines.append(line)
            duplicates += 1
            continue
        seen.add(line)
        lines.append(line)
        if not user.strip():
            reasons[REASONS["user"]] += 1
        elif not action.strip():
            reasons[REASONS["action"]] += 1
        elif not topic.strip(" #"):
            reasons[REASONS["topic"]] += 1
        elif refused:
            reasons[refused] += 1
        else:
            stored.append((user.strip(), str(when), action.strip().lower(), topic.strip(" #")))
    # One spelling per topic whatever its case: the most common, on a tie the first written.
    counts = Counter(row[3] for row in stored)
    shown = {}
    for name in counts:
        best = shown.get(name.casefold())
        if best is None or counts[name] > counts[best]:
            shown[name.casefold()] = name
    stored = [(*row[:3], shown[row[3].casefold()]) for row in stored]
    return "user_id,timestamp,action,topic,platform\n" + "\n".join(lines) + "\n", stored, reasons, duplicates


@pytest.mark.parametrize("seed", [1, 2])
def test_stored_rows_are_exactly_the_expected_ones(workspace, write_file, monkeypatch, seed):
    text, expected, reasons, duplicates = _export(6_000, seed)
    path = write_file("events.csv", text)
    monkeypatch.setattr(core.intake.ingest, "BLOCK_SIZE", 16 * 1024)  # about 20 blocks

    report = ingest(workspace, [path]).as_json()

    frame = workspace.load_events()
    stored = [(row.user_id, str(row.timestamp), row.action, row.topic) for row in frame.itertuples(index=False)]
    assert stored == expected
    assert report["reasons"] == dict(reasons)
    assert report["duplicates_removed"] == duplicates
    assert report["rows_accepted"] == len(expected)
    assert workspace.dataset(report["dataset_id"]).n_users == len({row[0] for row in expected})
