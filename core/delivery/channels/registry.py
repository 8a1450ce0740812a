"""The channels Reach can post to, and how callers find one by name.

Adding a channel is one module next to this one (a class that implements
:class:`~core.delivery.channels.base.Channel`) and one entry in :data:`CHANNELS`.
"""

from __future__ import annotations

import itertools

from core.delivery.channels.base import Channel
from core.delivery.channels.bluesky import BlueskyChannel
from core.delivery.channels.dry_run import DryRunPublisher
from core.delivery.channels.mastodon import MastodonChannel
from core.delivery.channels.x import XPublisher
from core.workspace import Workspace

__all__ = [
    "CHANNELS",
    "channel",
    "channel_names",
    "char_limits",
    "choices",
    "connected_channels",
    "default_channel",
    "dry_run_channel",
    "is_live",
    "label",
    "live_channels",
    "live_labels",
    "publisher_for",
    "split",
    "unknown",
]

#: Every channel, in order of preference: the first live one with keys is the default.
CHANNELS: tuple[type[Channel], ...] = (XPublisher, MastodonChannel, BlueskyChannel, DryRunPublisher)
_BY_NAME: dict[str, type[Channel]] = {c.name: c for c in CHANNELS}


def channel_names() -> tuple[str, ...]:
    """The names stored with posts and rules (``"x"``, ``"mastodon"``, ``"bluesky"``, ``"dry-run"``), in registry order."""
    return tuple(_BY_NAME)


def channel(name: str) -> type[Channel]:
    """The channel called ``name``; :class:`ValueError` naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"channel={name!r} must be one of {', '.join(_BY_NAME)}") from None


SEPARATOR = "+"
"""Joins the channels of a targeting rule that posts to several (``"mastodon+bluesky"``)."""


def split(names: str) -> list[str]:
    """The channels in ``names`` (one name, or several joined by ``+``), in the order given."""
    return [n.strip() for n in names.split(SEPARATOR) if n.strip()]


def unknown(names: str) -> list[str]:
    """The parts of ``names`` that are no registered channel (all of it when it is empty)."""
    parts = split(names)
    return [n for n in parts if n not in _BY_NAME] if parts else [names]


def choices() -> list[str]:
    """What a targeting rule may name: each channel, then every combination of two or more live ones."""
    live = [c.name for c in live_channels()]
    combos = [SEPARATOR.join(combo) for size in range(2, len(live) + 1) for combo in itertools.combinations(live, size)]
    return [*channel_names(), *combos]


def label(name: str) -> str:
    """What the operator sees for channel ``name`` (``"Mastodon + Bluesky"`` for several; the name
    itself for an unknown one)."""
    if SEPARATOR in name:
        return " + ".join(label(n) for n in split(name))
    found = _BY_NAME.get(name)
    return found.label if found else name


def is_live(name: str) -> bool:
    """Whether posts on channel ``name`` (or any of several) leave Reach (False for the dry run and unknown names)."""
    if SEPARATOR in name:
        return any(is_live(n) for n in split(name))
    found = _BY_NAME.get(name)
    return bool(found and found.live)


def char_limits() -> tuple[int, ...]:
    """Every length limit some channel's accounts may have, smallest first."""
    return tuple(sorted({limit for c in CHANNELS for limit in c.char_limits}))


def live_channels() -> tuple[type[Channel], ...]:
    """The channels whose posts leave Reach, in registry order."""
    return tuple(c for c in CHANNELS if c.live)


def live_labels() -> str:
    """The live channels' labels as one phrase: ``"X, Mastodon or Bluesky"``."""
    labels = [c.label for c in live_channels()]
    return ", ".join(labels[:-1]) + f" or {labels[-1]}" if len(labels) > 1 else labels[0]


def dry_run_channel() -> str:
    """The channel that only records posts and needs no keys."""
    return next(c.name for c in CHANNELS if not c.live)


def default_channel() -> str:
    """The first live channel whose keys are set (even incomplete ones: publishing then says what is
    missing), else the dry run."""
    for candidate in live_channels():
        if candidate.configured():
            return candidate.name
    return dry_run_channel()


def publisher_for(ws: Workspace, name: str, *, timeout: float | None = None) -> Channel:
    """The connected channel ``name``; requests time out after ``timeout`` seconds (default: the
    ``publish.request_timeout_seconds`` setting).

    Raises
    ------
    PublishError
        (kind ``auth``) when the channel's keys are missing or incomplete.
    ValueError
        When no channel is called ``name``.
    """
    found = channel(name)
    if timeout is None:
        timeout = float(ws.get_setting("publish.request_timeout_seconds", "20"))
    return found.connect(ws, timeout=timeout)


def connected_channels() -> tuple[type[Channel], ...]:
    """The live channels whose keys are set (even incomplete ones), in registry order."""
    return tuple(c for c in live_channels() if c.configured())
