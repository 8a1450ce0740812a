"""The week filled by the writer: cadence per segment, the segments' hours and days, no repeats, sources, queueing once."""

from __future__ import annotations

import difflib
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.audience.profiles import segment_profiles
from core.audience.segments import run_segments, save_run
from core.content.checks import NearCopyIndex, check_draft, load_banned_words
from core.content.model import load_model
from core.content.registry import models_dir
from core.delivery import outbox as publish
from core.delivery import targeting
from core.delivery.outbox.preflight import NEAR_DUPLICATE_RATIO, normalise
from core.delivery.targeting import Rule, TargetingError
from core.demo import open_workspace
from core.workspace import Workspace

NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)  # a Wednesday


@pytest.fixture(scope="module")
def segmented(demo_workspace_template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """The demo workspace (with its writer) segmented into five, facts cached, and its profiles with angles."""
    home = tmp_path_factory.mktemp("plan") / "workspace"
    shutil.copytree(demo_workspace_template, home)
    ws = open_workspace(home, with_demo=False)
    save_run(ws, run_segments(ws, k=5))
    targeting.audience(ws)
    return home, segment_profiles(ws, with_angles=True)


@pytest.fixture
def demo(segmented: tuple[Path, list], tmp_path: Path) -> Workspace:
    home = tmp_path / "workspace"
    shutil.copytree(segmented[0], home)
    return open_workspace(home, with_demo=False)


@pytest.fixture
def profiles(segmented: tuple[Path, list]) -> list:
    return segmented[1]


def _near_copies(texts: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for i, text in enumerate(texts):
        for other in texts[:i]:
            ratio = difflib.SequenceMatcher(None, normalise(text), normalise(other), autojunk=False).ratio()
            if ratio >= NEAR_DUPLICATE_RATIO or NearCopyIndex([other]).copies(text):
                pairs.append((other, text))
    return pairs


def test_the_writer_fills_three_distinct_slots_per_segment_at_its_hours(demo: Workspace, profiles: list) -> None:
    aud = targeting.audience(demo)
    plan = targeting.weekly_plan(demo, profiles=profiles, now=NOW, per_segment=3, source="writer")
    assert len(plan.items) == 15
    assert len({i.slot for i in plan.items}) == 15
    assert all(i.source == "writer" and i.template == "" and i.passes for i in plan.items), [
        (i.segment_id, i.reasons) for i in plan.items
    ]
    for seg in aud.segments:
        mine = [i for i in plan.items if i.segment_id == seg.id]
        assert len(mine) == 3
        assert len({i.local_time.date() for i in mine}) == 3  # one a day
        assert {i.local_time.hour for i in mine} == set(seg.best_hours)  # spread over its best hours
        assert {i.local_time.strftime("%a") for i in mine} <= set(seg.best_weekdays[:4])
        assert seg.best_weekday in {i.local_time.strftime("%a") for i in mine}
        assert all(i.scheduled_at > NOW and i.scheduled_at.utcoffset().total_seconds() == 0 for i in mine)
    lm = load_model(demo)
    banned = load_banned_words(demo)
    names = [s.name for s in aud.segments]
    for item in plan.items:
        check = check_draft(item.text, near_copy=lm.near_copy_index, banned_words=banned, internal_names=names)
        assert check.passes, (item.text, check.reasons)
    assert _near_copies([i.text for i in plan.items]) == []
    assert [i.as_json()["source"] for i in plan.items] == ["writer"] * 15


def test_the_writer_repeats_nothing_from_the_outbox_of_the_last_30_days(demo: Workspace, profiles: list) -> None:
    first = targeting.weekly_plan(demo, profiles=profiles, now=NOW, per_segment=3, source="writer")
    for item in first.items:  # last week's posts, still in the outbox
        publish.add_post(demo, item.text)
    again = targeting.weekly_plan(demo, profiles=profiles, now=NOW, per_segment=3, source="writer")
    earlier = [i.text for i in first.items]
    assert len(again.items) == 15
    for item in again.items:
        assert item.source == "writer", item.reasons
        assert all(_near_copies([old, item.text]) == [] for old in earlier), item.text


def test_a_segment_the_writer_knows_nothing_about_gets_the_template_and_says_why(
    demo: Workspace, profiles: list
) -> None:
    strangers = [replace(p, interests=["quantum knitting"]) if p.id == "4" else p for p in profiles]
    plan = targeting.weekly_plan(demo, profiles=strangers, now=NOW, per_segment=3, source="writer")
    seniors = [i for i in plan.items if i.segment_id == 4]
    assert [i.source for i in seniors] == ["template"] * 3
    assert all("the writer had nothing more for this segment" in i.reasons[0] for i in seniors)
    assert all(i.text and i.passes for i in seniors), [i.reasons for i in seniors]
    assert len({i.template for i in seniors}) == 3  # another template rather than the same text twice
    assert {i.source for i in plan.items if i.segment_id != 4} == {"writer"}


def test_without_a_model_the_writer_falls_back_to_templates_with_a_note(demo: Workspace, profiles: list) -> None:
    shutil.rmtree(models_dir(demo))
    plan = targeting.weekly_plan(demo, profiles=profiles, now=NOW, per_segment=1, source="writer")
    assert [i.source for i in plan.items] == ["template"] * 5
    assert all(i.reasons[0].startswith("no writer model yet (train one in the Studio)") for i in plan.items)
    assert "our marine collagen" in plan.items[0].text


def test_rules_keep_their_source_and_existing_rules_stay_templates(demo: Workspace, profiles: list) -> None:
    aud = targeting.audience(demo)
    proposals = targeting.propose_rules(aud, targeting.template_names(demo))
    assert {r.source for r in proposals} == {"template"}
    rules = [replace(r, source="writer") if r.segment_id in (0, 1) else r for r in proposals]
    saved = targeting.save_rules(demo, rules, aud)
    assert [r.source for r in saved] == ["writer", "writer", "template", "template", "template"]
    plan = targeting.weekly_plan(demo, profiles=profiles, now=NOW, per_segment=2)
    assert [(i.segment_id, i.source) for i in plan.items] == [
        (0, "writer"),
        (0, "writer"),
        (1, "writer"),
        (1, "writer"),
        (2, "template"),
        (2, "template"),
        (3, "template"),
        (3, "template"),
        (4, "template"),
        (4, "template"),
    ]
    assert "source 'robot' must be one of template, writer" in targeting.validate_rule(
        Rule("Tip", segment_id=0, source="robot"), aud, ["Tip"]
    )


def test_queueing_a_written_week_twice_adds_nothing_and_the_plan_shows_what_was_queued(
    demo: Workspace, profiles: list
) -> None:
    aud = targeting.audience(demo)
    targeting.save_rules(demo, targeting.propose_rules(aud, targeting.template_names(demo)), aud)
    now = datetime.now(UTC)
    plan = targeting.weekly_plan(demo, profiles=profiles, now=now, per_segment=3, source="writer")
    first = targeting.queue_plan(demo, plan)
    assert len(first.added) == 15 and first.refused == []
    posts = publish.list_posts(demo)
    assert sorted(p.text for p in posts) == sorted(i.text for i in plan.items)
    assert {p.state for p in posts} == {publish.OutboxState.DRAFT} and {p.template for p in posts} == {None}
    replanned = targeting.weekly_plan(demo, profiles=profiles, now=now, per_segment=3, source="writer")
    assert [i.text for i in replanned.items] == [i.text for i in plan.items]  # the queued posts, not new drafts
    assert all(i.queued_post_id is not None and i.source == "writer" for i in replanned.items)
    again = targeting.queue_plan(demo, replanned)
    assert again.added == [] and len(again.skipped) == 15
    assert len(publish.list_posts(demo)) == 15


def test_a_calendar_week_and_bad_options_are_named(demo: Workspace, profiles: list) -> None:
    plan = targeting.weekly_plan(
        demo, profiles=profiles, now=NOW, per_segment=2, source="template", week=datetime(2026, 3, 12).date()
    )
    assert plan.days[0] == datetime(2026, 3, 9).date() and len(plan.days) == 7
    assert all(plan.days[0] <= i.local_time.date() <= plan.days[-1] for i in plan.items)
    with pytest.raises(TargetingError, match="the week of 2026-02-23 is over"):
        targeting.weekly_plan(demo, profiles=profiles, now=NOW, week=datetime(2026, 2, 25).date())
    with pytest.raises(TargetingError, match="per_segment=8 must be between 1 and 7"):
        targeting.weekly_plan(demo, profiles=profiles, now=NOW, per_segment=8)


def test_a_rule_for_two_channels_queues_one_post_per_channel_each_published_once(
    demo: Workspace, profiles: list, no_x_keys: None, mastodon_env, bluesky_env
) -> None:
    aud = targeting.audience(demo)
    rules = [
        replace(r, channel="mastodon+bluesky" if r.segment_id == 0 else "dry-run")
        for r in targeting.propose_rules(aud, targeting.template_names(demo))
    ]
    saved = targeting.save_rules(demo, rules, aud)
    assert saved[0].channel == "mastodon+bluesky"
    assert targeting.validate_rule(Rule("Tip", segment_id=0, channel="mastodon+myspace"), aud, ["Tip"]) == [
        "channel 'mastodon+myspace' must be one of x, mastodon, bluesky, dry-run"
    ]
    now = datetime.now(UTC)
    plan = targeting.weekly_plan(demo, profiles=profiles, now=now, per_segment=1)
    [both] = [i for i in plan.items if i.segment_id == 0]
    assert both.channel == "mastodon+bluesky" and both.passes, both.problems
    report = targeting.queue_plan(demo, plan, approve=True)
    pair = [p for p in publish.list_posts(demo) if p.segment == both.segment]
    assert sorted(p.channel for p in pair) == ["bluesky", "mastodon"]
    assert {p.draft_id for p in pair} == {min(p.id for p in pair)} and {p.text for p in pair} == {both.text}
    assert len(report.added) == len(plan.items) + 1
    assert (
        targeting.queue_plan(demo, targeting.weekly_plan(demo, profiles=profiles, now=now, per_segment=1)).added == []
    )
    for post in pair:
        publish.publish_now(demo, post.id)
        publish.publish_now(demo, post.id)  # a second click posts nothing
    assert mastodon_env.texts() == [both.text] and bluesky_env.texts() == [both.text]


LONG_CHINESE = (
    "早餐吃一碗燕麦粥，加上蓝莓、核桃和一点蜂蜜，既能饱腹又不会让血糖忽高忽低。燕麦里的膳食纤维可以帮助肠道健康，"
    "核桃提供好的脂肪，蓝莓带来抗氧化的花青素。前一天晚上把燕麦和牛奶放进冰箱，第二天早上直接吃，省时又方便。"
    "如果你喜欢甜一点，可以换成香蕉片；如果想要更多蛋白质，就加一勺希腊酸奶。周末有空的时候，还可以把燕麦烤成燕麦棒，"
    "带去办公室当下午的小点心。"
)


def test_the_plan_checks_each_text_by_the_rule_channels_own_count(
    demo: Workspace, profiles: list, no_x_keys: None
) -> None:
    from core.content.templates import save_template

    save_template(demo, "Long", LONG_CHINESE)
    aud = targeting.audience(demo)
    x_count, graphemes = (
        publish.weighted_length(LONG_CHINESE, channel="x"),
        publish.weighted_length(LONG_CHINESE, channel="bluesky"),
    )
    assert x_count > 280 and graphemes < 300  # too long for X, fits Bluesky and Mastodon

    def plan_for(channel: str):
        targeting.save_rules(demo, [Rule("Long", segment_id=0, channel=channel)], aud)
        [item] = targeting.weekly_plan(demo, profiles=profiles, per_segment=1).items
        return item

    on_x = plan_for("x")
    assert not on_x.passes and (on_x.weighted_length, on_x.char_limit, on_x.counted_by) == (x_count, 280, "x")
    assert len(on_x.problems) == 1  # once, by X's own count (not twice, not by another channel's)
    assert "over the limit of 280" in on_x.problems[0] and "X's count" in on_x.problems[0]
    for channel, limit in (("mastodon", 500), ("bluesky", 300)):
        item = plan_for(channel)
        assert item.passes, item.problems
        assert (item.weighted_length, item.char_limit, item.counted_by) == (
            publish.weighted_length(LONG_CHINESE, channel=channel),
            limit,
            channel,
        )
    both = plan_for("mastodon+bluesky")
    assert both.passes and (both.char_limit, both.counted_by) == (300, "bluesky")  # the tightest fit is shown
    mixed = plan_for("x+mastodon")
    assert mixed.problems == [p for p in mixed.problems if p.startswith("X: ")] and len(mixed.problems) == 1
