"""Everything the Results page and ``python -m core results`` show, in one value (:class:`Results`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd

from core import clock
from core.content.templates import list_templates
from core.feedback.results.metrics import SOURCE_SIMULATED, engagement_posts, performance
from core.feedback.results.recommendations import Recommendation, recommend_by_channel
from core.feedback.results.refresh import metrics_not_before
from core.workspace import Workspace


@dataclass(frozen=True)
class Results:
    """Measured posts, their aggregates and the recommendations."""

    posts: pd.DataFrame
    by_template: pd.DataFrame
    by_segment: pd.DataFrame
    by_cell: pd.DataFrame  # segment × template × hour
    recommendations: list[Recommendation]  # per channel, then segment (see recommend_by_channel)
    unmeasured: int  # published posts without metrics yet
    not_before: str | None = None  # a live channel's rate limit on metrics
    by_channel: pd.DataFrame | None = None  # posts and engagement per channel (see channel_performance)

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


CHANNEL_COLUMNS = [
    "channel",
    "posts",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "engagements",
    "engagements_per_post",
    "engagement_rate",
]


def channel_performance(posts: pd.DataFrame) -> pd.DataFrame:
    """Per channel (``imported`` for CSV posts): posts, the sum of each count and of engagements,
    engagements per post, and the pooled engagement rate where the channel gives impressions
    (Mastodon and Bluesky give none: NaN)."""
    if posts.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in CHANNEL_COLUMNS})
    counts = posts.assign(**{c: posts[c].fillna(0) for c in ("likes", "reposts", "replies", "quotes")})
    out = (
        counts.groupby("channel", sort=True)
        .agg(
            posts=("post_id", "size"),
            likes=("likes", "sum"),
            reposts=("reposts", "sum"),
            replies=("replies", "sum"),
            quotes=("quotes", "sum"),
            engagements=("engagements", "sum"),
        )
        .reset_index()
    )
    out["engagements_per_post"] = out["engagements"] / out["posts"]
    rates = performance(posts, ["channel"])[["channel", "engagement_rate"]]
    return out.merge(rates, on="channel", how="left")[CHANNEL_COLUMNS]


def results(ws: Workspace, *, random_state: int = 0) -> Results:
    """Measured and imported posts, performance by template, segment and segment × template × hour,
    and the next template per segment on each channel."""

    posts = engagement_posts(ws)
    with ws.connect() as con:
        published = con.execute(
            "SELECT COUNT(*) FROM outbox WHERE state = 'published' AND in_reply_to IS NULL AND remote_id IS NOT NULL"
        ).fetchone()[0]
    measured = int((posts["kind"] == "outbox").sum())
    recs = recommend_by_channel(posts, [t.name for t in list_templates(ws)], random_state=random_state)
    return Results(
        posts,
        performance(posts, ["template"]),
        performance(posts, ["segment"]),
        performance(posts, ["segment", "template", "hour"]),
        recs,
        int(published) - measured,
        metrics_not_before(ws),
        channel_performance(posts),
    )


def results_version(ws: Workspace) -> str:
    """A digest of what :func:`results` and ``metrics_history`` read (metrics, published posts, imported
    posts, templates, the time zone): while it is unchanged, so are they, apart from ``not_before``.

    Imported posts and metrics rows are only ever added, so their counts and last ids stand for them.
    """
    with ws.connect() as con:
        parts = [
            tuple(con.execute("SELECT COUNT(*), MAX(id), MAX(fetched_at) FROM post_metrics").fetchone()),
            tuple(con.execute("SELECT COUNT(*), MAX(id), MAX(imported_at) FROM external_posts").fetchone()),
            con.execute(
                "SELECT id, remote_id, text, url, channel, segment, template, state, published_at, in_reply_to "
                "FROM outbox WHERE state = 'published' OR id IN (SELECT post_id FROM post_metrics) ORDER BY id"
            ).fetchall(),
            con.execute("SELECT name, body FROM templates ORDER BY name").fetchall(),
        ]
    digest = hashlib.sha256(repr([*parts[:2], [tuple(r) for r in parts[2]], [tuple(r) for r in parts[3]]]).encode())
    digest.update(clock.operator_timezone(ws).encode())
    return digest.hexdigest()
