"""What every fake service shares: a threaded HTTP server on 127.0.0.1 and its lifecycle, the
switches that slow or hold the answer to a post, and JSON answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler that answers JSON; a client that gave up or died is not an error."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up or died: that is the test
            pass


class LoopbackServer:
    """Start, stop and address a fake on a free port of 127.0.0.1, and slow or hold its posts.

    A subclass names its request handler (``handler``, which reaches the fake as ``self.fake``) and
    the serving thread (``thread_name``), sets ``self._server = None`` and ``self._lock``, and calls
    :meth:`_init_answers`; when it creates a post it calls :meth:`_take_answer` under its lock and
    :meth:`_posted` after.
    """

    handler: type[BaseHTTPRequestHandler]
    thread_name = "fake"
    _server: ThreadingHTTPServer | None
    _lock: threading.Lock

    def _init_answers(self) -> None:
        self.post_received = threading.Event()  # set when a held post exists
        self._delays: list[float] = []
        self._hold: threading.Event | None = None
        self._held: list[threading.Event] = []

    # -- switches -------------------------------------------------------------------------------
    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Create the next ``count`` posts, then wait ``seconds`` before answering."""
        with self._lock:
            self._delays.extend([seconds] * count)

    def hold_next_post(self) -> None:
        """Create the next post and hold its answer until :meth:`release`."""
        with self._lock:
            self.post_received.clear()
            self._hold = threading.Event()

    def release(self) -> None:
        """Let held answers go (and cancel a hold that has not caught a post yet)."""
        with self._lock:
            for hold in [*self._held, self._hold, *self._other_holds()]:
                if hold is not None:
                    hold.set()
            self._held.clear()
            self._hold = None

    def _other_holds(self) -> Iterable[threading.Event | None]:
        """Holds a fake keeps besides held posts (released with them)."""
        return ()

    def _take_answer(self) -> tuple[float, threading.Event | None]:
        """(seconds to wait, hold to wait on) for the post being created; call it under ``self._lock``."""
        delay = self._delays.pop(0) if self._delays else 0.0
        hold, self._hold = self._hold, None
        if hold is not None:
            self._held.append(hold)
        return delay, hold

    def _posted(self, hold: threading.Event | None) -> None:
        """Tell a waiting test that the held post exists; call it after releasing ``self._lock``."""
        if hold is not None:
            self.post_received.set()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        handler = type("Handler", (self.handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
