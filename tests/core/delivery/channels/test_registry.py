"""The registry: every channel by name, the default one, and the outbox acting on error kinds, not wording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.delivery import outbox as publish
from core.delivery.channels import registry
from core.delivery.channels.base import Account, ErrorKind, Mention, PublishError, SentPost
from core.delivery.channels.dry_run import DryRunPublisher
from core.delivery.channels.x import XPublisher
from core.workspace import Workspace


def test_channels_are_found_by_name_with_their_labels_and_limits() -> None:
    assert registry.channel_names() == ("x", "mastodon", "bluesky", "dry-run")
    assert [registry.label(n) for n in registry.channel_names()] == ["X", "Mastodon", "Bluesky", "Dry run"]
    assert registry.channel("x") is XPublisher and registry.is_live("x") and not registry.is_live("dry-run")
    assert registry.is_live("mastodon") and registry.is_live("bluesky")
    assert registry.char_limits() == (280, 300, 500, 25_000)
    assert registry.dry_run_channel() == "dry-run"
    with pytest.raises(ValueError, match="channel='threads' must be one of x, mastodon, bluesky, dry-run"):
        registry.channel("threads")


def test_the_dry_run_counts_and_refuses_as_x_does() -> None:
    text = "健康饮食 https://example.com/" + "a" * 100
    assert DryRunPublisher.weighted_length(text) == XPublisher.weighted_length(text) == 8 + 1 + 23
    assert (DryRunPublisher.char_limits, DryRunPublisher.length_rule) == (
        XPublisher.char_limits,
        XPublisher.length_rule,
    )


def test_default_channel_is_x_with_keys_else_the_dry_run(monkeypatch: pytest.MonkeyPatch, no_x_keys: None) -> None:
    assert registry.default_channel() == "dry-run"
    monkeypatch.setenv("X_CONSUMER_KEY", "only-one-key")  # incomplete keys: X, which then says what is missing
    assert registry.default_channel() == "x"


class _LimitedChannel:
    """A channel whose every send hits a rate limit worded unlike X's."""

    name, label, live = "dry-run", "Elsewhere", False
    calls = 0

    def send(self, text: str, *, in_reply_to: str | None = None) -> SentPost:
        type(self).calls += 1
        raise PublishError(ErrorKind.RATE_LIMITED, "slow down", retry_at=datetime.now(UTC) + timedelta(hours=1))

    def recent_posts(self, *, since: datetime) -> list[SentPost]:
        return []

    def public_metrics(self, remote_ids: list[str]) -> dict[str, dict[str, int]]:
        return {}

    def mentions(self, *, since_id: str | None = None) -> list[Mention]:
        return []

    def account(self) -> Account:
        return Account("0", "elsewhere")


def test_a_rate_limit_is_known_by_its_kind_and_holds_the_rest_of_the_channel(
    workspace: Workspace, no_x_keys: None
) -> None:
    first = publish.add_post(workspace, "Seed cycling explained", approve=True)
    second = publish.add_post(workspace, "Three salads for hot days", approve=True)
    report = publish.publish_due(workspace, publishers=lambda name: _LimitedChannel())
    assert report.deferred == [first.id, second.id] and _LimitedChannel.calls == 1
    held = publish.get_post(workspace, second.id)
    assert held.state == "scheduled" and held.last_error.startswith("Elsewhere rate limit: posting resumes at")
