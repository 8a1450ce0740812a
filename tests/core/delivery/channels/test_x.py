"""Publishers: credentials, routing tweepy to another base, mapping errors once, no secrets in logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.delivery import outbox as publish
from core.delivery.channels.base import ErrorKind, PublishError
from core.delivery.channels.dry_run import DryRunPublisher
from core.delivery.channels.registry import publisher_for
from core.delivery.channels.x import XCredentials, XPublisher, load_x_credentials
from core.workspace import Workspace
from tests.conftest import FAKE_X_KEYS

KEYS = XCredentials(
    FAKE_X_KEYS["X_CONSUMER_KEY"],
    FAKE_X_KEYS["X_CONSUMER_SECRET"],
    FAKE_X_KEYS["X_ACCESS_TOKEN"],
    FAKE_X_KEYS["X_ACCESS_TOKEN_SECRET"],
)


def test_credentials_from_environment_first_then_secrets_toml(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        '[x]\nconsumer_key = "file-ck"\nconsumer_secret = "file-cs"\naccess_token = "file-at"\n'
        'access_token_secret = "file-ats"\n'
    )
    from_file = load_x_credentials(environ={}, secrets_files=[secrets])
    assert from_file == XCredentials("file-ck", "file-cs", "file-at", "file-ats")
    assert repr(from_file) == "XCredentials(<hidden>)"
    assert load_x_credentials(environ=FAKE_X_KEYS, secrets_files=[secrets]) == KEYS
    assert load_x_credentials(environ={}, secrets_files=[tmp_path / "missing.toml"]) is None


def test_incomplete_keys_name_what_is_missing_not_the_values() -> None:
    partial = {"X_CONSUMER_KEY": FAKE_X_KEYS["X_CONSUMER_KEY"], "X_ACCESS_TOKEN": FAKE_X_KEYS["X_ACCESS_TOKEN"]}
    with pytest.raises(PublishError) as info:
        load_x_credentials(environ=partial, secrets_files=[])
    assert info.value.kind == ErrorKind.AUTH
    assert "X_CONSUMER_SECRET, X_ACCESS_TOKEN_SECRET not set" in str(info.value)
    assert not any(value in str(info.value) for value in FAKE_X_KEYS.values())


def test_dry_run_is_the_default_without_keys(workspace: Workspace, no_x_keys: None) -> None:
    assert publish.default_channel() == "dry-run"
    publisher = publisher_for(workspace, "dry-run")
    sent = publisher.send("Recorded, not sent")
    assert isinstance(publisher, DryRunPublisher)
    assert [p.remote_id for p in publisher.recent_posts(since=datetime.now(UTC) - timedelta(minutes=1))] == [
        sent.remote_id
    ]
    with pytest.raises(PublishError, match="no X keys are set"):
        publisher_for(workspace, "x")


def test_tweepy_reaches_the_fake_through_the_base_url(fake_x) -> None:
    publisher = XPublisher(KEYS, api_base=fake_x.base_url, timeout=5)
    assert publisher.account().username == "reach_test"
    sent = publisher.send("Hello from the real tweepy client")
    assert sent.remote_id == fake_x.tweets[0].id
    assert sent.url == f"https://x.com/reach_test/status/{sent.remote_id}"
    recent = publisher.recent_posts(since=datetime.now(UTC) - timedelta(minutes=5))
    assert [(p.remote_id, p.text) for p in recent] == [(sent.remote_id, "Hello from the real tweepy client")]
    assert ("GET", f"/2/users/{fake_x.user_id}/tweets") in fake_x.requests


def test_replies_metrics_and_mentions_through_tweepy(fake_x) -> None:
    publisher = XPublisher(KEYS, api_base=fake_x.base_url, timeout=5)
    question = fake_x.add_mention("@reach_test do you ship to Leeds?", author_id="77", username="ana_eats")
    newer = fake_x.add_mention("@reach_test 你们的燕麦有货吗？", author_id="78", lang="zh")
    mentions = publisher.mentions()
    assert [(m.remote_id, m.author_username, m.lang) for m in mentions] == [
        (newer.id, "user78", "zh"),
        (question.id, "ana_eats", "en"),
    ]
    assert publisher.mentions(since_id=newer.id) == []

    reply = publisher.send("Yes, we ship to Leeds in two days.", in_reply_to=question.id)
    assert fake_x.tweets[-1].in_reply_to_tweet_id == question.id
    fake_x.set_metrics(reply.remote_id, like_count=4, impression_count=120)
    many = [fake_x.add_tweet(f"post {i}").id for i in range(150)]
    metrics = publisher.public_metrics([reply.remote_id, *many, "404404"])
    assert metrics[reply.remote_id]["like_count"] == 4 and metrics[reply.remote_id]["impression_count"] == 120
    assert len(metrics) == 151  # the unknown id is left out
    assert sum(1 for method, path in fake_x.requests if (method, path) == ("GET", "/2/tweets")) == 2  # 100 a call


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, ErrorKind.RATE_LIMITED),
        (503, ErrorKind.TRANSIENT),
        (500, ErrorKind.TRANSIENT),
        (401, ErrorKind.AUTH),
        (403, ErrorKind.AUTH),
        (402, ErrorKind.CREDITS),
    ],
)
def test_http_errors_map_to_kinds(fake_x, status: int, kind: ErrorKind) -> None:
    publisher = XPublisher(KEYS, api_base=fake_x.base_url, timeout=5)
    fake_x.fail_next(status, reset_in=120)
    with pytest.raises(PublishError) as info:
        publisher.send("Will not go out")
    assert info.value.kind == kind
    if status == 429:
        assert timedelta(seconds=100) < info.value.retry_at - datetime.now(UTC) <= timedelta(seconds=120)
    if kind == ErrorKind.AUTH:
        assert "Reconnect your X keys" in str(info.value)
    if kind == ErrorKind.CREDITS:
        assert "top up your X API credits in the X Developer Console" in str(info.value)


def test_duplicate_and_timeout_map_to_kinds(fake_x) -> None:
    publisher = XPublisher(KEYS, api_base=fake_x.base_url, timeout=0.3)
    fake_x.add_tweet("Same words")
    with pytest.raises(PublishError) as info:
        publisher.send("Same words")
    assert info.value.kind == ErrorKind.DUPLICATE
    fake_x.delay_next(2)
    with pytest.raises(PublishError, match="did not answer in time") as info:
        publisher.send("Slow words")
    assert info.value.kind == ErrorKind.TRANSIENT


def test_wrong_keys_are_refused_by_the_fake(fake_x) -> None:
    wrong = XCredentials("someone-else", "b", "c", "d")
    with pytest.raises(PublishError) as info:
        XPublisher(wrong, api_base=fake_x.base_url, timeout=5).send("Nope")
    assert info.value.kind == ErrorKind.AUTH and "(401)" in str(info.value)


def test_no_secret_reaches_a_log_line_or_an_error(
    workspace: Workspace, x_env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything tweepy, requests, urllib3 and oauthlib would say
    ok = publish.add_post(workspace, "Logged but not leaked", approve=True)
    publish.publish_due(workspace)
    x_env.fail_next(401)
    bad = publish.add_post(workspace, "Refused for keys", approve=True)
    publish.publish_due(workspace)
    publish.check_connection(workspace)
    assert publish.get_post(workspace, ok.id).state == "published"
    assert "Reconnect" in publish.get_post(workspace, bad.id).last_error
    seen = caplog.text + repr(publish.list_posts(workspace)) + repr(workspace.audit_entries(500))
    assert "Making API request" in caplog.text  # tweepy's debug log was on
    for value in FAKE_X_KEYS.values():
        assert value not in seen
