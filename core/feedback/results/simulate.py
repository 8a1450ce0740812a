"""Simulated metrics for posts published on the ``dry-run`` channel (the default without X keys).

They let the whole loop — publish, measure, learn, target — be tried before connecting X. They are
deterministic (seeded from the post id), grow with the hours since publishing, and follow a hidden
engagement rate per segment × template (plus a posting-hour effect and per-post noise) that the
learning can find. They are stored with source ``simulated`` and every view says so.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime

import numpy as np

from core.feedback.results.metrics import ENGAGEMENTS


def stable_unit(*parts: object) -> float:
    """A number in [0, 1) from ``parts``, the same in every process (unlike ``hash``)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def hidden_engagement_rate(segment: str | None, template: str | None) -> float:
    """The simulator's true engagement rate of a segment × template (1 %–6 %); hidden from the pages."""
    return 0.01 + 0.05 * stable_unit("reach-sim-rate", segment or "", template or "")


def simulated_metrics(
    post_id: int,
    *,
    segment: str | None,
    template: str | None,
    published_at: datetime,
    now: datetime,
    local_hour: int | None = None,
) -> dict[str, int]:
    """Metrics a dry-run post would have at ``now``: deterministic, growing with hours since publishing.

    Reach follows ``1 - exp(-(hours + 1) / 8)`` of a per-post final reach (log-normal around 1,200
    impressions); engagements are the impressions times the hidden rate of the segment × template,
    times a per-post factor (gamma, mean 1: posts differ more than binomial noise) and an evening
    bonus at the local posting hour. Counts never shrink between two refreshes.
    """
    rng = np.random.default_rng([20_260_601, int(post_id)])
    final_reach = float(rng.lognormal(math.log(1_200), 0.5))
    post_factor = float(rng.gamma(8.0, 1 / 8.0))
    shares = rng.dirichlet([6.0, 2.0, 1.5, 0.5])
    hour = published_at.astimezone(UTC).hour if local_hour is None else local_hour
    hour_factor = 1 + 0.25 * math.cos(2 * math.pi * (hour - 19) / 24)
    rate = min(0.5, hidden_engagement_rate(segment, template) * post_factor * hour_factor)
    hours = max(0.0, (now - published_at).total_seconds() / 3600)
    impressions = int(final_reach * (1 - math.exp(-(hours + 1) / 8)))
    engaged = impressions * rate
    counts = {name: int(engaged * share) for name, share in zip(ENGAGEMENTS, shares, strict=True)}
    return {**counts, "bookmarks": int(engaged * 0.1), "impressions": impressions}
