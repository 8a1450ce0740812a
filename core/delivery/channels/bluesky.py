"""Bluesky as a channel: the AT Protocol through the ``atproto`` client, with a handle and an app password.

Each post is created with a record key derived from the post (a TID made of the post's creation
time and id and this workspace's id), so a repeated create cannot make a second record: the PDS
refuses it, and reconciliation reads the record back by that key. Lengths are grapheme clusters,
300 at most. Links and mentions become facets, so they are clickable. A post's remote id is its
``at://`` URI.

Settings: ``REACH_BLUESKY_PDS`` (default ``https://bsky.social``, the public PDS), ``BLUESKY_HANDLE``
and ``BLUESKY_APP_PASSWORD`` in the environment, or ``pds``, ``handle`` and ``app_password`` under
``[bluesky]`` in ``.streamlit/secrets.toml``. atproto's errors become :class:`PublishError` kinds in
one place, :meth:`BlueskyChannel._call`; the password and session tokens are never shown or logged.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from atproto import Client, models
from atproto_client import exceptions as at_errors
from atproto_client.request import Request

from core.delivery.channels.base import Account, ErrorKind, Mention, PublishError, SendKey, SentPost
from core.delivery.channels.secrets import read_settings
from core.delivery.channels.text_length import graphemes
from core.workspace import Workspace

__all__ = ["DEFAULT_PDS", "BlueskyChannel", "BlueskySettings", "load_bluesky_settings", "record_key"]

log = logging.getLogger(__name__)

DEFAULT_PDS = "https://bsky.social"
POST_COLLECTION = "app.bsky.feed.post"
# environment variable -> key under [bluesky] in secrets.toml
SETTING_NAMES = {"REACH_BLUESKY_PDS": "pds", "BLUESKY_HANDLE": "handle", "BLUESKY_APP_PASSWORD": "app_password"}
RECONNECT = (
    "Reconnect Bluesky: in Bluesky open Settings → Privacy and security → App passwords, add one, and "
    "put your handle and it in .streamlit/secrets.toml under [bluesky] as handle and app_password (or in "
    "BLUESKY_HANDLE and BLUESKY_APP_PASSWORD and restart Reach), then retry the post."
)
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_PAGE = 100

# httpx logs every request line at INFO; the lines carry no secrets, but keep the log about Reach.
logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass(frozen=True)
class BlueskySettings:
    """The PDS, handle and app password. ``repr`` never shows the password."""

    pds: str
    handle: str
    app_password: str

    def __repr__(self) -> str:
        return f"BlueskySettings(pds={self.pds!r}, handle={self.handle!r}, app_password=<hidden>)"


def load_bluesky_settings(*, environ: dict[str, str] | None = None, files=None) -> BlueskySettings | None:
    """Handle and app password (and the PDS) from the environment or ``[bluesky]``; None when neither is set.

    Raises
    ------
    PublishError
        (kind ``auth``) when only one of handle and app password is set; the message names the missing one.
    """
    found, source = read_settings("bluesky", SETTING_NAMES, environ=environ, files=files)
    if not (found["handle"] or found["app_password"]):
        return None
    missing = [env for env, key in SETTING_NAMES.items() if key != "pds" and not found[key]]
    if missing:
        raise PublishError(
            ErrorKind.AUTH, f"incomplete Bluesky settings in the {source}: {', '.join(missing)} not set. {RECONNECT}"
        )
    pds = (found["pds"] or DEFAULT_PDS).rstrip("/")
    if not pds.startswith(("http://", "https://")):
        pds = "https://" + pds
    return BlueskySettings(pds, found["handle"].lstrip("@"), found["app_password"])


def record_key(key: SendKey) -> str:
    """The record key (a TID) of the post ``key`` names: the same post always gets the same one.

    A TID is 64 bits in base32-sortable: microseconds since 1970 (here the post's creation second,
    with its id in the microseconds, so posts made in the same second differ) and a 10-bit clock id
    (here from the workspace's id, so two workspaces on one account do not collide).
    """
    micros = int(key.created_at.timestamp()) * 1_000_000 + key.post_id % 1_000_000
    clock_id = int.from_bytes(hashlib.sha256(key.workspace.encode()).digest()[:2], "big") & 0x3FF
    value = ((micros & ((1 << 53) - 1)) << 10) | clock_id
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rkey(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


class BlueskyChannel:
    """A Bluesky account through ``atproto.Client``."""

    name = "bluesky"
    label = "Bluesky"
    live = True
    keyed = True
    char_limits = (300,)
    length_rule = "Bluesky's count (characters as you see them: an emoji with a skin tone is one)"
    engagements_read = "likes + reposts + replies + quotes"
    daily_cap = 1_666  # the PDS allows 5,000 write points an hour, 3 per post: 1,666 posts
    duplicate_rule = "posting the same words twice looks like spam to your followers, so change the wording"
    connect_hint = (
        "put your handle and an app password in `.streamlit/secrets.toml` under `[bluesky]` "
        "(`handle`, `app_password`; see the README)"
    )
    weighted_length = staticmethod(graphemes)

    @classmethod
    def configured(cls) -> bool:
        """Whether a handle or app password is set (an incomplete pair too: :meth:`connect` names what is missing)."""
        try:
            return load_bluesky_settings() is not None
        except PublishError:
            return True

    @classmethod
    def connect(cls, ws: Workspace, *, timeout: float) -> BlueskyChannel:
        """A channel for the configured account (logging in happens on the first call).

        Raises
        ------
        PublishError
            (kind ``auth``) when the handle or app password is missing.
        """
        settings = load_bluesky_settings()
        if settings is None:
            raise PublishError(ErrorKind.AUTH, f"Bluesky is not connected, so nothing can be posted there. {RECONNECT}")
        return cls(settings, timeout=timeout)

    def __init__(self, settings: BlueskySettings, *, timeout: float = 20.0) -> None:
        self.settings = settings
        self._secrets = (settings.app_password,)
        self.client = Client(settings.pds, request=Request(timeout=httpx.Timeout(timeout)))
        self._account: Account | None = None

    # The one place atproto's and httpx's errors become PublishError kinds.
    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except at_errors.RateLimitExceededError as exc:
            raise PublishError(
                ErrorKind.RATE_LIMITED, f"Bluesky rate limit reached while trying to {what}", retry_at=exc.reset_at
            ) from None
        except at_errors.UnauthorizedError as exc:
            status = exc.response.status_code if exc.response else 401
            raise PublishError(
                ErrorKind.AUTH,
                f"Bluesky did not accept the handle and app password ({status}) while trying to {what}. {RECONNECT}",
            ) from None
        except at_errors.InvokeTimeoutError:
            raise PublishError(ErrorKind.TRANSIENT, f"Bluesky did not answer in time while trying to {what}") from None
        except at_errors.NetworkError as exc:
            status = exc.response.status_code if exc.response else None
            where = f" ({status})" if status else ""
            raise PublishError(ErrorKind.TRANSIENT, f"could not reach Bluesky{where} to {what}") from None
        except at_errors.BadRequestError as exc:
            raise PublishError(ErrorKind.REJECTED, f"Bluesky refused to {what} (400: {self._detail(exc)})") from None
        except at_errors.RequestException as exc:
            status = exc.response.status_code if exc.response else "?"
            if isinstance(status, int) and status >= 500:
                raise PublishError(
                    ErrorKind.TRANSIENT, f"Bluesky had a server error ({status}) while trying to {what}"
                ) from None
            raise PublishError(
                ErrorKind.REJECTED, f"Bluesky refused to {what} ({status}: {self._detail(exc)})"
            ) from None
        except at_errors.AtProtocolError as exc:
            raise PublishError(
                ErrorKind.TRANSIENT, f"Bluesky answered unexpectedly while trying to {what} ({type(exc).__name__})"
            ) from None

    def _detail(self, exc: at_errors.RequestErrorBase) -> str:
        content = exc.response.content if exc.response else None
        text = f"{content.error}: {content.message}" if hasattr(content, "error") else "no detail"
        for value in self._secrets:
            text = text.replace(value, "***")
        return text

    def _logged_in(self) -> Account:
        if self._account is None:
            profile = self._call("log in", self.client.login, self.settings.handle, self.settings.app_password)
            if profile is None:  # a PDS without app.bsky: ask the session who we are
                session = self._call("log in", self.client.com.atproto.server.get_session)
                self._account = Account(str(session.did), str(session.handle))
            else:
                self._account = Account(str(profile.did), str(profile.handle))
        return self._account

    def account(self) -> Account:
        """The account the handle and app password belong to (one login per channel)."""
        return self._logged_in()

    def _url(self, uri: str) -> str:
        return f"https://bsky.app/profile/{self.account().username}/post/{_rkey(uri)}"

    def _reply_ref(self, parent_uri: str) -> models.AppBskyFeedPost.ReplyRef:
        """Root and parent of a reply to ``parent_uri`` (the parent's own root when it is a reply itself)."""
        found = self._call(
            "find the post to reply to",
            self.client.app.bsky.feed.get_posts,
            models.AppBskyFeedGetPosts.Params(uris=[parent_uri]),
        )
        if not found.posts:
            raise PublishError(ErrorKind.REJECTED, "Bluesky no longer has the post this replies to")
        parent = found.posts[0]
        parent_ref = models.create_strong_ref(parent)
        record_reply = getattr(parent.record, "reply", None)
        root_ref = record_reply.root if record_reply else parent_ref
        return models.AppBskyFeedPost.ReplyRef(root=root_ref, parent=parent_ref)

    def send(self, text: str, *, in_reply_to: str | None = None, key: SendKey | None = None) -> SentPost:
        """``com.atproto.repo.createRecord`` of an ``app.bsky.feed.post`` with record key :func:`record_key`
        (links and mentions as facets; a reply carries its thread's root and parent).

        A create refused because the record exists is answered with that record when it holds this text.
        """
        account = self._logged_in()
        facets = self._call("find links and mentions", self.client.detect_facets, text) or None
        reply = self._reply_ref(in_reply_to) if in_reply_to else None
        record = models.AppBskyFeedPost.Record(
            created_at=self.client.get_current_time_iso(), text=text, facets=facets, reply=reply
        )
        rkey = record_key(key) if key else None
        try:
            created = self._call(
                "publish the post",
                self.client.com.atproto.repo.create_record,
                models.ComAtprotoRepoCreateRecord.Data(
                    repo=account.user_id, collection=POST_COLLECTION, record=record, rkey=rkey
                ),
            )
        except PublishError as exc:
            if key is None or exc.kind != ErrorKind.REJECTED:
                raise
            existing = self.find_sent(key)  # the record key is taken: by this post, sent before?
            if existing is None:
                raise
            if existing.text != text:
                raise PublishError(
                    ErrorKind.DUPLICATE, "Bluesky already has a different post under this post's record key"
                ) from None
            return existing
        return SentPost(created.uri, text, self._url(created.uri), datetime.now(UTC))

    def find_sent(self, key: SendKey) -> SentPost | None:
        """The post created with ``key``'s record key (``com.atproto.repo.getRecord``), or None."""
        account = self._logged_in()
        try:
            found = self._call(
                "look the post up",
                self.client.com.atproto.repo.get_record,
                models.ComAtprotoRepoGetRecord.Params(
                    repo=account.user_id, collection=POST_COLLECTION, rkey=record_key(key)
                ),
            )
        except PublishError as exc:
            if exc.kind == ErrorKind.REJECTED:  # RecordNotFound
                return None
            raise
        value = found.value
        return SentPost(
            found.uri, getattr(value, "text", ""), self._url(found.uri), _when(getattr(value, "created_at", None))
        )

    def recent_posts(self, *, since: datetime) -> list[SentPost]:
        """The account's post records created at or after ``since``, newest first."""
        account = self._logged_in()
        posts: list[SentPost] = []
        cursor = None
        while True:
            page = self._call(
                "look up recent posts",
                self.client.com.atproto.repo.list_records,
                models.ComAtprotoRepoListRecords.Params(
                    repo=account.user_id, collection=POST_COLLECTION, limit=_PAGE, cursor=cursor
                ),
            )
            for item in page.records:
                created = _when(getattr(item.value, "created_at", None))
                if created and created < since:
                    continue
                posts.append(SentPost(item.uri, getattr(item.value, "text", ""), self._url(item.uri), created))
            cursor = page.cursor
            if not cursor or not page.records:
                return sorted(posts, key=lambda p: p.created_at or since, reverse=True)

    def public_metrics(self, remote_ids: list[str]) -> dict[str, dict[str, int]]:
        """``app.bsky.feed.getPosts`` (25 URIs a call): likes, reposts, replies and quotes under X's names."""
        self._logged_in()
        metrics: dict[str, dict[str, int]] = {}
        uris = list(dict.fromkeys(str(i) for i in remote_ids))
        for start in range(0, len(uris), 25):
            found = self._call(
                "read post metrics",
                self.client.app.bsky.feed.get_posts,
                models.AppBskyFeedGetPosts.Params(uris=uris[start : start + 25]),
            )
            for post in found.posts:
                metrics[post.uri] = {
                    "like_count": int(post.like_count or 0),
                    "retweet_count": int(post.repost_count or 0),
                    "reply_count": int(post.reply_count or 0),
                    "quote_count": int(post.quote_count or 0),
                }
        return metrics

    def mentions(self, *, since_id: str | None = None) -> list[Mention]:
        """Mentions and replies from ``app.bsky.notification.listNotifications``, newest first, down to
        ``since_id`` (the URI of the newest one seen before)."""
        self._logged_in()
        found: list[Mention] = []
        cursor = None
        while True:
            page = self._call(
                "read mentions",
                self.client.app.bsky.notification.list_notifications,
                models.AppBskyNotificationListNotifications.Params(limit=_PAGE, cursor=cursor),
            )
            for note in page.notifications:
                if note.uri == since_id:
                    return found
                if note.reason not in ("mention", "reply"):
                    continue
                record = note.record
                langs = getattr(record, "langs", None) or []
                found.append(
                    Mention(
                        note.uri,
                        getattr(record, "text", ""),
                        note.author.did,
                        note.author.handle,
                        _when(getattr(record, "created_at", None)) or _when(note.indexed_at),
                        langs[0] if langs else None,
                    )
                )
            cursor = page.cursor
            if not cursor or not page.notifications:
                return found
