"""Suggested replies: the right intent and language, the closest FAQ answer, shortened to fit and checked."""

from __future__ import annotations

import pytest

from core.content.checks import weighted_length
from core.delivery import outbox as publish
from core.delivery.channels import registry
from core.delivery.channels.base import Mention
from core.feedback import inbox
from core.feedback.inbox import FaqEntry, InboxValidationError
from core.workspace import Workspace
from tests.core.feedback.inbox.conftest import COMPLAINT, PRAISE, QUESTION


def test_question_complaint_and_praise_get_their_intent_and_a_sensible_reply(workspace: Workspace, x_env) -> None:
    x_env.add_mention(f"@reach_test {QUESTION}", author_id="7", username="ana")
    x_env.add_mention(f"@reach_test {COMPLAINT}", author_id="8", username="ben")
    x_env.add_mention(f"@reach_test {PRAISE}", author_id="9", username="cai")
    inbox.refresh_mentions(workspace)
    stored = {m.author_username: m for m in inbox.list_mentions(workspace)}
    question, complaint, praise = stored["ana"], stored["ben"], stored["cai"]
    assert (question.intent, complaint.intent, praise.intent) == ("question", "complaint", "praise")
    # the question is answered from the FAQ entry about delivery times
    assert question.suggested_reply.startswith("@ana ")
    assert "delivery takes 1–3 days" in question.suggested_reply
    # the complaint is apologised for and answered with the refund policy
    assert complaint.suggested_reply.startswith("@ben We're really sorry")
    assert "refunded" in complaint.suggested_reply
    assert praise.suggested_reply == "@cai Thank you so much! Messages like yours make our day 💚"
    assert all(0.2 < m.confidence <= 1 for m in stored.values())


def test_a_chinese_mention_gets_a_chinese_reply(workspace: Workspace, x_env) -> None:
    x_env.add_mention("@reach_test 请问你们门店周日开门吗？几点关门？", author_id="5", username="xiaomei", lang="zh")
    x_env.add_mention("@reach_test thanks, the oat milk is great", author_id="6", username="tom", lang="en")
    inbox.refresh_mentions(workspace)
    stored = {m.author_username: m for m in inbox.list_mentions(workspace)}
    chinese = stored["xiaomei"]
    assert (chinese.lang, chinese.intent) == ("zh", "question")
    assert chinese.suggested_reply == "@xiaomei 感谢提问！门店每天8:00至21:00营业，节假日照常。"
    assert not any("\u4e00" <= c <= "\u9fff" for c in stored["tom"].suggested_reply)
    # X's lang is a hint for text without Chinese characters (e.g. only an emoji and a handle)
    assert inbox.detect_language("💚💚", hint="zh") == "zh"


def test_every_suggested_reply_passes_the_post_checks(workspace: Workspace) -> None:
    data = inbox.load_training_data()
    handle = "a_very_long_handle"  # 18 characters, longer than most
    for text in data["text"]:
        suggestion = inbox.suggest_reply(workspace, Mention("1", text, "2", handle))
        assert suggestion.problems == [], (text, suggestion)
        assert weighted_length(suggestion.text) <= 280 and suggestion.text.startswith(f"@{handle} ")


def test_a_reply_over_the_limit_is_shortened_to_fit(workspace: Workspace) -> None:
    long_answer = "我们每一批产品都经过第三方检测，" * 6  # 96 Chinese characters: 192 by X's count
    inbox.save_faq(workspace, [FaqEntry("螺旋藻有做重金属检测吗？", long_answer[:100], "zh")])
    inbox.save_reply_templates(
        workspace,
        {
            ("question", "zh"): "{{ handle }} 您好，感谢您的提问，我们非常重视每一位顾客的"
            "健康与安全。{{ faq_answer }}如有任何其他问题，欢迎随时私信我们，我们会第一时间为您解答。"
        },
    )
    suggestion = inbox.suggest_reply(
        workspace, Mention("1", "请问螺旋藻有做重金属检测吗？", "2", "li"), intent="question"
    )
    assert weighted_length(suggestion.text) <= 280 and suggestion.problems == []
    assert suggestion.text.startswith("@li 您好") and suggestion.text.endswith("…")


def test_a_banned_word_in_the_faq_is_flagged_and_never_sent(workspace: Workspace, no_x_keys: None) -> None:
    inbox.save_faq(
        workspace, [FaqEntry("Does the turmeric help with joint pain?", "Our turmeric blend is a miracle for joints.")]
    )
    inbox.seed_demo_mentions(workspace)
    mention = Mention("1", "Does your turmeric help with joint pain?", "2", "ana")
    assert inbox.suggest_reply(workspace, mention, intent="question").problems == ["banned word: miracle"]
    with pytest.raises(InboxValidationError, match="not sent: banned word: miracle"):
        inbox.reply(workspace, "demo-1", text="@demo_lily Our turmeric is a miracle for joints")
    assert publish.list_posts(workspace) == []


def test_a_reply_goes_through_the_same_publishing_checks(workspace: Workspace) -> None:
    assert inbox.check_reply(workspace, "@ana 谢谢！") == []  # short is fine for a reply
    assert "an unfilled placeholder ({{ name }})" in inbox.check_reply(workspace, "Thanks {{ name }}, it ships today!")
    assert any(r.startswith("an HTML entity") for r in inbox.check_reply(workspace, "Oats &amp; honey ship today!"))


def test_each_reply_rule_is_applied_once_by_the_replys_channel(workspace: Workspace) -> None:
    text = "RT Thanks {{ name }}! 谢谢 " + "谢" * 150 + " our tea is a miracle &amp; more"
    x_count, graphemes = publish.weighted_length(text, channel="x"), publish.weighted_length(text, channel="mastodon")
    rules = [
        "banned word: miracle",
        "an unfilled placeholder ({{ name }})",
        "starts with RT (a retweet, not a post of yours)",
        "an HTML entity (&amp;) instead of its character",
    ]
    assert inbox.check_reply(workspace, text) == [f"too long for X ({x_count} of 280)", *rules]
    assert inbox.check_reply(workspace, text, channel="mastodon") == rules  # fits Mastodon's 500
    assert inbox.check_reply(workspace, text + " " + "谢" * (500 - graphemes), channel="mastodon") == [
        f"too long for Mastodon: 501 of 500 characters by {registry.channel('mastodon').length_rule}",
        *rules,
    ]
