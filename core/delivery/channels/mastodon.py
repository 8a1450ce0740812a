"""Mastodon as a channel: the REST API through Mastodon.py, with a user access token.

Every send carries an ``Idempotency-Key`` made from the post (Mastodon answers a repeated key
within an hour with the status it already made), and a post whose send was interrupted is looked
up among the account's own statuses before it is sent again. Lengths are counted as Mastodon
counts them (grapheme clusters, every link 23, a remote mention by its local part); an instance
allows 500 by default, and the owner can set their instance's limit.

Settings: ``REACH_MASTODON_BASE_URL`` (the instance, e.g. ``https://mastodon.social``) and
``MASTODON_ACCESS_TOKEN`` in the environment, or ``base_url`` and ``access_token`` under
``[mastodon]`` in ``.streamlit/secrets.toml``. Mastodon.py's errors become
:class:`PublishError` kinds in one place, :meth:`MastodonChannel._call`; the token is never
shown, logged or put in an error.
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser

import mastodon as mastodon_py

from core.delivery.channels.base import Account, ErrorKind, Mention, PublishError, SendKey, SentPost
from core.delivery.channels.secrets import read_settings
from core.delivery.channels.text_length import mastodon_length
from core.workspace import Workspace

__all__ = ["CHAR_LIMIT_SETTING", "MastodonChannel", "MastodonSettings", "html_to_text", "load_mastodon_settings"]

log = logging.getLogger(__name__)

# environment variable -> key under [mastodon] in secrets.toml
SETTING_NAMES = {"REACH_MASTODON_BASE_URL": "base_url", "MASTODON_ACCESS_TOKEN": "access_token"}
CHAR_LIMIT_SETTING = "publish.mastodon_char_limit"
RECONNECT = (
    "Reconnect Mastodon: on your instance open Preferences → Development → New application (scopes "
    "read and write), copy its access token into .streamlit/secrets.toml under [mastodon] as "
    "access_token with base_url = your instance's address (or into MASTODON_ACCESS_TOKEN and "
    "REACH_MASTODON_BASE_URL and restart Reach), then retry the post."
)
_PAGE = 40  # Mastodon's largest page of statuses or notifications

# Mastodon.py prints requests only with debug_requests, which stays off; keep urllib3 quiet too.
logging.getLogger("urllib3").setLevel(logging.INFO)


@dataclass(frozen=True)
class MastodonSettings:
    """The instance and the access token. ``repr`` never shows the token."""

    base_url: str
    access_token: str

    def __repr__(self) -> str:
        return f"MastodonSettings(base_url={self.base_url!r}, access_token=<hidden>)"


def load_mastodon_settings(*, environ: dict[str, str] | None = None, files=None) -> MastodonSettings | None:
    """The instance and token from the environment or ``[mastodon]`` in secrets.toml; None when neither is set.

    Raises
    ------
    PublishError
        (kind ``auth``) when only one of the two is set; the message names the missing one.
    """
    found, source = read_settings("mastodon", SETTING_NAMES, environ=environ, files=files)
    if not any(found.values()):
        return None
    missing = [env for env, key in SETTING_NAMES.items() if not found[key]]
    if missing:
        raise PublishError(
            ErrorKind.AUTH, f"incomplete Mastodon settings in the {source}: {', '.join(missing)} not set. {RECONNECT}"
        )
    base = found["base_url"].rstrip("/")
    if not base.startswith(("http://", "https://")):
        base = "https://" + base
    return MastodonSettings(base, found["access_token"])


class _TextOfHtml(HTMLParser):
    """The text of a status's HTML: paragraphs and line breaks as new lines, tags dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(content: str) -> str:
    """The plain text of a Mastodon status's ``content`` (links whole, as they were written)."""
    parser = _TextOfHtml()
    parser.feed(content or "")
    parser.close()
    return html.unescape("".join(parser.parts)).strip()


def _when(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


class MastodonChannel:
    """A Mastodon account through Mastodon.py."""

    name = "mastodon"
    label = "Mastodon"
    live = True
    keyed = True
    char_limits = (500,)
    length_rule = "Mastodon's count (characters as you see them, links count 23)"
    engagements_read = "favourites + boosts + replies + quotes"
    daily_cap = 300  # Mastodon servers allow 300 posts per 3 hours: a day of 300 can never reach that
    duplicate_rule = "posting the same words twice looks like spam to your followers, so change the wording"
    connect_hint = (
        "put your instance and access token in `.streamlit/secrets.toml` under `[mastodon]` "
        "(`base_url`, `access_token`; see the README)"
    )
    weighted_length = staticmethod(mastodon_length)

    @classmethod
    def configured(cls) -> bool:
        """Whether an instance or token is set (an incomplete pair too: :meth:`connect` names what is missing)."""
        try:
            return load_mastodon_settings() is not None
        except PublishError:
            return True

    @classmethod
    def connect(cls, ws: Workspace, *, timeout: float) -> MastodonChannel:
        """A channel on the configured instance.

        Raises
        ------
        PublishError
            (kind ``auth``) when the instance or token is missing.
        """
        settings = load_mastodon_settings()
        if settings is None:
            raise PublishError(
                ErrorKind.AUTH, f"Mastodon is not connected, so nothing can be posted there. {RECONNECT}"
            )
        return cls(settings, timeout=timeout)

    @staticmethod
    def char_limit(ws: Workspace) -> int:
        """The instance's limit as the owner set it (500 by default)."""
        return int(ws.get_setting(CHAR_LIMIT_SETTING, "500") or 500)

    def __init__(self, settings: MastodonSettings, *, timeout: float = 20.0) -> None:
        self._token = settings.access_token
        self.base_url = settings.base_url
        self.api = mastodon_py.Mastodon(
            access_token=settings.access_token,
            api_base_url=settings.base_url,
            ratelimit_method="throw",  # a 429 defers the post to the reset time; never sleep inside a run
            request_timeout=timeout,
            user_agent="Reach",
            # what Reach needs is in Mastodon 4.0 (notification types, Idempotency-Key, the v2 instance);
            # naming it skips the version probe, which on a failing instance would recurse
            mastodon_version="4.0.0",
        )
        self._account: Account | None = None

    # The one place Mastodon.py's errors become PublishError kinds.
    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except mastodon_py.MastodonRatelimitError:
            reset = getattr(self.api, "ratelimit_reset", None)
            retry_at = datetime.fromtimestamp(reset, UTC) if reset and reset > time.time() else None
            raise PublishError(
                ErrorKind.RATE_LIMITED, f"Mastodon rate limit reached while trying to {what}", retry_at=retry_at
            ) from None
        except mastodon_py.MastodonUnauthorizedError:
            raise PublishError(
                ErrorKind.AUTH, f"Mastodon did not accept the access token (401) while trying to {what}. {RECONNECT}"
            ) from None
        except mastodon_py.MastodonServerError as exc:
            status = exc.args[1] if len(exc.args) > 1 else "5xx"
            raise PublishError(
                ErrorKind.TRANSIENT, f"Mastodon had a server error ({status}) while trying to {what}"
            ) from None
        except mastodon_py.MastodonNotFoundError:
            raise PublishError(ErrorKind.REJECTED, f"Mastodon could not find what was needed to {what} (404)") from None
        except mastodon_py.MastodonNetworkError as exc:
            if "timed out" in str(exc).lower() or "timeout" in str(exc).lower():
                raise PublishError(
                    ErrorKind.TRANSIENT, f"Mastodon did not answer in time while trying to {what}"
                ) from None
            raise PublishError(ErrorKind.TRANSIENT, f"could not reach Mastodon to {what}") from None
        except mastodon_py.MastodonAPIError as exc:
            status = exc.args[1] if len(exc.args) > 1 else "?"
            detail = self._redact(str(exc.args[3] if len(exc.args) > 3 and exc.args[3] else exc.args[0]))
            if status == 403:
                raise PublishError(ErrorKind.AUTH, f"Mastodon refused to {what} (403: {detail}). {RECONNECT}") from None
            raise PublishError(ErrorKind.REJECTED, f"Mastodon refused to {what} ({status}: {detail})") from None
        except mastodon_py.MastodonError as exc:
            raise PublishError(
                ErrorKind.TRANSIENT, f"Mastodon answered unexpectedly while trying to {what} ({type(exc).__name__})"
            ) from None

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def account(self) -> Account:
        """The account the token belongs to (one ``GET /api/v1/accounts/verify_credentials`` per channel)."""
        if self._account is None:
            me = self._call("look up your account", self.api.account_verify_credentials)
            self._account = Account(str(me["id"]), str(me["acct"] or me["username"]))
        return self._account

    def instance_char_limit(self) -> int | None:
        """The instance's own status length limit (``GET /api/v1/instance``), when it says."""
        info = self._call("read the instance's settings", self.api.instance)
        try:
            return int(info["configuration"]["statuses"]["max_characters"])
        except (KeyError, TypeError, ValueError):
            return None

    def _sent(self, status) -> SentPost:
        return SentPost(str(status["id"]), html_to_text(status["content"]), status["url"], _when(status["created_at"]))

    def send(self, text: str, *, in_reply_to: str | None = None, key: SendKey | None = None) -> SentPost:
        """``POST /api/v1/statuses`` with ``Idempotency-Key: key`` (a reply when ``in_reply_to`` is a status id)."""
        status = self._call(
            "publish the post",
            self.api.status_post,
            text,
            in_reply_to_id=in_reply_to,
            idempotency_key=str(key) if key else None,
        )
        if not status or not status.get("id"):
            raise PublishError(ErrorKind.TRANSIENT, "Mastodon answered without a status id; the post will be looked up")
        return self._sent(status)

    def recent_posts(self, *, since: datetime) -> list[SentPost]:
        """The account's statuses created at or after ``since``, newest first (paged back until older)."""
        account = self.account()
        found: list[SentPost] = []
        max_id = None
        while True:
            page = self._call(
                "look up recent posts", self.api.account_statuses, account.user_id, limit=_PAGE, max_id=max_id
            )
            for status in page or []:
                sent = self._sent(status)
                if sent.created_at and sent.created_at < since:
                    return found
                found.append(sent)
            if not page or len(page) < _PAGE:
                return found
            max_id = page[-1]["id"]

    def public_metrics(self, remote_ids: list[str]) -> dict[str, dict[str, int]]:
        """``GET /api/v1/statuses/:id`` for each post: favourites, reblogs and replies under X's names."""
        metrics: dict[str, dict[str, int]] = {}
        for remote_id in dict.fromkeys(str(i) for i in remote_ids):
            try:
                status = self._call("read post metrics", self.api.status, remote_id)
            except PublishError as exc:
                if exc.kind == ErrorKind.REJECTED:  # deleted on Mastodon: left out
                    continue
                raise
            metrics[remote_id] = {
                "like_count": int(status.get("favourites_count") or 0),
                "retweet_count": int(status.get("reblogs_count") or 0),
                "reply_count": int(status.get("replies_count") or 0),
                "quote_count": int(status.get("quotes_count") or 0),
            }
        return metrics

    def mentions(self, *, since_id: str | None = None) -> list[Mention]:
        """Notifications of type ``mention`` whose status is newer than ``since_id``, newest first."""
        found: list[Mention] = []
        max_id = None
        while True:
            page = self._call("read mentions", self.api.notifications, types=["mention"], limit=_PAGE, max_id=max_id)
            for note in page or []:
                status = note.get("status")
                if note.get("type") != "mention" or not status:
                    continue
                if since_id and since_id.isdigit() and int(status["id"]) <= int(since_id):
                    return found
                author = status.get("account") or {}
                found.append(
                    Mention(
                        str(status["id"]),
                        html_to_text(status["content"]),
                        str(author.get("id")) if author.get("id") is not None else None,
                        author.get("acct"),
                        _when(status.get("created_at")),
                        status.get("language"),
                    )
                )
            if not page or len(page) < _PAGE or since_id is None:
                return found
            max_id = page[-1]["id"]
