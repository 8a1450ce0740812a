"""Every channel's connection as the Settings page shows it, and a connection test that never posts.

A test asks the channel who the keys belong to (X ``GET /2/users/me``, Mastodon
``verify_credentials``, a Bluesky login) and, where the network says how long a post may be (a
Mastodon instance's ``max_characters``), stores that limit for pre-flight. Nothing is published.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.delivery.channels import registry
from core.delivery.channels.base import ErrorKind, PublishError
from core.delivery.outbox.preflight import char_limit
from core.delivery.outbox.publishing import _remember_account, connected_account
from core.delivery.outbox.settings import PublishSettings
from core.workspace import Workspace

__all__ = ["ChannelStatus", "channel_statuses", "set_char_limit", "verify_connection"]


@dataclass(frozen=True)
class ChannelStatus:
    """One channel on the Settings page: never a key, only whether keys are set and whose they are."""

    name: str
    label: str
    live: bool
    configured: bool
    problem: str | None  # keys set but incomplete: what is missing
    handle: str | None  # ``@name`` from the last test or post with these keys
    char_limit: int
    length_rule: str
    connect_hint: str


def channel_statuses(ws: Workspace) -> list[ChannelStatus]:
    """Every registered channel, live ones first, without a network call."""
    settings = PublishSettings.load(ws)
    out = []
    for channel in registry.CHANNELS:
        problem = None
        configured = channel.configured()
        if channel.live and configured:
            try:
                registry.publisher_for(ws, channel.name, timeout=settings.request_timeout_seconds)  # reads the keys
            except PublishError as exc:
                problem = exc.message
        out.append(
            ChannelStatus(
                channel.name,
                channel.label,
                channel.live,
                configured,
                problem,
                connected_account(ws, channel.name) if channel.live and configured else None,
                char_limit(ws, channel.name, settings),
                channel.length_rule,
                channel.connect_hint,
            )
        )
    return out


def verify_connection(ws: Workspace, name: str) -> str:
    """Ask channel ``name`` whose keys these are; return ``@handle`` (stored for the pages). Never posts.

    Raises
    ------
    PublishError
        When no keys are set for it, or it refuses them, or cannot be reached.
    """
    settings = PublishSettings.load(ws)
    if not registry.is_live(name):
        raise PublishError(ErrorKind.AUTH, f"{registry.label(name)} has nothing to connect")
    publisher = registry.publisher_for(ws, name, timeout=settings.request_timeout_seconds)
    account = publisher.account()
    _remember_account(ws, publisher)
    read_limit = getattr(publisher, "instance_char_limit", None)
    limit = read_limit() if callable(read_limit) else None
    with ws.connect() as con:
        if limit:
            ws.set_setting(f"publish.{name}_char_limit", str(limit), con=con)
        ws.audit("publish.connection_checked", {"channel": name, "account": account.username, "limit": limit}, con=con)
    return f"@{account.username}"


def set_char_limit(ws: Workspace, name: str, limit: int) -> None:
    """Store how long a post on channel ``name`` may be, where the channel lets the owner say
    (a Mastodon instance's own limit).

    Raises
    ------
    ValueError
        When the channel has a fixed limit, or ``limit`` is not between 1 and 100,000.
    """
    channel = registry.channel(name)
    if not callable(getattr(channel, "char_limit", None)):
        raise ValueError(f"{channel.label}'s limit is fixed at {channel.char_limits[0]:,}")
    if not 1 <= int(limit) <= 100_000:
        raise ValueError(f"limit={limit} must be between 1 and 100000")
    with ws.connect() as con:
        ws.set_setting(f"publish.{name}_char_limit", str(int(limit)), con=con)
        ws.audit("publish.char_limit", {"channel": name, "limit": int(limit)}, con=con)
