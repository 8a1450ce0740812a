"""What every channel is: the :class:`Channel` protocol, its error kinds and the data it returns.

A channel owns everything that differs per social network: its name and label, how it counts a
post's length and which limits an account may have, how it publishes (a post or a reply), how an
uncertain send is reconciled (the account's recent posts), its metrics and mentions, and what its
errors mean. Foreign errors are mapped once, inside each channel, to :class:`PublishError` kinds
the outbox and the pages act on; nobody else reads a network's status codes or wording.

Channels that can make a send idempotent (``keyed = True``: Mastodon's ``Idempotency-Key``,
Bluesky's record key) are handed a :class:`SendKey` derived from the post. An uncertain send is
reconciled before any resend: by the key where the channel can look a post up by it
(:meth:`KeyedChannel.find_sent`, Bluesky reads its record back), else among the account's recent
posts.

The channels themselves live next to this module (``dry_run``, ``x``, ``mastodon``, ``bluesky``)
and are listed in :mod:`core.delivery.channels.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol

from core.workspace import Workspace

__all__ = [
    "Account",
    "Channel",
    "ErrorKind",
    "KeyedChannel",
    "Mention",
    "PublishError",
    "SendKey",
    "SentPost",
    "finds_by_key",
    "is_keyed",
]


class ErrorKind(StrEnum):
    """What the outbox does about a failed send."""

    RATE_LIMITED = "rate_limited"  # defer until the reset time
    TRANSIENT = "transient"  # 5xx, timeout, connection: outcome unknown, reconcile then retry
    DUPLICATE = "duplicate"  # the network refused identical content: reconcile, never resend blindly
    AUTH = "auth"  # 401, non-duplicate 403, missing keys: the operator must act
    REJECTED = "rejected"  # 400 and the like: this text will never go out as it is
    CREDITS = "credits"  # the paid account is out of credits (X's 402): pause the channel until they return


class PublishError(Exception):
    """A send or lookup that did not work, with its kind and, for rate limits, when to try again."""

    def __init__(self, kind: ErrorKind, message: str, *, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.kind = ErrorKind(kind)
        self.message = message
        self.retry_at = retry_at


@dataclass(frozen=True)
class SentPost:
    """A post as the channel has it."""

    remote_id: str
    text: str
    url: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class SendKey:
    """What makes two sends of one post the same send: the workspace, the post and when it was made.

    ``str(key)`` is the idempotency key (``reach-<workspace>-<post id>``); a channel may derive its
    own form from the fields (Bluesky makes a record key of them).
    """

    workspace: str
    post_id: int
    created_at: datetime

    def __str__(self) -> str:
        return f"reach-{self.workspace}-{self.post_id}"


@dataclass(frozen=True)
class Mention:
    """A post by someone else that mentions the account."""

    remote_id: str
    text: str
    author_id: str | None = None
    author_username: str | None = None
    created_at: datetime | None = None
    lang: str | None = None


@dataclass(frozen=True)
class Account:
    """Who we post as: for "connected as @handle", never a key."""

    user_id: str
    username: str


class Channel(Protocol):
    """The one interface every channel implements.

    The class attributes and class methods describe the channel without connecting to it (the
    pages list channels and the outbox checks lengths with them); :meth:`connect` makes an
    instance that talks to the network.
    """

    name: ClassVar[str]
    """Stored with each post and rule (``"x"``, ``"dry-run"``)."""
    label: ClassVar[str]
    """Shown to the operator (``"X"``, ``"Dry run"``)."""
    live: ClassVar[bool]
    """Whether posts leave Reach (False for the dry run, which only records them)."""
    char_limits: ClassVar[tuple[int, ...]]
    """The length limits an account may have, the standard one first (X: 280, 25,000 premium)."""
    length_rule: ClassVar[str]
    """How :meth:`weighted_length` counts, for messages: ``"X's count (links count 23, …)"``."""
    duplicate_rule: ClassVar[str]
    """Why a near-duplicate of a recent post is refused before sending, for messages."""
    connect_hint: ClassVar[str]
    """How the operator connects it, for the pages: ``"put your keys in …"`` (empty: nothing to connect)."""
    engagements_read: ClassVar[str]
    daily_cap: ClassVar[int]
    """Default daily cap (posts per rolling 24 h) before the operator sets one: a limit of Reach's, not the network's."""
    """The counts Reach adds up as a post's engagements on this network, in its words (``"likes + reposts + …"``)."""

    @staticmethod
    def weighted_length(text: str) -> int:
        """The length of ``text`` as the network counts it against the limit."""
        ...

    @classmethod
    def configured(cls) -> bool:
        """Whether keys are set, even incomplete ones (:meth:`connect` then says what is missing)."""
        ...

    @classmethod
    def connect(cls, ws: Workspace, *, timeout: float) -> Channel:
        """A channel ready to publish; :class:`PublishError` (kind ``auth``) when keys are missing."""
        ...

    def send(self, text: str, *, in_reply_to: str | None = None) -> SentPost:
        """Publish ``text`` (as a reply to post ``in_reply_to``); raise :class:`PublishError` when it
        did not (or may not have) worked."""
        ...

    def recent_posts(self, *, since: datetime) -> list[SentPost]:
        """The account's own posts created at or after ``since``, newest first (for reconciling)."""
        ...

    def public_metrics(self, remote_ids: list[str]) -> dict[str, dict[str, int]]:
        """Public metrics by remote id (X's names: ``like_count``, ``retweet_count``, ``reply_count``,
        ``quote_count``, ``bookmark_count``, ``impression_count``); posts the channel no longer has
        are left out."""
        ...

    def mentions(self, *, since_id: str | None = None) -> list[Mention]:
        """Posts mentioning the account newer than ``since_id`` (all recent ones without it), newest first."""
        ...

    def account(self) -> Account:
        """The account posts go to."""
        ...


class KeyedChannel(Channel, Protocol):
    """A channel whose sends carry a :class:`SendKey`, so sending a post twice makes one post."""

    keyed: ClassVar[bool]
    """True: :meth:`send` takes ``key=``. A keyed channel may also have ``find_sent(key)``, the post
    sent with that key or None (see :func:`finds_by_key`)."""

    def send(self, text: str, *, in_reply_to: str | None = None, key: SendKey | None = None) -> SentPost:
        """Publish ``text``; a second send with the same ``key`` gives back the first post, never a second one."""
        ...


def finds_by_key(channel: object) -> bool:
    """Whether ``channel`` looks a sent post up by its key: ``find_sent(key) -> SentPost | None``."""
    return is_keyed(channel) and callable(getattr(channel, "find_sent", None))


def is_keyed(channel: object) -> bool:
    """Whether ``channel`` takes a :class:`SendKey` with each send (see :class:`KeyedChannel`)."""
    return bool(getattr(channel, "keyed", False))
