"""Templates: a sandbox that cannot reach Python, clear errors, starters for the demo brand."""

from __future__ import annotations

import pytest

from core.audience.profiles import SegmentProfile, find_segment, segment_profiles
from core.content.templates import (
    STARTER_TEMPLATES,
    TemplateError,
    delete_template,
    list_templates,
    load_brand,
    render_template,
    save_brand,
    save_template,
    template_context,
)

PROFILE = SegmentProfile(
    "3",
    "middle-aged women",
    ["healthy eating", "organic cooking"],
    ["People into healthy eating also follow organic cooking — 1.8× more than average (40% of them)."],
    ["#HealthyEating", "#OrganicCooking"],
    public_angles=["Love healthy eating? Organic cooking might be for you too."],
)


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ interests.append('x') }}",
    ],
)
def test_the_sandbox_refuses_python_internals(body: str) -> None:
    with pytest.raises(TemplateError) as err:
        render_template(body, template_context(PROFILE))
    assert "not allowed" in str(err.value) or "undefined" in str(err.value)


def test_mro_escape_is_refused_as_unsafe() -> None:
    with pytest.raises(TemplateError, match=r"not allowed in a template: access to attribute '__class__'"):
        render_template("{{ ''.__class__.__mro__ }}", {})


def test_undefined_variables_and_syntax_errors_are_reported_clearly() -> None:
    with pytest.raises(TemplateError, match=r"'discount' is undefined; the variables are: angle, angles"):
        render_template("Get {{ discount }} now", template_context(PROFILE))
    with pytest.raises(TemplateError, match=r"^line 2: "):
        render_template("Hello\n{{ segment ", template_context(PROFILE))


def test_a_template_fills_every_variable() -> None:
    ctx = template_context(PROFILE, product="our organic oats", offer="2 for 1", link="https://shop.example/oats")
    text = render_template(
        "{{ segment|capitalize }} love {{ top_interest }}: {{ product }}, {{ offer }} "
        "{{ link }} {{ hashtags|join(' ') }} {{ angle }}",
        ctx,
    )
    # customer-facing words only: the audience phrase, not the internal name; the angle without figures
    assert text == (
        "People into healthy eating and organic cooking love healthy eating: our organic oats, 2 for 1 "
        "https://shop.example/oats #HealthyEating #OrganicCooking "
        "Love healthy eating? Organic cooking might be for you too."
    )


def test_no_starter_puts_internal_names_or_figures_into_public_copy(workspace) -> None:
    from core.content.checks import check_draft

    brand = {"product": "our collagen", "offer": "15% off", "link": "https://shop.example/c"}
    internal = SegmentProfile("7", "55+ · joint health, gardening", ["joint health", "gardening"], PROFILE.angles)
    for template in STARTER_TEMPLATES:
        text = render_template(template.body, template_context(internal, **brand))
        assert "55+" not in text and "×" not in text and "% of them" not in text, (template.name, text)
        assert check_draft(text, internal_names=[internal.name]).passes, (template.name, text)


def test_every_starter_renders_for_every_demo_group_and_fits_in_a_post(workspace) -> None:
    from core.content.checks import weighted_length

    brand = load_brand(workspace)
    for profile in segment_profiles(workspace):
        for template in STARTER_TEMPLATES:
            text = render_template(template.body, template_context(profile, **brand))
            assert "{{" not in text and weighted_length(text) <= 280, (template.name, text)


def test_saved_templates_override_and_delete(workspace) -> None:
    save_template(workspace, "Tip", "A tip for {{ segment }}: drink water.")
    save_template(workspace, "Mine", "Hi {{ segment }}!")
    by_name = {t.name: t for t in list_templates(workspace)}
    assert by_name["Tip"].body == "A tip for {{ segment }}: drink water." and not by_name["Tip"].builtin
    assert [t.name for t in list_templates(workspace)][-1] == "Mine"
    delete_template(workspace, "Tip")
    assert {t.name: t for t in list_templates(workspace)}["Tip"] == STARTER_TEMPLATES[2]
    with pytest.raises(TemplateError, match="undefined"):
        save_template(workspace, "Broken", "{{ nope }}")


def test_brand_link_must_be_a_web_address(workspace) -> None:
    save_brand(workspace, product="oats", offer="", link="https://shop.example")
    assert load_brand(workspace) == {"product": "oats", "offer": "", "link": "https://shop.example"}
    with pytest.raises(TemplateError, match="must start with http"):
        save_brand(workspace, product="oats", offer="", link="javascript:alert(1)")


def test_without_a_segmentation_the_demo_groups_are_the_segments(workspace) -> None:
    profiles = segment_profiles(workspace)
    assert [p.name for p in profiles] == ["young women", "young men", "middle-aged women", "middle-aged men", "seniors"]
    assert profiles[4].interests == ["joint health", "herbal tea", "gardening", "gut health"]
    assert find_segment(profiles, "2").name == "young men"
    assert find_segment(profiles, "SENIORS").id == "5"
    assert find_segment(profiles, "nobody") is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}", "numbers past 10,000"),
        ("{% for i in range(999) %}{% for j in range(999) %}{% endfor %}{% endfor %}", "more than 100,000 steps"),
        ("{{ 'a' * 10**9 }}", "repeats something 1,000,000,000 times"),
        ("{{ interests * 100000000 }}", "repeats something 100,000,000 times"),
        ("{{ 9**999999 }}", "too big a number"),
        ("{{ (10**60) * (10**60) * (10**60) * (10**60) * (10**60) }}", "numbers too big"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "calls itself without end"),
        ("{{ 'x'.center(10**9) }}", "numbers past 10,000"),
        ("{{ '{:>999999999}'.format(1) }}", "not allowed in a template"),
        (
            "{% set ns = namespace(s='ab') %}{% for c in 'a' * 50 %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "longer than",
        ),
        ("{{ 'a' | replace('a', 'a' * 5000) | replace('a', 'a' * 5000) }}", "writes more than 5,000 characters"),
        (
            "{% for c in 'a' * 2000 %}{% for d in 'a' * 2000 %}{% for e in 'a' * 2000 %}{% endfor %}{% endfor %}{% endfor %}",
            "was stopped",
        ),
    ],
)
def test_a_runaway_template_is_stopped_with_one_clear_error(body: str, expected: str) -> None:
    with pytest.raises(TemplateError) as err:
        render_template(body, template_context(PROFILE))
    assert expected in str(err.value)


def test_bounded_templates_still_do_ordinary_arithmetic_and_loops() -> None:
    body = "{{ 2 * 3 }} {{ 2 ** 10 }} {{ 'ab' * 3 }} {% for i in range(3) %}{{ i }}{% endfor %} {{ interests | join(', ') }}"
    assert render_template(body, template_context(PROFILE)) == "6 1024 ababab 012 healthy eating, organic cooking"


def test_saving_a_recursive_template_is_refused_with_the_template_error(workspace) -> None:
    with pytest.raises(TemplateError, match="calls itself without end"):
        save_template(workspace, "loop", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")
    assert [t.name for t in list_templates(workspace)] == [t.name for t in STARTER_TEMPLATES]
