"""Results: what published posts achieved, and which template each segment should get next.

**Metrics.** :func:`refresh_metrics` reads the public metrics of every published post on X
(``GET /2/tweets``, 100 ids a call, through the publisher) and stores one row per post per refresh
in ``post_metrics``, so each post has a time series. A 429 stores when X may be asked again
(setting ``results.metrics_not_before``); until then a refresh does not call X and says so.

Posts published on the ``dry-run`` channel (the default without X keys) get **simulated** metrics,
so the whole loop — publish, measure, learn, target — can be tried before connecting X. They are
deterministic (seeded from the post id), grow with the hours since publishing, and follow a hidden
engagement rate per segment × template (plus a posting-hour effect and per-post noise) that the
learning can find. They are stored with source ``simulated`` and every view says so.

:func:`import_engagement_csv` adds posts made elsewhere (an export with likes, reposts, …) to
``external_posts``. Rows without impressions keep their counts but cannot give an engagement rate.

**Learning.** Engagement rate = (likes + reposts + replies + quotes) / impressions, from each
post's latest metrics; :func:`performance` aggregates by any of segment, template and local posting
hour. :func:`recommend` chooses the next template per segment by Thompson sampling on a
Beta-Binomial (see its docstring for how evidence is counted).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import logging
import math
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from core import clock
from core.clock import utc_now
from core.content.templates import list_templates
from core.delivery.channels import registry
from core.delivery.channels.base import Channel, ErrorKind, PublishError
from core.delivery.outbox import PublisherFactory
from core.intake.mapping import auto_mapping
from core.intake.timestamps import TimestampParser
from core.textfiles import TextFileError, clean_header, read_text_file, sniff_text_delimiter
from core.workspace import Workspace

__all__ = [
    "CSV_COLUMNS",
    "METRICS",
    "EngagementImport",
    "EngagementPreview",
    "Recommendation",
    "RefreshReport",
    "Results",
    "ResultsError",
    "TemplateOdds",
    "engagement_posts",
    "hidden_engagement_rate",
    "import_engagement_csv",
    "imported_sources",
    "inspect_engagement_csv",
    "metrics_history",
    "metrics_not_before",
    "performance",
    "recommend",
    "recommended_template_names",
    "recommended_templates",
    "refresh_metrics",
    "results",
    "simulated_metrics",
]

log = logging.getLogger(__name__)

# our name -> X's name in public_metrics
METRICS: dict[str, str] = {
    "likes": "like_count",
    "reposts": "retweet_count",
    "replies": "reply_count",
    "quotes": "quote_count",
    "bookmarks": "bookmark_count",
    "impressions": "impression_count",
}
ENGAGEMENTS = ("likes", "reposts", "replies", "quotes")
NOT_BEFORE_SETTING = "results.metrics_not_before"
RATE_LIMIT_FALLBACK = timedelta(minutes=15)  # a 429 without x-rate-limit-reset
# a metrics row's source: a live channel's name (metrics read from it), or one of these
SOURCE_SIMULATED, SOURCE_CSV = "simulated", "csv"
_COUNTS = ("likes", "reposts", "replies", "quotes", "bookmarks", "impressions")  # post_metrics column order

# Evidence model (see recommend): prior intra-post correlation and how many posts it weighs.
RHO_PRIOR = 0.02  # a post counts as at most ~50 independent impressions until data says otherwise
RHO_PRIOR_POSTS = 10.0
RHO_BOUNDS = (0.001, 0.5)
SETTLED = 0.75  # probability_best at which a recommendation is called settled
PRIOR_POSTS = 0.5  # the shared prior weighs as much as half a typical post


class ResultsError(ValueError):
    """A results input the operator must change (a CSV, a mapping); the message names the value."""


def _stable_unit(*parts: object) -> float:
    """A number in [0, 1) from ``parts``, the same in every process (unlike ``hash``)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# -- the simulator ----------------------------------------------------------------------------------
def hidden_engagement_rate(segment: str | None, template: str | None) -> float:
    """The simulator's true engagement rate of a segment × template (1 %–6 %); hidden from the pages."""
    return 0.01 + 0.05 * _stable_unit("reach-sim-rate", segment or "", template or "")


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


# -- refresh ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RefreshReport:
    """What :func:`refresh_metrics` did.

    ``updated`` posts got a new metrics row (``simulated`` of them dry-run posts); ``deferred_until``
    is set when a channel's rate limit stopped the refresh; ``problem`` says why it could not be
    read. ``network`` names the live channels asked (their labels).
    """

    updated: int
    simulated: int = 0
    deferred_until: str | None = None
    problem: str | None = None
    waiting: int = 0  # posts on live channels not refreshed this time
    network: str = ""

    def as_json(self) -> dict:
        """``python -m core metrics-refresh --json``."""
        return {"updated": self.updated}

    def message(self, tz: str = "UTC") -> str:
        """One line for the page or the CLI."""
        parts = [f"{self.updated} post{'s' if self.updated != 1 else ''} updated"]
        if self.simulated:
            parts.append(f"{self.simulated} with simulated metrics (dry-run posts)")
        text = ", ".join(parts) + "."
        if self.deferred_until:
            text += (
                f" {self.network}'s rate limit was reached: metrics of {self.waiting} {self.network} post(s) "
                f"are read again after {clock.format_local(self.deferred_until, tz)}."
            )
        if self.problem:
            text += f" {self.network} could not be read: {self.problem}"
        return text


def metrics_not_before(ws: Workspace, *, now: datetime | None = None) -> str | None:
    """When live channels may be asked for metrics again (UTC ISO), or None when they may be asked now."""
    until = ws.get_setting(NOT_BEFORE_SETTING)
    if until and datetime.fromisoformat(until) > (now or clock.now()):
        return until
    return None


def _measurable(ws: Workspace) -> list:
    """Published posts that can have metrics: not replies to mentions (those are conversation, not campaign)."""
    names = registry.channel_names()
    with ws.connect() as con:
        return con.execute(
            "SELECT id, remote_id, channel, segment, template, published_at FROM outbox "
            "WHERE state = 'published' AND remote_id IS NOT NULL AND in_reply_to IS NULL "
            f"AND channel IN ({','.join('?' * len(names))}) ORDER BY id",
            names,
        ).fetchall()


def _store(ws: Workspace, rows: list[tuple]) -> None:
    if not rows:
        return
    with ws.connect() as con:
        con.executemany(
            "INSERT INTO post_metrics (post_id, remote_id, fetched_at, likes, reposts, replies, quotes, "
            "bookmarks, impressions, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def refresh_metrics(
    ws: Workspace,
    *,
    publishers: PublisherFactory | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RefreshReport:
    """Read the metrics of every published post and store them as a new point of its time series.

    Posts on live channels are read from their channel; dry-run posts get simulated metrics.

    Parameters
    ----------
    publishers
        ``channel -> Channel`` (default: :func:`core.delivery.channels.registry.publisher_for`).
    now
        The refresh time (default: now); simulated metrics depend on it.
    progress
        Called with (live posts read so far, live posts to read) after each call to a channel.

    Returns
    -------
    RefreshReport
        How many posts were updated; whether a channel's rate limit deferred the rest (and until
        when) or another problem stopped reading. Simulated metrics are stored either way.
    """
    now = (now or clock.now()).astimezone(UTC).replace(microsecond=0)
    stamp = clock.iso(now)
    posts = _measurable(ws)
    simulated_rows = _simulated_rows(ws, [p for p in posts if not registry.channel(p["channel"]).live], now, stamp)
    _store(ws, simulated_rows)
    live = [p for p in posts if registry.channel(p["channel"]).live]
    if not live:
        return RefreshReport(len(simulated_rows), len(simulated_rows))
    names = [c.name for c in registry.live_channels() if any(p["channel"] == c.name for p in live)]
    network = " and ".join(registry.label(name) for name in names)
    until = metrics_not_before(ws, now=now)
    if until:
        log.info("metrics refresh: %s is rate limited until %s; not asked", network, until)
        return RefreshReport(len(simulated_rows), len(simulated_rows), until, waiting=len(live), network=network)
    live_rows: list[tuple] = []  # filled as calls succeed, so a 429 midway keeps what was read
    deferred = problem = None
    try:
        factory = publishers or (lambda channel: registry.publisher_for(ws, channel))
        done = 0
        for name in names:
            mine = [p for p in live if p["channel"] == name]
            _read_metrics(factory(name), mine, stamp, live_rows, progress, done=done, total=len(live))
            done += len(mine)
    except PublishError as exc:
        if exc.kind == ErrorKind.RATE_LIMITED:
            deferred = clock.iso(exc.retry_at or now + RATE_LIMIT_FALLBACK)
            ws.set_setting(NOT_BEFORE_SETTING, deferred)
        else:
            problem = exc.message
        log.warning("metrics refresh stopped: %s", exc.message)
    _store(ws, live_rows)
    counts = {name: sum(1 for row in live_rows if row[-1] == name) for name in names}
    with ws.connect() as con:
        ws.audit("results.refresh", {**counts, "simulated": len(simulated_rows), "deferred_until": deferred}, con=con)
    refreshed = {row[0] for row in live_rows}
    return RefreshReport(
        len(simulated_rows) + len(live_rows),
        len(simulated_rows),
        deferred,
        problem,
        waiting=sum(1 for p in live if p["id"] not in refreshed),
        network=network,
    )


def _simulated_rows(ws: Workspace, posts: list, now: datetime, stamp: str) -> list[tuple]:
    """``post_metrics`` rows of simulated metrics at ``now`` for dry-run posts."""
    tz = ZoneInfo(clock.operator_timezone(ws))
    rows = []
    for p in posts:
        published = datetime.fromisoformat(p["published_at"])
        m = simulated_metrics(
            p["id"],
            segment=p["segment"],
            template=p["template"],
            published_at=published,
            now=now,
            local_hour=published.astimezone(tz).hour,
        )
        rows.append((p["id"], p["remote_id"], stamp, *(m[name] for name in _COUNTS), SOURCE_SIMULATED))
    return rows


def _read_metrics(
    channel: Channel,
    posts: list,
    stamp: str,
    into: list[tuple],
    progress: Callable[[int, int], None] | None,
    *,
    done: int,
    total: int,
) -> None:
    """Append ``post_metrics`` rows read from ``channel`` to ``into``, one call per 100 posts.

    Raises :class:`PublishError` as the channel does; rows of the calls before stay in ``into``.
    """
    for start in range(0, len(posts), 100):
        chunk = posts[start : start + 100]
        found = channel.public_metrics([p["remote_id"] for p in chunk])
        if progress is not None:
            progress(done + start + len(chunk), total)
        for p in chunk:
            values = found.get(str(p["remote_id"]))
            if values is not None:
                counts = (int(values.get(METRICS[name], 0) or 0) for name in _COUNTS)
                into.append((p["id"], p["remote_id"], stamp, *counts, channel.name))


# -- reading what was measured ----------------------------------------------------------------------
POST_COLUMNS = [
    "kind",
    "post_id",
    "remote_id",
    "text",
    "url",
    "channel",
    "segment",
    "template",
    "published_at",
    "hour",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "bookmarks",
    "impressions",
    "engagements",
    "engagement_rate",
    "source",
    "fetched_at",
]


def engagement_posts(ws: Workspace, *, include_imported: bool = True) -> pd.DataFrame:
    """One row per measured post with its latest metrics (and imported posts, ``kind="imported"``).

    ``hour`` is the local posting hour (time-zone setting); ``engagement_rate`` is NaN where there
    are no impressions (imported rows without them, or posts nobody has seen yet).
    """
    with ws.connect() as con:
        measured = pd.read_sql_query(
            "SELECT 'outbox' AS kind, o.id AS post_id, o.remote_id, o.text, o.url, o.channel, o.segment, o.template, "
            "o.published_at, m.likes, m.reposts, m.replies, m.quotes, m.bookmarks, m.impressions, m.source, "
            "m.fetched_at FROM outbox o JOIN post_metrics m ON m.post_id = o.id "
            "WHERE m.id = (SELECT id FROM post_metrics WHERE post_id = o.id ORDER BY fetched_at DESC, id DESC LIMIT 1)"
            " ORDER BY o.id",
            con,
        )
        imported = (
            pd.read_sql_query(
                "SELECT 'imported' AS kind, id AS post_id, remote_id, text, url, 'imported' AS channel, segment, "
                "template, posted_at AS published_at, likes, reposts, replies, quotes, NULL AS bookmarks, impressions, "
                "'csv' AS source, imported_at AS fetched_at FROM external_posts ORDER BY id",
                con,
            )
            if include_imported
            else pd.DataFrame()
        )
    frames = [f for f in (measured, imported) if not f.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in POST_COLUMNS})
    posts = pd.concat(frames, ignore_index=True)
    for name in (*ENGAGEMENTS, "bookmarks", "impressions"):
        posts[name] = pd.to_numeric(posts[name], errors="coerce")
    posts["engagements"] = posts[list(ENGAGEMENTS)].fillna(0).sum(axis=1).astype(int)
    seen = posts["impressions"].fillna(0) > 0
    posts["engagement_rate"] = (posts["engagements"] / posts["impressions"]).where(seen)
    when = pd.to_datetime(posts["published_at"], utc=True, errors="coerce", format="ISO8601")
    posts["hour"] = when.dt.tz_convert(clock.operator_timezone(ws)).dt.hour.astype("Int64")
    return posts[POST_COLUMNS]


def metrics_history(ws: Workspace) -> pd.DataFrame:
    """Every stored metrics row (the time series): post_id, fetched_at (UTC), segment, template, counts, source."""
    with ws.connect() as con:
        history = pd.read_sql_query(
            "SELECT m.post_id, m.fetched_at, o.segment, o.template, m.likes, m.reposts, m.replies, m.quotes, "
            "m.bookmarks, m.impressions, m.source FROM post_metrics m JOIN outbox o ON o.id = m.post_id "
            "ORDER BY m.fetched_at, m.post_id",
            con,
        )
    history["fetched_at"] = pd.to_datetime(history["fetched_at"], utc=True, format="ISO8601")
    history["engagements"] = history[list(ENGAGEMENTS)].sum(axis=1)
    return history


def performance(posts: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Posts and pooled engagement rate per group of ``by`` (any of segment, template, hour).

    ``engagement_rate`` is the group's engagements over its impressions, counting only posts with
    impressions (``rated_posts``); ``posts`` counts them all. Posts without a value in a ``by``
    column are left out.
    """
    by = list(by)
    unknown = [b for b in by if b not in posts.columns]
    if unknown:
        raise ResultsError(f"by={unknown} is not a column of the posts (columns: {', '.join(posts.columns)})")
    columns = [*by, "posts", "rated_posts", "impressions", "engagements", "engagement_rate"]
    frame = posts.dropna(subset=by)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    rated = frame["engagement_rate"].notna()
    frame = frame.assign(
        rated=rated.astype(int),
        rated_impressions=frame["impressions"].where(rated, 0),
        rated_engagements=frame["engagements"].where(rated, 0),
    )
    out = (
        frame.groupby(by, dropna=True, sort=True)
        .agg(
            posts=("post_id", "size"),
            rated_posts=("rated", "sum"),
            impressions=("rated_impressions", "sum"),
            engagements=("rated_engagements", "sum"),
        )
        .reset_index()
    )
    out["engagement_rate"] = (out["engagements"] / out["impressions"]).where(out["impressions"] > 0)
    return out[columns]


# -- learning ---------------------------------------------------------------------------------------
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

    @property
    def mean_rate(self) -> float:
        """Posterior mean engagement rate."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def observed_rate(self) -> float | None:
        """Engagements over impressions, None when untried."""
        return self.engagements / self.impressions if self.impressions else None


@dataclass(frozen=True)
class Recommendation:
    """The template Thompson sampling picks next for ``segment``, with every candidate's odds."""

    segment: str
    template: str
    probability_best: float
    candidates: list[TemplateOdds]
    simulated: bool = False

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

    def as_json(self) -> dict:
        """``recommendations`` entry of ``python -m core results --json``."""
        return {"segment": self.segment, "template": self.template, "probability_best": round(self.probability_best, 4)}


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
    if n_draws < 1:
        raise ResultsError(f"n_draws={n_draws} must be at least 1")
    candidates = list(dict.fromkeys(str(t) for t in templates))
    if not candidates:
        raise ResultsError("templates is empty: there is nothing to recommend")
    rated = posts[posts["engagement_rate"].notna() & posts["segment"].notna() & posts["template"].notna()]
    rated = rated.assign(
        impressions=rated["impressions"].astype(float),
        engagements=np.minimum(rated["engagements"], rated["impressions"]).astype(float),
    )
    rho = _overdispersion(rated)
    prior_a, prior_b = _shared_prior(rated, rho)
    if segments is None:
        segments = sorted(rated["segment"].unique())
    out = []
    for segment in segments:
        mine = rated[rated["segment"] == segment]
        weight = 1.0 / (1.0 + (mine["impressions"] - 1).clip(lower=0) * rho)
        odds_inputs = []
        for template in candidates:
            arm = mine["template"] == template
            successes = float((mine.loc[arm, "engagements"] * weight[arm]).sum())
            trials = float((mine.loc[arm, "impressions"] * weight[arm]).sum())
            odds_inputs.append(
                (
                    template,
                    int(arm.sum()),
                    int(mine.loc[arm, "impressions"].sum()),
                    int(mine.loc[arm, "engagements"].sum()),
                    prior_a + successes,
                    prior_b + trials - successes,
                )
            )
        rng = np.random.default_rng([int(random_state), int(_stable_unit("segment", segment) * 2**32)])
        draws = np.column_stack([rng.beta(a, b, size=n_draws) for *_, a, b in odds_inputs])
        wins = np.bincount(draws.argmax(axis=1), minlength=len(candidates)) / n_draws
        pick = int(draws[0].argmax())  # one posterior draw: Thompson sampling's choice
        odds = [
            TemplateOdds(t, float(w), n, imp, eng, a, b)
            for (t, n, imp, eng, a, b), w in zip(odds_inputs, wins, strict=True)
        ]
        simulated = bool((mine["source"] == SOURCE_SIMULATED).any())
        out.append(Recommendation(str(segment), candidates[pick], float(wins[pick]), odds, simulated))
    return out


def recommended_templates(ws: Workspace, *, random_state: int = 0) -> dict[str, Recommendation]:
    """segment name → its recommendation, for the Targeting page's defaults (empty without measured posts)."""

    posts = engagement_posts(ws)
    if posts["engagement_rate"].notna().sum() == 0:
        return {}
    return {r.segment: r for r in recommend(posts, [t.name for t in list_templates(ws)], random_state=random_state)}


def recommended_template_names(ws: Workspace, *, random_state: int = 0) -> dict[str, str]:
    """segment name → the template measured results recommend next (empty before any post was measured)."""
    return {segment: rec.template for segment, rec in recommended_templates(ws, random_state=random_state).items()}


# -- everything the page and the CLI show ----------------------------------------------------------
@dataclass(frozen=True)
class Results:
    """Measured posts, their aggregates and the recommendations."""

    posts: pd.DataFrame
    by_template: pd.DataFrame
    by_segment: pd.DataFrame
    by_cell: pd.DataFrame  # segment × template × hour
    recommendations: list[Recommendation]
    unmeasured: int  # published posts without metrics yet
    not_before: str | None = None  # a live channel's rate limit on metrics

    @property
    def simulated(self) -> bool:
        """Whether any shown metrics are simulated."""
        return bool((self.posts["source"] == SOURCE_SIMULATED).any())

    @property
    def without_impressions(self) -> int:
        """Posts (mostly imported) whose counts are kept but which give no engagement rate."""
        return int(self.posts["engagement_rate"].isna().sum())

    def as_json(self) -> dict:
        """``python -m core results --json`` (the contract's keys, exactly)."""
        mine = self.posts[self.posts["kind"] == "outbox"]
        posts = [
            {
                "post_id": int(r.post_id),
                "remote_id": r.remote_id,
                "segment": r.segment,
                "template": r.template,
                "likes": int(r.likes),
                "reposts": int(r.reposts),
                "replies": int(r.replies),
                "impressions": int(r.impressions),
            }
            for r in mine.itertuples()
        ]
        return {
            "posts": posts,
            "by_template": [
                {"template": r.template, "posts": int(r.posts), "engagement_rate": _rate(r.engagement_rate)}
                for r in self.by_template.itertuples()
            ],
            "by_segment": [
                {"segment": r.segment, "posts": int(r.posts), "engagement_rate": _rate(r.engagement_rate)}
                for r in self.by_segment.itertuples()
            ],
            "recommendations": [r.as_json() for r in self.recommendations],
        }


def _rate(value: float) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 6)


def results(ws: Workspace, *, random_state: int = 0) -> Results:
    """Measured and imported posts, performance by template, segment and segment × template × hour,
    and the next template per segment."""

    posts = engagement_posts(ws)
    with ws.connect() as con:
        published = con.execute(
            "SELECT COUNT(*) FROM outbox WHERE state = 'published' AND in_reply_to IS NULL AND remote_id IS NOT NULL"
        ).fetchone()[0]
    measured = int((posts["kind"] == "outbox").sum())
    has_rates = posts["engagement_rate"].notna().any()
    recs = recommend(posts, [t.name for t in list_templates(ws)], random_state=random_state) if has_rates else []
    return Results(
        posts,
        performance(posts, ["template"]),
        performance(posts, ["segment"]),
        performance(posts, ["segment", "template", "hour"]),
        recs,
        int(published) - measured,
        metrics_not_before(ws),
    )


# -- engagement CSV import --------------------------------------------------------------------------
#: canonical column -> header names it is found by (compared folded: lower case, no spaces, _ - . ( ) /)
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "text": ("text", "tweet", "fulltext", "post", "content", "message", "body", "内容", "正文", "微博正文", "文本"),
    "posted_at": (
        "date",
        "createdat",
        "postedat",
        "publishedat",
        "time",
        "timestamp",
        "datetime",
        "created",
        "发布时间",
        "时间",
        "日期",
    ),
    "likes": (
        "likes",
        "likecount",
        "favorites",
        "favoritecount",
        "favourites",
        "favouritecount",
        "favs",
        "点赞",
        "点赞数",
        "赞",
    ),
    "reposts": ("retweets", "retweetcount", "reposts", "repostcount", "shares", "sharecount", "转发", "转发数"),
    "replies": ("replies", "replycount", "comments", "commentcount", "评论", "评论数"),
    "quotes": ("quotes", "quotecount", "quotetweets", "引用"),
    "impressions": (
        "impressions",
        "impressioncount",
        "views",
        "viewcount",
        "reach",
        "曝光",
        "曝光量",
        "阅读",
        "阅读数",
        "浏览量",
    ),
    "remote_id": ("id", "idstr", "tweetid", "postid", "statusid"),
    "url": ("url", "link", "permalink", "tweeturl", "链接"),
    "segment": ("segment", "audience", "细分"),
    "template": ("template", "模板"),
}
REQUIRED_COLUMNS = ("text", "likes")
_STATUS_ID = re.compile(r"/status(?:es)?/(\d+)")
_COUNT = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKmM万wW]?)$")
_SCALE = {"": 1, "k": 1_000, "m": 1_000_000, "万": 10_000, "w": 10_000}


@dataclass(frozen=True)
class EngagementPreview:
    """How an engagement CSV will be read: encoding, delimiter, columns found and the mapping."""

    name: str
    encoding: str
    delimiter: str
    columns: list[str]
    mapping: dict[str, str]  # canonical -> source column
    sample: pd.DataFrame  # the first rows under their canonical names
    rows: int

    @property
    def missing(self) -> list[str]:
        """Required canonical columns the mapping lacks."""
        return [c for c in REQUIRED_COLUMNS if c not in self.mapping]

    @property
    def notes(self) -> list[str]:
        """What the import will assume (absent optional columns)."""
        notes = []
        if "impressions" not in self.mapping:
            notes.append("no impressions column: these posts keep their counts but give no engagement rate")
        absent = [c for c in ("reposts", "replies", "quotes") if c not in self.mapping]
        if absent:
            notes.append(f"no {', '.join(absent)} column: counted as 0")
        if "posted_at" not in self.mapping:
            notes.append("no date column: the posts have no posting hour")
        return notes


@dataclass(frozen=True)
class EngagementImport:
    """What :func:`import_engagement_csv` stored."""

    name: str
    imported: int
    already_there: int
    rejected: list[tuple[int, str]]  # (line number, reason)
    without_impressions: int
    kept_as: str  # the copy of the file in the workspace

    def summary(self) -> str:
        """One line for the page or the CLI."""
        text = f"{self.name}: {self.imported} post{'s' if self.imported != 1 else ''} imported"
        if self.already_there:
            text += f", {self.already_there} already imported before"
        if self.rejected:
            text += f", {len(self.rejected)} row(s) rejected"
        if self.without_impressions:
            text += (
                f"; {self.without_impressions} have no impressions, so their counts are kept but they "
                "are left out of engagement rates"
            )
        return text + "."


def _read_table(path: Path, name: str) -> tuple[pd.DataFrame, str, str]:
    """The CSV as text cells (header cleaned), its encoding and delimiter."""

    try:
        text, encoding = read_text_file(
            path, name=name, if_empty="export the posts with their likes, reposts and replies"
        )
    except TextFileError as exc:
        raise ResultsError(str(exc)) from None
    delimiter = sniff_text_delimiter(text)
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, skip_blank_lines=True, engine="python"
        )
    except (pd.errors.ParserError, csv.Error) as exc:
        raise ResultsError(f"{name}: cannot be read as a {delimiter!r}-separated CSV ({exc})") from None
    frame.columns = clean_header([str(c) for c in frame.columns])
    return frame, encoding, delimiter


def _mapping(columns: list[str], overrides: Mapping[str, str] | None, name: str) -> dict[str, str]:
    mapping = auto_mapping(columns, CSV_COLUMNS)
    for canonical, source in (overrides or {}).items():
        if canonical not in CSV_COLUMNS:
            raise ResultsError(f"mapping {canonical!r}: not a column Reach reads (one of {', '.join(CSV_COLUMNS)})")
        if source in (None, ""):
            mapping.pop(canonical, None)
            continue
        if source not in columns:
            raise ResultsError(
                f"{name}: mapping {canonical}={source!r}, but there is no column {source!r} "
                f"(columns found: {', '.join(columns)})"
            )
        mapping = {k: v for k, v in mapping.items() if v != source}
        mapping[canonical] = source
    return mapping


def inspect_engagement_csv(
    path: Path | str, *, mapping: Mapping[str, str] | None = None, name: str | None = None
) -> EngagementPreview:
    """Read an engagement export's header and first rows and map its columns (nothing is stored).

    Raises
    ------
    ResultsError
        Unreadable file, or an override naming a column the file does not have.
    """
    path = Path(path)
    name = name or path.name
    frame, encoding, delimiter = _read_table(path, name)
    columns = list(frame.columns)
    chosen = _mapping(columns, mapping, name)
    sample = frame.head(5)[list(chosen.values())].rename(columns={v: k for k, v in chosen.items()})
    return EngagementPreview(name, encoding, delimiter, columns, chosen, sample, len(frame))


def _count(value: str) -> int | None:
    """``"1,234"`` → 1234, ``"1.2K"`` → 1200, ``"3万"`` → 30000, blank → None; ValueError otherwise."""
    text = str(value).strip().replace(",", "").replace("\u00a0", "").replace(" ", "")
    if not text:
        return None
    m = _COUNT.match(text)
    if not m:
        raise ValueError(text)
    return round(float(m.group(1)) * _SCALE[m.group(2).lower()])


def import_engagement_csv(
    ws: Workspace, path: Path | str, *, mapping: Mapping[str, str] | None = None, name: str | None = None
) -> EngagementImport:
    """Add the posts of an engagement export (posts made elsewhere) to the workspace.

    Columns are found by name (text; date/created_at; likes/favorites/favorite_count;
    retweets/retweet_count/reposts; replies/reply_count; quotes; impressions; id or url) unless
    ``mapping`` (canonical → column) says otherwise. Rows with an empty text or an unreadable count
    are rejected with their line number and reason; posts already imported (same id, or same
    text and date) are skipped. The file is kept in the workspace under ``uploads/engagement``.

    Raises
    ------
    ResultsError
        When the file cannot be read, a required column (text, likes) is missing — the message
        names it and the columns found — or no row can be imported. Nothing is stored then.
    """

    path = Path(path)
    name = name or path.name
    frame, _, _ = _read_table(path, name)
    columns = list(frame.columns)
    chosen = _mapping(columns, mapping, name)
    missing = [c for c in REQUIRED_COLUMNS if c not in chosen]
    if missing:
        wanted = {"text": "text, tweet, post or content", "likes": "likes, favorites or favorite_count"}
        raise ResultsError(
            f"{name}: no {' and no '.join(f'{m} column ({wanted[m]})' for m in missing)}; "
            f"columns found: {', '.join(columns)}. Map them by hand."
        )
    if frame.empty:
        raise ResultsError(f"{name} has a header but no rows")
    stamps = None
    if "posted_at" in chosen:
        parsed, _ = TimestampParser().parse(frame[chosen["posted_at"]])
        stamps = parsed
    rows: list[dict] = []
    rejected: list[tuple[int, str]] = []
    for i, record in enumerate(frame.to_dict("records")):
        line = i + 2
        text = html.unescape(str(record.get(chosen["text"], "")).strip())
        if not text:
            rejected.append((line, "empty text"))
            continue
        counts: dict[str, int | None] = {}
        bad = None
        for canonical in (*ENGAGEMENTS, "impressions"):
            if canonical not in chosen:
                counts[canonical] = None
                continue
            try:
                counts[canonical] = _count(record[chosen[canonical]])
            except ValueError:
                bad = f"{canonical} {str(record[chosen[canonical]])[:30]!r} is not a count"
                break
        if bad:
            rejected.append((line, bad))
            continue
        url = str(record.get(chosen["url"], "")).strip() if "url" in chosen else ""
        remote_id = str(record.get(chosen["remote_id"], "")).strip() if "remote_id" in chosen else ""
        if not remote_id and (m := _STATUS_ID.search(url)):
            remote_id = m.group(1)
        when = stamps.iloc[i] if stamps is not None else pd.NaT
        rows.append(
            {
                "remote_id": remote_id or None,
                "url": url or None,
                "text": text,
                "posted_at": None if pd.isna(when) else clock.iso(when.to_pydatetime().replace(tzinfo=UTC)),
                "segment": (str(record.get(chosen["segment"], "")).strip() or None) if "segment" in chosen else None,
                "template": (str(record.get(chosen["template"], "")).strip() or None) if "template" in chosen else None,
                **{k: counts[k] or 0 for k in ENGAGEMENTS},
                "impressions": counts["impressions"],
            }
        )
    if not rows:
        reasons = "; ".join(f"line {line}: {why}" for line, why in rejected[:3])
        raise ResultsError(f"{name}: none of its {len(frame)} rows can be imported ({reasons})")
    kept = ws.home / "uploads" / "engagement" / f"{clock.now():%Y%m%dT%H%M%S}-{Path(name).name}"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, kept)
    imported = already = without = 0
    stamp = utc_now()
    with ws.connect() as con:
        ids = {r[0] for r in con.execute("SELECT remote_id FROM external_posts WHERE remote_id IS NOT NULL")}
        keys = {(r[0], r[1]) for r in con.execute("SELECT text, posted_at FROM external_posts")}
        for row in rows:
            key = (row["text"], row["posted_at"])
            if (row["remote_id"] and row["remote_id"] in ids) or key in keys:
                already += 1
                continue
            ids.add(row["remote_id"])
            keys.add(key)
            con.execute(
                "INSERT INTO external_posts (remote_id, url, text, posted_at, segment, template, likes, "
                "reposts, replies, quotes, impressions, source_file, imported_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row["remote_id"],
                    row["url"],
                    row["text"],
                    row["posted_at"],
                    row["segment"],
                    row["template"],
                    row["likes"],
                    row["reposts"],
                    row["replies"],
                    row["quotes"],
                    row["impressions"],
                    str(kept.relative_to(ws.home)),
                    stamp,
                ),
            )
            imported += 1
            without += int(not row["impressions"])
        ws.audit(
            "results.import",
            {"file": name, "imported": imported, "already_there": already, "rejected": len(rejected)},
            con=con,
        )
    log.info("engagement import %s: %d imported, %d already there, %d rejected", name, imported, already, len(rejected))
    return EngagementImport(name, imported, already, rejected, without, str(kept.relative_to(ws.home)))


def imported_sources(ws: Workspace) -> list[dict]:
    """Imported files: source_file, posts, with_impressions, imported_at."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT source_file, COUNT(*) AS posts, SUM(CASE WHEN impressions > 0 THEN 1 ELSE 0 END) "
            "AS with_impressions, MAX(imported_at) AS imported_at FROM external_posts "
            "GROUP BY source_file ORDER BY imported_at DESC"
        ).fetchall()
    return [dict(r) for r in rows]
