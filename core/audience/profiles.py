"""Segment profiles: what the content and delivery steps need to know about each segment.

A profile is a segment's id, name, interests, rule angles and hashtags, read from the latest
stored segmentation (or, before the audience step has run, the demo's five groups). The content
step's templates and writer take profiles as values; they never read segments or rules themselves.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field, replace

from core.audience.demo_groups import GROUPS, SIGNATURE_TOPICS
from core.audience.rules import angles, run_rules
from core.audience.rules import hashtag as rules_hashtag
from core.audience.segments import last_run
from core.workspace import Workspace, WorkspaceError

__all__ = [
    "SegmentProfile",
    "audience_phrase",
    "demo_profiles",
    "find_segment",
    "hashtag",
    "public_phrases",
    "save_public_phrase",
    "segment_profiles",
]

log = logging.getLogger(__name__)


def hashtag(topic: str) -> str:
    """``"meal prep"`` → ``"#MealPrep"`` (the audience step's spelling when it is there)."""
    return rules_hashtag(topic)


@dataclass(frozen=True)
class SegmentProfile:
    """What the Studio needs to know about a segment: its name, interests and rule angles."""

    id: str
    name: str
    interests: list[str]
    angles: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    source: str = "demo"  # "segments" (the audience step ran), "demo" (the demo's groups)
    #: Customer-facing: who the segment is in public words, and its angles without figures.
    audience: str = ""
    public_angles: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.audience:
            object.__setattr__(self, "audience", audience_phrase(self.interests))


def audience_phrase(interests: list[str]) -> str:
    """Who a segment is in words for customers: "people into yoga and smoothies", "喜欢瑜伽和护肤的朋友"."""
    top = [str(t) for t in interests[:2] if str(t).strip()]
    if not top:
        return "everyone"
    if all(re.search(r"[\u4e00-\u9fff]", t) for t in top):
        return "喜欢" + "和".join(top) + "的朋友"
    return "people into " + " and ".join(top)


def demo_profiles() -> list[SegmentProfile]:
    """The demo's five groups as profiles (ids 1 to 5): the stand-in before any segmentation."""
    return [
        SegmentProfile(str(i + 1), g, list(SIGNATURE_TOPICS[g]), [], [hashtag(t) for t in SIGNATURE_TOPICS[g]], "demo")
        for i, g in enumerate(GROUPS)
    ]


def segment_profiles(ws: Workspace, *, with_angles: bool = False) -> list[SegmentProfile]:
    """The segments of the active dataset, for generation and templates.

    From the latest stored segmentation when the audience step has run (ids are its segment ids),
    otherwise the demo's five groups (ids 1 to 5). With ``with_angles`` the interest rules of the
    dataset are mined (seconds on the demo) and each segment gets the angles that touch its
    interests; when the rules cannot be mined, the segments come without angles (and a log line).
    """
    profiles: list[SegmentProfile] = []
    try:
        run = last_run(ws, ws.dataset().id)
    except WorkspaceError as exc:
        log.debug("no segmentation to read: %s", exc)
        run = None
    except Exception as exc:  # a half-built audience step must not take the Studio down
        log.warning("could not read the segmentation: %s", exc)
        run = None
    if run:
        for seg in run["summary"].get("segments", []):
            topics = [str(t) for t in seg.get("top_topics", [])]
            profiles.append(
                SegmentProfile(
                    str(seg["id"]),
                    str(seg.get("name") or f"segment {seg['id']}"),
                    topics,
                    [],
                    [hashtag(t) for t in topics],
                    "segments",
                )
            )
    else:
        profiles = demo_profiles()
    phrases = public_phrases(ws)
    # a profile's own phrase is generated from its interests; the operator's, where given, wins
    profiles = [replace(p, audience=phrases[p.id]) if phrases.get(p.id) else p for p in profiles]
    if with_angles:
        profiles = _with_angles(ws, profiles)
    return profiles


#: The operator's own public phrases, per dataset and segment: ``{"<dataset>:<segment>": phrase}``.
PHRASES_SETTING = "audience.public_phrases"
MAX_PHRASE_CHARS = 80


def public_phrases(ws: Workspace) -> dict[str, str]:
    """segment id → the public phrase the operator chose for it in the active dataset (none: generated)."""
    dataset_id = ws.active_dataset_id()
    stored = json.loads(ws.get_setting(PHRASES_SETTING) or "{}")
    prefix = f"{dataset_id}:"
    return {key[len(prefix) :]: value for key, value in stored.items() if key.startswith(prefix)}


def save_public_phrase(ws: Workspace, dataset_id: int, segment_id: str | int, phrase: str) -> str:
    """Store how posts call a segment ("runners who cook"); empty restores the generated phrase.

    Returns the phrase now in use. Raises ``ValueError`` for a phrase over 80 characters.
    """
    phrase = " ".join(phrase.split())
    if len(phrase) > MAX_PHRASE_CHARS:
        raise ValueError(f"the public phrase has {len(phrase)} characters; at most {MAX_PHRASE_CHARS} fit in a post")
    stored = json.loads(ws.get_setting(PHRASES_SETTING) or "{}")
    key = f"{dataset_id}:{segment_id}"
    if phrase:
        stored[key] = phrase
    else:
        stored.pop(key, None)
    with ws.connect() as con:
        ws.set_setting(PHRASES_SETTING, json.dumps(stored, ensure_ascii=False), con=con)
        ws.audit("audience.public_phrase", {"dataset_id": dataset_id, "segment": str(segment_id)}, con=con)
    return phrase


def _with_angles(ws: Workspace, profiles: list[SegmentProfile]) -> list[SegmentProfile]:
    try:
        report = run_rules(ws)
        all_angles = angles(report.rules, kind=report.kind, n=40)
    except Exception as exc:  # rules are a bonus for templates; the Studio works without them
        log.warning("interest rules unavailable: %s", exc)
        return profiles
    out = []
    for p in profiles:
        mine = [a for a in all_angles if set(p.interests) & {*a.antecedents, *a.consequents}]
        tags = list(dict.fromkeys([*p.hashtags, *(t for a in mine for t in a.hashtags)]))
        out.append(
            SegmentProfile(
                p.id,
                p.name,
                p.interests,
                [a.text for a in mine[:5]],
                tags[:8],
                p.source,
                p.audience,
                [a.public for a in mine[:5]],
            )
        )
    return out


def find_segment(profiles: list[SegmentProfile], key: str | int | None) -> SegmentProfile | None:
    """The profile whose id or name (case-insensitive) is ``key``."""
    if key is None or str(key).strip() == "":
        return None
    key = str(key).strip()
    for p in profiles:
        if p.id == key:
            return p
    for p in profiles:
        if p.name.casefold() == key.casefold():
            return p
    return None
