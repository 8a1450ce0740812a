"""Fetching mentions from the fake X: stored once, only newer ones asked for, deferred after a 429; the demo's mentions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.demo import open_workspace
from core.feedback import inbox
from core.workspace import Workspace
from tests.core.feedback.inbox.conftest import COMPLAINT, PRAISE, QUESTION


def _by_text(ws: Workspace) -> dict[str, inbox.InboxItem]:
    return {m.text: m for m in inbox.list_mentions(ws)}


def test_refresh_stores_mentions_and_then_asks_only_for_newer_ones(workspace: Workspace, x_env) -> None:
    x_env.add_mention(QUESTION, author_id="7", username="ana")
    x_env.add_mention(PRAISE, author_id="8", username="ben")
    first = inbox.refresh_mentions(workspace)
    assert (first.fetched, first.new) == (2, 2)
    stored = _by_text(workspace)
    assert stored[QUESTION].author_username == "ana" and stored[QUESTION].author_id == "7"
    assert stored[QUESTION].channel == "x" and not stored[QUESTION].handled

    x_env.add_mention(COMPLAINT, author_id="9", username="cai")
    second = inbox.refresh_mentions(workspace)
    # X was asked for mentions after the newest one seen: only the new one came back
    assert (second.fetched, second.new) == (1, 1)
    assert second.message == "1 new mention."
    assert len(inbox.list_mentions(workspace)) == 3
    third = inbox.refresh_mentions(workspace)
    assert (third.fetched, third.new, third.message) == (0, 0, "No new mentions.")


def test_rate_limit_defers_the_refresh_without_calling_x_before_the_reset(workspace: Workspace, x_env) -> None:
    x_env.add_mention(QUESTION)
    route = f"GET /2/users/{x_env.user_id}/mentions"
    x_env.fail_next(429, route=route, reset_in=600)
    report = inbox.refresh_mentions(workspace)
    assert report.new == 0 and report.message.startswith("X rate limit: mentions can be fetched again at")
    reset = datetime.fromisoformat(report.deferred_until)
    assert timedelta(minutes=9) < reset - datetime.now(UTC) <= timedelta(minutes=10)
    calls = x_env.requests.count(("GET", f"/2/users/{x_env.user_id}/mentions"))
    assert calls == 1
    again = inbox.refresh_mentions(workspace)
    assert again.deferred_until == report.deferred_until
    assert x_env.requests.count(("GET", f"/2/users/{x_env.user_id}/mentions")) == calls  # no call
    # once the reset time has passed, the refresh fetches
    workspace.set_setting("inbox.not_before", (datetime.now(UTC) - timedelta(seconds=1)).isoformat())
    assert inbox.refresh_mentions(workspace).new == 1


def test_without_keys_there_is_nothing_to_fetch(workspace: Workspace, no_x_keys: None) -> None:
    report = inbox.refresh_mentions(workspace)
    assert (report.new, report.deferred_until) == (0, None)
    assert "No X, Mastodon or Bluesky keys are set" in report.message


def test_demo_workspace_has_demo_mentions_answered_through_the_dry_run(workspace_home: Path, no_x_keys: None) -> None:
    ws = open_workspace(workspace_home)
    mentions = inbox.list_mentions(ws)
    assert len(mentions) >= 5 and all(m.is_demo and m.author_username.startswith("demo_") for m in mentions)
    assert {"question", "complaint", "praise", "purchase_intent"} <= {m.intent for m in mentions}
    assert any(m.lang == "zh" for m in mentions)
    assert all(m.channel == "dry-run" for m in mentions)
    praise = next(m for m in mentions if m.intent == "praise")
    result = inbox.reply(ws, praise.id)
    assert result.post.state == "published" and result.post.channel == "dry-run"
    assert result.post.in_reply_to == praise.id
