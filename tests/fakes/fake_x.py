"""A fake X API v2: a real HTTP server on 127.0.0.1, one thread per request.

It speaks the endpoints Reach uses — ``POST /2/tweets``, ``GET /2/users/me``,
``GET /2/users/:id/tweets``, ``GET /2/tweets``, ``GET /2/users/:id/mentions`` — with the JSON
shapes and error bodies X sends, and switches for the faults a scheduler must survive:

- ``fail_next(status, count, route=..., hold=...)``: the next ``count`` matching requests answer 429 (with
  ``x-rate-limit-*`` headers), 5xx, 401 or 403;
- ``delay_next(seconds, count)``: the next posts are *created*, then answered late (a client with
  a shorter timeout never learns the id);
- ``hold_next_post()``: the next post is created and its answer held until ``release()`` (or the
  client dies) — ``post_received`` is set when the post exists;
- duplicate content is refused with 403 like X does (``reject_duplicates``);
- ``out_of_credits = True``: every request answers ``402 Payment Required`` with X's
  ``credits-depleted`` problem until it is set back to False (credits topped up);
  ``fail_next(402, …)`` does the same for a few requests.

``served`` logs every answered request with its status and the resources it returned (posts
created or read, users read), so a test can price what Reach did against what the fake did.

Tweets carry ``public_metrics`` (``set_metrics`` changes them); replies keep ``in_reply_to_tweet_id``;
mentions (``add_mention``) come with their authors' handles under ``expansions=author_id``.
Requests must carry an OAuth 1.0a header with the expected consumer key, or they get 401.
Use it as a context manager; ``base_url`` goes into ``REACH_X_API_BASE``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

from tests.fakes.loopback import JsonHandler, LoopbackServer

__all__ = ["CREDITS_DEPLETED", "FakeTweet", "FakeX", "Served"]

DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
CREDITS_DEPLETED = "https://api.x.com/2/problems/credits-depleted"


@dataclass
class Served:
    """One answered request: what X would bill for it (posts created, posts and users returned)."""

    method: str
    path: str
    status: int
    day: str = field(default_factory=lambda: datetime.now(UTC).date().isoformat())  # X bills reads per UTC day
    created: list[str] = field(default_factory=list)
    posts: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)


@dataclass
class FakeTweet:
    id: str
    text: str
    author_id: str
    created_at: datetime
    in_reply_to_tweet_id: str | None = None
    lang: str = "en"
    public_metrics: dict = field(
        default_factory=lambda: {
            "retweet_count": 0,
            "reply_count": 0,
            "like_count": 0,
            "quote_count": 0,
            "bookmark_count": 0,
            "impression_count": 0,
        }
    )

    def as_json(self, fields: set[str]) -> dict:
        out = {"id": self.id, "text": self.text, "edit_history_tweet_ids": [self.id]}
        if "created_at" in fields:
            out["created_at"] = self.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if "author_id" in fields:
            out["author_id"] = self.author_id
        if "lang" in fields:
            out["lang"] = self.lang
        if "referenced_tweets" in fields and self.in_reply_to_tweet_id:
            out["referenced_tweets"] = [{"type": "replied_to", "id": self.in_reply_to_tweet_id}]
        if "public_metrics" in fields:
            out["public_metrics"] = dict(self.public_metrics)
        return out


@dataclass
class _Fault:
    status: int
    count: int
    route: str  # "POST /2/tweets", "GET", "*"
    reset_in: int = 900
    hold: threading.Event | None = None  # answer only once released


class FakeX(LoopbackServer):
    """The fake server and its switches. Thread-safe; inspect ``tweets`` and ``requests``."""

    thread_name = "fake-x"

    def __init__(
        self,
        *,
        user_id: str = "1500000000000000001",
        username: str = "reach_test",
        consumer_key: str | None = "fake-consumer-key",
        rate_limit_reset_in: int = 900,
    ) -> None:
        self.user_id = user_id
        self.username = username
        self.consumer_key = consumer_key
        self.rate_limit_reset_in = rate_limit_reset_in
        self.reject_duplicates = True
        self.tweets: list[FakeTweet] = []
        self.mentions: list[FakeTweet] = []
        self.usernames: dict[str, str] = {}  # author id -> handle, for ``expansions=author_id``
        self.requests: list[tuple[str, str]] = []  # (method, path) in arrival order
        self.served: list[Served] = []  # every answer, in order, with the resources it held
        self.out_of_credits = False
        self.fault_received = threading.Event()
        self._faults: list[_Fault] = []
        self._init_answers()
        self._ids = itertools.count(1_800_000_000_000_000_000)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- switches -------------------------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        route: str = "POST /2/tweets",
        reset_in: int | None = None,
        hold: bool = False,
    ) -> None:
        """Answer the next ``count`` requests on ``route`` ("POST /2/tweets", "GET" or "*") with ``status``
        (with ``hold``, only after :meth:`release`; ``fault_received`` is set when one arrives)."""
        with self._lock:
            self.fault_received.clear()
            self._faults.append(
                _Fault(
                    status,
                    count,
                    route,
                    self.rate_limit_reset_in if reset_in is None else reset_in,
                    threading.Event() if hold else None,
                )
            )

    def add_tweet(self, text: str, *, created_at: datetime | None = None) -> FakeTweet:
        """A post on the account made outside Reach (or earlier)."""
        with self._lock:
            tweet = FakeTweet(str(next(self._ids)), text, self.user_id, created_at or datetime.now(UTC))
            self.tweets.append(tweet)
            return tweet

    def add_mention(
        self,
        text: str,
        *,
        author_id: str = "42",
        lang: str = "en",
        username: str | None = None,
        tweet_id: str | None = None,
    ) -> FakeTweet:
        """A mention of the account by someone else (``username`` defaults to ``user<author_id>``;
        ``tweet_id`` picks its id, e.g. one another network also uses)."""
        with self._lock:
            self.usernames[author_id] = username or f"user{author_id}"
            tweet = FakeTweet(tweet_id or str(next(self._ids)), text, author_id, datetime.now(UTC), lang=lang)
            self.mentions.append(tweet)
            return tweet

    def set_metrics(self, tweet_id: str, **metrics: int) -> None:
        """Change a post's public metrics (likes, replies, impressions, …)."""
        with self._lock:
            for tweet in self.tweets:
                if tweet.id == tweet_id:
                    tweet.public_metrics.update(metrics)

    def texts(self) -> list[str]:
        """Texts of the account's posts, oldest first."""
        with self._lock:
            return [t.text for t in self.tweets]

    # -- used by the handler ---------------------------------------------------------------------
    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                matches = fault.route == "*" or fault.route == method or fault.route == f"{method} {path}"
                if matches and fault.count > 0:
                    fault.count -= 1
                    return fault
        return None

    def _other_holds(self) -> list[threading.Event | None]:
        return [fault.hold for fault in self._faults]  # a fault held open is let go with held posts

    def _create(
        self, text: str, in_reply_to: str | None = None
    ) -> tuple[FakeTweet | None, float, threading.Event | None]:
        with self._lock:
            if self.reject_duplicates and any(t.text == text for t in self.tweets):
                return None, 0.0, None
            tweet = FakeTweet(str(next(self._ids)), text, self.user_id, datetime.now(UTC), in_reply_to)
            self.tweets.append(tweet)
            delay, hold = self._take_answer()
        self._posted(hold)
        return tweet, delay, hold


class _Handler(JsonHandler):
    fake: FakeX

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        self.fake.served.append(_served(self.command, urlparse(self.path).path, status, body))
        super()._send(status, body, headers)

    def _problem(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"title": title, "detail": detail, "type": "about:blank", "status": status}, headers)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return False
        expected = self.fake.consumer_key
        return expected is None or f'oauth_consumer_key="{expected}"' in header

    def _fault(self, method: str, path: str) -> bool:
        fault = self.fake._take_fault(method, path)
        if fault is None:
            return False
        if fault.hold is not None:
            self.fake.fault_received.set()
            fault.hold.wait(30)
        if fault.status == 402:
            self._credits_depleted()
        elif fault.status == 429:
            reset = int(time.time()) + fault.reset_in
            self._send(
                429,
                {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
                {"x-rate-limit-limit": "17", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
            )
        elif fault.status == 401:
            self._problem(401, "Unauthorized", "Unauthorized")
        elif fault.status == 403:
            self._problem(
                403,
                "Forbidden",
                "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
            )
        else:
            self._problem(
                fault.status,
                "Service Unavailable" if fault.status == 503 else "Internal Server Error",
                "Something went wrong on X's side.",
            )
        return True

    def _credits_depleted(self) -> None:
        self._send(
            402,
            {
                "title": "CreditsDepleted",
                "detail": "Your enrolled account does not have any credits to fulfill this request.",
                "type": CREDITS_DEPLETED,
                "status": 402,
            },
        )

    def _refused(self, method: str, path: str) -> bool:
        """Answer now with an error if the keys, a switched-on fault or the credits say so."""
        if not self._authorised():
            self._problem(401, "Unauthorized", "Unauthorized")
            return True
        if self.fake.out_of_credits:
            self._credits_depleted()
            return True
        return self._fault(method, path)

    def _read_json(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def do_POST(self) -> None:
        url = urlparse(self.path)
        body = self._read_json()
        self.fake.requests.append(("POST", url.path))
        if self._refused("POST", url.path):
            return None
        if url.path != "/2/tweets":
            return self._problem(404, "Not Found Error", f"no route {url.path}")
        text = body.get("text", "")
        if not text:
            return self._send(
                400,
                {
                    "errors": [{"message": "text must not be empty"}],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                },
            )
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        tweet, delay, hold = self.fake._create(text, str(reply_to) if reply_to else None)
        if tweet is None:
            return self._problem(403, "Forbidden", DUPLICATE_DETAIL)
        if hold is not None:
            hold.wait(timeout=120)
        if delay:
            time.sleep(delay)
        return self._send(201, {"data": {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}})

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        fields = set(query.get("tweet.fields", "").split(","))
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        self.fake.requests.append(("GET", url.path))
        if self._refused("GET", url.path):
            return None
        fake = self.fake
        if parts == ["2", "users", "me"]:
            return self._send(200, {"data": {"id": fake.user_id, "name": "Reach Test", "username": fake.username}})
        if len(parts) == 4 and parts[:2] == ["2", "users"] and parts[3] in ("tweets", "mentions"):
            if parts[2] != fake.user_id:
                return self._problem(404, "Not Found Error", f"Could not find user with id: [{parts[2]}].")
            with fake._lock:
                source = list(fake.tweets if parts[3] == "tweets" else fake.mentions)
            body = _timeline(source, query, fields)
            if "author_id" in query.get("expansions", "").split(",") and body.get("data"):
                authors = dict.fromkeys(t["author_id"] for t in (t.as_json({"author_id"}) for t in source))
                body["includes"] = {
                    "users": [{"id": a, "name": a, "username": fake.usernames.get(a, f"user{a}")} for a in authors]
                }
            return self._send(200, body)
        if parts == ["2", "tweets"]:
            ids = [i for i in query.get("ids", "").split(",") if i]
            with fake._lock:
                by_id = {t.id: t for t in fake.tweets + fake.mentions}
            data = [by_id[i].as_json(fields) for i in ids if i in by_id]
            body: dict = {"data": data} if data else {}
            missing = [i for i in ids if i not in by_id]
            if missing:
                body["errors"] = [
                    {
                        "value": i,
                        "detail": f"Could not find tweet with ids: [{i}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "ids",
                        "resource_id": i,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                    for i in missing
                ]
            return self._send(200, body)
        return self._problem(404, "Not Found Error", f"no route {url.path}")


def _timeline(tweets: list[FakeTweet], query: dict[str, str], fields: set[str]) -> dict:
    newest_first = sorted(tweets, key=lambda t: (t.created_at, int(t.id)), reverse=True)
    if "start_time" in query:
        start = datetime.fromisoformat(query["start_time"].replace("Z", "+00:00"))
        newest_first = [t for t in newest_first if t.created_at >= start - timedelta(seconds=0)]
    if "since_id" in query:
        newest_first = [t for t in newest_first if int(t.id) > int(query["since_id"])]
    offset = int(query.get("pagination_token", "0") or 0)
    limit = max(5, min(100, int(query.get("max_results", "10"))))
    page = newest_first[offset : offset + limit]
    meta: dict = {"result_count": len(page)}
    if page:
        meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
    if offset + limit < len(newest_first):
        meta["next_token"] = str(offset + limit)
    body: dict = {"meta": meta}
    if page:
        body["data"] = [t.as_json(fields) for t in page]
    return body


def _served(method: str, path: str, status: int, body: dict) -> Served:
    """What an answer holds, as X prices it: a created post, posts read, users read."""
    served = Served(method, path, status)
    if not 200 <= status < 300:
        return served
    data = body.get("data")
    if method == "POST":
        served.created.append(data["id"])
    elif path == "/2/users/me":
        served.users.append(data["id"])
    else:
        served.posts.extend(t["id"] for t in data or [])
        served.users.extend(u["id"] for u in (body.get("includes") or {}).get("users", []))
    return served


FakeX.handler = _Handler  # defined below the fake, which it serves
