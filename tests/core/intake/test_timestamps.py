"""The timestamp parser skips a date format when no value could match it: it must never skip one
that pandas would have read, or a valid date would be rejected. Checked on mangled dates of every
format (extra spaces, dropped digits, other scripts' digits and spaces, short years)."""

from __future__ import annotations

import datetime as dt
import random

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.intake.timestamps import _MAY_MATCH, DAY_FIRST, MONTH_FIRST, OTHER, TimestampParser

FORMATS = [*DAY_FIRST, *MONTH_FIRST, *OTHER]


def mangled_dates(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)

    def mangle(text: str) -> str:
        for _ in range(rng.randint(0, 3)):
            k, i = rng.random(), rng.randint(0, len(text))
            if k < 0.2:
                text = text[:i] + rng.choice(" 0123456789/-.:T年月日Z+\u3000\tAPMapm,") + text[i:]
            elif k < 0.4 and text:
                text = text[:i] + text[i + 1 :]
            elif k < 0.5:
                text = rng.choice([" ", "-", "+", "-0"]) + text
            elif k < 0.6:
                text += " "
            elif k < 0.7:
                text = text.replace(" ", rng.choice(["T", "  ", "\u3000", "\t"]))
            elif k < 0.8:
                text = text.upper() if rng.random() < 0.5 else text.lower()
            elif k < 0.9:
                text = text.replace("0", "", 1)
            else:
                text = text.replace(rng.choice("0123456789"), rng.choice(["０", "٣", "1"]))
        return text

    values = []
    for _ in range(n):
        offset = dt.timezone(dt.timedelta(hours=rng.randint(-12, 12)))
        when = dt.datetime(
            rng.randint(1900, 2099),
            rng.randint(1, 12),
            rng.randint(1, 28),
            rng.randint(0, 23),
            rng.randint(0, 59),
            rng.randint(0, 59),
            tzinfo=offset,
        )
        text = when.strftime(rng.choice([*FORMATS, "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]))
        if rng.random() < 0.2:  # a short year
            text = text.replace(str(when.year), str(when.year)[rng.randint(0, 3) :])
        values.append(mangle(text))
    return values


def test_no_format_pandas_can_read_is_skipped() -> None:
    values = mangled_dates(3000, seed=1)
    text, arr = pd.Series(values, dtype="string"), pa.array(values)
    read = skipped = 0
    for fmt in FORMATS:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc="%z" in fmt).notna().to_numpy()
        may = pc.match_substring_regex(arr, _MAY_MATCH[fmt], ignore_case=True).to_numpy(zero_copy_only=False)
        missed = [values[i] for i in (parsed & ~may).nonzero()[0][:5]]
        assert not missed, (fmt, missed)
        read, skipped = read + int(parsed.sum()), skipped + int((~may).sum())
    assert read > 1000 and skipped > len(values) * len(FORMATS) // 2  # both sides are really exercised


def test_dates_in_other_formats_are_still_read_and_impossible_ones_refused() -> None:
    parsed, _ = TimestampParser().parse(
        pd.Series(
            ["2026-02-30 10:00:00", "05/03/2024 14:00", "yesterday", "Tue Mar 05 14:00:00 +0000 2024", " Now", "today"]
        )
    )
    # "now" and "today" are not times the export recorded (pandas would read them as the time of the import)
    assert [None if pd.isna(v) else str(v) for v in parsed] == [
        None,
        "2024-05-03 14:00:00",
        None,
        "2024-03-05 14:00:00",
        None,
        None,
    ]
