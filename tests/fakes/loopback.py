"""What every fake service shares: a threaded HTTP server on 127.0.0.1 and its lifecycle."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """Start, stop and address a fake on a free port of 127.0.0.1.

    A subclass names its request handler (``handler``, which reaches the fake as ``self.fake``) and
    the serving thread (``thread_name``), sets ``self._server = None`` and defines ``release()``
    (let go of every held request) before stopping.
    """

    handler: type[BaseHTTPRequestHandler]
    thread_name = "fake"
    _server: ThreadingHTTPServer | None

    def release(self) -> None:  # pragma: no cover - every fake defines it
        raise NotImplementedError

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
