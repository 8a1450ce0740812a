"""The Targeting page under AppTest, on the demo workspace with its five segments stored."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.audience.segments import run_segments, save_run
from core.delivery import outbox as publish
from core.delivery import targeting
from core.demo import open_workspace, seed_demo_history

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def page(workspace_home: Path) -> AppTest:
    """The app opened on Targeting, after the audience step stored its segmentation (k=5)."""
    ws = open_workspace(workspace_home, with_demo=False)
    save_run(ws, run_segments(ws, k=5))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/targeting.py").run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def _editor_key(at: AppTest) -> str:
    return f"targeting_rules_{at.session_state['targeting_editor_round']}"


def _texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in (at.success, at.info, at.warning, at.error, at.markdown) for e in kind)


def test_the_page_proposes_one_rule_per_segment_and_previews_every_post(page: AppTest, workspace_home: Path) -> None:
    editor = page.data_editor(key=_editor_key(page))
    rows = editor.value
    assert list(rows["Segment"]) == [
        "0 · Women 18–29 · skincare & beauty, collagen",
        "1 · Women 30–54 · family meals, organic cooking",
        "2 · Men 18–29 · protein, fitness",
        "3 · Men 30–54 · heart health, low sugar",
        "4 · 55+ · joint health, gardening",
    ]
    assert list(rows["Posts at"]) == [
        "20:00 (best hour)",
        "12:00 (best hour)",
        "22:00 (best hour)",
        "06:00 (best hour)",
        "09:00 (best hour)",
    ]
    assert rows["Template"].iloc[0] == "New product" and rows["Template"].iloc[2] == "Tip"
    assert list(rows["Hour"]) == ["best hour"] * 5  # said in words, not an empty cell
    assert "Reach proposes one per segment" in _texts(page)
    assert _button(page, "Accept and save the proposals")
    assert page.metric[0].value == "5 of 5" and page.metric[1].value == "5 of 5"
    assert [t.label for t in page.tabs] == [
        "✓ 0 · Women 18–29",
        "✓ 1 · Women 30–54",
        "✓ 2 · Men 18–29",
        "✓ 3 · Men 30–54",
        "✓ 4 · 55+",
    ]
    assert any("New at the shop: our marine collagen" in t.value for t in page.text)
    assert page.metric[3].value == "199 / 280"  # the first preview's weighted length
    chart = json.loads(page.get("plotly_chart")[0].proto.spec)
    assert chart["layout"]["title"]["text"] == "Coverage of the coming week (UTC)"
    assert len(chart["data"][0]["x"]) == 5  # one scheduled post per segment
    queue = _button(page, "Queue the week")
    assert queue.disabled  # proposals are not queued before they are saved
    ws = open_workspace(workspace_home, with_demo=False)
    assert targeting.load_rules(ws, targeting.audience(ws)) == []  # proposals are shown, not saved


def test_bad_input_is_refused_per_row_and_kept_in_the_editor(page: AppTest, workspace_home: Path) -> None:
    key = _editor_key(page)
    edits = {
        "edited_rows": {1: {"Hour": 25}},
        "added_rows": [
            {"Segment": None, "Who (predicate)": "gender=male; age=70+", "Template": "Tip", "Channel": "dry-run"}
        ],
        "deleted_rows": [],
    }
    page.session_state[key] = edits
    _button(page, "Accept and save the proposals").click().run()
    assert not page.exception, page.exception
    message = page.error[0].value
    assert "Nothing was saved" in message
    assert "**Row 2** (1 · Women 30–54 · family meals, organic cooking): hour=25 must be between 0 and 23" in message
    assert "**Row 6** (gender=male; age=70+): 'gender=male; age=70+' matches nobody" in message
    assert page.session_state[key]["edited_rows"] == {1: {"Hour": 25}}  # the operator's edits are still there
    ws = open_workspace(workspace_home, with_demo=False)
    assert targeting.load_rules(ws, targeting.audience(ws)) == []


def test_saving_rules_then_queueing_puts_drafts_in_the_outbox_once(page: AppTest, workspace_home: Path) -> None:
    page.session_state[_editor_key(page)] = {
        "edited_rows": {3: {"Hour": "07:00"}, 4: {"Active": False}},
        "added_rows": [],
        "deleted_rows": [],
    }
    _button(page, "Accept and save the proposals").click().run()
    assert not page.exception, page.exception
    assert page.success[0].value == "Saved 5 rules."
    assert "No active rule reaches: 4 · 55+ · joint health, gardening" in page.warning[0].value
    assert page.metric[0].value == "4 of 5"
    ws = open_workspace(workspace_home, with_demo=False)
    saved = targeting.load_rules(ws, targeting.audience(ws))
    assert [(r.segment_id, r.hour, r.active) for r in saved] == [
        (0, None, True),
        (1, None, True),
        (2, None, True),
        (3, 7, True),
        (4, None, False),
    ]

    stale = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)  # a second tab, opened before queueing
    stale.run()
    stale.switch_page("pages/targeting.py").run()

    _button(page, "Queue the week (4 posts)").click().run()
    assert not page.exception, page.exception
    assert "4 posts added to the outbox as drafts — review and approve them on the Publish page." in _texts(page)
    posts = publish.list_posts(ws)
    assert len(posts) == 4 and {p.state for p in posts} == {publish.OutboxState.DRAFT}
    assert all(p.scheduled_at for p in posts)
    assert _button(page, "Queue the week (0 posts)").disabled

    # a click on a page that still shows the enabled button (double click, second tab): nothing more is added
    _button(stale, "Queue the week (4 posts)").click().run()
    assert not stale.exception, stale.exception
    assert "This week's plan is already in the outbox — nothing was added." in _texts(stale)
    assert len(publish.list_posts(ws)) == 4
    home = page.switch_page("pages/home.py").run()
    assert any("4 rules · 4 of 5 segments reached" in str(m.value) for m in home.markdown)


def test_the_preview_counts_each_post_by_its_rules_channel(workspace_home: Path) -> None:
    ws = open_workspace(workspace_home, with_demo=False)
    save_run(ws, run_segments(ws, k=5))
    aud = targeting.audience(ws)
    proposed = targeting.propose_rules(aud, targeting.template_names(ws))
    channels = {0: "bluesky", 1: "mastodon+bluesky"}
    targeting.save_rules(ws, [replace(r, channel=channels.get(r.segment_id, r.channel)) for r in proposed], aud)
    plan = targeting.weekly_plan(ws, aud=aud)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/targeting.py").run()
    assert not at.exception, at.exception
    lengths = [m for m in at.metric if m.label.startswith("Length")]
    first, second, third = plan.items[:3]
    assert (lengths[0].label, lengths[0].value) == (
        "Length",
        f"{publish.weighted_length(first.text, channel='bluesky')} / 300",
    )
    assert (lengths[1].label, lengths[1].value) == (
        "Length on Bluesky",  # the tighter of Mastodon's 500 and Bluesky's 300
        f"{publish.weighted_length(second.text, channel='bluesky')} / 300",
    )
    assert lengths[2].value == f"{publish.weighted_length(third.text, channel='x')} / 280"  # the dry run counts as X


def test_recommendations_follow_new_measured_posts(page: AppTest, workspace_home: Path) -> None:
    waiting = "Once published posts have metrics, the Results page recommends a template per segment and channel here."
    assert waiting in [c.value for c in page.caption]
    page.run()  # a rerun with nothing new reads the same answer
    assert waiting in [c.value for c in page.caption]
    seed_demo_history(open_workspace(workspace_home, with_demo=False))  # published posts with metrics
    page.run()
    assert not page.exception, page.exception
    assert waiting not in [c.value for c in page.caption]
