"""What Reach measures of a post, and the measured posts as tables.

Engagement rate = (likes + reposts + replies + quotes) / impressions, from each post's latest
metrics (:func:`engagement_posts`, with imported posts); :func:`metrics_history` is the stored
time series and :func:`performance` aggregates by any of segment, template and local posting hour.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from core import clock
from core.workspace import Workspace

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
# a metrics row's source: a live channel's name (metrics read from it), or one of these
SOURCE_SIMULATED, SOURCE_CSV = "simulated", "csv"


class ResultsError(ValueError):
    """A results input the operator must change (a CSV, a mapping); the message names the value."""


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
