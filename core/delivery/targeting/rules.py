"""Targeting rules: which message goes to which segment, on which channel, at what hour, written by whom.

A **rule** sends a template to a segment of the active dataset's latest segmentation, or to every
segment that fits a *predicate* on demographics and interests (``gender=female; age=18-29;
interest=skincare & beauty``: the segment is mostly female, its median age is 18–29 and skincare is
among its top interests). It names a registered channel (``x``, ``dry-run``) or several joined by ``+`` (``mastodon+bluesky``: one post each), a posting hour (0–23; empty:
the segment's best hour from its profile), a *source* for its posts (``template``: the template
filled in; ``writer``: drafts the writer composes from the brand's own posts) and an active flag.
Rules are validated with messages that name the value, stored in SQLite, and every create, edit and
delete is kept in a history.

A segment is reached by its own segment rule first, else by the first active predicate rule that
fits it (:func:`resolve`); the week's posts are planned from there (:mod:`.plan`).

Per-segment facts the rules need (best hours, busiest weekdays, gender shares, median age) are not in
the stored segmentation summary; they are read once per segmentation run from the report stored with
it (its profiles) and cached in the database, so the Home page reads them without opening the report.
Only a run whose report is not kept (stored by an older version) is clustered again with the stored
k (KMeans is seeded, so the segments are the same).
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

from core.audience.segments import last_run, run_report, run_segments
from core.clock import utc_now
from core.content.templates import list_templates
from core.delivery.channels import registry
from core.workspace import Workspace, WorkspaceError

__all__ = [
    "SOURCES",
    "Audience",
    "Predicate",
    "Rule",
    "RuleValidationError",
    "SegmentFacts",
    "TargetingError",
    "audience",
    "load_rules",
    "parse_predicate",
    "propose_rules",
    "resolve",
    "rule_history",
    "save_rules",
    "targeting_status",
    "template_names",
    "validate_rule",
]

log = logging.getLogger(__name__)

FALLBACK_HOUR = 9  # a dataset without timestamps has no best hour
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Where a rule's posts come from: its template filled in, or the writer's drafts.
SOURCES = ("template", "writer")
#: The shape of the cached per-segment facts; older caches are recomputed (they lack hour and day rankings).
FACTS_VERSION = 2


class TargetingError(ValueError):
    """A targeting input the operator must change; the message names the value."""


class RuleValidationError(TargetingError):
    """Some rules did not validate; ``errors`` maps each bad row (0-based) to its messages. Nothing was saved."""

    def __init__(self, errors: dict[int, list[str]]) -> None:
        self.errors = errors
        lines = [f"row {row + 1}: {'; '.join(msgs)}" for row, msgs in sorted(errors.items())]
        super().__init__("; ".join(lines))


# -- who is out there -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentFacts:
    """One segment as targeting sees it."""

    id: int
    name: str
    size: int
    interests: list[str]
    best_hour: int | None = None
    best_weekday: str | None = None
    gender: dict[str, float] = field(default_factory=dict)
    age_median: float | None = None
    best_hours: tuple[int, ...] = ()  # the busiest hours, busiest first (best_hour is the first)
    best_weekdays: tuple[str, ...] = ()  # every weekday by activity, busiest first

    @property
    def label(self) -> str:
        """``"0 · Women 18–29 · skincare"`` — how pages name a segment."""
        return f"{self.id} · {self.name}"

    @property
    def default_hour(self) -> int:
        """The hour a rule without one posts at: the best hour, else 09:00."""
        return FALLBACK_HOUR if self.best_hour is None else self.best_hour

    @property
    def posting_hours(self) -> tuple[int, ...]:
        """The hours a rule without one spreads posts over: the best hours, else :attr:`default_hour`."""
        return self.best_hours or (self.default_hour,)


@dataclass(frozen=True)
class Audience:
    """The segments of a dataset's latest segmentation, with what rules need to know about them.

    ``complete`` is false when the per-segment facts were not computed (``audience(compute=False)``
    before anyone opened Targeting): names and interests are there, hours and demographics not.
    """

    dataset_id: int
    k: int
    run_at: str
    segments: list[SegmentFacts]
    topics: list[str]
    complete: bool = True

    def segment(self, segment_id: int) -> SegmentFacts | None:
        """The segment with this id, or None."""
        return next((s for s in self.segments if s.id == segment_id), None)


def audience(ws: Workspace, dataset_id: int | None = None, *, compute: bool = True) -> Audience | None:
    """The segments of ``dataset_id`` (default: the active dataset), or None before any segmentation.

    Names come from the stored run (so renames show at once); hours and demographics from the facts
    cached for that run, computed first when missing and ``compute`` is true.
    """

    if dataset_id is None:
        dataset_id = ws.active_dataset_id()
        if dataset_id is None:
            return None
    run = last_run(ws, dataset_id)
    if run is None:
        return None
    with ws.connect() as con:
        row = con.execute(
            "SELECT k, run_at, facts FROM targeting_audiences WHERE dataset_id = ?", (int(dataset_id),)
        ).fetchone()
    cached = json.loads(row["facts"]) if row and row["run_at"] == run["created_at"] and row["k"] == run["k"] else None
    if compute and (cached is None or cached.get("version") != FACTS_VERSION):
        cached = _compute_facts(ws, int(dataset_id), run)
    facts = {int(f["id"]): f for f in (cached or {}).get("segments", [])}
    segments = []
    for seg in run["summary"].get("segments", []):
        sid = int(seg["id"])
        f = facts.get(sid, {})
        segments.append(
            SegmentFacts(
                id=sid,
                name=str(seg.get("name") or f"segment {sid}"),
                size=int(seg.get("size", f.get("size", 0))),
                interests=[str(t) for t in seg.get("top_topics", [])],
                best_hour=f.get("best_hour"),
                best_weekday=f.get("best_weekday"),
                gender=dict(f.get("gender", {})),
                age_median=f.get("age_median"),
                best_hours=tuple(int(h) for h in f.get("best_hours", [])),
                best_weekdays=tuple(str(d) for d in f.get("best_weekdays", [])),
            )
        )
    topics = list(cached["topics"]) if cached else sorted({t for s in segments for t in s.interests})
    return Audience(int(dataset_id), int(run["k"]), run["created_at"], segments, topics, cached is not None)


def _compute_facts(ws: Workspace, dataset_id: int, run: dict) -> dict:
    """What rules need from the stored segmentation's profiles, cached in the database."""

    report = run_report(ws, dataset_id) or run_segments(ws, dataset_id, k=run["k"])
    facts = {
        "version": FACTS_VERSION,
        "topics": sorted(str(t) for t in report.profiles[0].topics["topic"]) if report.profiles else [],
        "segments": [
            {
                "id": p.id,
                "size": p.size,
                "best_hour": p.best_hours[0] if p.best_hours else None,
                "best_weekday": p.best_slots[0][0] if p.best_slots else None,
                "best_hours": list(p.best_hours),
                "best_weekdays": _weekdays_by_activity(p.hour_weekday),
                "gender": p.demographics.get("gender", {}),
                "age_median": p.demographics.get("age_median"),
            }
            for p in report.profiles
        ],
    }
    with ws.connect() as con:
        con.execute("DELETE FROM targeting_audiences WHERE dataset_id = ?", (dataset_id,))
        con.execute(
            "INSERT INTO targeting_audiences (dataset_id, k, run_at, facts) VALUES (?, ?, ?, ?)",
            (dataset_id, int(run["k"]), run["created_at"], json.dumps(facts, ensure_ascii=False)),
        )
    log.info("targeting facts cached for dataset %s (k=%s)", dataset_id, run["k"])
    return facts


def _weekdays_by_activity(hour_weekday) -> list[str]:
    """Weekday names, busiest first (empty without timestamps); ``hour_weekday`` is 7 × 24 counts, Monday first."""
    if hour_weekday is None:
        return []
    totals = [float(sum(hour_weekday[d])) for d in range(7)]
    return [WEEKDAYS[d] for d in sorted(range(7), key=lambda d: (-totals[d], d))]


# -- predicates -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Predicate:
    """Who a predicate rule is for; every clause given must hold (empty clauses hold for all)."""

    genders: tuple[str, ...] = ()
    age_min: float | None = None
    age_max: float | None = None
    interests: tuple[str, ...] = ()

    def fits(self, segment: SegmentFacts) -> bool:
        """Whether ``segment`` is mostly of these genders, has its median age in range and these top interests."""
        if self.genders and sum(segment.gender.get(g, 0.0) for g in self.genders) < 0.5:
            return False
        if self.age_min is not None or self.age_max is not None:
            if segment.age_median is None:
                return False
            if self.age_min is not None and segment.age_median < self.age_min:
                return False
            if self.age_max is not None and segment.age_median > self.age_max:
                return False
        mine = {t.casefold() for t in segment.interests}
        return all(i.casefold() in mine for i in self.interests)

    def describe(self) -> str:
        """Plain words: ``women, aged 18–29, into skincare & beauty``."""
        parts = []
        if self.genders:
            parts.append(" or ".join({"female": "women", "male": "men"}.get(g, g) for g in self.genders))
        if self.age_min is not None or self.age_max is not None:
            if self.age_max is None:
                parts.append(f"aged {self.age_min:g}+")
            elif self.age_min is None:
                parts.append(f"aged up to {self.age_max:g}")
            else:
                parts.append(f"aged {self.age_min:g}–{self.age_max:g}")
        if self.interests:
            parts.append("into " + " and ".join(self.interests))
        return ", ".join(parts) or "everyone"


_CLAUSE = re.compile(r"^\s*(gender|age|interest)\s*(?:=|:|\bin\b)\s*(.+?)\s*$", re.IGNORECASE)
_AGE = re.compile(r"^(\d{1,3})?\s*(?:[-–]\s*(\d{1,3})?|(\+))?$")
GENDER_WORDS = {
    "female": "female",
    "women": "female",
    "woman": "female",
    "f": "female",
    "male": "male",
    "men": "male",
    "man": "male",
    "m": "male",
}


def parse_predicate(text: str) -> Predicate:
    """``"gender=female; age=18-29; interest=skincare & beauty"`` → :class:`Predicate`.

    Clauses are separated by ``;``. ``gender`` takes ``female``/``women`` or ``male``/``men`` (several
    with commas); ``age`` a range ``18-29``, ``55+`` or ``-30``; ``interest`` one topic (repeat the
    clause for several, all must hold).

    Raises
    ------
    TargetingError
        Naming the clause that cannot be read.
    """
    genders: list[str] = []
    interests: list[str] = []
    age_min = age_max = None
    clauses = [c for c in str(text).split(";") if c.strip()]
    if not clauses:
        raise TargetingError("the predicate is empty; write e.g. gender=female; age=18-29; interest=skincare & beauty")
    for clause in clauses:
        m = _CLAUSE.match(clause)
        if not m:
            raise TargetingError(
                f"cannot read {clause.strip()!r}: write gender=…, age=… or interest=…, separated by ';'"
            )
        key, value = m.group(1).casefold(), m.group(2).strip()
        if key == "gender":
            for word in (w.strip().casefold() for w in value.strip("{}").split(",") if w.strip()):
                if word not in GENDER_WORDS:
                    raise TargetingError(f"gender {word!r} must be female (women) or male (men)")
                genders.append(GENDER_WORDS[word])
        elif key == "age":
            a = _AGE.match(value.replace(" ", ""))
            if not a or not (a.group(1) or a.group(2)):
                raise TargetingError(f"age {value!r} must be a range such as 18-29, 55+ or -30")
            age_min = float(a.group(1)) if a.group(1) else None
            age_max = (
                float(a.group(2)) if a.group(2) else (None if a.group(3) or "-" in value or "–" in value else age_min)
            )
            if age_min is not None and age_max is not None and age_min > age_max:
                raise TargetingError(f"age {value!r}: the lower bound {age_min:g} is above the upper {age_max:g}")
        else:
            interests.append(value)
    return Predicate(tuple(dict.fromkeys(genders)), age_min, age_max, tuple(interests))


# -- rules ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One targeting rule; ``id`` is None until saved (a proposal or a new row)."""

    template: str
    segment_id: int | None = None
    predicate: str | None = None
    channel: str = "dry-run"
    hour: int | None = None
    active: bool = True
    id: int | None = None
    version: int = 0
    source: str = "template"

    def reaches(self, segment: SegmentFacts) -> bool:
        """Whether this rule (valid or not, active or not) is meant for ``segment``."""
        if self.segment_id is not None:
            return self.segment_id == segment.id
        try:
            return parse_predicate(self.predicate or "").fits(segment)
        except TargetingError:
            return False

    def hour_for(self, segment: SegmentFacts) -> int:
        """The posting hour for ``segment``: the rule's, else the segment's best hour."""
        return segment.default_hour if self.hour is None else int(self.hour)


def validate_rule(rule: Rule, aud: Audience, templates: Iterable[str]) -> list[str]:
    """Every reason ``rule`` cannot be saved (empty list: it is fine)."""
    problems = []
    templates = list(templates)
    if rule.segment_id is None and not (rule.predicate or "").strip():
        problems.append("choose a segment or write who the rule is for (e.g. gender=female; interest=skincare)")
    elif rule.segment_id is not None and (rule.predicate or "").strip():
        problems.append("a rule is for a segment or for a predicate, not both: clear one of them")
    elif rule.segment_id is not None:
        if aud.segment(rule.segment_id) is None:
            known = ", ".join(str(s.id) for s in aud.segments)
            problems.append(f"segment {rule.segment_id} does not exist in this segmentation (segments: {known})")
    else:
        try:
            predicate = parse_predicate(rule.predicate or "")
        except TargetingError as exc:
            problems.append(str(exc))
        else:
            known = {t.casefold() for t in aud.topics}
            unknown = [i for i in predicate.interests if i.casefold() not in known]
            if unknown:
                problems.append(
                    f"interest {unknown[0]!r} is not a topic of this dataset (e.g. {', '.join(aud.topics[:4])})"
                )
            elif aud.complete and not any(predicate.fits(s) for s in aud.segments):
                problems.append(f"{rule.predicate.strip()!r} matches nobody: no segment is {predicate.describe()}")
    if rule.template not in templates:
        problems.append(f"template {rule.template!r} does not exist (templates: {', '.join(templates)})")
    if registry.unknown(rule.channel):
        problems.append(f"channel {rule.channel!r} must be one of {', '.join(registry.channel_names())}")
    if rule.source not in SOURCES:
        problems.append(f"source {rule.source!r} must be one of {', '.join(SOURCES)}")
    if rule.hour is not None and not (isinstance(rule.hour, int) and 0 <= rule.hour <= 23):
        problems.append(f"hour={rule.hour} must be between 0 and 23 (empty: the segment's best hour)")
    return problems


def template_names(ws: Workspace) -> list[str]:
    """The names of every template a rule may use."""
    return [t.name for t in list_templates(ws)]


def _rule(row: sqlite3.Row) -> Rule:
    return Rule(
        template=row["template"],
        segment_id=row["segment_id"],
        predicate=row["predicate"],
        channel=row["channel"],
        hour=row["hour"],
        active=bool(row["active"]),
        id=row["id"],
        version=row["version"],
        source=row["source"],
    )


def load_rules(ws: Workspace, aud: Audience) -> list[Rule]:
    """The saved rules of ``aud``'s segmentation (dataset and k), in the order they were made."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT * FROM targeting_rules WHERE dataset_id = ? AND k = ? AND deleted_at IS NULL ORDER BY id",
            (aud.dataset_id, aud.k),
        ).fetchall()
    return [_rule(r) for r in rows]


def _snapshot(rule: Rule) -> str:
    return json.dumps({k: v for k, v in asdict(rule).items() if k not in ("id", "version")}, ensure_ascii=False)


def save_rules(ws: Workspace, rules: Sequence[Rule], aud: Audience) -> list[Rule]:
    """Make ``rules`` the rule set of ``aud``'s segmentation: new rows are created, changed ones
    updated, missing ones deleted — each change recorded in the history.

    Raises
    ------
    RuleValidationError
        With every bad row's messages; nothing is saved then.
    """
    templates = template_names(ws)
    errors: dict[int, list[str]] = {}
    owner: dict[int, int] = {}
    for row, rule in enumerate(rules):
        problems = validate_rule(rule, aud, templates)
        if rule.segment_id is not None and rule.segment_id in owner:
            problems.append(
                f"segment {rule.segment_id} already has a rule (row {owner[rule.segment_id] + 1}); one rule per segment"
            )
        elif rule.segment_id is not None:
            owner[rule.segment_id] = row
        if problems:
            errors[row] = problems
    if errors:
        raise RuleValidationError(errors)
    now = utc_now()
    with ws.connect() as con:
        stored = {
            r["id"]: _rule(r)
            for r in con.execute(
                "SELECT * FROM targeting_rules WHERE dataset_id = ? AND k = ? AND deleted_at IS NULL",
                (aud.dataset_id, aud.k),
            ).fetchall()
        }
        kept = set()
        for rule in rules:
            values = (
                rule.segment_id,
                (rule.predicate or "").strip() or None,
                rule.template,
                rule.channel,
                rule.hour,
                int(rule.active),
                rule.source,
            )
            clean = replace(rule, predicate=values[1])
            if rule.id is not None and rule.id in stored:
                kept.add(rule.id)
                old = stored[rule.id]
                if _snapshot(old) == _snapshot(clean):
                    continue
                version = old.version + 1
                con.execute(
                    "UPDATE targeting_rules SET segment_id = ?, predicate = ?, template = ?, channel = ?, "
                    "hour = ?, active = ?, source = ?, version = ?, updated_at = ? WHERE id = ?",
                    (*values, version, now, rule.id),
                )
                _history(con, rule.id, version, "update", clean, now)
            else:
                cur = con.execute(
                    "INSERT INTO targeting_rules (dataset_id, k, segment_id, predicate, template, "
                    "channel, hour, active, source, version, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                    (aud.dataset_id, aud.k, *values, now, now),
                )
                _history(con, cur.lastrowid, 1, "create", clean, now)
        for rule_id, old in stored.items():
            if rule_id not in kept:
                con.execute(
                    "UPDATE targeting_rules SET deleted_at = ?, version = ? WHERE id = ?",
                    (now, old.version + 1, rule_id),
                )
                _history(con, rule_id, old.version + 1, "delete", old, now)
        ws.audit("targeting.rules", {"dataset_id": aud.dataset_id, "k": aud.k, "rules": len(rules)}, con=con)
    return load_rules(ws, aud)


def _history(con: sqlite3.Connection, rule_id: int, version: int, action: str, rule: Rule, at: str) -> None:
    con.execute(
        "INSERT INTO targeting_rule_history (rule_id, version, action, rule, changed_at) VALUES (?, ?, ?, ?, ?)",
        (rule_id, version, action, _snapshot(rule), at),
    )


def rule_history(ws: Workspace, rule_id: int | None = None) -> list[dict]:
    """Changes to rules, newest first: rule_id, version, action, changed_at and the rule's fields then."""
    sql = "SELECT rule_id, version, action, rule, changed_at FROM targeting_rule_history"
    params: tuple = ()
    if rule_id is not None:
        sql, params = sql + " WHERE rule_id = ?", (int(rule_id),)
    with ws.connect() as con:
        rows = con.execute(sql + " ORDER BY id DESC", params).fetchall()
    return [
        {
            "rule_id": r["rule_id"],
            "version": r["version"],
            "action": r["action"],
            "changed_at": r["changed_at"],
            **json.loads(r["rule"]),
        }
        for r in rows
    ]


# Interest words → the starter template that suits them (first match wins; see propose_rules).
TEMPLATE_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("skincare", "beauty", "collagen"), "New product"),
    (("fitness", "protein", "sport", "running", "yoga", "workout"), "Tip"),
    (("family", "cooking", "recipe", "meal", "baking"), "Question"),
    (("heart", "joint", "gut", "sugar", "supplement", "tea", "health"), "Angle"),
)


def propose_rules(
    aud: Audience, templates: Sequence[str], *, channel: str = "dry-run", recommended: Mapping[str, str] | None = None
) -> list[Rule]:
    """One unsaved rule per segment: its best hour and the template measured results recommend, else
    the starter that fits its interests.

    ``recommended`` (segment name → template, from :func:`core.feedback.results.recommended_templates`) wins
    when it names one of ``templates``. Otherwise the first interest with a hint decides (skincare →
    *New product*, fitness → *Tip*, family meals → *Question*, heart or joint health → *Angle*); a
    segment without one gets the starter used least so far, so segments do not all get the same text.
    """
    available = [t for t in ("New product", "Tip", "Question", "Angle", "Offer") if t in templates] or list(templates)
    used: dict[str, int] = dict.fromkeys(available, 0)
    out = []
    for seg in aud.segments:
        measured = (recommended or {}).get(seg.name)
        if measured in templates:
            used[measured] = used.get(measured, 0) + 1
            out.append(Rule(template=measured, segment_id=seg.id, channel=channel, hour=None, active=True))
            continue
        choice = None
        for interest in seg.interests:
            for words, template in TEMPLATE_HINTS:
                if template in used and any(w in interest.casefold() for w in words):
                    choice = template
                    break
            if choice:
                break
        if choice is None or (used[choice] > 0 and min(used.values()) == 0):
            choice = min(used, key=lambda t: used[t])
        used[choice] = used.get(choice, 0) + 1
        out.append(Rule(template=choice, segment_id=seg.id, channel=channel, hour=None, active=True))
    return out


def resolve(rules: Sequence[Rule], aud: Audience) -> dict[int, Rule]:
    """segment id → the active rule that reaches it: its segment rule, else the first fitting predicate rule."""
    chosen: dict[int, Rule] = {}
    for seg in aud.segments:
        own = [r for r in rules if r.active and r.segment_id == seg.id]
        fits = [r for r in rules if r.active and r.segment_id is None and r.reaches(seg)]
        if own or fits:
            chosen[seg.id] = (own or fits)[0]
    return chosen


# -- status for the Home page -----------------------------------------------------------------------
def targeting_status(ws: Workspace) -> tuple[str, bool] | None:
    """``("5 rules · 5 of 5 segments reached", all reached)`` from stored data only; None without segments."""
    try:
        aud = audience(ws, compute=False)
    except WorkspaceError:
        return None
    if aud is None:
        return None
    rules = [r for r in load_rules(ws, aud) if r.active]
    if not rules:
        return f"no rules yet · {len(aud.segments)} segments waiting", False
    head = f"{len(rules)} rule{'s' if len(rules) != 1 else ''}"
    if not aud.complete and any(r.segment_id is None for r in rules):
        return f"{head} · open Targeting to check reach", False
    reached = len(resolve(rules, aud))
    return f"{head} · {reached} of {len(aud.segments)} segments reached", reached == len(aud.segments)
