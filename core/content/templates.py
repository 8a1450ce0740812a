"""Templates for predictable posts.

Templates are Jinja2 rendered in an :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` with
strict undefined variables: a template can fill in the segment name, its top interests, the
product, offer, link, hashtags and the rule angles of the audience step, and nothing else; it
cannot reach Python internals (``{{ ''.__class__ }}`` is refused) nor change the values it gets.
Syntax errors and unknown variables come back as :class:`TemplateError` with the line and a
plain explanation.

The segment's values come in as a :class:`~core.audience.profiles.SegmentProfile`; this module
never reads segments or rules itself.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import jinja2
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from core.audience.profiles import SegmentProfile, demo_profiles
from core.clock import utc_now
from core.workspace import Workspace

__all__ = [
    "STARTER_TEMPLATES",
    "SegmentProfile",
    "Template",
    "TemplateError",
    "delete_template",
    "list_templates",
    "load_brand",
    "render_template",
    "save_brand",
    "save_template",
    "template_context",
]

log = logging.getLogger(__name__)


MAX_OUTPUT_CHARS = 5_000
#: What a template can use: customer-facing words only. ``segment`` and ``audience`` are the segment's
#: public audience phrase ("people into yoga and smoothies"), never its internal name; ``angle`` is a
#: rule angle's customer line, never the analyst's sentence with its figures.
VARIABLES = (
    "segment",
    "audience",
    "interests",
    "top_interest",
    "product",
    "offer",
    "link",
    "hashtags",
    "angle",
    "angles",
)


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
    Template(
        "New product",
        "New at the shop: {{ product }}. Made for everyone into {{ top_interest }}. "
        "{{ offer }} {{ link }} {{ hashtags | join(' ') }}",
        True,
    ),
    Template(
        "Offer",
        "{{ audience | capitalize }}, this one's for you: {{ offer }} on {{ product }}. "
        "{{ link }} {{ hashtags[:3] | join(' ') }}",
        True,
    ),
    Template(
        "Tip",
        "Quick tip for {{ top_interest }}: a small daily habit beats a big effort once a month. "
        "Ours starts with {{ product }}. {{ hashtags[:2] | join(' ') }}",
        True,
    ),
    Template(
        "Angle",
        "{% if angle %}{{ angle }} {% endif %}Try {{ product }}. {{ link }} {{ hashtags[:3] | join(' ') }}",
        True,
    ),
    Template(
        "Question",
        "Into {{ interests[:2] | join(' and ') }}? Tell us your favourite way to use "
        "{{ product }} 👇 {{ hashtags[:2] | join(' ') }}",
        True,
    ),
)

_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)


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


def template_context(
    profile: SegmentProfile | None,
    *,
    product: str = "",
    offer: str = "",
    link: str = "",
    hashtags: list[str] | None = None,
    angle_index: int = 0,
) -> dict:
    """The variables a template sees, from a segment profile and the operator's inputs.

    Only customer-facing words: the segment's public audience phrase (not its internal name) and
    its angles' customer lines (not the analyst's sentences with lift and shares).
    """
    interests = list(profile.interests) if profile else []
    angles = list(profile.public_angles) if profile else []
    audience = profile.audience if profile else "everyone"
    return {
        "segment": audience,
        "audience": audience,
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
    render_template(
        body,
        template_context(
            demo_profiles()[0], product="a product", offer="an offer", link="https://example.com", angle_index=0
        ),
    )
    with ws.connect() as con:
        con.execute(
            "INSERT INTO templates (name, body, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            (name, body, utc_now()),
        )
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
DEFAULT_BRAND = {
    "product": "our marine collagen",
    "offer": "15% off this week with code REACH15",
    "link": "https://meadowpantry.example",
}


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
