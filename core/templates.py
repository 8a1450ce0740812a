"""Templates for predictable posts, and what the audience step knows about each segment.

Templates are Jinja2 rendered in an :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` with
strict undefined variables: a template can fill in the segment name, its top interests, the
product, offer, link, hashtags and the rule angles of the audience step, and nothing else; it
cannot reach Python internals (``{{ ''.__class__ }}`` is refused) nor change the values it gets.
Syntax errors and unknown variables come back as :class:`TemplateError` with the line and a
plain explanation.

:func:`segment_profiles` is the adapter to the audience step: it reads the latest segmentation
and interest rules when :mod:`core.segments` and :mod:`core.rules` are there and have run, and
falls back to the demo's five groups (or nothing) when they are not, so this module works on
its own.
"""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass, field

import jinja2
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from core.workspace import Workspace, WorkspaceError, utc_now

__all__ = [
    "STARTER_TEMPLATES",
    "SegmentProfile",
    "Template",
    "TemplateError",
    "delete_template",
    "hashtag",
    "list_templates",
    "load_brand",
    "render_template",
    "save_brand",
    "save_template",
    "segment_profiles",
    "template_context",
]

log = logging.getLogger(__name__)

MAX_OUTPUT_CHARS = 5_000
VARIABLES = ("segment", "interests", "top_interest", "product", "offer", "link", "hashtags", "angle", "angles")


class TemplateError(ValueError):
    """A template that cannot be rendered: syntax error, unknown variable, forbidden access."""


@dataclass(frozen=True)
class Template:
    """A named template; ``builtin`` ones are the starters and cannot be deleted."""

    name: str
    body: str
    builtin: bool = False


#: Starter templates for the demo health-food brand.
STARTER_TEMPLATES: tuple[Template, ...] = (
    Template("New product", "New at the shop: {{ product }}. Made for everyone into {{ top_interest }}. "
             "{{ offer }} {{ link }} {{ hashtags | join(' ') }}", True),
    Template("Offer", "{{ segment | capitalize }}, this one's for you: {{ offer }} on {{ product }}. "
             "Good for {{ interests[:2] | join(' and ') }}. {{ link }} {{ hashtags[:3] | join(' ') }}", True),
    Template("Tip", "Quick tip for {{ top_interest }}: a small daily habit beats a big effort once a month. "
             "Ours starts with {{ product }}. {{ hashtags[:2] | join(' ') }}", True),
    Template("Angle", "{% if angle %}{{ angle }} {% endif %}We made {{ product }} with that in mind. "
             "{{ link }} {{ hashtags[:3] | join(' ') }}", True),
    Template("Question", "Into {{ interests[:2] | join(' and ') }}? Tell us your favourite way to use "
             "{{ product }} 👇 {{ hashtags[:2] | join(' ') }}", True),
)

_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True,
                                     lstrip_blocks=True)


def render_template(body: str, context: dict) -> str:
    """Render a template with ``context``; whitespace runs are collapsed.

    Raises
    ------
    TemplateError
        With the line number for a syntax error, the name of an undefined variable, or a note
        that the template tried to reach something it may not.
    """
    try:
        template = _env.from_string(body)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"line {exc.lineno}: {exc.message}") from None
    try:
        text = template.render(**context)
    except SecurityError as exc:
        raise TemplateError(f"not allowed in a template: {exc}") from None
    except jinja2.UndefinedError as exc:
        known = ", ".join(sorted(context))
        raise TemplateError(f"{exc.message}; the variables are: {known}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"the template failed: {exc}") from None
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, ZeroDivisionError, OverflowError) as exc:
        raise TemplateError(f"the template failed: {type(exc).__name__}: {exc}") from None
    text = " ".join(text.split())
    if len(text) > MAX_OUTPUT_CHARS:
        raise TemplateError(f"the template wrote {len(text):,} characters; at most {MAX_OUTPUT_CHARS:,} are allowed")
    return text


def hashtag(topic: str) -> str:
    """``"meal prep"`` → ``"#MealPrep"`` (the audience step's spelling when it is there)."""
    try:
        from core.rules import hashtag as rules_hashtag

        return rules_hashtag(topic)
    except ImportError:
        import re

        words = [w for w in re.split(r"[^\w]+", str(topic)) if w]
        return "#" + "".join(w[:1].upper() + w[1:] for w in words)


@dataclass(frozen=True)
class SegmentProfile:
    """What the Studio needs to know about a segment: its name, interests and rule angles."""

    id: str
    name: str
    interests: list[str]
    angles: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    source: str = "demo"  # "segments" (the audience step ran), "demo" (the demo's groups)


def _demo_profiles() -> list[SegmentProfile]:
    from core.demo import GROUPS, SIGNATURE_TOPICS

    return [SegmentProfile(str(i + 1), g, list(SIGNATURE_TOPICS[g]), [],
                           [hashtag(t) for t in SIGNATURE_TOPICS[g]], "demo") for i, g in enumerate(GROUPS)]


def segment_profiles(ws: Workspace, *, with_angles: bool = False) -> list[SegmentProfile]:
    """The segments of the active dataset, for generation and templates.

    From the latest stored segmentation when the audience step has run (ids are its segment ids),
    otherwise the demo's five groups (ids 1 to 5). With ``with_angles`` the interest rules of the
    dataset are mined (seconds on the demo) and each segment gets the angles that touch its
    interests; without the rules module this is silently skipped.
    """
    profiles: list[SegmentProfile] = []
    try:
        segments = importlib.import_module("core.segments")
        info = ws.dataset()
        run = segments.last_run(ws, info.id)
    except (ImportError, AttributeError, WorkspaceError) as exc:
        log.debug("no segmentation to read: %s", exc)
        run = None
    except Exception as exc:  # a half-built audience step must not take the Studio down
        log.warning("could not read the segmentation: %s", exc)
        run = None
    if run:
        for seg in run["summary"].get("segments", []):
            topics = [str(t) for t in seg.get("top_topics", [])]
            profiles.append(SegmentProfile(str(seg["id"]), str(seg.get("name") or f"segment {seg['id']}"), topics,
                                           [], [hashtag(t) for t in topics], "segments"))
    else:
        profiles = _demo_profiles()
    if with_angles:
        profiles = _with_angles(ws, profiles)
    return profiles


def _with_angles(ws: Workspace, profiles: list[SegmentProfile]) -> list[SegmentProfile]:
    try:
        rules_module = importlib.import_module("core.rules")
        report = rules_module.run_rules(ws)
        all_angles = rules_module.angles(report.rules, kind=report.kind, n=40)
    except ImportError:
        return profiles
    except Exception as exc:  # rules are a bonus for templates; the Studio works without them
        log.warning("interest rules unavailable: %s", exc)
        return profiles
    out = []
    for p in profiles:
        mine = [a for a in all_angles if set(p.interests) & {*a.antecedents, *a.consequents}]
        tags = list(dict.fromkeys([*p.hashtags, *(t for a in mine for t in a.hashtags)]))
        out.append(SegmentProfile(p.id, p.name, p.interests, [a.text for a in mine[:5]], tags[:8], p.source))
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


def template_context(profile: SegmentProfile | None, *, product: str = "", offer: str = "", link: str = "",
                     hashtags: list[str] | None = None, angle_index: int = 0) -> dict:
    """The variables a template sees, from a segment profile and the operator's inputs."""
    interests = list(profile.interests) if profile else []
    angles = list(profile.angles) if profile else []
    return {
        "segment": profile.name if profile else "everyone",
        "interests": interests,
        "top_interest": interests[0] if interests else "healthy living",
        "product": product,
        "offer": offer,
        "link": link,
        "hashtags": list(hashtags if hashtags is not None else (profile.hashtags if profile else [])),
        "angles": angles,
        "angle": angles[angle_index % len(angles)] if angles else "",
    }


# -- saved templates ------------------------------------------------------------------------------


def list_templates(ws: Workspace) -> list[Template]:
    """Starter templates, then the operator's (which may override a starter by name)."""
    with ws.connect() as con:
        rows = con.execute("SELECT name, body FROM templates ORDER BY name").fetchall()
    saved = {r["name"]: Template(r["name"], r["body"]) for r in rows}
    starters = [saved.pop(t.name, t) for t in STARTER_TEMPLATES]
    return starters + list(saved.values())


def save_template(ws: Workspace, name: str, body: str) -> None:
    """Save (or replace) a template after checking that it renders with sample values."""
    name = name.strip()
    if not name or len(name) > 60:
        raise TemplateError("a template name needs 1 to 60 characters")
    render_template(body, template_context(_demo_profiles()[0], product="a product", offer="an offer",
                                           link="https://example.com", angle_index=0))
    with ws.connect() as con:
        con.execute("INSERT INTO templates (name, body, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                    (name, body, utc_now()))
        ws.audit("template.save", {"name": name}, con=con)


def delete_template(ws: Workspace, name: str) -> None:
    """Delete a saved template (a starter comes back as it was)."""
    with ws.connect() as con:
        con.execute("DELETE FROM templates WHERE name = ?", (name,))
        ws.audit("template.delete", {"name": name}, con=con)


def dumps_profiles(profiles: list[SegmentProfile]) -> str:
    """Profiles as JSON (for caching and the CLI)."""
    return json.dumps([p.__dict__ for p in profiles], ensure_ascii=False)


BRAND_SETTING = "content.brand"
#: The demo brand's product, offer and link; the operator changes them in the Studio.
DEFAULT_BRAND = {"product": "our marine collagen", "offer": "15% off this week with code REACH15",
                 "link": "https://meadowpantry.example"}


def load_brand(ws: Workspace) -> dict[str, str]:
    """Product, offer and link the templates and drafts use."""
    stored = ws.get_setting(BRAND_SETTING)
    return DEFAULT_BRAND | (json.loads(stored) if stored else {})


def save_brand(ws: Workspace, *, product: str, offer: str, link: str) -> None:
    """Store product, offer and link."""
    link = link.strip()
    if link and not link.startswith(("http://", "https://")):
        raise TemplateError(f"the link {link!r} must start with http:// or https://")
    value = {"product": product.strip(), "offer": offer.strip(), "link": link}
    with ws.connect() as con:
        ws.set_setting(BRAND_SETTING, json.dumps(value, ensure_ascii=False), con=con)
        ws.audit("content.brand", value, con=con)
