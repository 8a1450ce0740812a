"""A mention is known by its channel and its id: an X post and a Mastodon status with the same
number are two mentions, each answered on its own network; older workspaces keep their mentions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.demo import open_workspace
from core.feedback import inbox
from core.workspace import MIGRATIONS, Workspace
from tests.core.feedback.inbox.conftest import PRAISE, QUESTION

SHARED_ID = "113000000000000042"


def test_an_x_and_a_mastodon_mention_with_one_id_both_show_and_each_reply_goes_home(
    workspace: Workspace, x_env, mastodon_env
) -> None:
    x_env.add_mention(QUESTION, username="ana", tweet_id=SHARED_ID)
    mastodon_env.add_mention(PRAISE, username="lily", status_id=SHARED_ID)

    report = inbox.refresh_mentions(workspace)

    assert report.new == 2, report.message
    shown = {(m.channel, m.id, m.text) for m in inbox.list_mentions(workspace)}
    assert shown == {("x", SHARED_ID, QUESTION), ("mastodon", SHARED_ID, PRAISE)}
    with pytest.raises(inbox.InboxError, match=f"say which, mastodon:{SHARED_ID} or {SHARED_ID}"):
        inbox.get_mention(workspace, SHARED_ID)

    answer = inbox.reply(workspace, f"mastodon:{SHARED_ID}", text="@lily@elsewhere.example thank you, Lily!")

    assert answer.post.channel == "mastodon" and answer.post.state == "published"
    assert [s.in_reply_to_id for s in mastodon_env.statuses] == [SHARED_ID]
    assert x_env.texts() == []  # nothing went to X
    by_channel = {m.channel: m for m in inbox.list_mentions(workspace)}
    assert by_channel["mastodon"].handled and by_channel["mastodon"].reply_post_id == answer.post.id
    assert not by_channel["x"].handled and by_channel["x"].reply_post_id is None
    # a second fetch stores nothing again on either channel
    assert inbox.refresh_mentions(workspace).new == 0


def test_a_workspace_from_before_keeps_its_mentions(tmp_path: Path) -> None:
    home = tmp_path / "workspace"
    home.mkdir()
    con = sqlite3.connect(home / "reach.db")
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, statements in enumerate(MIGRATIONS[:-1], start=1):
        for statement in statements:
            con.execute(statement)
        con.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    con.execute(
        "INSERT INTO mentions (id, text, author_username, created_at, fetched_at, channel, intent, handled) "
        "VALUES (?, ?, 'ana', '2026-11-30T09:00:00+00:00', '2026-11-30T09:05:00+00:00', 'x', 'question', 1)",
        (SHARED_ID, QUESTION),
    )
    con.commit()
    con.close()

    ws = open_workspace(home, with_demo=False)

    [kept] = inbox.list_mentions(ws)
    assert (kept.channel, kept.id, kept.text, kept.author_username) == ("x", SHARED_ID, QUESTION, "ana")
    assert kept.handled and kept.intent == "question"
