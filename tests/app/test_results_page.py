"""The Results page under AppTest (empty, then with simulated metrics), and its recommendation on Targeting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.audience.segments import run_segments, save_run
from core.delivery import outbox as publish
from core.delivery import targeting
from core.demo import open_workspace
from core.feedback import results
from core.workspace import Workspace
from tests.conftest import FAKE_X_KEYS
from ui.outside_text import md

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "Overnight oats with chia and berries",
    "Kefir smoothie after the gym, no sugar added",
    "Miso soup for a cold evening with tofu",
    "Matcha latte with oat milk at 4pm",
    "Lentil salad for the office lunchbox",
    "Buckwheat pancakes for a slow Sunday",
    "Ginger and turmeric tea before bed",
    "Walnut and fig energy balls for hiking",
]


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*FAKE_X_KEYS, "REACH_X_API_BASE"):
        monkeypatch.delenv(name, raising=False)


def _texts(at: AppTest) -> str:
    return "\n".join(
        str(e.value) for kind in (at.success, at.info, at.warning, at.error, at.markdown, at.caption) for e in kind
    )


def _open(page: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _measure(ws: Workspace, posts: list[tuple[str, str]]) -> None:
    """Publish (segment, template) posts on the dry run and read their simulated metrics a day later."""
    for text, (segment, template) in zip(TEXTS, posts, strict=False):
        publish.add_post(ws, text, channel="dry-run", segment=segment, template=template, approve=True)
    publish.publish_due(ws)
    results.refresh_metrics(ws, now=datetime.now(UTC) + timedelta(hours=24))


def test_empty_page_says_what_to_do(workspace_home: Path) -> None:
    at = _open("pages/results.py")
    text = _texts(at)
    assert "Nothing to measure yet" in text and "import an engagement CSV" in text
    assert [b.label for b in at.button] == ["Refresh metrics"]


def test_page_with_simulated_metrics_shows_cards_charts_and_top_posts(workspace_home: Path) -> None:
    ws = open_workspace(workspace_home, with_demo=False)
    _measure(ws, [("Women 18–29", "Tip"), ("Women 18–29", "Offer"), ("55+", "Question"), ("55+", "Tip")])
    at = _open("pages/results.py")
    text = _texts(at)
    assert "simulated" in text and "nothing was posted" in text
    assert "**Women 18–29** · simulated metrics" in text and "**55+** · simulated metrics" in text
    # two tried templates per segment and three untried: Thompson sampling is not sure yet, and says so
    assert "**Too early to tell.** Chance each template is the best: " in text
    assert "more posts per template to know. Meanwhile Thompson sampling tries" in text
    bars = [p.text for p in at.get("progress")]
    first_untried = next(i for i, t in enumerate(bars) if "(untried) — " in t)
    assert "chance best · no post yet" in bars[first_untried]
    assert "(untried)" not in bars[first_untried - 1] and "1 post, " in bars[first_untried - 1]  # measured first
    found = results.results(ws)
    for rec in found.recommendations:
        assert results_card(rec) in text
    assert len(at.get("plotly_chart")) == 3  # over time, segment × template, by hour
    top = at.dataframe[-1].value
    assert len(top) == 4 and set(top["Source"]) == {"simulated"}
    assert top["Engagement rate"].is_monotonic_decreasing


def results_card(rec) -> str:
    from ui.results_views import card_text

    return card_text(rec)


def test_refresh_button_reads_metrics_and_says_they_are_simulated(workspace_home: Path) -> None:
    ws = open_workspace(workspace_home, with_demo=False)
    publish.add_post(ws, TEXTS[0], channel="dry-run", segment="55+", template="Tip", approve=True)
    publish.publish_due(ws)
    at = _open("pages/results.py")
    assert "1 published post has no metrics yet" in _texts(at)
    next(b for b in at.button if b.label == "Refresh metrics").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["1 post updated, 1 with simulated metrics (dry-run posts)."]
    assert at.dataframe[-1].value["Impressions"].iloc[0] > 0


def test_targeting_shows_the_recommendation_and_uses_it(workspace_home: Path) -> None:
    ws = open_workspace(workspace_home, with_demo=False)
    save_run(ws, run_segments(ws, k=5))
    aud = targeting.audience(ws)
    first = aud.segments[0]
    _measure(ws, [(first.name, "Tip"), (first.name, "Offer")])
    rec = results.recommended_templates(ws)[first.name]

    at = _open("pages/targeting.py")
    rows = at.data_editor(key=f"targeting_rules_{at.session_state['targeting_editor_round']}").value
    assert rows["Template"].iloc[0] == rec.template  # the proposal follows the recommendation
    text = _texts(at)
    untried = " (untried here)" if rec.template in rec.untried else ""
    shown = (
        f"{md(first.label)} on Dry run: results recommend **{rec.template}**{untried} — {rec.probability_best:.0%} "
        "chance it is the best template by simulated likes + reposts + replies + quotes per impression"
    )
    assert shown in text
    assert "simulated metrics" in text and "too early to tell: about" in text

    other = next(t for t in ("Tip", "Offer", "Question") if t != rec.template)
    saved = targeting.save_rules(ws, [targeting.Rule(template=other, segment_id=first.id)], aud)
    at = _open("pages/targeting.py")
    at.button(key=f"targeting_use_{saved[0].id}").click().run()
    assert not at.exception, at.exception
    assert targeting.load_rules(ws, aud)[0].template == rec.template
    assert f"now uses the template *{rec.template}*" in _texts(at)


def test_each_channel_gets_its_own_recommendation_on_results_and_targeting(
    workspace_home: Path, no_x_keys: None, mastodon_env
) -> None:
    ws = open_workspace(workspace_home, with_demo=False)
    save_run(ws, run_segments(ws, k=5))
    aud = targeting.audience(ws)
    first = aud.segments[0]
    _measure(ws, [(first.name, "Tip"), (first.name, "Offer")])
    for i, (template, favourites) in enumerate([("Question", 9), ("Question", 7), ("Tip", 1)]):
        post = publish.add_post(
            ws, TEXTS[4 + i], channel="mastodon", segment=first.name, template=template, approve=True
        )
        publish.publish_due(ws)
        mastodon_env.set_metrics(publish.get_post(ws, post.id).remote_id, favourites_count=favourites)
    results.refresh_metrics(ws, now=datetime.now(UTC) + timedelta(hours=48))
    mine = results.recommended_templates(ws, channel="mastodon")[first.name]
    assert mine.channel == "mastodon" and mine.posts == 3

    at = _open("pages/results.py")
    text = _texts(at)
    assert "**Dry run** · measured: simulated likes + reposts + replies + quotes per impression" in text
    assert "**Mastodon** · measured: favourites + boosts + replies + quotes per post" in text
    assert results_card(mine) in text
    bars = [p.text for p in at.get("progress")]
    assert any(t.startswith("Question — ") and "2 posts, 16 engagements, 8.0 per post observed" in t for t in bars)
    [by_channel] = [d.value for d in at.dataframe if "engagements_per_post" in d.value.columns]
    per_post = by_channel.set_index("channel")["engagements_per_post"]
    assert per_post["Mastodon"] == pytest.approx(17 / 3)

    rule = targeting.Rule(template="Offer", segment_id=first.id, channel="mastodon")
    targeting.save_rules(ws, [rule], aud)
    at = _open("pages/targeting.py")
    untried = " (untried here)" if mine.template in mine.untried else ""
    assert (
        f"{md(first.label)} on Mastodon: results recommend **{mine.template}**{untried} — "
        f"{mine.probability_best:.0%} chance it is the best template by favourites + boosts + replies + quotes "
        "per post (3 measured posts)"
    ) in _texts(at)


def test_a_rate_limit_on_refresh_says_when_x_is_asked_again(workspace_home: Path, x_env) -> None:
    ws = open_workspace(workspace_home, with_demo=False)
    publish.add_post(ws, TEXTS[0], channel="x", segment="55+", template="Tip", approve=True)
    publish.publish_due(ws)
    x_env.fail_next(429, route="GET", reset_in=900)
    at = _open("pages/results.py")
    at.button(key="results_refresh").click().run()
    assert not at.exception, at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "X's rate limit was reached: metrics of 1 X post is read again after" in warnings
    assert "X is asked again after" in warnings  # the standing note by the button
    assert "Nothing to measure yet" not in _texts(at) and "1 published post has no metrics yet" in _texts(at)
