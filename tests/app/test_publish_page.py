"""The Publish page and the login gate through Streamlit's AppTest, against the fake X server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from core.auth import hash_password
from core.delivery import outbox as publish
from core.demo import open_workspace
from core.login import record_login
from tests.conftest import FAKE_X_KEYS

REPO = Path(__file__).resolve().parents[2]


def _open_publish(app: AppTest) -> AppTest:
    app.switch_page("pages/publish.py").run()
    assert not app.exception, app.exception
    return app


def _button(app: AppTest, label: str):
    return next(b for b in app.button if b.label == label)


def _walk(node) -> Iterator:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _rendered(app: AppTest) -> str:
    """Every element the page sent to the browser, as text (labels, values, markdown, alerts)."""
    return "\n".join(str(getattr(n, "proto", "")) for root in (app.main, app.sidebar) for n in _walk(root))


def _texts(app: AppTest) -> str:
    return " ".join(
        str(e.value) for kind in (app.success, app.info, app.warning, app.error, app.markdown) for e in kind
    )


@pytest.fixture
def dry_app(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    for name in (*FAKE_X_KEYS, "REACH_X_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    return _open_publish(app)


@pytest.fixture
def x_app(x_env, workspace_home: Path) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    return _open_publish(at)


def test_dry_run_without_keys_says_so_and_publishes(dry_app: AppTest) -> None:
    assert any("Dry run" in i.value and "nothing is sent" in i.value for i in dry_app.info)
    dry_app.text_area(key="compose_text_0").input("Five-minute chia pudding for busy mornings")
    dry_app.text_input(key="compose_segment_0").input("young women")
    _button(dry_app, "Approve").click().run()
    assert any("Post 1 approved and due now" in s.value for s in dry_app.success)
    _button(dry_app, "Publish now…").click().run()
    assert any("nothing is sent" in m.value for m in dry_app.markdown)  # the dialog says it is a dry run
    _button(dry_app, "Publish").click().run()
    assert not dry_app.exception, dry_app.exception
    assert any("Post 1 recorded on the dry run (nothing was sent)" in s.value for s in dry_app.success)
    assert any("dry run · not sent" in m.value and "young women" in m.value for m in dry_app.markdown)


def test_a_draft_moves_to_another_channel(dry_app: AppTest, workspace_home: Path) -> None:
    dry_app.text_area(key="compose_text_0").input("Oat bars are back in stock")
    _button(dry_app, "Save draft").click().run()
    post = publish.get_post(open_workspace(workspace_home), 1)
    assert post.channel == "dry-run"
    dry_app.selectbox(key=f"edit_channel_1_{post.updated_at}").select("x").run()
    assert "approve_1" not in [b.key for b in dry_app.button]  # an unsaved change: save before approving
    _button(dry_app, "Save changes").click().run()
    assert not dry_app.exception, dry_app.exception
    assert any("Post 1 saved as a draft" in s.value for s in dry_app.success)
    assert publish.get_post(open_workspace(workspace_home), 1).channel == "x"


def test_over_length_is_refused_on_approve(dry_app: AppTest, workspace_home: Path) -> None:
    dry_app.text_area(key="compose_text_0").input("Too long " * 40)
    dry_app.run()
    assert any("360 / 280" in c.value for c in dry_app.caption)
    _button(dry_app, "Approve").click().run()
    assert any("Not approved" in e.value and "over the limit of 280 by 80" in e.value for e in dry_app.error)
    assert publish.list_posts(open_workspace(workspace_home)) == []


def test_one_click_publishes_once_to_x_with_link(x_app: AppTest, x_env, workspace_home: Path) -> None:
    ws = open_workspace(workspace_home)
    post = publish.add_post(ws, "Golden milk: turmeric, ginger, oat milk", approve=True)
    _open_publish(x_app)
    _button(x_app, "Publish now…").click().run()
    confirm = _button(x_app, "Publish")
    confirm.click().run()
    assert not x_app.exception, x_app.exception
    [tweet] = x_env.tweets
    url = f"https://x.com/reach_test/status/{tweet.id}"
    assert any(f"Post {post.id} is live" in s.value and url in s.value for s in x_app.success)
    assert any(url in m.value for m in x_app.markdown)  # history, with the link
    # nothing left to click for this post; a late second request is refused by the outbox itself
    x_app.run()
    assert [b.label for b in x_app.button if b.label in ("Publish now…", "Publish")] == []
    assert "already published" in publish.publish_now(ws, post.id).message
    assert len(x_env.tweets) == 1
    assert "connected as **@reach_test**" in _texts(x_app)


def test_rate_limit_shows_when_posting_resumes(x_app: AppTest, x_env, workspace_home: Path) -> None:
    ws = open_workspace(workspace_home)
    publish.add_post(ws, "Sleep, then protein: the order matters", approve=True)
    x_env.fail_next(429, reset_in=3600)
    _open_publish(x_app)
    _button(x_app, "Publish due now (1)").click().run()
    assert not x_app.exception, x_app.exception
    assert any("deferred 1" in w.value and "X rate limit: posting resumes at" in w.value for w in x_app.warning)
    assert not x_env.tweets
    assert publish.list_posts(ws)[0].state == "scheduled"


def test_failed_post_shows_reason_and_retries(x_app: AppTest, x_env, workspace_home: Path) -> None:
    ws = open_workspace(workspace_home)
    publish.add_post(ws, "Probiotics vs prebiotics", approve=True)
    x_env.fail_next(401)
    publish.publish_due(ws)
    _open_publish(x_app)
    assert any("Failed:" in e.value and "Reconnect your X keys" in e.value for e in x_app.error)
    _button(x_app, "Retry").click().run()
    _button(x_app, "Publish now…").click().run()
    _button(x_app, "Publish").click().run()
    assert x_env.texts() == ["Probiotics vs prebiotics"]


def test_no_secret_is_rendered_or_logged(
    x_app: AppTest, x_env, workspace_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ws = open_workspace(workspace_home)
    publish.add_post(ws, "Refused once", approve=True)
    x_env.fail_next(401)
    publish.publish_due(ws)
    publish.add_post(ws, "Accepted", approve=True)
    _open_publish(x_app)
    _button(x_app, "Check connection").click().run()
    pages = [_rendered(x_app)]
    _button(x_app, "Publish due now (1)").click().run()
    pages.append(_rendered(x_app))
    x_app.switch_page("pages/home.py").run()
    pages.append(_rendered(x_app))
    assert "Reconnect your X keys" in pages[0] and "@reach_test" in pages[1]  # the scan sees real content
    for value in FAKE_X_KEYS.values():
        assert all(value not in page for page in pages)
        assert value not in caplog.text


# -- login gate ------------------------------------------------------------------------------------
@pytest.fixture
def gated_app(workspace_home: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("REACH_PASSWORD_HASH", hash_password("correct horse"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_login_gate_refuses_a_wrong_password(gated_app: AppTest) -> None:
    assert [t.value for t in gated_app.title] == ["Reach"]
    gated_app.text_input[0].input("wrong horse")
    _button(gated_app, "Sign in").click().run()
    assert [e.value for e in gated_app.error] == ["That password is not right."]
    assert [t.value for t in gated_app.title] == ["Reach"] and not gated_app.sidebar.selectbox
    gated_app.text_input[0].input("correct horse")
    _button(gated_app, "Sign in").click().run()
    gated_app.switch_page("pages/publish.py").run()
    assert not gated_app.exception, gated_app.exception
    assert [t.value for t in gated_app.title] == ["Publish"]


def test_pages_stay_hidden_before_login(gated_app: AppTest) -> None:
    for page in ("pages/publish.py", "pages/data.py", "pages/home.py"):
        gated_app.switch_page(page).run()
        assert not gated_app.exception, gated_app.exception
        assert [t.value for t in gated_app.title] == ["Reach"]
        assert [b.label for b in gated_app.button] == ["Sign in"]
        assert not gated_app.dataframe and not gated_app.sidebar.selectbox


@pytest.fixture
def exposed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    yield
    config.set_option("server.address", before)


def test_exposed_without_login_serves_only_the_explanation(
    exposed: None, workspace_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REACH_PASSWORD_HASH", raising=False)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    assert [t.value for t in at.title] == ["Reach needs a login first"]
    at.switch_page("pages/publish.py").run()
    assert [t.value for t in at.title] == ["Reach needs a login first"]
    assert "python -m core hash-password" in " ".join(m.value for m in at.markdown)
    monkeypatch.setenv("REACH_PASSWORD_HASH", hash_password("pw"))
    at.run()
    # with a login configured, only a server started through serve.py (uploads gated) may serve
    assert [t.value for t in at.title] == ["Start Reach with serve.py"]


def test_password_guessing_meets_a_growing_wait_that_a_new_session_keeps(
    gated_app: AppTest, workspace_home: Path
) -> None:
    errors = []
    for _ in range(3):
        gated_app.text_input[0].input("wrong horse")
        _button(gated_app, "Sign in").click().run()
        errors.append([e.value for e in gated_app.error])
    assert errors[:2] == [["That password is not right."]] * 2
    assert errors[2][0].startswith("That password is not right. Too many attempts from this address; wait ")

    # The third failure earns 2 s, which a slow test run could outlast: four more failures from the
    # same address (as if guessed by a script) make the wait 32 s, so the next tries meet it.
    ws = open_workspace(workspace_home)
    client = next(e["client"] for e in ws.audit_entries() if e["action"] == "login.failed")
    for _ in range(4):
        record_login(ws, client, ok=False)
    # while the wait runs, even the right password is not checked
    gated_app.text_input[0].input("correct horse")
    _button(gated_app, "Sign in").click().run()
    assert gated_app.error[0].value.startswith("Too many attempts from this address; wait ")

    fresh = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)  # a new browser session
    fresh.run()
    fresh.text_input[0].input("correct horse")
    _button(fresh, "Sign in").click().run()
    assert next(e.value for e in fresh.error).startswith("Too many attempts from this address; wait ")
    assert [t.value for t in fresh.title] == ["Reach"]
    failures = [e for e in ws.audit_entries() if e["action"] == "login.failed"]
    assert len(failures) == 7  # the three typed, the four added; the tries during the wait were not checked


def test_each_channel_shows_its_own_daily_cap_and_the_operator_changes_one(
    workspace_home: Path, mastodon_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (*FAKE_X_KEYS, "REACH_X_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    ws = open_workspace(workspace_home)
    for text in ("Kefir smoothie after the gym", "Miso soup on a cold evening"):
        publish.add_post(ws, text, channel="mastodon", approve=True)
    publish.add_post(ws, "Overnight oats with chia", channel="dry-run", approve=True)
    assert len(publish.publish_due(ws).published) == 3
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at = _open_publish(at)
    meters = [p.proto.text for p in at.get("progress")]
    assert "Your daily cap (Mastodon): 2 of 300 posts in the last 24 h" in meters
    assert "Your daily cap (Dry run): 1 of 10,000 posts in the last 24 h" in meters
    assert not any("(X)" in m for m in meters)  # X is neither connected nor used

    at.number_input(key="publish_cap_mastodon").set_value(2)
    _button(at, "Save settings").click().run()
    assert not at.exception, at.exception
    meters = [p.proto.text for p in at.get("progress")]
    assert "Your daily cap (Mastodon): 2 of 2 posts in the last 24 h" in meters
    assert "Your daily cap (Dry run): 1 of 10,000 posts in the last 24 h" in meters
    assert any(c.value.startswith("Budget used up.") for c in at.caption)
    assert publish.daily_caps(ws)["mastodon"] == 2
