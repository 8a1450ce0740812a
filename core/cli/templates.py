"""``python -m core template render``: fill in a template for a segment and check it as a post.

``template render TEXT [--segment ID] [--json]`` prints the text, or with ``--json``
``{"text", "passes", "reasons"}``; a template that cannot be rendered (a syntax error, an
unknown variable, a forbidden access, or one past the render's bounds of size and time) exits 2
with one line on stderr.
"""

from __future__ import annotations

import argparse

from core.audience.profiles import find_segment, segment_profiles
from core.cli.output import print_json, say
from core.content.checks import check_draft, load_banned_words
from core.content.templates import TemplateError, load_brand, render_template, template_context
from core.demo import open_workspace

__all__ = ["USER_ERRORS", "register"]

USER_ERRORS: tuple[type[Exception], ...] = (TemplateError,)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``template render``."""
    p = sub.add_parser("template", help="try a post template")
    actions = p.add_subparsers(dest="template_action", required=True)
    r = actions.add_parser("render", help="fill in a template (Jinja2) for a segment and check it as a post")
    r.add_argument("text", metavar="TEXT", help="the template, e.g. 'Into {{ top_interest }}? Try {{ product }}.'")
    r.add_argument("--segment", metavar="ID", help="segment id or name (default: everyone)")
    r.add_argument("--json", action="store_true", help='print one JSON object {"text", "passes", "reasons"}')
    r.set_defaults(run=_render)


def _render(args: argparse.Namespace) -> int:
    ws = open_workspace()
    profiles = segment_profiles(ws)
    profile = None
    if args.segment is not None:
        profile = find_segment(profiles, args.segment)
        if profile is None:
            known = ", ".join(f"{p.id} ({p.name})" for p in profiles)
            raise TemplateError(f"segment {args.segment!r} does not exist (segments: {known})")
    try:
        text = render_template(args.text, template_context(profile, **load_brand(ws)))
    except TemplateError as exc:  # one line on stderr, whatever the template engine said
        raise TemplateError(" ".join(str(exc).split())) from None
    check = check_draft(text, banned_words=load_banned_words(ws), internal_names=[p.name for p in profiles])
    if args.json:
        print_json({"text": text, "passes": check.passes, "reasons": list(check.reasons)})
        return 0
    say(text)
    say("passes the checks" if check.passes else "fails the checks: " + "; ".join(check.reasons))
    return 0
