"""Simulated metrics follow the hidden engagement rate of each segment × template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from core.feedback import results


def test_simulated_rates_follow_the_hidden_segment_template_rate() -> None:
    start = datetime(2026, 3, 1, 19, tzinfo=UTC)
    rates = {}
    for template in ("Tip", "Offer"):
        sums = np.zeros(2)
        for post_id in range(200):
            m = results.simulated_metrics(
                post_id,
                segment="55+",
                template=template,
                published_at=start,
                now=start + timedelta(days=3),
                local_hour=19,
            )
            sums += [m["likes"] + m["reposts"] + m["replies"] + m["quotes"], m["impressions"]]
        rates[template] = sums[0] / sums[1]
    for template, rate in rates.items():
        hidden = results.hidden_engagement_rate("55+", template) * 1.25  # the 19:00 peak adds a quarter
        assert rate == pytest.approx(hidden, rel=0.15)
