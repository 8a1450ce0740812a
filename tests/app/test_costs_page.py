"""X out of credits and X's costs on the pages: one top-up message, a try-now button, the month's spend."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.audience.segments import run_segments, save_run
from core.delivery import outbox as publish
from core.delivery import targeting
from core.delivery.outbox import CostSettings
from core.demo import open_workspace
from tests.conftest import FAKE_X_KEYS

REPO = Path(__file__).resolve().parents[2]
TEXTS = ("Miso soup, five minutes", "Three ways with oats", "Lentil salad for the office")


def _errors(app: AppTest) -> list[str]:
    return [e.value for e in app.error]


def test_out_of_credits_shows_one_top_up_message_then_try_now_publishes(x_env, workspace_home: Path) -> None:
    ws = open_workspace(workspace_home)
    ids = [publish.add_post(ws, text, approve=True).id for text in TEXTS]
    x_env.out_of_credits = True
    assert publish.publish_due(ws).failed == []

    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    app.run()  # Home
    assert not app.exception, app.exception
    assert len([e for e in _errors(app) if "top up your X API credits" in e]) == 1
    app.switch_page("pages/publish.py").run()
    assert not app.exception, app.exception
    banners = [e for e in _errors(app) if "out of credits" in e]
    assert len(banners) == 1 and "X Developer Console" in banners[0] and "nothing is lost" in banners[0]
    meter = [p.proto.text for p in app.get("progress")]
    assert any("Your daily cap (X)" in m for m in meter) and not any("free tier" in m for m in meter)
    assert {publish.get_post(ws, i).state for i in ids} == {"approved"}

    x_env.out_of_credits = False  # the operator topped up
    next(b for b in app.button if b.label == "Topped up? Try now").click().run()
    assert not app.exception, app.exception
    assert any("X has credits again: 3 post(s) published" in s.value for s in app.success)
    assert not [e for e in _errors(app) if "out of credits" in e]
    assert x_env.texts() == list(TEXTS)
    captions = " ".join(c.value for c in app.caption)
    assert "3 posts and 1 read by Reach ≈ $0.06" in captions  # 3 × $0.015 + the account's user read
    assert not any(value in captions for value in FAKE_X_KEYS.values())

    app.switch_page("pages/results.py").run()
    assert not app.exception, app.exception
    assert "≈ $0.06" in " ".join(c.value for c in app.caption)


def test_cost_settings_are_saved_from_the_publish_page(x_env, workspace_home: Path) -> None:
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    app.run()
    app.switch_page("pages/publish.py").run()
    form_inputs = [n for n in app.number_input if n.label.startswith("Read metrics at most every")]
    form_inputs[0].set_value(48.0)
    next(b for b in app.button if b.label == "Save cost settings").click().run()
    assert not app.exception, app.exception
    assert CostSettings.load(open_workspace(workspace_home)).metrics_every_hours == 48.0


def test_targeting_shows_the_weeks_x_cost_before_queueing(x_env, workspace_home: Path) -> None:
    ws = open_workspace(workspace_home, with_demo=False)
    save_run(ws, run_segments(ws, k=5))
    aud = targeting.audience(ws)
    proposed = targeting.propose_rules(aud, targeting.template_names(ws), channel="x")
    targeting.save_rules(ws, proposed, aud)
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    app.run()
    app.switch_page("pages/targeting.py").run()
    assert not app.exception, app.exception
    [estimate] = [i.value for i in app.info if "on X this week" in i.value]
    # five rules on X, one template post each this week (the arithmetic: tests/core/delivery/test_costs.py)
    assert re.match(r"≈ \$\d+\.\d\d on X this week: 5 posts \(\$\d+\.\d\d\), \d+ metric reads", estimate)
    assert not publish.list_posts(ws)  # shown before anything is queued
