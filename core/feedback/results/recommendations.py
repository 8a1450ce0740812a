"""Which template each segment should get next on each channel: Thompson sampling on what that channel measures.

Where a channel gives impressions (X, the dry run, imported exports) the measure is the engagement
rate, a Beta-Binomial (:func:`recommend`, evidence counted per post, not per impression). Mastodon
and Bluesky give no impressions: there the measure is engagements per post, a Gamma-Poisson
(:func:`recommend_counts`). :func:`recommend_by_channel` gives each channel its own from its own posts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from core.content.templates import list_templates
from core.delivery.channels import registry
from core.feedback.results.metrics import SOURCE_SIMULATED, ResultsError, engagement_posts
from core.feedback.results.simulate import stable_unit
from core.workspace import Workspace

# Evidence model (see recommend): prior intra-post correlation and how many posts it weighs.
RHO_PRIOR = 0.02  # a post counts as at most ~50 independent impressions until data says otherwise
RHO_PRIOR_POSTS = 10.0
RHO_BOUNDS = (0.001, 0.5)
# Engagements per post vary far beyond Poisson noise: until the data says otherwise, as a negative
# binomial of this shape does (variance / mean = 1 + mean / shape; shape 1: posts differ as much as they can be expected to)
DISPERSION_PRIOR_SHAPE = 1.0
DISPERSION_BOUNDS = (1.0, 100.0)
RATE, COUNT = "rate", "count"  # what a recommendation measures: engagements per impression, or per post
IMPORTED = "imported"  # the channel name of imported posts (made elsewhere)
SETTLED = 0.75  # probability_best at which a recommendation is called settled
PRIOR_POSTS = 0.5  # the shared prior weighs as much as half a typical post
# "How many more posts": enough to tell the two best templates apart at SETTLED odds, where a gap
# smaller than this share of their rate counts as this share (smaller differences are not worth chasing)
SMALLEST_GAP = 0.2
Z_SETTLED = 0.6745  # standard normal quantile of SETTLED


@dataclass(frozen=True)
class TemplateOdds:
    """One candidate template of a segment: its posterior, its chance of being best, its evidence."""

    template: str
    probability_best: float
    posts: int
    impressions: int
    engagements: int
    alpha: float
    beta: float
    measure: str = (
        RATE  # RATE: Beta(alpha, beta) of engagements per impression; COUNT: Gamma(alpha, rate beta) per post
    )

    @property
    def mean_rate(self) -> float:
        """Posterior mean engagement rate (engagements per post for a COUNT measure)."""
        if self.measure == COUNT:
            return self.alpha / self.beta
        return self.alpha / (self.alpha + self.beta)

    @property
    def observed_rate(self) -> float | None:
        """Engagements over impressions (over posts for a COUNT measure), None when untried."""
        if self.measure == COUNT:
            return self.engagements / self.posts if self.posts else None
        return self.engagements / self.impressions if self.impressions else None


@dataclass(frozen=True)
class Recommendation:
    """The template Thompson sampling picks next for ``segment``, with every candidate's odds."""

    segment: str
    template: str
    probability_best: float
    candidates: list[TemplateOdds]
    simulated: bool = False
    trials_per_post: float = 0.0  # what a typical post of this data counts as (see recommend)
    channel: str = ""  # the channel whose posts it learnt from (see recommend_by_channel)
    measure: str = RATE
    dispersion: float = 1.0  # COUNT: variance over mean of engagements per post (see recommend_counts)

    @property
    def leader(self) -> TemplateOdds:
        """The candidate most likely to be best."""
        return max(self.candidates, key=lambda c: (c.probability_best, c.posts))

    @property
    def settled(self) -> bool:
        """Whether one template is the best with probability ≥ 0.75 (the pick may still explore another)."""
        return self.leader.probability_best >= SETTLED

    @property
    def untried(self) -> list[str]:
        """Candidates without a measured post in this segment."""
        return [c.template for c in self.candidates if c.posts == 0]

    @property
    def posts(self) -> int:
        """Measured posts behind this recommendation."""
        return sum(c.posts for c in self.candidates)

    @property
    def ranked(self) -> list[TemplateOdds]:
        """Candidates for display: measured ones by their chance of being best, then the untried ones."""
        return sorted(self.candidates, key=lambda c: (c.posts == 0, -c.probability_best, c.template))

    def posts_to_settle(self) -> int | None:
        """About how many more posts per template would settle it (None when it is settled).

        Normal approximation for the two candidates with the highest posterior mean rate: the
        trials per template that put their difference ``Z_SETTLED`` standard errors apart, where the
        difference is the one seen or ``SMALLEST_GAP`` of their rate, whichever is larger; less
        the posts the less-measured of the two already has, in typical posts.
        """
        if self.settled or len(self.candidates) < 2:
            return None
        first, second = sorted(self.candidates, key=lambda c: -c.mean_rate)[:2]
        if self.measure == COUNT:  # engagements per post: variance ≈ dispersion × mean
            mean = max((first.mean_rate + second.mean_rate) / 2, 1e-3)
            gap = max(first.mean_rate - second.mean_rate, SMALLEST_GAP * mean)
            posts = 2 * self.dispersion * mean * (Z_SETTLED / gap) ** 2
            return max(1, math.ceil(posts) - min(first.posts, second.posts))
        rate = min(max((first.mean_rate + second.mean_rate) / 2, 1e-4), 1 - 1e-4)
        gap = max(first.mean_rate - second.mean_rate, SMALLEST_GAP * rate)
        trials = 2 * rate * (1 - rate) * (Z_SETTLED / gap) ** 2
        per_post = self.trials_per_post if self.trials_per_post > 0 else 1.0
        return max(1, math.ceil(trials / per_post) - min(first.posts, second.posts))

    def as_json(self) -> dict:
        """``recommendations`` entry of ``python -m core results --json``."""
        return {
            "segment": self.segment,
            "template": self.template,
            "probability_best": round(self.probability_best, 4),
            "channel": self.channel,
            "measure": self.measure,
        }


def _overdispersion(rated: pd.DataFrame) -> float:
    """Intra-post correlation ρ of engagements: between-post variance of rates beyond binomial noise.

    Moment estimate within each segment × template (so real differences between arms are not
    counted as noise), shrunk towards ``RHO_PRIOR`` by ``RHO_PRIOR_POSTS`` pseudo-posts.
    """
    if rated.empty:
        return RHO_PRIOR
    between = binomial = 0.0
    dof = 0
    p_all = rated["engagements"].sum() / rated["impressions"].sum()
    for _, arm in rated.groupby(["segment", "template"]):
        if len(arm) < 2:
            continue
        rates = arm["engagements"] / arm["impressions"]
        pooled = arm["engagements"].sum() / arm["impressions"].sum()
        between += float(((rates - pooled) ** 2).sum())
        binomial += float((pooled * (1 - pooled) / arm["impressions"]).sum())
        dof += len(arm) - 1
    if dof == 0 or not 0 < p_all < 1:
        return RHO_PRIOR
    excess = max(between - binomial, 0.0) / dof
    estimate = min(max(excess / (p_all * (1 - p_all)), RHO_BOUNDS[0]), RHO_BOUNDS[1])
    return (RHO_PRIOR_POSTS * RHO_PRIOR + dof * estimate) / (RHO_PRIOR_POSTS + dof)


def _shared_prior(rated: pd.DataFrame, rho: float) -> tuple[float, float]:
    """Beta(a, b) centred on the pooled engagement rate, worth ``PRIOR_POSTS`` typical posts (Beta(1, 1) without data)."""
    impressions = rated["impressions"].sum() if not rated.empty else 0.0
    if impressions <= 0:
        return 1.0, 1.0
    pooled = min(max(rated["engagements"].sum() / impressions, 1e-4), 1 - 1e-4)
    typical = float(rated["impressions"].median())
    strength = max(PRIOR_POSTS * typical / (1.0 + (typical - 1.0) * rho), 2.0)
    return pooled * strength, (1 - pooled) * strength


def recommend(
    posts: pd.DataFrame,
    templates: Sequence[str],
    *,
    segments: Sequence[str] | None = None,
    random_state: int = 0,
    n_draws: int = 4000,
) -> list[Recommendation]:
    """The next template per segment by Thompson sampling on a Beta-Binomial of engagement.

    Every template in ``templates`` is a candidate. The prior is shared and empirical: centred on the
    engagement rate of all rated posts, weighing as much as half a typical post (``PRIOR_POSTS``), so
    an untried template is believed to be about average but very uncertain — it stays possible
    without looking better than everything measured (a flat Beta(1, 1) would give it a 50 % mean
    rate against the few percent real posts reach). Engagements are successes out of impressions, but **evidence is counted per
    post**: impressions of one post are not independent trials (the same text, hour and audience
    lift or sink them all together), so a post with ``n`` impressions counts as
    ``n / (1 + (n - 1) ρ)`` trials — the Beta-Binomial design effect, at most ``1 / ρ`` whatever
    ``n`` is. ``ρ`` (intra-post correlation) is estimated from the spread of post rates within each
    segment × template beyond binomial noise and shrunk towards 0.02 (a post is worth at most ~50
    trials until the data says otherwise). Without this, 5,000 impressions from a single post would
    make a template look certain; with it, a template needs several posts to be believed.

    Parameters
    ----------
    posts
        :func:`engagement_posts` (rows without a segment, template or impressions are ignored).
    templates
        Candidate template names (starters and the operator's).
    segments
        Segments to recommend for (default: every segment with a measured post).
    random_state
        Seeds the posterior draws; the same data and seed give the same recommendations.
    n_draws
        Joint posterior draws behind ``probability_best``.
    """
    candidates = _candidates(templates, n_draws)
    rated = posts[posts["engagement_rate"].notna() & posts["segment"].notna() & posts["template"].notna()]
    rated = rated.assign(
        impressions=rated["impressions"].astype(float),
        engagements=np.minimum(rated["engagements"], rated["impressions"]).astype(float),
    )
    rho = _overdispersion(rated)
    prior_a, prior_b = _shared_prior(rated, rho)
    typical = float(rated["impressions"].median()) if not rated.empty else 1.0
    trials_per_post = typical / (1.0 + (typical - 1.0) * rho)
    if segments is None:
        segments = sorted(rated["segment"].unique())
    out = []
    for segment in segments:
        mine = rated[rated["segment"] == segment]
        arms = _arms(mine, candidates, (prior_a, prior_b), rho)
        out.append(
            _recommendation(
                segment, mine, arms, random_state=random_state, n_draws=n_draws, trials_per_post=trials_per_post
            )
        )
    return out


def _arms(mine: pd.DataFrame, candidates: list[str], prior: tuple[float, float], rho: float) -> list[tuple]:
    """(template, posts, impressions, engagements, alpha, beta) of each candidate on one segment's posts.

    A post with ``n`` impressions counts as ``n / (1 + (n - 1) ρ)`` trials (see :func:`recommend`).
    """
    prior_a, prior_b = prior
    weight = 1.0 / (1.0 + (mine["impressions"] - 1).clip(lower=0) * rho)
    arms = []
    for template in candidates:
        arm = mine["template"] == template
        successes = float((mine.loc[arm, "engagements"] * weight[arm]).sum())
        trials = float((mine.loc[arm, "impressions"] * weight[arm]).sum())
        arms.append(
            (
                template,
                int(arm.sum()),
                int(mine.loc[arm, "impressions"].sum()),
                int(mine.loc[arm, "engagements"].sum()),
                prior_a + successes,
                prior_b + trials - successes,
            )
        )
    return arms


def _candidates(templates: Sequence[str], n_draws: int) -> list[str]:
    """The distinct template names to choose from, in order; a clear error for no template or no draw."""
    if n_draws < 1:
        raise ResultsError(f"n_draws={n_draws} must be at least 1")
    candidates = list(dict.fromkeys(str(t) for t in templates))
    if not candidates:
        raise ResultsError("templates is empty: there is nothing to recommend")
    return candidates


def _recommendation(
    segment: str,
    mine: pd.DataFrame,
    arms: list[tuple],
    *,
    random_state: int,
    n_draws: int,
    trials_per_post: float,
    measure: str = RATE,
    dispersion: float = 1.0,
) -> Recommendation:
    """One segment's recommendation: Thompson sampling over ``arms`` (see :func:`_arms`) of its posts ``mine``."""
    wins, pick = _thompson(segment, arms, random_state=random_state, n_draws=n_draws, gamma=measure == COUNT)
    odds = [
        TemplateOdds(t, float(w), n, imp, eng, a, b, measure)
        for (t, n, imp, eng, a, b), w in zip(arms, wins, strict=True)
    ]
    return Recommendation(
        str(segment),
        arms[pick][0],
        float(wins[pick]),
        odds,
        simulated=bool((mine["source"] == SOURCE_SIMULATED).any()),
        trials_per_post=trials_per_post,
        measure=measure,
        dispersion=dispersion,
    )


def _thompson(
    segment: str, arms: list[tuple], *, random_state: int, n_draws: int, gamma: bool = False
) -> tuple[np.ndarray, int]:
    """(each arm's probability of being best, Thompson sampling's pick), seeded per segment.

    Arms end in the posterior's (alpha, beta): a Beta, or with ``gamma`` a Gamma of shape alpha and rate beta."""
    rng = np.random.default_rng([int(random_state), int(stable_unit("segment", segment) * 2**32)])
    if gamma:
        draws = np.column_stack([rng.gamma(a, 1.0 / b, size=n_draws) for *_, a, b in arms])
    else:
        draws = np.column_stack([rng.beta(a, b, size=n_draws) for *_, a, b in arms])
    wins = np.bincount(draws.argmax(axis=1), minlength=len(arms)) / n_draws
    return wins, int(draws[0].argmax())  # one posterior draw: Thompson sampling's choice


def _dispersion(measured: pd.DataFrame) -> float:
    """Variance over mean of engagements per post within each segment × template (moment estimate),
    at least 1 (Poisson), shrunk by ``RHO_PRIOR_POSTS`` pseudo-posts towards a negative binomial's
    ``1 + mean / DISPERSION_PRIOR_SHAPE``."""
    mean = float(measured["engagements"].mean()) if not measured.empty else 0.0
    prior = 1.0 + max(mean, 0.0) / DISPERSION_PRIOR_SHAPE
    spread = 0.0
    dof = 0
    for _, arm in measured.groupby(["segment", "template"]):
        if len(arm) < 2:
            continue
        spread += float(((arm["engagements"] - arm["engagements"].mean()) ** 2).sum())
        dof += len(arm) - 1
    if dof == 0 or mean <= 0:
        return prior
    estimate = min(max(spread / dof / mean, DISPERSION_BOUNDS[0]), DISPERSION_BOUNDS[1])
    return (RHO_PRIOR_POSTS * prior + dof * estimate) / (RHO_PRIOR_POSTS + dof)


def recommend_counts(
    posts: pd.DataFrame,
    templates: Sequence[str],
    *,
    segments: Sequence[str] | None = None,
    random_state: int = 0,
    n_draws: int = 4000,
) -> list[Recommendation]:
    """The next template per segment by Thompson sampling on a Gamma-Poisson of engagements per post.

    For channels without impressions (Mastodon, Bluesky) the measure is a post's engagements. Each
    template's mean per post has a Gamma prior centred on the mean of all measured posts, worth
    ``PRIOR_POSTS`` posts (an untried template is believed average but very uncertain). Counts of one
    post are not independent events (one post's reblog brings its favourites), so the Poisson
    evidence is divided by the dispersion φ (variance over mean within segment × template, shrunk
    towards a negative binomial's ``1 + mean``): a template's posterior is Gamma(a₀ + Σy/φ, b₀ + n/φ) — the mean is the one seen,
    the uncertainty that of overdispersed counts.

    Parameters are those of :func:`recommend`; rows without a segment or template are ignored.
    """
    candidates = _candidates(templates, n_draws)
    measured = posts[posts["segment"].notna() & posts["template"].notna()]
    measured = measured.assign(engagements=measured["engagements"].astype(float))
    phi = _dispersion(measured)
    pooled = max(float(measured["engagements"].mean()), 0.1) if not measured.empty else 1.0
    prior_a, prior_b = pooled * PRIOR_POSTS / phi, PRIOR_POSTS / phi
    if segments is None:
        segments = sorted(measured["segment"].unique())
    out = []
    for segment in segments:
        mine = measured[measured["segment"] == segment]
        arms = []
        for template in candidates:
            arm = mine.loc[mine["template"] == template, "engagements"]
            total = float(arm.sum())
            arms.append((template, len(arm), 0, int(total), prior_a + total / phi, prior_b + len(arm) / phi))
        out.append(
            _recommendation(
                segment,
                mine,
                arms,
                random_state=random_state,
                n_draws=n_draws,
                trials_per_post=1.0,
                measure=COUNT,
                dispersion=phi,
            )
        )
    return out


def recommend_by_channel(
    posts: pd.DataFrame, templates: Sequence[str], *, random_state: int = 0, n_draws: int = 4000
) -> list[Recommendation]:
    """Each channel's recommendations from its own posts, channels in name order (``imported`` for imported posts).

    A channel whose posts have impressions is measured by engagement rate (:func:`recommend`, on its
    posts with impressions); one without any by engagements per post (:func:`recommend_counts`).
    """
    out: list[Recommendation] = []
    for channel, mine in posts[posts["segment"].notna() & posts["template"].notna()].groupby("channel", sort=True):
        if mine["engagement_rate"].notna().any():
            recs = recommend(mine, templates, random_state=random_state, n_draws=n_draws)
        else:
            recs = recommend_counts(mine, templates, random_state=random_state, n_draws=n_draws)
        out.extend(replace(r, channel=str(channel)) for r in recs)
    return out


def channel_title(channel: str) -> str:
    """What the operator sees as a recommendation's channel: ``"Mastodon"``, ``"Imported posts"``."""
    return "Imported posts" if channel == IMPORTED else registry.label(channel)


def measured(rec: Recommendation) -> str:
    """What a recommendation measures, in the channel's words: ``"favourites + boosts + replies + quotes per post"``."""
    found = registry.channel(rec.channel) if rec.channel in registry.channel_names() else None
    words = found.engagements_read if found else "likes + reposts + replies + quotes"
    return f"{words} per {'post' if rec.measure == COUNT else 'impression'}"


def for_channel(recs: Sequence[Recommendation], channel: str) -> dict[str, Recommendation]:
    """segment name → the recommendation that applies to posts on ``channel``.

    Each segment gets that channel's own; for a rule posting to several (``"mastodon+bluesky"``) the
    one of its channels with the most measured posts in the segment; where none of them has measured
    posts, the imported posts' (posts made elsewhere) when there are any.
    """
    parts = [p.strip() for p in channel.split("+") if p.strip()]
    chosen: dict[str, Recommendation] = {}
    for rec in recs:
        if rec.channel not in parts:
            continue
        held = chosen.get(rec.segment)
        if held is None or rec.posts > held.posts:
            chosen[rec.segment] = rec
    for rec in recs:
        if rec.channel == IMPORTED:
            chosen.setdefault(rec.segment, rec)
    return chosen


def channel_recommendations(ws: Workspace, *, random_state: int = 0) -> list[Recommendation]:
    """Every channel's recommendations from the workspace's measured and imported posts (empty before any)."""
    posts = engagement_posts(ws)
    if posts.empty:
        return []
    return recommend_by_channel(posts, [t.name for t in list_templates(ws)], random_state=random_state)


def recommended_templates(
    ws: Workspace, *, channel: str = "dry-run", random_state: int = 0
) -> dict[str, Recommendation]:
    """segment name → its recommendation for posts on ``channel`` (see :func:`for_channel`; empty without measured posts)."""
    return for_channel(channel_recommendations(ws, random_state=random_state), channel)


def recommended_template_names(ws: Workspace, *, channel: str = "dry-run", random_state: int = 0) -> dict[str, str]:
    """segment name → the template measured results recommend next on ``channel`` (empty before any post was measured)."""
    return {
        segment: rec.template
        for segment, rec in recommended_templates(ws, channel=channel, random_state=random_state).items()
    }
