"""The week's plan: every reached segment's posts, when they go out, who wrote them, and queueing them.

A rule gives its segment ``per_segment`` posts in the week (one by default), each on another of the
segment's busiest weekdays at the rule's hour, or spread over the segment's best hours when the
rule has none, in the operator's time zone (stored as UTC). A post's text comes from the rule's
*source*:

* ``template``: the template filled with the segment's audience phrase, interests, angles and
  hashtags and the brand's product, offer and link. A second post of the same segment takes the
  next angle, or another template when the text would be the same.
* ``writer``: drafts composed by the newest writer model from the brand's own sentences
  (:func:`core.content.compose.compose_drafts`), none repeating a post of the plan or of the
  outbox's last 30 days. When the writer has nothing (more) for a segment, or there is no model
  yet, those posts fall back to the rule's template and the slot says why.

Every post gets the draft checks and the publish pre-flight. :func:`queue_plan` puts the plan into
the outbox (drafts, or approved and scheduled). Each post takes a *slot* (segment and local day)
first, so queueing the same week again — a double click, a second tab, a second cron run — adds
nothing; a slot already queued shows the post in the outbox.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core import clock
from core.audience.profiles import SegmentProfile, find_segment, segment_profiles
from core.clock import utc_now
from core.content.checks import NearCopyIndex, canonical, check_draft, load_banned_words, similar
from core.content.compose import compose_for_segment
from core.content.model import LanguageModel, load_model
from core.content.registry import ContentError
from core.content.templates import TemplateError, list_templates, load_brand, render_template, template_context
from core.delivery.channels import registry
from core.delivery.outbox import OutboxError, PublishSettings, add_to_channels, char_limit, get_post, preflight
from core.delivery.outbox.preflight import NEAR_DUPLICATE_DAYS, NEAR_DUPLICATE_RATIO, normalise
from core.delivery.targeting.rules import (
    SOURCES,
    WEEKDAYS,
    Audience,
    Rule,
    SegmentFacts,
    TargetingError,
    audience,
    load_rules,
    propose_rules,
    resolve,
)
from core.workspace import Workspace

__all__ = ["MAX_PER_SEGMENT", "PlanItem", "QueueReport", "WeeklyPlan", "queue_plan", "weekly_plan"]

log = logging.getLogger(__name__)

PLAN_DAYS = 7
#: At most one post per segment and day, so a segment's posts never share a slot.
MAX_PER_SEGMENT = 7
#: Drafts asked of the writer beyond the slots to fill, in case some repeat an earlier post.
SPARE_DRAFTS = 3


@dataclass(frozen=True)
class PlanItem:
    """One post of the week: whose, when, its text, who wrote it and its checks."""

    segment_id: int
    segment: str
    rule_id: int | None
    template: str
    channel: str
    hour: int
    local_time: datetime  # in the operator's time zone
    scheduled_at: datetime  # UTC
    text: str
    weighted_length: int
    problems: list[str]
    slot: str
    queued_post_id: int | None = None
    source: str = "template"  # who wrote the text: "template" or "writer"
    notes: list[str] = field(default_factory=list)  # e.g. why a writer slot holds a template
    char_limit: int = 280  # the limit weighted_length is counted against (the tightest of the rule's channels)
    counted_by: str = ""  # the channel whose count and limit weighted_length and char_limit are

    @property
    def passes(self) -> bool:
        """Whether every check passes."""
        return not self.problems

    @property
    def reasons(self) -> list[str]:
        """Notes on how the text was made, then why it fails (``python -m core plan``'s ``reasons``)."""
        return [*self.notes, *self.problems]

    def as_json(self) -> dict:
        """As printed by ``python -m core plan --json``."""
        return {
            "segment": self.segment,
            "text": self.text,
            "source": self.source,
            "channel": self.channel,
            "scheduled_at": clock.iso(self.scheduled_at),
            "passes": self.passes,
            "reasons": self.reasons,
        }


@dataclass(frozen=True)
class WeeklyPlan:
    """The week's posts, the segments nobody reaches, and the window they fall in."""

    items: list[PlanItem]
    unreached: list[SegmentFacts]
    timezone: str
    start: datetime  # UTC, exclusive
    end: datetime  # UTC, inclusive
    proposed: bool = False  # made from unsaved proposals: show it, do not queue it
    week: date | None = None  # the Monday of a calendar week planned (None: the next seven days)

    @property
    def days(self) -> list[date]:
        """The local days of the window, in order."""
        if self.week is not None:
            return [self.week + timedelta(days=i) for i in range(PLAN_DAYS)]
        first = self.start.astimezone(ZoneInfo(self.timezone)).date()
        return [first + timedelta(days=i) for i in range(PLAN_DAYS + 1)]


# -- when -------------------------------------------------------------------------------------------
def _window(now: datetime, week: date | None, tz: str) -> tuple[datetime, datetime, date | None]:
    """(start exclusive, end inclusive, Monday) in UTC: the next seven days, or the calendar week of ``week``."""
    if week is None:
        return now, now + timedelta(days=PLAN_DAYS), None
    monday = week - timedelta(days=week.weekday())
    start = clock.to_utc(datetime(monday.year, monday.month, monday.day), tz) - timedelta(seconds=1)
    following = monday + timedelta(days=PLAN_DAYS)
    end = clock.to_utc(datetime(following.year, following.month, following.day), tz) - timedelta(seconds=1)
    if end <= now:
        raise TargetingError(f"the week of {monday.isoformat()} is over; plan this week or a later one")
    return max(start, now), end, monday


def _weekday_order(seg: SegmentFacts, position: int, today: date, per_segment: int) -> list[int]:
    """Weekdays (0 = Monday) to post on, best first: the busiest weekday, then the next busiest.

    Without timestamps there is no busiest weekday: the segments are spread over the week, and a
    segment's own posts evenly over the days.
    """
    known = [WEEKDAYS.index(d) for d in (seg.best_weekday, *seg.best_weekdays) if d in WEEKDAYS]
    if known:
        order = list(dict.fromkeys(known))
    else:
        first = (today.weekday() + 1 + position) % 7
        order = list(dict.fromkeys((first + (j * 7) // per_segment) % 7 for j in range(per_segment)))
    return order + [d for d in range(7) if d not in order]


def _slot_time(weekday: int, hour: int, start: datetime, end: datetime, tz: str) -> datetime | None:
    """The first time at ``hour`` (local) on ``weekday`` after ``start`` and by ``end`` (UTC), or None."""
    zone = ZoneInfo(tz)
    first = start.astimezone(zone).date()
    for offset in range(PLAN_DAYS + 1):
        day = first + timedelta(days=offset)
        if day.weekday() != weekday:
            continue
        wall = datetime(day.year, day.month, day.day, hour)
        try:
            moment = clock.to_utc(wall, tz)
        except OutboxError:  # the clocks skip this hour: post an hour later
            moment = clock.to_utc(wall + timedelta(hours=1), tz)
        if start < moment <= end:
            return moment
    return None


def _segment_times(
    seg: SegmentFacts, rule: Rule, position: int, per_segment: int, start: datetime, end: datetime, tz: str
) -> list[tuple[int, datetime]]:
    """(hour, UTC time) of each of the segment's posts: distinct busiest weekdays, the rule's hour or the best hours."""
    today = start.astimezone(ZoneInfo(tz)).date()
    hours = (rule.hour_for(seg),) if rule.hour is not None else seg.posting_hours
    times: list[tuple[int, datetime]] = []
    for weekday in _weekday_order(seg, position, today, per_segment):
        if len(times) == per_segment:
            break
        hour = hours[len(times) % len(hours)]
        moment = _slot_time(weekday, hour, start, end, tz)
        if moment is not None:
            times.append((hour, moment))
    return sorted(times, key=lambda t: t[1])


# -- what -------------------------------------------------------------------------------------------
@dataclass
class _Context:
    """What every slot of one plan needs, read once."""

    ws: Workspace
    templates: dict[str, str]
    brand: dict
    settings: PublishSettings
    banned: list[str]
    internal_names: list[str]
    recent: list[tuple[int, str]]  # (post id, text) of the outbox's last 30 days
    queued: dict[str, tuple[int, str, str]]  # slot → (post id, text, source)
    writer: LanguageModel | None
    writer_note: str  # why the writer cannot write, when it cannot
    seed: int


def _recent_posts(ws: Workspace) -> list[tuple[int, str]]:
    """(id, text) of every post (not a reply) in the outbox made or changed in the last 30 days."""
    since = clock.iso(clock.now() - timedelta(days=NEAR_DUPLICATE_DAYS))
    with ws.connect() as con:
        rows = con.execute(
            "SELECT id, text FROM outbox WHERE COALESCE(published_at, updated_at) >= ? "
            "AND COALESCE(in_reply_to, '') = '' ORDER BY id",
            (since,),
        ).fetchall()
    return [(int(r["id"]), r["text"]) for r in rows]


def _queued_slots(ws: Workspace) -> dict[str, tuple[int, str, str]]:
    """slot → (post id, text, source) for plan posts still in the outbox."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT q.slot, q.post_id, q.source, o.text FROM targeting_queue q JOIN outbox o ON o.id = q.post_id"
        ).fetchall()
    return {r["slot"]: (int(r["post_id"]), r["text"], r["source"]) for r in rows}


def _load_writer(ws: Workspace, lm: LanguageModel | None) -> tuple[LanguageModel | None, str]:
    """(the writer, "") or (None, why there is none)."""
    if lm is not None:
        return lm, ""
    try:
        return load_model(ws), ""
    except ContentError as exc:
        log.info("no writer for the plan: %s", exc)
        return None, "no writer model yet (train one in the Studio): filled from the rule's template"


def _repeats(text: str, earlier: Sequence[str], index: NearCopyIndex | None = None) -> bool:
    """Whether ``text`` is the same as, nearly the same as or copies 40 characters of one of ``earlier``
    (``index``: :class:`NearCopyIndex` of ``earlier``, when the caller checks many texts against them)."""
    if not earlier:
        return False
    index = index or NearCopyIndex(earlier)
    if canonical(text) in {canonical(t) for t in earlier} or index.copies(text):
        return True
    mine = normalise(text)
    return any(similar(mine, normalise(t), NEAR_DUPLICATE_RATIO) for t in earlier)


def _writer_texts(
    ctx: _Context,
    seg: SegmentFacts,
    profile: SegmentProfile | None,
    wanted: int,
    earlier: Sequence[str],
    channels: Sequence[str],
) -> tuple[list[str], str]:
    """Up to ``wanted`` writer drafts for ``seg`` that repeat nothing in ``earlier``, and why there are fewer.

    The writer aims at the smallest limit of ``channels``; each text is then checked by each channel's own count."""
    result = compose_for_segment(
        ctx.writer,
        profile.name if profile else seg.name,
        list(profile.interests) if profile else list(seg.interests),
        n=min(wanted + SPARE_DRAFTS, 100),
        seed=ctx.seed + seg.id,
        link=ctx.brand.get("link") or None,
        banned_words=ctx.banned,
        max_weighted_length=min(char_limit(ctx.ws, c, ctx.settings) for c in channels),
        internal_names=ctx.internal_names,
        exclude=list(earlier),
    )
    index = NearCopyIndex(earlier)
    texts: list[str] = []
    for draft in result.drafts:
        if len(texts) == wanted:
            break
        if not _repeats(draft.text, earlier, index) and not _repeats(draft.text, texts):
            texts.append(draft.text)
    if len(texts) == wanted:
        return texts, ""
    why = result.message or "its other drafts repeat a post of this plan or of the last 30 days"
    return texts, f"the writer had nothing more for this segment ({why}): filled from the rule's template"


def _render(template: str, templates: Mapping[str, str], context: dict) -> tuple[str, list[str]]:
    """(the text of ``template`` filled with ``context``, why it could not be rendered)."""
    if template not in templates:
        return "", [f"template {template!r} does not exist any more"]
    try:
        return render_template(templates[template], context), []
    except TemplateError as exc:
        return "", [f"template {template!r}: {exc}"]


def _template_text(
    ctx: _Context, rule: Rule, profile: SegmentProfile | None, nth: int, own: Sequence[str]
) -> tuple[str, str, list[str], list[str]]:
    """(text, template used, problems, notes) for the segment's ``nth`` post from templates.

    The rule's template with the ``nth`` angle; when that repeats one of the segment's ``own``
    earlier posts of the week, the next template that does not.
    """
    text, problems = _render(rule.template, ctx.templates, template_context(profile, angle_index=nth, **ctx.brand))
    if not text or not own or not _repeats(text, own):
        return text, rule.template, problems, []
    for name in ctx.templates:
        if name == rule.template:
            continue
        other, failed = _render(name, ctx.templates, template_context(profile, angle_index=nth, **ctx.brand))
        if other and not failed and not _repeats(other, own):
            return other, name, [], [f"template {name!r}: {rule.template!r} would repeat this segment's earlier post"]
    return text, rule.template, problems, []


def _text_problems(
    ctx: _Context,
    text: str,
    planned: Sequence[PlanItem],
    *,
    channel: str,
    post_id: int | None,
    writer: bool,
) -> tuple[int, list[str]]:
    """(length by ``channel``'s count, why ``text`` cannot go out): the draft checks, pre-flight against
    the outbox on ``channel`` (its own length rule and limit), and near-duplicates of the posts
    planned before it."""
    check = check_draft(
        text,
        near_copy=ctx.writer.near_copy_index if writer and ctx.writer else None,
        banned_words=ctx.banned,
        max_weighted_length=None,  # the length is pre-flight's, by the channel's own count
        internal_names=ctx.internal_names if writer else (),
    )
    problems = list(check.reasons)
    # pre-flight repeats the publishing checks check_draft made: keep each reason once
    problems += [
        p
        for p in preflight(ctx.ws, text, exclude_post_id=post_id, settings=ctx.settings, channel=channel)
        if p not in problems
    ]
    for other in planned:
        if other.text and similar(text.casefold(), other.text.casefold(), NEAR_DUPLICATE_RATIO):
            duplicate_rule = registry.channel(channel).duplicate_rule
            problems.append(f"nearly the same text as the post for {other.segment}; {duplicate_rule}")
            break
    return registry.channel(channel).weighted_length(text), problems


def _segment_items(
    ctx: _Context,
    aud: Audience,
    seg: SegmentFacts,
    rule: Rule,
    profile: SegmentProfile | None,
    times: Sequence[tuple[int, datetime]],
    source: str,
    items: list[PlanItem],
) -> list[PlanItem]:
    """The segment's posts at ``times``, checked against each other, the plan so far and the outbox."""
    slots = [
        f"{aud.dataset_id}/{aud.k}/{seg.id}/{at.astimezone(ZoneInfo(ctx.settings.timezone)).date()}" for _, at in times
    ]
    open_slots = [s for s in slots if s not in ctx.queued]
    # an unknown channel is validate_rule's to report; check the text by the default one's rules
    channels = registry.split(rule.channel) if not registry.unknown(rule.channel) else [registry.default_channel()]
    written: list[str] = []
    writer_note = ""
    if source == "writer" and open_slots:
        if ctx.writer is None:
            writer_note = ctx.writer_note
        else:
            earlier = [t for _, t in ctx.recent] + [i.text for i in items if i.text]
            written, writer_note = _writer_texts(ctx, seg, profile, len(open_slots), earlier, channels)
    out: list[PlanItem] = []
    for nth, ((hour, at), slot) in enumerate(zip(times, slots, strict=True)):
        template, notes, problems = rule.template, [], []
        post_id = None
        if slot in ctx.queued:
            post_id, text, made_by = ctx.queued[slot]
            if made_by == "writer":
                template = ""
        elif source == "writer" and written:
            text, made_by = written.pop(0), "writer"
            template = ""
        else:
            made_by = "template"
            own = [i.text for i in out if i.text]
            text, template, problems, notes = _template_text(ctx, rule, profile, nth, own)
            if source == "writer":
                notes = [n for n in (writer_note, *notes) if n]
        length, limit = 0, min(char_limit(ctx.ws, c, ctx.settings) for c in channels)
        counted_by = next(c for c in channels if char_limit(ctx.ws, c, ctx.settings) == limit)
        if text:
            for channel in channels:  # each channel's own pre-flight; a post for several must pass on each
                used, found = _text_problems(
                    ctx, text, [*items, *out], channel=channel, post_id=post_id, writer=made_by == "writer"
                )
                own = char_limit(ctx.ws, channel, ctx.settings)
                if channel == channels[0] or used / own > length / limit:  # show the tightest fit
                    length, limit, counted_by = used, own, channel
                label = f"{registry.label(channel)}: " if len(channels) > 1 else ""
                problems += [f"{label}{p}" for p in found if f"{label}{p}" not in problems and p not in problems]
        local = at.astimezone(ZoneInfo(ctx.settings.timezone))
        out.append(
            PlanItem(
                seg.id,
                seg.name,
                rule.id,
                template,
                rule.channel,
                hour,
                local,
                at,
                text,
                length,
                problems,
                slot,
                post_id,
                made_by,
                notes,
                limit,
                counted_by,
            )
        )
    return out


def weekly_plan(
    ws: Workspace,
    *,
    aud: Audience | None = None,
    rules: Sequence[Rule] | None = None,
    profiles: list | None = None,
    recommended: Mapping[str, str] | None = None,
    now: datetime | None = None,
    per_segment: int = 1,
    source: str | None = None,
    week: date | None = None,
    lm: LanguageModel | None = None,
) -> WeeklyPlan:
    """Every reached segment's posts for the next seven days (or a calendar week), with checks and times.

    Parameters
    ----------
    aud
        The audience (default: :func:`~core.delivery.targeting.rules.audience` of the active dataset).
    rules
        The rules (default: the saved ones; none saved: the proposals, and the plan says so).
    profiles
        :func:`core.audience.profiles.segment_profiles` with angles (default: computed; seconds on the demo).
    recommended
        segment name → template measured results recommend, for proposed rules (see :func:`propose_rules`).
    now
        UTC time the week starts after (default: now).
    per_segment
        Posts per reached segment in the week (1–7), each on another day.
    source
        ``"writer"`` or ``"template"`` for every rule (default: each rule's own source).
    week
        Any day of a calendar week (Monday to Sunday, local time) to plan instead of the next seven days.
    lm
        The writer for ``writer`` rules (default: the newest model, loaded when a rule needs it).

    Raises
    ------
    TargetingError
        When the dataset has no segmentation yet, ``per_segment`` or ``source`` is out of range, or
        ``week`` is over.
    """
    if not 1 <= per_segment <= MAX_PER_SEGMENT:
        raise TargetingError(f"per_segment={per_segment} must be between 1 and {MAX_PER_SEGMENT} (one post a day)")
    if source is not None and source not in SOURCES:
        raise TargetingError(f"source {source!r} must be one of {', '.join(SOURCES)}")
    aud = aud or audience(ws)
    if aud is None:
        raise TargetingError("no segments yet: find them on the Segments page or run `python -m core segments`")
    templates = {t.name: t.body for t in list_templates(ws)}
    proposed = False
    if rules is None:
        rules = load_rules(ws, aud)
        if not rules:
            rules, proposed = propose_rules(aud, list(templates), recommended=recommended), True
    if profiles is None:
        profiles = segment_profiles(ws, with_angles=True)
    settings = PublishSettings.load(ws)
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    start, end, monday = _window(now, week, settings.timezone)
    chosen = resolve(rules, aud)
    needs_writer = any((source or r.source) == "writer" for r in chosen.values())
    writer, writer_note = _load_writer(ws, lm) if needs_writer else (None, "")
    ctx = _Context(
        ws=ws,
        templates=templates,
        brand=load_brand(ws),
        settings=settings,
        banned=load_banned_words(ws),
        internal_names=[s.name for s in aud.segments] + [p.name for p in profiles],
        recent=_recent_posts(ws) if writer else [],
        queued=_queued_slots(ws),
        writer=writer,
        writer_note=writer_note,
        seed=start.astimezone(ZoneInfo(settings.timezone)).date().toordinal(),
    )
    items: list[PlanItem] = []
    for position, seg in enumerate(aud.segments):
        rule = chosen.get(seg.id)
        if rule is None:
            continue
        profile = find_segment(profiles, str(seg.id))
        if profile is not None:
            profile = replace(profile, name=seg.name)
        times = _segment_times(seg, rule, position, per_segment, start, end, settings.timezone)
        items += _segment_items(ctx, aud, seg, rule, profile, times, source or rule.source, items)
    unreached = [s for s in aud.segments if s.id not in chosen]
    return WeeklyPlan(items, unreached, settings.timezone, start, end, proposed, monday)


# -- queueing ---------------------------------------------------------------------------------------
@dataclass
class QueueReport:
    """What :func:`queue_plan` did: post ids added, and segments skipped or refused with the reason."""

    added: list[int] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for a page or the CLI."""
        parts = [f"{len(self.added)} post{'s' if len(self.added) != 1 else ''} added to the outbox"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} already there")
        if self.refused:
            parts.append(f"{len(self.refused)} not queued (failing checks)")
        return ", ".join(parts)


def _claim(ws: Workspace, item: PlanItem, report: QueueReport) -> bool:
    """Take ``item``'s slot before adding its post; False (and why, in ``report``) when it is taken."""
    with ws.connect() as con:
        row = con.execute("SELECT post_id FROM targeting_queue WHERE slot = ?", (item.slot,)).fetchone()
        if row is not None and row["post_id"] is not None:
            try:
                get_post(ws, row["post_id"])
                report.skipped.append((item.segment, f"already in the outbox as post {row['post_id']}"))
                return False
            except OutboxError:  # the operator deleted it: this slot is free again
                con.execute("DELETE FROM targeting_queue WHERE slot = ?", (item.slot,))
        elif row is not None:
            report.skipped.append((item.segment, "being queued by another click"))
            return False
        try:
            con.execute(
                "INSERT INTO targeting_queue (slot, post_id, queued_at, source) VALUES (?, NULL, ?, ?)",
                (item.slot, utc_now(), item.source),
            )
        except sqlite3.IntegrityError:
            report.skipped.append((item.segment, "being queued by another click"))
            return False
    return True


def queue_plan(ws: Workspace, plan: WeeklyPlan, *, approve: bool = False) -> QueueReport:
    """Put the plan's posts into the outbox: drafts with their time, or with ``approve`` approved and scheduled.

    A post whose slot (segment and local day) already has a post in the outbox is skipped, so
    queueing twice adds nothing; a post failing its checks is not queued (the reason is reported).
    A writer's post is stored without a template.

    Raises
    ------
    TargetingError
        When the plan was made from unsaved proposals.
    """
    if plan.proposed:
        raise TargetingError("these rules are proposals: save them before queueing the week")
    report = QueueReport()
    for item in plan.items:
        if not item.passes:
            report.refused.append((item.segment, "; ".join(item.problems)))
            continue
        if not _claim(ws, item, report):
            continue
        try:  # one post per channel of the rule, linked to one draft, each published once
            posts = add_to_channels(
                ws,
                item.text,
                registry.split(item.channel),
                segment=item.segment,
                template=item.template or None,
                at=item.scheduled_at,
                approve=approve,
            )
        except OutboxError as exc:
            with ws.connect() as con:
                con.execute("DELETE FROM targeting_queue WHERE slot = ? AND post_id IS NULL", (item.slot,))
            report.refused.append((item.segment, str(exc)))
            continue
        with ws.connect() as con:
            con.execute("UPDATE targeting_queue SET post_id = ? WHERE slot = ?", (posts[0].id, item.slot))
        report.added.extend(p.id for p in posts)
    if report.added:
        with ws.connect() as con:
            ws.audit("targeting.queue", {"added": report.added, "approved": approve}, con=con)
    return report
