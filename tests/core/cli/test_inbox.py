"""The inbox command line: ``inbox [--refresh] [--json]`` and ``inbox reply ID``."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import main
from core.delivery import outbox as publish
from core.demo import open_workspace
from core.feedback import inbox
from tests.core.conftest import cli_json

MENTION_KEYS = {"id", "text", "author_id", "intent", "suggested_reply", "handled"}


def test_refresh_list_and_reply_once(home: Path, x_env, capsys: pytest.CaptureFixture) -> None:
    question = x_env.add_mention("@reach_test do you deliver on weekends?", author_id="7", username="ana")
    praise = x_env.add_mention("@reach_test 你们的燕麦奶太好喝了，谢谢！", author_id="8", username="mei", lang="zh")
    listed = cli_json(capsys, ["inbox", "--refresh", "--json"])
    assert list(listed) == ["mentions"]
    assert [set(m) for m in listed["mentions"]] == [MENTION_KEYS, MENTION_KEYS]
    by_id = {m["id"]: m for m in listed["mentions"]}
    assert by_id[question.id]["author_id"] == "7" and by_id[question.id]["intent"] == "question"
    assert by_id[praise.id]["intent"] == "praise" and by_id[praise.id]["suggested_reply"].startswith("@mei 谢谢")
    assert not any(m["handled"] for m in listed["mentions"])

    replied = cli_json(capsys, ["inbox", "reply", question.id, "--json"])
    assert list(replied) == ["post_id", "state"] and replied["state"] == "published"
    [tweet] = x_env.tweets
    assert tweet.in_reply_to_tweet_id == question.id
    assert tweet.text == by_id[question.id]["suggested_reply"]
    # the same command again: the same post, nothing new on X
    assert cli_json(capsys, ["inbox", "reply", question.id, "--json"]) == replied
    assert len(x_env.tweets) == 1 and x_env.requests.count(("POST", "/2/tweets")) == 1
    after = {m["id"]: m for m in cli_json(capsys, ["inbox", "--json"])["mentions"]}
    assert after[question.id]["handled"] is True and after[praise.id]["handled"] is False


def test_reply_with_text_and_human_output(home: Path, no_x_keys: None, capsys: pytest.CaptureFixture) -> None:
    inbox.seed_demo_mentions(open_workspace(home))
    assert main(["inbox"]) == 0
    out = capsys.readouterr().out
    assert "demo-1  @demo_lily  [question" in out and "suggested: @demo_lily Thanks for asking!" in out
    assert main(["inbox", "reply", "demo-3", "--text", "@demo_sophie So glad you like it!"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Reply to demo-3: post 1 recorded on the dry run (nothing was sent)")
    [post] = publish.list_posts(open_workspace(home))
    assert (post.text, post.channel, post.in_reply_to) == ("@demo_sophie So glad you like it!", "dry-run", "demo-3")
    assert main(["inbox"]) == 0
    assert "✓ demo-3" in capsys.readouterr().out


def test_bad_input_exits_2_with_one_line(home: Path, no_x_keys: None, capsys: pytest.CaptureFixture) -> None:
    inbox.seed_demo_mentions(open_workspace(home))
    assert main(["inbox", "reply", "12345", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: unknown mention id '12345'") and captured.err.count("\n") == 1
    assert main(["inbox", "reply", "demo-1", "--text", "@demo_lily " + "很" * 140]) == 2
    assert "not sent: too long for X (291 of 280)" in capsys.readouterr().err
    assert publish.list_posts(open_workspace(home)) == []


def test_refresh_without_keys_says_so(home: Path, no_x_keys: None, capsys: pytest.CaptureFixture) -> None:
    assert main(["inbox", "--refresh"]) == 0
    out = capsys.readouterr().out
    assert "No X, Mastodon or Bluesky keys are set" in out and "no mentions yet" in out
    assert cli_json(capsys, ["inbox", "--refresh", "--json"]) == {"mentions": []}
