"""Results: metrics from the fake X (batched, rate limited), simulated dry-run metrics, the engagement
CSV import, aggregates, and Thompson sampling that finds the better template yet stays unsure on little data."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.delivery import outbox as publish
from core.delivery.outbox import PublishSettings
from core.feedback import results
from core.feedback.results import ResultsError
from core.workspace import Workspace

WORDS = [
    "oats",
    "chia",
    "kale",
    "tofu",
    "matcha",
    "berries",
    "almonds",
    "quinoa",
    "lentils",
    "yogurt",
    "kefir",
    "miso",
    "ginger",
    "turmeric",
    "walnuts",
    "spinach",
    "avocado",
    "salmon",
    "barley",
    "rye",
    "buckwheat",
    "sesame",
    "mango",
    "papaya",
    "cacao",
    "dates",
    "figs",
]


def _text(i: int) -> str:
    return f"{i}: " + " ".join(random.Random(i).sample(WORDS, 9))


def _publish_on_x(ws: Workspace, posts: list[tuple[str, str]]) -> list[publish.Post]:
    """Queue (segment, template) posts on channel x and publish them through the outbox."""
    ids = [
        publish.add_post(ws, _text(i), channel="x", segment=seg, template=tpl, approve=True).id
        for i, (seg, tpl) in enumerate(posts)
    ]
    report = publish.publish_due(ws)
    assert report.as_json()["published"] == ids
    return [publish.get_post(ws, i) for i in ids]


def _tweet_gets(fake) -> int:
    return sum(1 for method, path in fake.requests if (method, path) == ("GET", "/2/tweets"))


# -- metrics from X ---------------------------------------------------------------------------------
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
    tweets = [x_env.add_tweet(_text(i)) for i in range(150)]
    for i, tweet in enumerate(tweets):
        post = publish.add_post(workspace, tweet.text, channel="x", segment="Men 30–54", template="Tip")
        with workspace.connect() as con:  # published earlier: only the metrics refresh is under test here
            con.execute(
                "UPDATE outbox SET state = 'published', remote_id = ?, published_at = ? WHERE id = ?",
                (tweet.id, "2026-01-01T09:00:00+00:00", post.id),
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
    assert "rate limit" in report.message() and "1 X post(s)" in report.message()
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


# -- simulated metrics ------------------------------------------------------------------------------
def test_dry_run_posts_get_deterministic_growing_simulated_metrics(workspace: Workspace, no_x_keys: None) -> None:
    for i, template in enumerate(["Tip", "Tip", "Offer"]):
        publish.add_post(workspace, _text(i), segment="Women 30–54", template=template, approve=True)
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


# -- learning ---------------------------------------------------------------------------------------
def _posts(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    """(segment, template, engagements, impressions) → the frame engagement_posts returns."""
    return pd.DataFrame(
        [
            {
                "post_id": i,
                "segment": s,
                "template": t,
                "engagements": e,
                "impressions": n,
                "engagement_rate": e / n,
                "source": "x",
            }
            for i, (s, t, e, n) in enumerate(rows)
        ]
    )


def test_thompson_sampling_finds_the_better_template_in_a_seeded_simulation() -> None:
    rng = np.random.default_rng(7)
    true_rate = {"Tip": 0.02, "Offer": 0.035}
    rows: list[tuple[str, str, int, int]] = []
    picks = []
    for round_ in range(60):
        frame = (
            _posts(rows)
            if rows
            else _posts([]).reindex(
                columns=["post_id", "segment", "template", "engagements", "impressions", "engagement_rate", "source"]
            )
        )
        (rec,) = results.recommend(frame, list(true_rate), segments=["55+"], random_state=round_)
        picks.append(rec.template)
        impressions = int(rng.integers(500, 3000))
        post_rate = true_rate[rec.template] * rng.gamma(6, 1 / 6)  # posts differ beyond binomial noise
        rows.append(("55+", rec.template, int(rng.binomial(impressions, post_rate)), impressions))
    assert picks[30:].count("Offer") >= 24
    (final,) = results.recommend(_posts(rows), list(true_rate), random_state=0)
    best = {c.template: c.probability_best for c in final.candidates}
    assert best["Offer"] > 0.9 and final.leader.template == "Offer"


def test_little_data_stays_uncertain_and_untried_templates_stay_possible() -> None:
    # one post each, 5,000 impressions, 2 % against 4 %: a per-impression Beta-Binomial would call it certain
    frame = _posts([("Women 18–29", "Tip", 100, 5000), ("Women 18–29", "Offer", 200, 5000)])
    (rec,) = results.recommend(frame, ["Tip", "Offer"], random_state=3)
    odds = {c.template: c for c in rec.candidates}
    assert 0.1 < odds["Offer"].probability_best < 0.95
    assert odds["Tip"].probability_best > 0.05
    assert not rec.settled
    assert (odds["Offer"].posts, odds["Offer"].impressions, odds["Offer"].engagements) == (1, 5000, 200)

    (with_new,) = results.recommend(frame, ["Tip", "Offer", "Question"], random_state=3)
    untried = next(c for c in with_new.candidates if c.template == "Question")
    assert untried.posts == 0 and untried.probability_best > 0.1  # the wide shared prior keeps it possible
    assert with_new.untried == ["Question"]
    # ... but, centred on the 3 % these posts reach, it does not look better than the measured 4 %
    assert with_new.leader.template == "Offer"
    assert with_new.leader.probability_best > untried.probability_best


def test_many_posts_settle_the_recommendation() -> None:
    rows = [("55+", "Tip", 20 + i % 5, 1000) for i in range(15)] + [
        ("55+", "Offer", 45 + i % 5, 1000) for i in range(15)
    ]
    (rec,) = results.recommend(_posts(rows), ["Tip", "Offer"], random_state=0)
    assert rec.settled and rec.template == "Offer" and rec.probability_best > 0.99
    assert results.recommend(_posts(rows), ["Tip", "Offer"], random_state=0) == [rec]  # seeded: reproducible


def test_recommend_validates_its_options() -> None:
    with pytest.raises(ResultsError, match="n_draws=0"):
        results.recommend(_posts([("a", "Tip", 1, 10)]), ["Tip"], n_draws=0)
    with pytest.raises(ResultsError, match="templates is empty"):
        results.recommend(_posts([("a", "Tip", 1, 10)]), [])


# -- engagement CSV import --------------------------------------------------------------------------
def test_import_utf8_bom_semicolon_csv(workspace: Workspace, write_file) -> None:
    path = write_file(
        "export.csv",
        "\ufefftext;created_at;favorites;retweets;replies;impressions;url\n"
        "Oats for breakfast;2026-03-01T08:30:00Z;12;3;1;1000;https://x.com/a/status/111\n"
        '"Kefir &amp; kale";2026-03-02T20:00:00Z;1,200;40;;;https://x.com/a/status/222\n'
        ";2026-03-03T08:00:00Z;1;1;1;10;\n"
        "Bad count;2026-03-04T08:00:00Z;lots;1;1;10;\n",
    )
    preview = results.inspect_engagement_csv(path)
    assert (preview.encoding, preview.delimiter) == ("utf-8-sig", ";")
    assert preview.mapping == {
        "text": "text",
        "posted_at": "created_at",
        "likes": "favorites",
        "reposts": "retweets",
        "replies": "replies",
        "impressions": "impressions",
        "url": "url",
    }
    report = results.import_engagement_csv(workspace, path)
    assert (report.imported, report.already_there, report.without_impressions) == (2, 0, 1)
    assert report.rejected == [(4, "empty text"), (5, "likes 'lots' is not a count")]
    assert "left out of engagement rates" in report.summary()
    posts = results.engagement_posts(workspace).set_index("remote_id")
    assert posts.loc["222", "text"] == "Kefir & kale" and posts.loc["222", "likes"] == 1200
    assert pd.isna(posts.loc["222", "engagement_rate"])
    assert posts.loc["111", "engagement_rate"] == pytest.approx(16 / 1000)
    assert (workspace.home / report.kept_as).read_bytes() == path.read_bytes()  # the original is kept
    assert results.import_engagement_csv(workspace, path).already_there == 2  # a second import adds nothing


def test_import_gbk_with_chinese_headers(workspace: Workspace, write_file) -> None:
    body = "内容,发布时间,点赞,转发,评论,阅读数\n早餐燕麦,2026-03-01 08:30:00,5,1,2,200\n无糖酸奶,2026-03-01 21:00:00,9,0,1,300\n"
    path = write_file("weibo.csv", body.encode("gbk"))
    report = results.import_engagement_csv(workspace, path)
    assert report.imported == 2 and not report.rejected
    posts = results.engagement_posts(workspace)
    assert list(posts["text"]) == ["早餐燕麦", "无糖酸奶"]
    assert list(posts["engagement_rate"]) == pytest.approx([8 / 200, 10 / 300])


def test_a_bad_file_names_the_missing_column_and_saves_nothing(workspace: Workspace, write_file) -> None:
    path = write_file("bad.csv", "caption,hearts,when\nhello,3,2026-01-01\n")
    with pytest.raises(ResultsError) as caught:
        results.import_engagement_csv(workspace, path)
    message = str(caught.value)
    assert "no text column" in message and "columns found: caption, hearts, when" in message
    assert "no likes column" in message
    assert results.engagement_posts(workspace).empty
    assert not (workspace.home / "uploads" / "engagement").exists()
    with pytest.raises(ResultsError, match=r"no column 'Likes' \(columns found: caption, hearts, when\)"):
        results.import_engagement_csv(workspace, path, mapping={"text": "caption", "likes": "Likes"})
    report = results.import_engagement_csv(
        workspace, path, mapping={"text": "caption", "likes": "hearts", "posted_at": "when"}
    )
    assert report.imported == 1


# -- the recommendation as Targeting's default ------------------------------------------------------
def test_proposals_follow_the_recommendation_where_there_is_one(workspace: Workspace, no_x_keys: None) -> None:
    from core.delivery.targeting import Audience, SegmentFacts, propose_rules
    from core.feedback.results import recommended_template_names as recommended_templates

    aud = Audience(
        1,
        2,
        "2026-01-01T00:00:00+00:00",
        [
            SegmentFacts(0, "Women 18–29 · skincare", 100, ["skincare"]),
            SegmentFacts(1, "Men 18–29 · fitness", 80, ["fitness"]),
        ],
        ["fitness", "skincare"],
    )
    starters = ["New product", "Offer", "Tip", "Angle", "Question"]
    assert [r.template for r in propose_rules(aud, starters)] == ["New product", "Tip"]  # interest hints
    assert recommended_templates(workspace) == {}  # nothing measured: nothing changes

    publish.add_post(workspace, _text(1), segment="Men 18–29 · fitness", template="Tip", approve=True)
    publish.publish_due(workspace)
    results.refresh_metrics(workspace)
    recommended = recommended_templates(workspace)
    pick = results.recommended_templates(workspace)["Men 18–29 · fitness"]
    assert recommended == {"Men 18–29 · fitness": pick.template}
    proposals = propose_rules(aud, starters, recommended=recommended)
    assert [r.template for r in proposals] == ["New product", pick.template]
    assert propose_rules(aud, starters, recommended={"Men 18–29 · fitness": "Deleted template"})[1].template == "Tip"
