"""X (Twitter) as a channel: API v2 through ``tweepy.Client`` with OAuth 1.0a user context.

X is pay-per-use: every call that returns something costs credits. When a :class:`UsageLedger`
is given (:meth:`XPublisher.connect` gives one), each answered call is written down as X bills it:
one post created per send (dearer with a link), one post read per post returned, one user read
per user returned. A ``402 Payment Required`` (X's ``credits-depleted`` problem) becomes kind
``credits``.

Lengths follow twitter-text (links count 23, Chinese/Japanese/Korean characters and emoji 2);
an account posts up to 280 weighted characters, 25,000 with X Premium. tweepy's and requests'
errors become :class:`PublishError` kinds in one place, :meth:`XPublisher._call`.

X credentials come from the environment (``X_CONSUMER_KEY``, ``X_CONSUMER_SECRET``,
``X_ACCESS_TOKEN``, ``X_ACCESS_TOKEN_SECRET``) or from ``[x]`` in ``.streamlit/secrets.toml``
(read with tomllib: ``core`` does not import Streamlit). ``REACH_X_API_BASE`` sends tweepy's
requests to another base URL (a sandbox, the tests' fake X) through a transport adapter mounted
on tweepy's own ``requests`` session; tweepy itself is not patched.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
import tweepy
from requests.adapters import HTTPAdapter

from core import clock
from core.content.checks import weighted_length
from core.delivery.channels.base import Account, ErrorKind, Mention, PublishError, SentPost
from core.delivery.channels.usage import POST_READ, USER_READ, UsageLedger, create_kind
from core.workspace import Workspace

__all__ = ["CREDENTIAL_NAMES", "DEFAULT_X_API_BASE", "XCredentials", "XPublisher", "load_x_credentials"]

log = logging.getLogger(__name__)

DEFAULT_X_API_BASE = "https://api.twitter.com"
# environment variable -> key under [x] in secrets.toml
CREDENTIAL_NAMES = {
    "X_CONSUMER_KEY": "consumer_key",
    "X_CONSUMER_SECRET": "consumer_secret",
    "X_ACCESS_TOKEN": "access_token",
    "X_ACCESS_TOKEN_SECRET": "access_token_secret",
}
RECONNECT = (
    "Reconnect your X keys: create new ones in the X developer portal (the app needs Read and Write "
    "permission), put them in .streamlit/secrets.toml under [x] (or in X_* environment variables and "
    "restart Reach), then retry the post."
)

CREDITS_DEPLETED = "https://api.x.com/2/problems/credits-depleted"
TOP_UP = "top up your X API credits in the X Developer Console (developer.x.com)"

# oauthlib logs the signed OAuth parameters (consumer key, access token) at DEBUG; keep them out
# of every log, whatever level the host application sets.
for _noisy in ("oauthlib", "requests_oauthlib"):
    logging.getLogger(_noisy).setLevel(logging.INFO)


@dataclass(frozen=True)
class XCredentials:
    """OAuth 1.0a user-context keys. ``repr`` never shows them."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    def __repr__(self) -> str:
        return "XCredentials(<hidden>)"

    def values(self) -> tuple[str, ...]:
        """The secret strings, for redaction."""
        return (self.consumer_key, self.consumer_secret, self.access_token, self.access_token_secret)


def _secrets_files() -> list[Path]:
    # Streamlit reads the project's file and the user's global one; so do we, project first.
    return [Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]


def load_x_credentials(
    *, environ: dict[str, str] | None = None, secrets_files: list[Path] | None = None
) -> XCredentials | None:
    """X keys from the environment, else from ``[x]`` in secrets.toml; None when none are set.

    Raises
    ------
    PublishError
        (kind ``auth``) when only some of the four keys are set; the message names the missing
        ones, never a value.
    """
    environ = os.environ if environ is None else environ
    found = {key: environ.get(env, "").strip() for env, key in CREDENTIAL_NAMES.items()}
    source = "environment"
    if not any(found.values()):
        source = "secrets.toml"
        for path in secrets_files if secrets_files is not None else _secrets_files():
            try:
                section = tomllib.loads(path.read_text(encoding="utf-8")).get("x", {})
            except (OSError, tomllib.TOMLDecodeError):
                continue
            found = {key: str(section.get(key, "")).strip() for key in CREDENTIAL_NAMES.values()}
            if any(found.values()):
                break
    if not any(found.values()):
        return None
    missing = [env for env, key in CREDENTIAL_NAMES.items() if not found[key]]
    if missing:
        raise PublishError(
            ErrorKind.AUTH, f"incomplete X keys in the {source}: {', '.join(missing)} not set. {RECONNECT}"
        )
    return XCredentials(**found)


class _RoutingAdapter(HTTPAdapter):
    """Sends tweepy's fixed-host requests to ``base`` and bounds each one by ``timeout`` seconds."""

    def __init__(self, base: str, timeout: float) -> None:
        super().__init__()
        self.base = base.rstrip("/")
        self.timeout = timeout

    def send(self, request, **kwargs):  # type: ignore[override]
        if self.base != DEFAULT_X_API_BASE and request.url.startswith(DEFAULT_X_API_BASE):
            request.url = self.base + request.url[len(DEFAULT_X_API_BASE) :]
            # proxies were chosen for api.twitter.com; choose again for where the request now goes
            kwargs["proxies"] = requests.utils.get_environ_proxies(request.url, no_proxy=None)
        # tweepy passes no timeout: without one a hung connection would hold the claim forever
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class XPublisher:
    """X (Twitter) API v2 through ``tweepy.Client`` with OAuth 1.0a user context."""

    name = "x"
    label = "X"
    live = True
    char_limits = (280, 25_000)
    length_rule = "X's count (links count 23, Chinese/Japanese/Korean characters 2)"
    engagements_read = "likes + reposts + replies + quotes"
    daily_cap = 17  # the free tier's old 17 posts a day; on pay-per-use every post costs credits
    duplicate_rule = "X refuses duplicate posts, so change the wording"
    connect_hint = "put your keys in `.streamlit/secrets.toml` under `[x]` (see the README)"
    weighted_length = staticmethod(weighted_length)

    @classmethod
    def configured(cls) -> bool:
        """Whether X keys are set (incomplete ones too: :meth:`connect` then names what is missing)."""
        try:
            return load_x_credentials() is not None
        except PublishError:
            return True

    @classmethod
    def connect(cls, ws: Workspace, *, timeout: float) -> XPublisher:
        """A publisher with the configured keys.

        Raises
        ------
        PublishError
            (kind ``auth``) when the X keys are missing or incomplete.
        """
        credentials = load_x_credentials()
        if credentials is None:
            raise PublishError(ErrorKind.AUTH, f"no X keys are set, so nothing can be posted to X. {RECONNECT}")
        return cls(credentials, timeout=timeout, ledger=UsageLedger(ws, cls.name))

    def __init__(
        self,
        credentials: XCredentials,
        *,
        api_base: str | None = None,
        timeout: float = 20.0,
        ledger: UsageLedger | None = None,
    ) -> None:
        self._secrets = tuple(v for v in credentials.values() if v)
        self.ledger = ledger
        self.api_base = (api_base or os.environ.get("REACH_X_API_BASE") or DEFAULT_X_API_BASE).rstrip("/")
        self.client = tweepy.Client(
            consumer_key=credentials.consumer_key,
            consumer_secret=credentials.consumer_secret,
            access_token=credentials.access_token,
            access_token_secret=credentials.access_token_secret,
        )
        self.client.session.mount(DEFAULT_X_API_BASE, _RoutingAdapter(self.api_base, timeout))
        self._account: Account | None = None

    # The one place tweepy's and requests' errors become PublishError kinds.
    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except tweepy.TooManyRequests as exc:
            reset = getattr(exc, "reset_time", None)
            retry_at = datetime.fromtimestamp(reset, UTC) if reset else None
            raise PublishError(
                ErrorKind.RATE_LIMITED, f"X rate limit reached while trying to {what}", retry_at=retry_at
            ) from None
        except tweepy.Unauthorized:
            raise PublishError(
                ErrorKind.AUTH, f"X did not accept the keys (401) while trying to {what}. {RECONNECT}"
            ) from None
        except tweepy.Forbidden as exc:
            detail = self._redact(" ".join(exc.api_messages) or str(exc))
            if "duplicate" in detail.lower():
                raise PublishError(ErrorKind.DUPLICATE, f"X refused the post as duplicate content ({detail})") from None
            raise PublishError(ErrorKind.AUTH, f"X refused to {what} (403: {detail}). {RECONNECT}") from None
        except tweepy.TwitterServerError as exc:
            status = getattr(exc.response, "status_code", "5xx")
            raise PublishError(ErrorKind.TRANSIENT, f"X had a server error ({status}) while trying to {what}") from None
        except tweepy.HTTPException as exc:
            status = getattr(exc.response, "status_code", "?")
            if status == 402:  # X's credits-depleted problem (any 402 from X means the same)
                raise PublishError(
                    ErrorKind.CREDITS, f"X is out of credits (402 Payment Required) to {what}: {TOP_UP}"
                ) from None
            detail = self._redact(" ".join(exc.api_messages) or str(exc))
            raise PublishError(ErrorKind.REJECTED, f"X refused to {what} ({status}: {detail})") from None
        except requests.Timeout:
            raise PublishError(ErrorKind.TRANSIENT, f"X did not answer in time while trying to {what}") from None
        except requests.RequestException as exc:
            raise PublishError(ErrorKind.TRANSIENT, f"could not reach X to {what} ({type(exc).__name__})") from None

    def _bill(self, kind: str, resource_ids) -> None:
        """Write down what X bills for an answered call (nothing without a ledger)."""
        if self.ledger is not None:
            self.ledger.record(kind, [str(i) for i in resource_ids])

    def _redact(self, text: str) -> str:
        for value in self._secrets:
            text = text.replace(value, "***")
        return text

    def account(self) -> Account:
        """The authenticated account (one ``GET /2/users/me`` per publisher)."""
        if self._account is None:
            response = self._call("look up your account", self.client.get_me, user_auth=True)
            self._account = Account(str(response.data.id), str(response.data.username))
            self._bill(USER_READ, [self._account.user_id])
        return self._account

    def _url(self, remote_id: str) -> str:
        return f"https://x.com/{self.account().username}/status/{remote_id}"

    def send(self, text: str, *, in_reply_to: str | None = None) -> SentPost:
        """``POST /2/tweets`` (with ``reply.in_reply_to_tweet_id`` for a reply)."""
        response = self._call(
            "publish the post", self.client.create_tweet, text=text, user_auth=True, in_reply_to_tweet_id=in_reply_to
        )
        data = response.data or {}
        remote_id = str(data.get("id", ""))
        if not remote_id:
            raise PublishError(ErrorKind.TRANSIENT, "X answered without a post id; the post will be looked up")
        self._bill(create_kind(text), [remote_id])
        try:
            url = self._url(remote_id)
        except PublishError:  # posted; the link can be rebuilt later
            url = f"https://x.com/i/web/status/{remote_id}"
        return SentPost(remote_id, str(data.get("text", text)), url, datetime.now(UTC))

    def recent_posts(self, *, since: datetime) -> list[SentPost]:
        """``GET /2/users/:id/tweets`` since ``since`` (at most 100: enough for reconciliation)."""
        account = self.account()
        response = self._call(
            "look up recent posts",
            self.client.get_users_tweets,
            account.user_id,
            user_auth=True,
            max_results=100,
            start_time=since.astimezone(UTC),
            tweet_fields=["created_at"],
        )
        posts = []
        self._bill(POST_READ, [t.id for t in response.data or []])
        for tweet in response.data or []:
            remote_id = str(tweet.id)
            created = tweet.created_at if isinstance(tweet.created_at, datetime) else clock.from_iso(tweet.created_at)
            posts.append(
                SentPost(remote_id, tweet.text, f"https://x.com/{account.username}/status/{remote_id}", created)
            )
        return posts

    def public_metrics(self, remote_ids: list[str]) -> dict[str, dict[str, int]]:
        """``GET /2/tweets?ids=…&tweet.fields=public_metrics``, 100 ids a call."""
        metrics: dict[str, dict[str, int]] = {}
        ids = list(dict.fromkeys(str(i) for i in remote_ids))
        for start in range(0, len(ids), 100):
            response = self._call(
                "read post metrics",
                self.client.get_tweets,
                ids[start : start + 100],
                user_auth=True,
                tweet_fields=["public_metrics"],
            )
            self._bill(POST_READ, [t.id for t in response.data or []])
            for tweet in response.data or []:
                metrics[str(tweet.id)] = {k: int(v or 0) for k, v in (tweet.public_metrics or {}).items()}
        return metrics

    def mentions(self, *, since_id: str | None = None) -> list[Mention]:
        """``GET /2/users/:id/mentions`` newer than ``since_id``, every page, with authors' handles."""
        account = self.account()
        found: list[Mention] = []
        token = None
        while True:
            response = self._call(
                "read mentions",
                self.client.get_users_mentions,
                account.user_id,
                user_auth=True,
                max_results=100,
                since_id=since_id,
                pagination_token=token,
                tweet_fields=["created_at", "author_id", "lang"],
                expansions=["author_id"],
                user_fields=["username"],
            )
            users = {str(u.id): u.username for u in (response.includes or {}).get("users", [])}
            self._bill(POST_READ, [t.id for t in response.data or []])
            self._bill(USER_READ, users)
            for tweet in response.data or []:
                created = (
                    tweet.created_at if isinstance(tweet.created_at, datetime) else clock.from_iso(tweet.created_at)
                )
                author = str(tweet.author_id) if tweet.author_id is not None else None
                found.append(Mention(str(tweet.id), tweet.text, author, users.get(author or ""), created, tweet.lang))
            token = (response.meta or {}).get("next_token")
            if not token:
                return found
