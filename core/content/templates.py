"""Templates for predictable posts.

Templates are Jinja2 rendered in an :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` with
strict undefined variables: a template can fill in the segment name, its top interests, the
product, offer, link, hashtags and the rule angles of the audience step, and nothing else; it
cannot reach Python internals (``{{ ''.__class__ }}`` is refused) nor change the values it gets.
Syntax errors and unknown variables come back as :class:`TemplateError` with the line and a
plain explanation.

Rendering is bounded, so a template typed by mistake (or by someone probing) cannot take the
process down: ``*`` and ``**`` refuse results past a size, ``range`` gives at most
:data:`MAX_RANGE` numbers, loops and calls count against :data:`MAX_STEPS`, no call takes a
number past :data:`MAX_ARGUMENT`, filters that pad text to a width are left out, the output is
counted while it is written, and a render stops after :data:`TIME_LIMIT_SECONDS`. Every way a
render can fail comes back as one :class:`TemplateError`.

The segment's values come in as a :class:`~core.audience.profiles.SegmentProfile`; this module
never reads segments or rules itself.
"""

from __future__ import annotations

import ctypes
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Number

import jinja2
from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
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
#: Bounds of one render: seconds, loop steps and calls, numbers ``range`` gives, the size of a
#: number a call may take (a width, a count), and of a number ``*`` or ``**`` may make (in bits).
TIME_LIMIT_SECONDS = 1.0
MAX_STEPS = 100_000
MAX_RANGE = 1_000
MAX_ARGUMENT = 10_000
MAX_NUMBER_BITS = 256
#: Raw output (before whitespace runs are collapsed) a render may write before it is stopped.
_MAX_RAW_OUTPUT = 4 * MAX_OUTPUT_CHARS
#: Filters that make text as long as a number says; a template has no use for them.
_UNBOUNDED_FILTERS = ("center", "indent", "wordwrap", "format", "slice", "batch", "filesizeformat", "pprint")
#: Methods that pad or fill text to a width given inside a string (``'{:>999999999}'.format(1)``).
_UNBOUNDED_METHODS = frozenset({"format", "format_map"})
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


class _OverBoundError(Exception):
    """A render went past one of its bounds; the message says which."""


class _OutOfTimeError(BaseException):
    """Raised inside a render that ran out of time (a BaseException, so the template cannot catch it)."""


class _Budget(threading.local):
    """The current render's steps, per thread (the app renders in several sessions at once)."""

    steps = 0

    def step(self, count: int = 1) -> None:
        self.steps += count
        if self.steps > MAX_STEPS:
            raise _OverBoundError(f"the template does more than {MAX_STEPS:,} steps (loops and calls)")


_budget = _Budget()


def _bounded_range(*args: int) -> Iterator[int]:
    """``range`` that gives at most :data:`MAX_RANGE` numbers, each counted as a step."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise _OverBoundError(f"range() gives {len(numbers):,} numbers; at most {MAX_RANGE:,} are allowed")
    for number in numbers:
        _budget.step()
        yield number


def _size(value: object) -> int:
    """How big a value ``*`` may repeat is: its length, or the bits of a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return abs(int(value)).bit_length() if isinstance(value, int) else 64
    try:
        return len(value)  # type: ignore[arg-type]
    except TypeError:
        return 0


def _check_length(value: object) -> object:
    """``value`` unchanged, unless it is longer than a render may write."""
    if _size(value) > _MAX_RAW_OUTPUT and not isinstance(value, int | float):
        raise _OverBoundError(f"the template builds a value longer than {_MAX_RAW_OUTPUT:,} characters")
    return value


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``~`` going through :meth:`_BoundedSandbox.bounded_concat`."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 - Jinja's visitor name
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with ``*``, ``**``, ``+``, ``~``, calls and loops bounded."""

    intercepted_binops = frozenset({"*", "**", "+"})
    code_generator_class = _BoundedCodeGenerator

    @staticmethod
    def bounded_concat(values: tuple) -> str:
        """``a ~ b``, refused past the output bound."""
        _budget.step()
        return str(_check_length("".join(map(str, values))))

    def is_safe_attribute(self, obj, attr: str, value) -> bool:
        return attr not in _UNBOUNDED_METHODS and super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value):
        return None  # str.format is refused outright (is_safe_attribute), not wrapped

    def call_binop(self, context, operator: str, left, right):
        _budget.step()
        if operator == "+":
            return _check_length(left + right)
        if operator == "**":
            if not (isinstance(left, Number) and isinstance(right, Number)):
                return super().call_binop(context, operator, left, right)
            if abs(right) > 64 or _size(left) * max(abs(int(right)), 1) > MAX_NUMBER_BITS:
                raise _OverBoundError(f"{left!r} ** {right!r} is too big a number for a template")
            return left**right
        numbers = isinstance(left, Number) and isinstance(right, Number)
        if numbers and _size(left) + _size(right) > MAX_NUMBER_BITS:
            raise _OverBoundError("the template multiplies numbers too big for a post")
        if not numbers:
            sequence, times = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(times, int) and _size(sequence) * max(times, 0) > MAX_OUTPUT_CHARS:
                raise _OverBoundError(
                    f"the template repeats something {times:,} times; the result would pass {MAX_OUTPUT_CHARS:,} characters"
                )
        return left * right

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's signature
        _budget.step()
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ARGUMENT:
                raise _OverBoundError(
                    f"a call in the template takes {value:,}; numbers past {MAX_ARGUMENT:,} are not allowed"
                )
        return super().call(__context, __obj, *args, **kwargs)


_env = _BoundedSandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
_env.globals["range"] = _bounded_range
_env.globals.pop("lipsum", None)
for _name in _UNBOUNDED_FILTERS:
    _env.filters.pop(_name, None)


def render_template(body: str, context: dict) -> str:
    """Render a template with ``context``, within its bounds; whitespace runs are collapsed.

    Raises
    ------
    TemplateError
        With the line number for a syntax error, the name of an undefined variable, a note that
        the template tried to reach something it may not, or the bound it went past (size,
        steps, time).
    """
    try:
        template = _env.from_string(body)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"line {exc.lineno}: {exc.message}") from None
    except (RecursionError, MemoryError):
        raise TemplateError("the template is nested too deeply to read") from None
    try:
        text = _render_within_bounds(template, context)
    except _OverBoundError as exc:
        raise TemplateError(str(exc)) from None
    except _OutOfTimeError:
        raise TemplateError(
            f"the template took longer than {TIME_LIMIT_SECONDS:g} s to render and was stopped"
        ) from None
    except SecurityError as exc:
        raise TemplateError(f"not allowed in a template: {exc}") from None
    except jinja2.UndefinedError as exc:
        known = ", ".join(sorted(context))
        raise TemplateError(f"{exc.message}; the variables are: {known}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"the template failed: {exc}") from None
    except RecursionError:
        raise TemplateError("the template calls itself without end (a recursive macro)") from None
    except MemoryError:
        raise TemplateError("the template needs too much memory") from None
    except Exception as exc:  # any other failure inside the template is the template's
        raise TemplateError(f"the template failed: {type(exc).__name__}: {exc}") from None
    text = " ".join(text.split())
    if len(text) > MAX_OUTPUT_CHARS:
        raise TemplateError(f"the template wrote {len(text):,} characters; at most {MAX_OUTPUT_CHARS:,} are allowed")
    return text


def _render_within_bounds(template: jinja2.Template, context: dict) -> str:
    """Render piece by piece, counting steps and output, stopped by :class:`_Deadline` when time is up."""
    _budget.steps = 0
    pieces: list[str] = []
    written = 0
    with _Deadline(TIME_LIMIT_SECONDS):
        for piece in template.generate(**context):
            _budget.step()
            written += len(piece)
            if written > _MAX_RAW_OUTPUT:
                raise _OverBoundError(f"the template writes more than {MAX_OUTPUT_CHARS:,} characters")
            pieces.append(piece)
    return "".join(pieces)


class _Deadline:
    """Raise :class:`_OutOfTimeError` in this thread when ``seconds`` have passed (between two Python steps).

    Templates compile to Python code, so the exception lands in the render loop wherever it is;
    the operations that could run long inside one C call (``*``, ``**``, wide calls) are bounded
    above, so there is always a next step for it to land on.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.thread_id = threading.get_ident()
        self.lock = threading.Lock()
        self.done = False
        self.fired = False
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True
        self.started = 0.0

    def _fire(self) -> None:
        with self.lock:
            if not self.done:
                self.fired = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self.thread_id), ctypes.py_object(_OutOfTimeError)
                )

    def __enter__(self) -> _Deadline:
        self.started = time.monotonic()
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.done = True
        self.timer.cancel()
        if self.fired:
            # The exception may still be pending (set just as the render ended): clear it, raise it here.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.thread_id), None)
            if exc[0] is None or exc[0] is not _OutOfTimeError:
                raise _OutOfTimeError


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
