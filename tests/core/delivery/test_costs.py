"""What Reach's X calls cost: counted exactly as X bills them, priced by settings, shown by `costs`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from core.cli import main
from core.delivery import outbox as publish
from core.delivery.outbox import CostSettings, OutboxError, month_costs, week_estimate
from core.feedback.inbox import refresh_mentions
from core.feedback.results import refresh_metrics
from core.workspace import Workspace
from tests.conftest import FAKE_X_KEYS
from tests.core.conftest import cli_json


@pytest.fixture
def ws(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The workspace, also as the command line's REACH_HOME."""
    monkeypatch.setenv("REACH_HOME", str(workspace.home))
    monkeypatch.setenv("REACH_DEMO", "0")
    return workspace


def _billed_by_the_fake(fake) -> tuple[int, int, int, int]:
    """(posts created, with a link, distinct posts read per UTC day, distinct users read per UTC day)."""
    created = [(s, i) for s in fake.served for i in s.created]
    texts = {t.id: t.text for t in fake.tweets}
    with_link = sum(1 for _, i in created if "https://" in texts[i])
    posts_read = {(s.day, i) for s in fake.served for i in s.posts}
    users_read = {(s.day, i) for s in fake.served for i in s.users}
    return len(created) - with_link, with_link, len(posts_read), len(users_read)


def test_costs_count_exactly_what_the_fake_x_served(ws: Workspace, x_env, capsys) -> None:
    texts = ["Oat milk, made at home", "Sprouted lentils in ten minutes", "Our kefir guide https://shop.example/kefir"]
    ids = [publish.add_post(ws, text, approve=True).id for text in texts]
    x_env.fail_next(503)  # refused calls cost nothing
    assert publish.publish_due(ws).published == ids[1:]
    with ws.connect() as con:  # the 503 backed off: let it go now
        con.execute("UPDATE outbox SET not_before = NULL")
    publish.publish_due(ws)
    assert {publish.get_post(ws, i).state for i in ids} == {"published"}
    x_env.add_mention("@reach_test is the kefir vegan?", author_id="71")
    x_env.add_mention("@reach_test love the oat milk", author_id="72")
    x_env.add_mention("@reach_test and the lentils!", author_id="71")
    assert refresh_mentions(ws).new == 3
    assert refresh_metrics(ws).updated == 3
    before = month_costs(ws)
    assert refresh_metrics(ws).updated == 3  # the same posts again today: X bills them once
    assert month_costs(ws).counts == before.counts

    plain, linked, posts_read, users_read = _billed_by_the_fake(x_env)
    assert (plain, linked) == (2, 1)
    assert posts_read == 3 + 3  # three of ours (metrics, twice) and three mentions, each once today
    assert users_read == 1 + 2  # the account itself and two authors
    out = cli_json(capsys, ["costs", "--json"])
    prices = CostSettings()
    expected_usd = round(
        plain * prices.x_post_create_usd
        + linked * prices.x_post_create_with_url_usd
        + posts_read * prices.x_post_read_usd
        + users_read * prices.x_user_read_usd,
        3,
    )
    assert out == {
        "month": datetime.now(UTC).strftime("%Y-%m"),
        "channels": {"x": {"posts": 3, "reads": posts_read + users_read, "estimated_usd": expected_usd}},
        "prices": {
            "x": {
                "post_create": 0.015,
                "post_create_with_url": 0.2,
                "post_read": 0.005,
                "user_read": 0.01,
                "currency": "USD",
                "checked": "2026-12-03",
            }
        },
    }


def test_costs_cli_month_prices_and_no_key_in_output(ws: Workspace, x_env, capsys) -> None:
    publish.add_post(ws, "Barley water for hot days", approve=True)
    publish.publish_due(ws)
    CostSettings.load(ws).save(ws, x_post_create_usd=0.02, prices_checked="2026-12-01")
    out = cli_json(capsys, ["costs", "--month", "2020-01", "--json"])
    assert out["month"] == "2020-01"
    assert out["channels"] == {"x": {"posts": 0, "reads": 0, "estimated_usd": 0.0}}
    assert out["prices"]["x"]["post_create"] == 0.02 and out["prices"]["x"]["checked"] == "2026-12-01"
    this_month = cli_json(capsys, ["costs", "--json"])["channels"]["x"]
    assert this_month["posts"] == 1 and this_month["estimated_usd"] == round(0.02 + 0.01, 3)  # post + account read

    assert main(["costs"]) == 0
    text = capsys.readouterr().out
    assert "1 post" in text and "$0.03" in text
    assert not any(value in text + json.dumps(this_month) for value in FAKE_X_KEYS.values())
    assert main(["costs", "--month", "2026-13", "--json"]) == 2
    assert "must be YYYY-MM" in capsys.readouterr().err


def test_price_settings_are_validated(ws: Workspace) -> None:
    with pytest.raises(OutboxError, match=r"x_post_read_usd=-1\.0 must be between 0 and 100"):
        CostSettings.load(ws).save(ws, x_post_read_usd=-1.0)
    with pytest.raises(OutboxError, match="prices_checked='soon' must be a date"):
        CostSettings.load(ws).save(ws, prices_checked="soon")
    assert CostSettings.load(ws) == CostSettings()  # nothing saved


def test_scheduled_reads_keep_to_the_cadence(ws: Workspace, x_env, capsys) -> None:
    publish.add_post(ws, "Buckwheat pancakes", approve=True)
    publish.publish_due(ws)
    assert cli_json(capsys, ["metrics-refresh", "--json"]) == {"updated": 1}
    calls = len(x_env.requests)
    assert main(["metrics-refresh", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == {"updated": 0}  # within 24 h: X is not asked
    assert "read at most every 24 h because reads cost money" in out.err
    assert len(x_env.requests) == calls
    assert refresh_metrics(ws).updated == 1  # the operator's own click reads at once

    assert main(["inbox", "--refresh", "--json"]) == 0
    calls = len(x_env.requests)
    assert main(["inbox", "--refresh", "--json"]) == 0
    assert len(x_env.requests) == calls
    CostSettings.load(ws).save(ws, mentions_every_minutes=1.0, metrics_every_hours=0.25)
    with ws.connect() as con:  # time passes
        con.execute("UPDATE settings SET value = '2000-01-01T00:00:00+00:00' WHERE key LIKE '%read_at'")
    assert main(["inbox", "--refresh", "--json"]) == 0
    assert len(x_env.requests) > calls


def test_a_weeks_estimate_prices_posts_metric_reads_and_mentions(ws: Workspace) -> None:
    start = datetime(2031, 3, 3, 0, 0, tzinfo=UTC)  # a Monday
    end = start + timedelta(days=7)
    posts = [
        ("Chia pudding", start + timedelta(days=1, hours=9)),  # read Tue..Mon: 7 UTC days
        ("Kefir guide https://shop.example/kefir", start + timedelta(days=5, hours=9)),  # Sat..Mon: 3 days
    ]
    daily = week_estimate(ws, posts, start=start, end=end)
    assert daily.posts == 2 and daily.posts_usd == round(0.015 + 0.2, 3)
    assert daily.metric_reads == 7 + 3
    assert daily.metrics_usd == round(10 * 0.005, 3)
    assert daily.mention_reads == 7 and daily.mentions_usd == round(7 * 0.01, 3)  # no mentions; the account daily
    assert daily.total_usd == round(0.215 + 0.05 + 0.07, 2)
    assert "≈ $0.34 on X this week" in daily.line()

    CostSettings.load(ws).save(ws, metrics_every_hours=72.0)
    sparse = week_estimate(ws, posts, start=start, end=end)
    assert sparse.metric_reads == 3 + 1  # every third day: ceil(7 / 3) and ceil(3 / 3)


def test_a_weeks_estimate_counts_mentions_as_the_last_week_brought_them(ws: Workspace) -> None:
    start = datetime(2031, 3, 3, 0, 0, tzinfo=UTC)
    with ws.connect() as con:
        for n, day in enumerate(("2031-02-27", "2031-03-01", "2031-02-01")):  # the last one is too old
            con.execute(
                "INSERT INTO mentions (id, text, created_at, fetched_at, channel) VALUES (?, 'hi', ?, ?, 'x')",
                (str(n), f"{day}T10:00:00+00:00", f"{day}T10:05:00+00:00"),
            )
    found = week_estimate(ws, [], start=start, end=start + timedelta(days=7))
    assert found.posts == 0 and found.metric_reads == 0
    assert found.mention_reads == 2 * 2 + 7
    assert found.mentions_usd == round(2 * (0.005 + 0.010) + 7 * 0.010, 3)
