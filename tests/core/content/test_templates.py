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
