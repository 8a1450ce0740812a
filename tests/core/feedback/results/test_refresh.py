"""Refreshing metrics: from the fake X (batched, rate limited, keys missing), simulated for dry-run posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from core.delivery import outbox as publish
from core.delivery.outbox import PublishSettings
from core.feedback import results
from core.workspace import Workspace
from tests.core.feedback.results.conftest import post_text


def _publish_on_x(ws: Workspace, posts: list[tuple[str, str]]) -> list[publish.Post]:
    """Queue (segment, template) posts on channel x and publish them through the outbox."""
    ids = [
        publish.add_post(ws, post_text(i), channel="x", segment=seg, template=tpl, approve=True).id
        for i, (seg, tpl) in enumerate(posts)
    ]
    report = publish.publish_due(ws)
    assert report.as_json()["published"] == ids
    return [publish.get_post(ws, i) for i in ids]


def _tweet_gets(fake) -> int:
    return sum(1 for method, path in fake.requests if (method, path) == ("GET", "/2/tweets"))


def test_metrics_round_trip_with_the_fake_x(workspace: Workspace, x_env) -> None:
    PublishSettings.load(workspace).save(workspace, timezone="Asia/Shanghai")
    tip, offer = _publish_on_x(workspace, [("Women 18–29", "Tip"), ("Women 18–29", "Offer")])
    x_env.set_metrics(
        tip.remote_id,
        like_count=30,
        retweet_count=5,
        reply_count=4,
        quote_count=1,
        bookmark_count=2,
        impression_count=1000,
    )
    x_env.set_metrics(
        offer.remote_id, like_count=10, retweet_count=0, reply_count=0, quote_count=0, impression_count=1000
    )

    report = results.refresh_metrics(workspace)
    assert (report.updated, report.simulated, report.deferred_until) == (2, 0, None)
    x_env.set_metrics(tip.remote_id, like_count=50, impression_count=2000)  # later, the post did better
    assert results.refresh_metrics(workspace).updated == 2

    history = results.metrics_history(workspace)
    assert list(history[history["post_id"] == tip.id]["likes"]) == [30, 50]  # a time series, one row per refresh
    assert set(history["source"]) == {"x"}
    found = results.results(workspace)
    out = found.as_json()
    assert out["posts"] == [
        {
            "post_id": tip.id,
            "remote_id": tip.remote_id,
            "segment": "Women 18–29",
            "template": "Tip",
            "likes": 50,
            "reposts": 5,
            "replies": 4,
            "impressions": 2000,
        },
        {
            "post_id": offer.id,
            "remote_id": offer.remote_id,
            "segment": "Women 18–29",
            "template": "Offer",
            "likes": 10,
            "reposts": 0,
            "replies": 0,
            "impressions": 1000,
        },
    ]
    assert out["by_template"] == [
        {"template": "Offer", "posts": 1, "engagement_rate": 0.01},
        {"template": "Tip", "posts": 1, "engagement_rate": 0.03},
    ]  # (50+5+4+1)/2000
    assert out["by_segment"] == [{"segment": "Women 18–29", "posts": 2, "engagement_rate": round(70 / 3000, 6)}]
    local_hour = datetime.fromisoformat(tip.published_at).astimezone(pd.Timestamp(0, tz="Asia/Shanghai").tz).hour
    assert set(found.by_cell["hour"]) == {local_hour}  # posting hour in the operator's time zone
    assert not found.simulated


def test_150_posts_take_two_calls(workspace: Workspace, x_env) -> None:
    tweets = [x_env.add_tweet(post_text(i)) for i in range(150)]
    for i, tweet in enumerate(tweets):
        post = publish.add_post(workspace, tweet.text, channel="x", segment="Men 30–54", template="Tip")
        with workspace.connect() as con:  # published earlier: only the metrics refresh is under test here
            con.execute(
                "UPDATE outbox SET state = 'published', remote_id = ?, published_at = ? WHERE id = ?",
                (tweet.id, (datetime.now(UTC) - timedelta(days=2)).isoformat(timespec="seconds"), post.id),
            )
        x_env.set_metrics(tweet.id, like_count=i, impression_count=100 + i)
    report = results.refresh_metrics(workspace)
    assert report.updated == 150
    assert _tweet_gets(x_env) == 2
    posts = results.engagement_posts(workspace)
    assert posts["likes"].sum() == sum(range(150))


def test_a_429_defers_and_the_next_refresh_does_not_call_x(workspace: Workspace, x_env) -> None:
    (post,) = _publish_on_x(workspace, [("55+", "Angle")])
    x_env.set_metrics(post.remote_id, like_count=3, impression_count=300)
    x_env.fail_next(429, route="GET", reset_in=600)
    before = datetime.now(UTC)
    report = results.refresh_metrics(workspace)
    assert report.updated == 0 and report.waiting == 1
    until = datetime.fromisoformat(report.deferred_until)
    assert before + timedelta(seconds=590) <= until <= before + timedelta(seconds=620)
    assert "rate limit" in report.message() and "1 X post is read again" in report.message()
    calls = _tweet_gets(x_env)

    again = results.refresh_metrics(workspace)  # before the reset: X is not asked
    assert _tweet_gets(x_env) == calls
    assert (again.updated, again.deferred_until) == (0, report.deferred_until)
    assert results.results(workspace).not_before == report.deferred_until

    later = results.refresh_metrics(workspace, now=until + timedelta(seconds=1))
    assert later.updated == 1 and _tweet_gets(x_env) == calls + 1


def test_missing_keys_are_reported_not_raised(workspace: Workspace, x_env, monkeypatch: pytest.MonkeyPatch) -> None:
    _publish_on_x(workspace, [("55+", "Tip")])
    monkeypatch.delenv("X_CONSUMER_KEY")
    report = results.refresh_metrics(workspace)
    assert report.updated == 0 and "X_CONSUMER_KEY" in report.problem


def test_dry_run_posts_get_deterministic_growing_simulated_metrics(workspace: Workspace, no_x_keys: None) -> None:
    for i, template in enumerate(["Tip", "Tip", "Offer"]):
        publish.add_post(workspace, post_text(i), segment="Women 30–54", template=template, approve=True)
    publish.publish_due(workspace)
    published = datetime.fromisoformat(publish.get_post(workspace, 1).published_at)

    first = results.refresh_metrics(workspace, now=published + timedelta(hours=2))
    assert (first.updated, first.simulated) == (3, 3) and "simulated" in first.message()
    results.refresh_metrics(workspace, now=published + timedelta(hours=30))
    history = results.metrics_history(workspace)
    assert set(history["source"]) == {"simulated"}
    for _, series in history.groupby("post_id"):
        assert series["impressions"].is_monotonic_increasing and series["engagements"].is_monotonic_increasing
        assert series["impressions"].iloc[-1] > series["impressions"].iloc[0] > 0

    again = results.simulated_metrics(
        1,
        segment="Women 30–54",
        template="Tip",
        published_at=published,
        now=published + timedelta(hours=30),
        local_hour=published.hour,
    )
    latest = history[history["post_id"] == 1].iloc[-1]
    assert again == {k: int(latest[k]) for k in again}  # the same post id and time give the same numbers
    other = history[history["post_id"] == 2].iloc[-1]
    assert int(other["impressions"]) != int(latest["impressions"])  # seeded per post
    found = results.results(workspace)
    assert found.simulated and all(r.simulated for r in found.recommendations)


def test_the_results_version_moves_with_what_the_results_read(workspace: Workspace, no_x_keys: None) -> None:
    publish.add_post(workspace, post_text(0), segment="Women 30–54", template="Tip", approve=True)
    publish.publish_due(workspace)
    published = datetime.fromisoformat(publish.get_post(workspace, 1).published_at)
    versions = [results.results_version(workspace)]
    results.results(workspace)
    results.metrics_history(workspace)
    assert results.results_version(workspace) == versions[0]  # reading changes nothing
    results.refresh_metrics(workspace, now=published + timedelta(hours=2))
    versions.append(results.results_version(workspace))
    publish.add_post(workspace, post_text(1), segment="Men 18–29", template="Offer", approve=True)
    assert results.results_version(workspace) == versions[-1]  # a post waiting to go out shows nowhere yet
    publish.publish_due(workspace)
    versions.append(results.results_version(workspace))
    PublishSettings.load(workspace).save(workspace, timezone="Asia/Shanghai")  # the hour of every post moves
    versions.append(results.results_version(workspace))
    assert len(set(versions)) == len(versions)
