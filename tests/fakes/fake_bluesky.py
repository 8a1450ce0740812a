"""A fake Bluesky PDS: a real HTTP server on 127.0.0.1 speaking the XRPC the ``atproto`` client uses.

Endpoints: ``com.atproto.server.createSession`` / ``getSession``, ``app.bsky.actor.getProfile``,
``com.atproto.identity.resolveHandle``, ``com.atproto.repo.createRecord`` / ``getRecord`` /
``listRecords``, ``app.bsky.feed.getPosts`` and ``app.bsky.notification.listNotifications`` —
with the protocol's JSON shapes (records carry ``$type``, references are ``{uri, cid}``) and
error bodies (``{"error", "message"}``). Switches for the faults a scheduler must survive:

- ``fail_next(status, count, route=...)``: the next ``count`` matching requests answer 429 (with
  Bluesky's ``ratelimit-limit/remaining/reset/policy`` headers, the reset in epoch seconds), 5xx or 401;
- ``delay_next(seconds, count)``: the next records are *created*, then answered late;
- ``hold_next_post()``: the next record is created and its answer held until ``release()``;
- ``repeated_key_status``: how a create under a record key that exists is refused (400
  ``InvalidRequest`` by default; 409 as some PDSs answer). A record key is never used twice.

Access tokens are JWT-shaped (the client reads their expiry); requests without the current one get 401.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from tests.fakes.loopback import JsonHandler, LoopbackServer

__all__ = ["FakeBluesky", "FakeRecord"]

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def _cid(data: bytes) -> str:
    """A CIDv1 (dag-cbor, sha-256) in base32, as the PDS names records."""
    raw = bytes([0x01, 0x71, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def _tid(counter: int) -> str:
    value = (int(time.time() * 1_000_000) + counter) << 10
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class FakeRecord:
    uri: str
    cid: str
    did: str
    handle: str
    value: dict
    indexed_at: datetime
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0

    @property
    def rkey(self) -> str:
        return self.uri.rsplit("/", 1)[-1]

    @property
    def text(self) -> str:
        return self.value.get("text", "")

    def ref(self) -> dict:
        return {"uri": self.uri, "cid": self.cid}

    def author(self) -> dict:
        return {"did": self.did, "handle": self.handle, "displayName": self.handle.split(".")[0].title()}

    def post_view(self) -> dict:
        return {
            "uri": self.uri,
            "cid": self.cid,
            "author": self.author(),
            "record": self.value,
            "indexedAt": _iso(self.indexed_at),
            "likeCount": self.likes,
            "repostCount": self.reposts,
            "replyCount": self.replies,
            "quoteCount": self.quotes,
            "labels": [],
        }


@dataclass
class _Fault:
    status: int
    count: int
    route: str  # "com.atproto.repo.createRecord", "GET", "*"
    reset_in: int = 300


@dataclass
class _Notification:
    record: FakeRecord
    reason: str
    read: bool = False
    extra: dict = field(default_factory=dict)


class FakeBluesky(LoopbackServer):
    """The fake PDS (with the AppView's feed and notification views) and its switches."""

    thread_name = "fake-bluesky"

    def __init__(
        self,
        *,
        handle: str = "reach-test.bsky.social",
        app_password: str = "fake-app-pass-word",
        did: str = "did:plc:reachtest0000000000000001",
        rate_limit_reset_in: int = 300,
    ) -> None:
        self.handle = handle
        self.app_password = app_password
        self.did = did
        self.rate_limit_reset_in = rate_limit_reset_in
        self.repeated_key_status = 400
        self.records: list[FakeRecord] = []  # the account's posts, oldest first
        self.others: list[FakeRecord] = []  # other people's posts (mentions and replies)
        self.handles: dict[str, str] = {handle: did}  # for resolveHandle
        self.requests: list[tuple[str, str]] = []  # (method, nsid)
        self.create_rkeys: list[str | None] = []  # the rkey of every createRecord, in order
        self.sessions = 0
        self._tokens: set[str] = set()
        self._notifications: list[_Notification] = []
        self._faults: list[_Fault] = []
        self._init_answers()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- switches -------------------------------------------------------------------------------
    def fail_next(
        self, status: int, count: int = 1, *, route: str = "com.atproto.repo.createRecord", reset_in: int | None = None
    ) -> None:
        """Answer the next ``count`` requests on ``route`` (an NSID, "GET", "POST" or "*") with ``status``."""
        with self._lock:
            self._faults.append(
                _Fault(status, count, route, self.rate_limit_reset_in if reset_in is None else reset_in)
            )

    def add_mention(self, text: str, *, handle: str = "lily.bsky.social", reply_to: FakeRecord | None = None):
        """A post by ``handle`` mentioning the account (a reply to ``reply_to`` when given), with its notification."""
        with self._lock:
            did = f"did:plc:{hashlib.sha256(handle.encode()).hexdigest()[:24]}"
            self.handles[handle] = did
            value = {"$type": "app.bsky.feed.post", "text": text, "createdAt": _iso(datetime.now(UTC)), "langs": ["en"]}
            if reply_to is not None:
                value["reply"] = {"root": reply_to.ref(), "parent": reply_to.ref()}
                reply_to.replies += 1
            record = self._record(did, handle, _tid(next(self._counter)), value)
            self.others.append(record)
            self._notifications.append(_Notification(record, "reply" if reply_to is not None else "mention"))
            return record

    def set_metrics(self, uri: str, **counts: int) -> None:
        """Change a post's ``likes``, ``reposts``, ``replies``, ``quotes``."""
        with self._lock:
            for record in self.records:
                if record.uri == uri:
                    for name, value in counts.items():
                        setattr(record, name, value)

    def texts(self) -> list[str]:
        """Texts of the account's posts, oldest first."""
        with self._lock:
            return [r.text for r in self.records]

    def creates(self) -> int:
        """How many create requests arrived (refused ones too)."""
        return self.requests.count(("POST", "com.atproto.repo.createRecord"))

    def remote_ids(self) -> list[str]:
        """The ids Reach records for the account's posts, oldest first."""
        with self._lock:
            return [r.uri for r in self.records]

    # -- used by the handler --------------------------------------------------------------------
    def _record(self, did: str, handle: str, rkey: str, value: dict) -> FakeRecord:
        uri = f"at://{did}/app.bsky.feed.post/{rkey}"
        return FakeRecord(uri, _cid(json.dumps(value, sort_keys=True).encode()), did, handle, value, datetime.now(UTC))

    def _new_token(self) -> tuple[str, str]:
        now = int(time.time())
        access = ".".join(
            [
                _b64({"typ": "at+jwt", "alg": "ES256K"}),
                _b64({"scope": "com.atproto.appPass", "sub": self.did, "iat": now, "exp": now + 7200}),
                _b64({"n": next(self._counter)}),
            ]
        )
        refresh = ".".join(
            [_b64({"typ": "refresh+jwt", "alg": "ES256K"}), _b64({"sub": self.did, "exp": now + 86400}), "sig"]
        )
        with self._lock:
            self._tokens.add(access)
            self.sessions += 1
        return access, refresh

    def _take_fault(self, method: str, nsid: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.route in ("*", method, nsid) and fault.count > 0:
                    fault.count -= 1
                    return fault
        return None

    def _all(self) -> list[FakeRecord]:
        return self.records + self.others

    def _create(self, rkey: str | None, value: dict):
        with self._lock:
            self.create_rkeys.append(rkey)
            rkey = rkey or _tid(next(self._counter))
            if any(r.rkey == rkey for r in self.records):
                return None, 0.0, None
            record = self._record(self.did, self.handle, rkey, value)
            self.records.append(record)
            parent = (value.get("reply") or {}).get("parent", {}).get("uri")
            for other in self._all():
                if other.uri == parent and other is not record:
                    other.replies += 1
            delay, hold = self._take_answer()
        self._posted(hold)
        return record, delay, hold


class _Handler(JsonHandler):
    fake: FakeBluesky

    def _error(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"error": error, "message": message}, headers)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.fake._tokens

    def _fault(self, method: str, nsid: str) -> bool:
        fault = self.fake._take_fault(method, nsid)
        if fault is None:
            return False
        if fault.status == 429:
            self._error(
                429,
                "RateLimitExceeded",
                "Rate Limit Exceeded",
                {
                    "ratelimit-limit": "5000",
                    "ratelimit-remaining": "0",
                    "ratelimit-reset": str(int(time.time()) + fault.reset_in),
                    "ratelimit-policy": "5000;w=3600",
                },
            )
        elif fault.status == 401:
            self._error(401, "ExpiredToken", "Token has expired")
        else:
            self._error(fault.status, "InternalServerError", "Internal Server Error")
        return True

    def _nsid(self) -> tuple[str, dict[str, list[str]]]:
        url = urlparse(self.path)
        return url.path.removeprefix("/xrpc/").strip("/"), parse_qs(url.query)

    def do_POST(self) -> None:
        nsid, _ = self._nsid()
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        self.fake.requests.append(("POST", nsid))
        fake = self.fake
        if self._fault("POST", nsid):
            return None
        if nsid == "com.atproto.server.createSession":
            if body.get("identifier") not in (fake.handle, fake.did) or body.get("password") != fake.app_password:
                return self._error(401, "AuthenticationRequired", "Invalid identifier or password")
            access, refresh = fake._new_token()
            return self._send(
                200,
                {"accessJwt": access, "refreshJwt": refresh, "handle": fake.handle, "did": fake.did, "active": True},
            )
        if not self._authorised():
            return self._error(401, "AuthenticationRequired", "Authentication Required")
        if nsid == "com.atproto.repo.createRecord":
            if body.get("repo") not in (fake.did, fake.handle) or body.get("collection") != "app.bsky.feed.post":
                return self._error(400, "InvalidRequest", "Invalid repo or collection")
            record, delay, hold = fake._create(body.get("rkey"), body.get("record") or {})
            if record is None:
                error = "InvalidRequest" if fake.repeated_key_status == 400 else "RecordAlreadyExists"
                return self._error(fake.repeated_key_status, error, "Record already exists")
            if hold is not None:
                hold.wait(timeout=120)
            if delay:
                time.sleep(delay)
            return self._send(200, {"uri": record.uri, "cid": record.cid, "validationStatus": "valid"})
        return self._error(501, "MethodNotImplemented", f"Method Not Implemented: {nsid}")

    def do_GET(self) -> None:
        nsid, query = self._nsid()
        one = {k: v[-1] for k, v in query.items()}
        self.fake.requests.append(("GET", nsid))
        fake = self.fake
        if nsid == "com.atproto.identity.resolveHandle":
            did = fake.handles.get(one.get("handle", ""))
            if did is None:
                return self._error(400, "InvalidRequest", "Unable to resolve handle")
            return self._send(200, {"did": did})
        if not self._authorised():
            return self._error(401, "AuthenticationRequired", "Authentication Required")
        if self._fault("GET", nsid):
            return None
        with fake._lock:
            mine = list(fake.records)
            every = fake._all()
            notes = list(fake._notifications)
        if nsid == "com.atproto.server.getSession":
            return self._send(200, {"did": fake.did, "handle": fake.handle, "active": True})
        if nsid == "app.bsky.actor.getProfile":
            if one.get("actor") not in (fake.handle, fake.did):
                return self._error(400, "InvalidRequest", "Profile not found")
            return self._send(200, {"did": fake.did, "handle": fake.handle, "displayName": "Reach Test"})
        if nsid == "com.atproto.repo.getRecord":
            found = next((r for r in mine if r.rkey == one.get("rkey")), None)
            if found is None or one.get("repo") not in (fake.did, fake.handle):
                return self._error(400, "RecordNotFound", f"Could not locate record: {one.get('rkey')}")
            return self._send(200, {"uri": found.uri, "cid": found.cid, "value": found.value})
        if nsid == "com.atproto.repo.listRecords":
            ordered = sorted(mine, key=lambda r: r.rkey, reverse=one.get("reverse") != "true")
            if "cursor" in one:
                ordered = [r for r in ordered if r.rkey < one["cursor"]]
            page = ordered[: min(100, int(one.get("limit", "50")))]
            body: dict = {"records": [{"uri": r.uri, "cid": r.cid, "value": r.value} for r in page]}
            if len(page) < len(ordered):
                body["cursor"] = page[-1].rkey
            return self._send(200, body)
        if nsid == "app.bsky.feed.getPosts":
            by_uri = {r.uri: r for r in every}
            return self._send(200, {"posts": [by_uri[u].post_view() for u in query.get("uris", []) if u in by_uri]})
        if nsid == "app.bsky.notification.listNotifications":
            newest_first = list(reversed(notes))
            start = int(one.get("cursor", "0") or 0)
            limit = min(100, int(one.get("limit", "50")))
            page = newest_first[start : start + limit]
            body = {
                "notifications": [
                    {
                        "uri": n.record.uri,
                        "cid": n.record.cid,
                        "author": n.record.author(),
                        "reason": n.reason,
                        "record": n.record.value,
                        "isRead": n.read,
                        "indexedAt": _iso(n.record.indexed_at),
                        "labels": [],
                    }
                    for n in page
                ]
            }
            if start + limit < len(newest_first):
                body["cursor"] = str(start + limit)
            return self._send(200, body)
        return self._error(501, "MethodNotImplemented", f"Method Not Implemented: {nsid}")


FakeBluesky.handler = _Handler  # defined below the fake, which it serves
