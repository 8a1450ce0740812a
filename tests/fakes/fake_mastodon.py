"""A fake Mastodon instance: a real HTTP server on 127.0.0.1, one thread per request.

It speaks the REST endpoints Reach uses through Mastodon.py — ``GET /api/v1/accounts/verify_credentials``,
``GET /api/v1/instance`` and ``/api/v2/instance``, ``POST /api/v1/statuses`` (form fields, ``Idempotency-Key`` header),
``GET /api/v1/accounts/:id/statuses`` (``max_id``, ``limit``), ``GET /api/v1/statuses/:id``,
``GET /api/v1/notifications`` (``types[]``) — with Mastodon's JSON shapes (status ``content`` is
HTML) and error bodies (``{"error": …}``), and switches for the faults a scheduler must survive:

- ``fail_next(status, count, route=...)``: the next ``count`` matching requests answer 429 (with
  Mastodon's ``X-RateLimit-Limit/Remaining/Reset`` headers, the reset an ISO time), 5xx, 401 or 403;
- ``delay_next(seconds, count)``: the next statuses are *created*, then answered late;
- ``hold_next_post()``: the next status is created and its answer held until ``release()``;
- ``honour_idempotency``: a repeated ``Idempotency-Key`` gets the status it made before, as Mastodon
  does within an hour (switch it off to play an instance that ignores the header).

Requests must carry ``Authorization: Bearer <token>`` or they get 401.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from tests.fakes.loopback import JsonHandler, LoopbackServer

__all__ = ["FakeMastodon", "FakeStatus"]

_LINK = re.compile(r"https?://\S+")


def _html(text: str) -> str:
    """Mastodon's rendering of a status: paragraphs, <br>, links as anchors with the invisible parts."""

    def link(match: re.Match) -> str:
        url = match.group(0)
        scheme, rest = url.split("://", 1)
        shown, hidden = rest[:30], rest[30:]
        return (
            f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener">'
            f'<span class="invisible">{scheme}://</span><span class="ellipsis">{html.escape(shown)}</span>'
            f'<span class="invisible">{html.escape(hidden)}</span></a>'
        )

    paragraphs = []
    for para in text.split("\n\n"):
        parts = []
        last = 0
        for match in _LINK.finditer(para):
            parts.append(html.escape(para[last : match.start()]))
            parts.append(link(match))
            last = match.end()
        parts.append(html.escape(para[last:]))
        paragraphs.append("<p>" + "".join(parts).replace("\n", "<br />") + "</p>")
    return "".join(paragraphs)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class FakeStatus:
    id: str
    text: str
    account: dict
    created_at: datetime
    in_reply_to_id: str | None = None
    language: str = "en"
    favourites_count: int = 0
    reblogs_count: int = 0
    replies_count: int = 0

    def as_json(self, base: str) -> dict:
        return {
            "id": self.id,
            "uri": f"{base}/users/{self.account['username']}/statuses/{self.id}",
            "url": f"{base}/@{self.account['username']}/{self.id}",
            "created_at": _iso(self.created_at),
            "account": self.account,
            "content": _html(self.text),
            "visibility": "public",
            "sensitive": False,
            "spoiler_text": "",
            "language": self.language,
            "in_reply_to_id": self.in_reply_to_id,
            "in_reply_to_account_id": None,
            "reblog": None,
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "replies_count": self.replies_count,
            "reblogs_count": self.reblogs_count,
            "favourites_count": self.favourites_count,
            "edited_at": None,
            "poll": None,
            "card": None,
            "application": {"name": "Reach", "website": None},
        }


@dataclass
class _Fault:
    status: int
    count: int
    route: str  # "POST /api/v1/statuses", "GET", "*"
    reset_in: int = 300


def _account(account_id: str, username: str, base: str) -> dict:
    return {
        "id": account_id,
        "username": username,
        "acct": username,
        "display_name": username.title(),
        "locked": False,
        "bot": False,
        "created_at": "2024-01-01T00:00:00.000Z",
        "note": "",
        "url": f"{base}/@{username}",
        "avatar": f"{base}/avatars/original/missing.png",
        "header": f"{base}/headers/original/missing.png",
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": 0,
        "emojis": [],
        "fields": [],
    }


class FakeMastodon(LoopbackServer):
    """The fake instance and its switches. Thread-safe; inspect ``statuses`` and ``requests``."""

    thread_name = "fake-mastodon"

    def __init__(
        self,
        *,
        token: str = "fake-mastodon-token",
        username: str = "reach_test",
        account_id: str = "109000000000000001",
        max_characters: int = 500,
        rate_limit_reset_in: int = 300,
    ) -> None:
        self.token = token
        self.username = username
        self.account_id = account_id
        self.max_characters = max_characters
        self.rate_limit_reset_in = rate_limit_reset_in
        self.honour_idempotency = True
        self.statuses: list[FakeStatus] = []  # the account's own, oldest first
        self.others: list[FakeStatus] = []  # other people's statuses (mentions of the account)
        self.requests: list[tuple[str, str]] = []
        self.idempotency_keys: list[str] = []  # the Idempotency-Key of every status request, in order
        self._keys: dict[str, FakeStatus] = {}
        self._faults: list[_Fault] = []
        self._init_answers()
        self._ids = itertools.count(110_000_000_000_000_000)
        self._notification_ids = itertools.count(1000)
        self._notifications: list[tuple[str, FakeStatus]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- switches -------------------------------------------------------------------------------
    def fail_next(
        self, status: int, count: int = 1, *, route: str = "POST /api/v1/statuses", reset_in: int | None = None
    ) -> None:
        """Answer the next ``count`` requests on ``route`` ("POST /api/v1/statuses", "GET" or "*") with ``status``."""
        with self._lock:
            self._faults.append(
                _Fault(status, count, route, self.rate_limit_reset_in if reset_in is None else reset_in)
            )

    def add_mention(
        self, text: str, *, username: str = "lily", language: str = "en", status_id: str | None = None
    ) -> FakeStatus:
        """A status by ``username`` mentioning the account, with its notification (``status_id`` picks
        its id, e.g. one another network also uses)."""
        with self._lock:
            author = _account(str(next(self._ids)), username, "https://elsewhere.example")
            author["acct"] = f"{username}@elsewhere.example"
            status_id = status_id or str(next(self._ids))
            status = FakeStatus(status_id, text, author, datetime.now(UTC), language=language)
            self.others.append(status)
            self._notifications.append((str(next(self._notification_ids)), status))
            return status

    def add_status(self, text: str, *, created_at: datetime | None = None) -> FakeStatus:
        """A status on the account made outside Reach (or earlier)."""
        with self._lock:
            status = FakeStatus(str(next(self._ids)), text, self._me(), created_at or datetime.now(UTC))
            self.statuses.append(status)
            return status

    def set_metrics(self, status_id: str, **counts: int) -> None:
        """Change a status's ``favourites_count``, ``reblogs_count``, ``replies_count``."""
        with self._lock:
            for status in self.statuses:
                if status.id == status_id:
                    for name, value in counts.items():
                        setattr(status, name, value)

    def texts(self) -> list[str]:
        """Texts of the account's statuses, oldest first."""
        with self._lock:
            return [s.text for s in self.statuses]

    def creates(self) -> int:
        """How many create requests arrived (refused ones too)."""
        return self.requests.count(("POST", "/api/v1/statuses"))

    def remote_ids(self) -> list[str]:
        """The ids Reach records for the account's posts, oldest first."""
        with self._lock:
            return [s.id for s in self.statuses]

    # -- used by the handler --------------------------------------------------------------------
    def _me(self) -> dict:
        return _account(self.account_id, self.username, self.base_url if self._server else "http://fake")

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                matches = fault.route == "*" or fault.route == method or fault.route == f"{method} {path}"
                if matches and fault.count > 0:
                    fault.count -= 1
                    return fault
        return None

    def _create(self, text: str, in_reply_to: str | None, key: str | None):
        with self._lock:
            if key is not None:
                self.idempotency_keys.append(key)
            if key and self.honour_idempotency and key in self._keys:
                return self._keys[key], 0.0, None
            status = FakeStatus(str(next(self._ids)), text, self._me(), datetime.now(UTC), in_reply_to)
            self.statuses.append(status)
            if key:
                self._keys[key] = status
            for other in self.statuses + self.others:
                if other.id == in_reply_to:
                    other.replies_count += 1
            delay, hold = self._take_answer()
        self._posted(hold)
        return status, delay, hold


class _Handler(JsonHandler):
    fake: FakeMastodon

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"error": message}, headers)

    def _authorised(self) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {self.fake.token}"

    def _fault(self, method: str, path: str) -> bool:
        fault = self.fake._take_fault(method, path)
        if fault is None:
            return False
        if fault.status == 429:
            reset = datetime.now(UTC) + timedelta(seconds=fault.reset_in)
            self._error(
                429,
                "Too many requests",
                {
                    "X-RateLimit-Limit": "300",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                },
            )
        elif fault.status == 401:
            self._error(401, "The access token is invalid")
        elif fault.status == 403:
            self._error(403, "This action is not allowed")
        else:
            self._error(fault.status, "We're sorry, but something went wrong on our end.")
        return True

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if "json" in self.headers.get("Content-Type", ""):
            return json.loads(raw or "{}")
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def do_POST(self) -> None:
        url = urlparse(self.path)
        url = url._replace(path=url.path.rstrip("/") or "/")
        form = self._form()
        self.fake.requests.append(("POST", url.path))
        if not self._authorised():
            return self._error(401, "The access token is invalid")
        if self._fault("POST", url.path):
            return None
        if url.path != "/api/v1/statuses":
            return self._error(404, "Record not found")
        text = form.get("status", "")
        if not text.strip():
            return self._error(422, "Validation failed: Text can't be blank")
        from core.delivery.channels.text_length import mastodon_length

        if mastodon_length(text) > self.fake.max_characters:
            return self._error(422, f"Validation failed: Text character limit of {self.fake.max_characters} exceeded")
        status, delay, hold = self.fake._create(
            text, form.get("in_reply_to_id") or None, self.headers.get("Idempotency-Key")
        )
        if hold is not None:
            hold.wait(timeout=120)
        if delay:
            time.sleep(delay)
        return self._send(200, status.as_json(self.fake.base_url))

    def do_GET(self) -> None:
        url = urlparse(self.path)
        url = url._replace(path=url.path.rstrip("/") or "/")
        query = parse_qs(url.query)
        one = {k: v[-1] for k, v in query.items()}
        parts = url.path.strip("/").split("/")
        self.fake.requests.append(("GET", url.path))
        fake = self.fake
        if url.path in ("/api/v1/instance", "/api/v2/instance"):  # public
            return self._send(
                200,
                {
                    "uri": "fake.example",
                    "domain": "fake.example",
                    "title": "Fake Mastodon",
                    "version": "4.3.0",
                    "api_versions": {"mastodon": 2},
                    "configuration": {
                        "statuses": {"max_characters": fake.max_characters, "characters_reserved_per_url": 23}
                    },
                },
            )
        if not self._authorised():
            return self._error(401, "The access token is invalid")
        if self._fault("GET", url.path):
            return None
        base = fake.base_url
        if url.path == "/api/v1/accounts/verify_credentials":
            return self._send(200, fake._me())
        if len(parts) == 5 and parts[:3] == ["api", "v1", "accounts"] and parts[4] == "statuses":
            if parts[3] != fake.account_id:
                return self._error(404, "Record not found")
            with fake._lock:
                mine = sorted(fake.statuses, key=lambda s: int(s.id), reverse=True)
            if "max_id" in one:
                mine = [s for s in mine if int(s.id) < int(one["max_id"])]
            if "since_id" in one:
                mine = [s for s in mine if int(s.id) > int(one["since_id"])]
            limit = min(40, int(one.get("limit", "20")))
            return self._send(200, [s.as_json(base) for s in mine[:limit]])
        if len(parts) == 4 and parts[:3] == ["api", "v1", "statuses"]:
            with fake._lock:
                found = next((s for s in fake.statuses + fake.others if s.id == parts[3]), None)
            if found is None:
                return self._error(404, "Record not found")
            return self._send(200, found.as_json(base))
        if url.path == "/api/v1/notifications":
            types = query.get("types[]", []) or query.get("types", [])
            with fake._lock:
                notes = list(reversed(fake._notifications))
            if "max_id" in one:
                notes = [n for n in notes if int(n[0]) < int(one["max_id"])]
            limit = min(40, int(one.get("limit", "15")))
            body = [
                {
                    "id": note_id,
                    "type": "mention",
                    "created_at": _iso(status.created_at),
                    "account": status.account,
                    "status": status.as_json(base),
                }
                for note_id, status in notes
                if not types or "mention" in types
            ]
            return self._send(200, body[:limit])
        return self._error(404, "Record not found")


FakeMastodon.handler = _Handler  # defined below the fake, which it serves
