"""The Segments and Interests pages under AppTest, on the demo workspace."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.audience.profiles import segment_profiles
from core.demo import open_workspace
from ui.audience_views import colour


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _plotly_titles(at: AppTest) -> list[str]:
    titles = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        titles.append(spec["layout"].get("title", {}).get("text", ""))
    return titles


def test_segments_page_shows_five_named_groups_with_hours(app: AppTest) -> None:
    at = app.switch_page("pages/segments.py").run()
    assert not at.exception, at.exception
    assert at.metric[0].label == "Segments" and at.metric[0].value == "5"
    text = _markdown(at)
    for name in (
        "Women 18–29 · skincare & beauty",
        "Men 18–29 · protein",
        "Women 30–54 · ",
        "Men 30–54 · heart health",
        "55+ · joint health",
    ):
        assert name in text, name
    assert text.count("Best posting hours:") == 5
    titles = _plotly_titles(at)
    assert any(t.startswith("Segment map (all 6,000 users") for t in titles)
    assert "How many segments? Silhouette and elbow" in titles
    # only the open tab's profile is charted (switching tabs reruns the page)
    assert titles.count("When they are active (weekday × hour)") == 1
    assert at.get("download_button")


def test_the_map_draws_every_segment_in_its_colour_and_numbers_its_centre(app: AppTest) -> None:
    at = app.switch_page("pages/segments.py").run()
    spec = next(
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith("Segment map")
    )
    (picture,) = spec["layout"]["images"]
    assert picture["source"].startswith("data:image/png;base64,")
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(picture["source"].split(",", 1)[1]))).convert("RGBA"))
    opaque = pixels[pixels[..., 3] > 0]
    assert 0.02 < len(opaque) / (pixels.shape[0] * pixels.shape[1]) < 0.6  # dots, not an empty or filled box
    for segment in range(5):  # each segment's dots are in its colour on the sizes chart
        rgb = np.array([int(colour(segment)[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(opaque[:, :3].astype(int) - rgb).max(axis=1) <= 2).sum() > 200, colour(segment)
    numbers = {a["text"]: a["hovertext"] for a in spec["layout"]["annotations"]}
    assert set(numbers) == {f"<b>{s}</b>" for s in range(5)}
    assert numbers["<b>0</b>"].startswith("0 · Women 18–29 · ")


def test_the_open_profile_tab_is_charted_and_stays_open_after_its_rename(app: AppTest) -> None:
    at = app.switch_page("pages/segments.py").run()
    third = at.tabs[2].label
    assert third.startswith("2 · ")
    at.session_state["segment_tab_5"] = third  # as a click on the third tab does
    at.run()
    assert _plotly_titles(at).count("Topics vs. everyone (lift)") == 1
    topics = next(c for c in at.get("plotly_chart") if "Topics vs." in c.proto.spec)
    assert json.loads(topics.proto.spec)["data"][0]["marker"]["color"] == colour(2)  # the third segment's
    assert at.session_state["segment_tab_5"] == third
    # only the open tab has its name form: the third segment's
    (save,) = [b for b in at.button if b.label == "Save"]
    assert at.text_input[0].value == third.split(" · ", 1)[1]
    at.text_input[0].set_value("Gym people")
    save.click().run()
    assert not at.exception, at.exception
    assert at.tabs[2].label == "2 · Gym people" and at.session_state["segment_tab_5"] == "2 · Gym people"


def test_rename_is_kept(app: AppTest, workspace_home) -> None:
    at = app.switch_page("pages/segments.py").run()
    at.text_input[0].set_value("Glow-up crowd")
    assert at.text_input[1].value.startswith("people into ")  # the generated public phrase
    at.text_input[1].set_value("skin-care fans")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception, at.exception
    assert "0 · Glow-up crowd" in _markdown(at)
    # the internal name is for the operator; posts call the segment by its public phrase
    ws = open_workspace(workspace_home, with_demo=False)
    assert segment_profiles(ws)[0].audience == "skin-care fans"
    assert open_workspace(workspace_home, with_demo=False).get_setting("demo_installed")
    fresh = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=120)
    fresh.run()
    fresh.switch_page("pages/segments.py").run()
    assert "0 · Glow-up crowd" in _markdown(fresh)


def test_fixed_k_changes_the_segments(app: AppTest) -> None:
    at = app.switch_page("pages/segments.py").run()
    at.get("button_group")[0].set_value("Fixed").run()
    at.slider(key="segments_k").set_value(3).run()
    assert not at.exception, at.exception
    assert at.metric[0].value == "3"
    assert _markdown(at).count("Best posting hours:") == 3


def test_interests_page_shows_rules_and_angles(app: AppTest) -> None:
    at = app.switch_page("pages/interests.py").run()
    assert not at.exception, at.exception
    assert at.metric[0].value == "6,000"
    angles = [m.value for m in at.markdown if m.value.startswith("- People into ")]
    assert len(angles) >= 5
    assert all("× more than average" in a and "#" in a for a in angles)
    titles = _plotly_titles(at)
    assert "Rules: support × confidence, coloured by lift" in titles
    assert any(t.startswith("Interest network") for t in titles)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) > 10


def test_interests_per_segment(app: AppTest) -> None:
    at = app.switch_page("pages/interests.py").run()
    at.selectbox(key="rules_segment").set_value(2).run()
    assert not at.exception, at.exception
    assert int(at.metric[0].value.replace(",", "")) < 6000
    assert any("Inside 2 · " in c.value for c in at.caption)
    at.slider(key="rules_support").set_value(0.2).run()
    at.slider(key="rules_lift").set_value(5.0).run()
    assert not at.exception, at.exception
    assert at.info and "No rule passes these filters" in at.info[0].value
