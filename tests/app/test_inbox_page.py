"""The Inbox page through Streamlit's AppTest, on the demo workspace (its demo mentions, the dry run)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.delivery import outbox as publish
from core.demo import open_workspace
from tests.conftest import FAKE_X_KEYS


@pytest.fixture
def inbox_app(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    for name in (*FAKE_X_KEYS, "REACH_X_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    app.switch_page("pages/inbox.py").run()
    assert not app.exception, app.exception
    return app


def _markdown(app: AppTest) -> str:
    return "\n".join(m.value for m in app.markdown)


def _notices(app: AppTest) -> str:
    return " ".join(str(e.value) for kind in (app.success, app.info, app.warning, app.error) for e in kind)


def test_demo_mentions_are_shown_with_intent_badges(inbox_app: AppTest) -> None:
    shown = _markdown(inbox_app)
    assert "**@demo_lily**" in shown and "> @meadowpantry 请问胶原蛋白粉孕妇可以吃吗？" in shown
    for badge in (
        ":blue-badge[question",
        ":red-badge[complaint",
        ":green-badge[praise",
        ":orange-badge[purchase intent",
    ):
        assert badge in shown
    assert shown.count(":gray-badge[demo]") >= 5
    captions = " ".join(c.value for c in inbox_app.caption)
    assert "replies to them go to the dry run" in captions
    assert "Dry run" in _notices(inbox_app)
    # the question's reply box holds the suggested answer from the FAQ, with its length
    assert inbox_app.text_area(key="inbox_text_demo-1_question_0").value.startswith(
        "@demo_lily Thanks for asking! Orders ship"
    )


def test_reply_button_sends_once_and_the_mention_moves_to_handled(inbox_app: AppTest, workspace_home) -> None:
    inbox_app.text_area(key="inbox_text_demo-3_praise_0").input(
        "@demo_sophie So happy the tea helps, sleep well!"
    ).run()
    inbox_app.button(key="inbox_send_demo-3").click().run()
    assert not inbox_app.exception, inbox_app.exception
    [post] = publish.list_posts(open_workspace(workspace_home))
    assert (post.text, post.in_reply_to, post.state) == (
        "@demo_sophie So happy the tea helps, sleep well!",
        "demo-3",
        "published",
    )
    assert f"Reply to demo-3: post {post.id} recorded on the dry run (nothing was sent)" in _notices(inbox_app)
    # answered: it left the "waiting" list, and nothing on the page can send it again
    assert "inbox_send_demo-3" not in [b.key for b in inbox_app.button]
    assert "**@demo_sophie**" not in _markdown(inbox_app)
    inbox_app.segmented_control(key="inbox_show").set_value("handled").run()
    assert "**@demo_sophie**" in _markdown(inbox_app)
    assert f"Replied (post {post.id}) · dry run, nothing was sent" in _notices(inbox_app)
    assert "inbox_send_demo-3" not in [b.key for b in inbox_app.button]


def test_mark_handled_and_back_with_the_filter(inbox_app: AppTest) -> None:
    inbox_app.button(key="inbox_handled_demo-7").click().run()
    assert "marked handled" in _notices(inbox_app)
    assert "**@demo_anna**" not in _markdown(inbox_app)
    inbox_app.segmented_control(key="inbox_show").set_value("handled").run()
    assert "**@demo_anna**" in _markdown(inbox_app) and "**@demo_lily**" not in _markdown(inbox_app)
    inbox_app.button(key="inbox_handled_demo-7").click().run()
    assert "is waiting again" in _notices(inbox_app)
    inbox_app.segmented_control(key="inbox_show").set_value("all").run()
    inbox_app.pills(key="inbox_intents").set_value(["complaint"]).run()
    shown = _markdown(inbox_app)
    assert "**@demo_mark**" in shown and "**@demo_laowang**" in shown and "**@demo_anna**" not in shown


def test_an_over_long_reply_cannot_be_sent(inbox_app: AppTest) -> None:
    inbox_app.text_area(key="inbox_text_demo-1_question_0").input("@demo_lily " + "慢" * 140).run()
    assert any("too long for X (291 of 280)" in c.value for c in inbox_app.caption)
    assert inbox_app.button(key="inbox_send_demo-1").disabled


def test_a_wrong_intent_is_corrected_and_the_suggestion_follows(inbox_app: AppTest) -> None:
    inbox_app.selectbox(key="inbox_intent_demo-7_other").set_value("complaint").run()
    assert "Intent set to complaint" in _notices(inbox_app)
    assert ":red-badge[complaint · 100%]" in _markdown(inbox_app)
    assert inbox_app.text_area(key="inbox_text_demo-7_complaint_0").value.startswith("@demo_anna We're really sorry")
