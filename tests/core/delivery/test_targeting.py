"""Targeting: validated rules with history, predicates, best-hour defaults, the weekly plan and queueing."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.audience.profiles import segment_profiles
from core.audience.segments import run_segments, save_run
from core.content.templates import save_template
from core.delivery import outbox as publish
from core.delivery import targeting
from core.delivery.outbox import PublishSettings
from core.delivery.targeting import Audience, Rule, RuleValidationError, SegmentFacts, TargetingError, parse_predicate
from core.demo import open_workspace
from core.workspace import Workspace

NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)  # a Wednesday


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """The demo workspace with its five segments stored and profiled once, plus the template profiles."""
    home = tmp_path_factory.mktemp("targeting") / "workspace"
    ws = open_workspace(home, with_demo=True)
    save_run(ws, run_segments(ws, k=5))
    targeting.audience(ws)  # caches the per-segment facts
    return home, segment_profiles(ws, with_angles=True)


@pytest.fixture
def demo(demo_template: tuple[Path, list], tmp_path: Path) -> Workspace:
    home = tmp_path / "workspace"
    shutil.copytree(demo_template[0], home)
    return open_workspace(home, with_demo=False)


@pytest.fixture
def profiles(demo_template: tuple[Path, list]) -> list:
    return demo_template[1]


# -- a hand-built audience for validation -------------------------------------------------------------
AUD = Audience(
    dataset_id=1,
    k=3,
    run_at="2026-01-01T00:00:00+00:00",
    topics=["skincare", "fitness", "tea"],
    segments=[
        SegmentFacts(0, "young women", 100, ["skincare"], 20, "Sat", {"female": 0.95}, 24.0),
        SegmentFacts(1, "young men", 90, ["fitness"], 22, "Sun", {"male": 0.97}, 23.0),
        SegmentFacts(2, "seniors", 50, ["tea"], 9, "Tue", {"female": 0.55, "male": 0.45}, 66.0),
    ],
)
TEMPLATES = ["Tip", "Offer"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (Rule("Nope", segment_id=0), "template 'Nope' does not exist (templates: Tip, Offer)"),
        (Rule("Tip", segment_id=7), "segment 7 does not exist in this segmentation (segments: 0, 1, 2)"),
        (Rule("Tip", segment_id=0, hour=24), "hour=24 must be between 0 and 23 (empty: the segment's best hour)"),
        (Rule("Tip", segment_id=0, hour=-1), "hour=-1 must be between 0 and 23"),
        (
            Rule("Tip", segment_id=0, channel="facebook"),
            "channel 'facebook' must be one of x, mastodon, bluesky, dry-run",
        ),
        (Rule("Tip"), "choose a segment or write who the rule is for"),
        (
            Rule("Tip", predicate="gender=male; age=60-70"),
            "'gender=male; age=60-70' matches nobody: no segment is men, aged 60–70",
        ),
        (Rule("Tip", predicate="interest=knitting"), "interest 'knitting' is not a topic of this dataset"),
        (Rule("Tip", predicate="colour=blue"), "cannot read 'colour=blue'"),
    ],
)
def test_validation_names_the_bad_value(rule: Rule, message: str) -> None:
    problems = targeting.validate_rule(rule, AUD, TEMPLATES)
    assert any(message in p for p in problems), problems


def test_a_good_rule_has_no_problems() -> None:
    assert targeting.validate_rule(Rule("Tip", segment_id=1, hour=7, channel="x"), AUD, TEMPLATES) == []
    assert targeting.validate_rule(Rule("Offer", predicate="gender=female"), AUD, TEMPLATES) == []


def test_predicates_reach_the_segments_whose_majority_fits() -> None:
    women = Rule("Tip", predicate="gender=female")
    men_fitness = Rule("Tip", predicate="gender=men; interest=fitness")
    older = Rule("Tip", predicate="age=55+")
    assert [s.id for s in AUD.segments if women.reaches(s)] == [0, 2]
    assert [s.id for s in AUD.segments if men_fitness.reaches(s)] == [1]
    assert [s.id for s in AUD.segments if older.reaches(s)] == [2]
    assert parse_predicate("age=18-29").describe() == "aged 18–29"
    with pytest.raises(TargetingError, match="age '40-30': the lower bound 40 is above the upper 30"):
        parse_predicate("age=40-30")


def test_segment_rules_win_over_predicates_and_best_hour_is_the_default() -> None:
    rules = [Rule("Offer", predicate="gender=female", hour=8), Rule("Tip", segment_id=0)]
    chosen = targeting.resolve(rules, AUD)
    assert chosen[0].template == "Tip" and chosen[0].hour_for(AUD.segments[0]) == 20  # segment 0's best hour
    assert chosen[2].template == "Offer" and chosen[2].hour_for(AUD.segments[2]) == 8
    assert 1 not in chosen


# -- stored rules ---------------------------------------------------------------------------------------
def test_bad_rules_are_refused_per_row_and_nothing_is_saved(demo: Workspace) -> None:
    aud = targeting.audience(demo)
    with pytest.raises(RuleValidationError) as err:
        targeting.save_rules(
            demo,
            [
                Rule("Tip", segment_id=0),
                Rule("Tip", segment_id=1, hour=25),
                Rule("Gone", segment_id=2),
                Rule("Tip", segment_id=0),
            ],
            aud,
        )
    assert sorted(err.value.errors) == [1, 2, 3]
    assert "hour=25 must be between 0 and 23" in err.value.errors[1][0]
    assert "template 'Gone' does not exist" in err.value.errors[2][0]
    assert "segment 0 already has a rule (row 1)" in err.value.errors[3][0]
    assert targeting.load_rules(demo, aud) == []


def test_edits_keep_their_history(demo: Workspace) -> None:
    aud = targeting.audience(demo)
    first = targeting.save_rules(demo, [Rule("Tip", segment_id=0), Rule("Offer", segment_id=1)], aud)
    edited = [Rule("Question", segment_id=0, hour=7, id=first[0].id), first[1]]
    second = targeting.save_rules(demo, edited, aud)
    assert [(r.template, r.hour, r.version) for r in second] == [("Question", 7, 2), ("Offer", None, 1)]
    targeting.save_rules(demo, [second[0]], aud)  # rule 2 removed
    history = targeting.rule_history(demo, first[0].id)
    assert [(h["version"], h["action"], h["template"], h["hour"]) for h in history] == [
        (2, "update", "Question", 7),
        (1, "create", "Tip", None),
    ]
    assert [h["action"] for h in targeting.rule_history(demo, first[1].id)] == ["delete", "create"]
    assert [r.id for r in targeting.load_rules(demo, aud)] == [first[0].id]


def test_proposals_cover_every_segment_at_its_best_hour_and_are_not_saved(demo: Workspace) -> None:
    aud = targeting.audience(demo)
    proposals = targeting.propose_rules(aud, targeting.template_names(demo))
    assert [p.segment_id for p in proposals] == [0, 1, 2, 3, 4]
    assert all(p.hour is None and p.id is None for p in proposals)  # None: the segment's best hour
    by_segment = {p.segment_id: p.template for p in proposals}
    assert by_segment[0] == "New product"  # skincare & beauty, collagen
    assert by_segment[2] == "Tip"  # protein, fitness
    assert len(set(by_segment.values())) == 5
    assert [s.best_hour for s in aud.segments] == [20, 12, 22, 6, 9]
    assert targeting.load_rules(demo, aud) == []
    assert targeting.targeting_status(demo) == ("no rules yet · 5 segments waiting", False)


# -- the weekly plan ------------------------------------------------------------------------------------
def test_the_demo_plan_gives_every_segment_a_checked_post_at_its_hour_in_the_time_zone(
    demo: Workspace, profiles: list
) -> None:
    PublishSettings.load(demo).save(demo, timezone="Asia/Shanghai")
    aud = targeting.audience(demo)
    targeting.save_rules(demo, targeting.propose_rules(aud, targeting.template_names(demo)), aud)
    plan = targeting.weekly_plan(demo, profiles=profiles, now=NOW)
    assert not plan.proposed and plan.unreached == []
    assert [i.segment_id for i in plan.items] == [0, 1, 2, 3, 4]
    shanghai = ZoneInfo("Asia/Shanghai")
    for item, seg in zip(plan.items, aud.segments, strict=True):
        assert item.passes, (item.segment, item.problems)
        assert item.text and 0 < item.weighted_length <= 280
        assert NOW < item.scheduled_at <= NOW + timedelta(days=7)
        local = item.scheduled_at.astimezone(shanghai)
        assert (local.hour, local.minute) == (seg.best_hour, 0)
        assert local.strftime("%a") == seg.best_weekday
        assert item.scheduled_at.utcoffset() == timedelta(0)  # stored UTC
    young_women = plan.items[0]
    assert "our marine collagen" in young_women.text and "#SkincareBeauty" in young_women.text
    assert young_women.local_time == datetime(2026, 3, 7, 20, tzinfo=shanghai)  # Saturday 20:00 in Shanghai
    assert targeting.targeting_status(demo) == ("5 rules · 5 of 5 segments reached", True)


def test_unreached_segments_are_flagged_and_failing_checks_say_why(demo: Workspace, profiles: list) -> None:
    aud = targeting.audience(demo)
    save_template(demo, "Cure", "This miracle {{ product }} cures everything. {{ link }}")
    targeting.save_rules(
        demo,
        [
            Rule("Tip", segment_id=2, hour=7),
            Rule("Cure", predicate="gender=female; age=18-54"),
            Rule("Offer", segment_id=3, active=False),
        ],
        aud,
    )
    plan = targeting.weekly_plan(demo, profiles=profiles, now=NOW)
    assert [s.id for s in plan.unreached] == [3, 4]
    items = {i.segment_id: i for i in plan.items}
    assert sorted(items) == [0, 1, 2]
    assert items[2].passes and items[2].local_time.hour == 7
    assert not items[0].passes
    assert items[0].problems == ["banned word: cures", "banned word: miracle"]
    assert any("nearly the same text as the post for" in p for p in items[1].problems)
    assert targeting.targeting_status(demo) == ("2 rules · 3 of 5 segments reached", False)


def test_plan_without_rules_uses_proposals_and_cannot_be_queued(demo: Workspace, profiles: list) -> None:
    plan = targeting.weekly_plan(demo, profiles=profiles, now=NOW)
    assert plan.proposed and len(plan.items) == 5
    with pytest.raises(TargetingError, match="these rules are proposals: save them before queueing"):
        targeting.queue_plan(demo, plan)
    assert publish.list_posts(demo) == []


def test_queueing_is_idempotent(demo: Workspace, profiles: list) -> None:
    aud = targeting.audience(demo)
    targeting.save_rules(demo, targeting.propose_rules(aud, targeting.template_names(demo)), aud)
    now = datetime.now(UTC)
    plan = targeting.weekly_plan(demo, profiles=profiles, now=now)
    first = targeting.queue_plan(demo, plan)
    assert len(first.added) == 5 and first.skipped == [] and first.refused == []
    posts = publish.list_posts(demo)
    assert len(posts) == 5 and {p.state for p in posts} == {publish.OutboxState.DRAFT}
    by_segment = {p.segment: p for p in posts}
    for item in plan.items:
        post = by_segment[item.segment]
        assert post.text == item.text and post.template == item.template and post.channel == item.channel
        assert datetime.fromisoformat(post.scheduled_at) == item.scheduled_at
    again = targeting.queue_plan(demo, targeting.weekly_plan(demo, profiles=profiles, now=now))
    assert again.added == [] and len(again.skipped) == 5
    assert len(publish.list_posts(demo)) == 5
    assert targeting.queue_plan(demo, plan).added == []  # the same (stale) plan object: a double click
    assert len(publish.list_posts(demo)) == 5
    publish.delete_post(demo, posts[0].id)  # the operator deleted one: that slot can be queued again
    third = targeting.queue_plan(demo, plan)
    assert len(third.added) == 1 and len(publish.list_posts(demo)) == 5


def test_queueing_approved_schedules_the_posts(demo: Workspace, profiles: list) -> None:
    aud = targeting.audience(demo)
    targeting.save_rules(demo, targeting.propose_rules(aud, targeting.template_names(demo)), aud)
    plan = targeting.weekly_plan(demo, profiles=profiles)
    report = targeting.queue_plan(demo, plan, approve=True)
    assert len(report.added) == 5
    assert {p.state for p in publish.list_posts(demo)} == {publish.OutboxState.SCHEDULED}
    replanned = targeting.weekly_plan(demo, profiles=profiles)
    assert all(i.passes and i.queued_post_id is not None for i in replanned.items)  # not a duplicate of itself


def test_no_segmentation_means_no_plan(workspace: Workspace) -> None:
    assert targeting.audience(workspace) is None
    assert targeting.targeting_status(workspace) is None
    with pytest.raises(TargetingError, match="no segments yet: find them on the Segments page"):
        targeting.weekly_plan(workspace, profiles=[])


def test_segment_facts_come_from_the_stored_run_and_match_a_fresh_profiling(demo: Workspace) -> None:
    stored = targeting.audience(demo)
    with demo.connect() as con:
        con.execute("DELETE FROM targeting_audiences")
    for path in (demo.home / "cache").glob("segments-*.pickle"):
        path.unlink()  # a run kept without its report (an older version's) is profiled again
    again = targeting.audience(demo)
    assert stored.complete and again.complete and stored.segments == again.segments
    assert [s.best_hour for s in again.segments] == [s.best_hours[0] for s in again.segments]
