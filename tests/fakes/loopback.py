"""What every fake external system shares: an HTTP server on 127.0.0.1 in a daemon thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer:
    """Start on a free port, stop, and go down (connection refused) and come back on the same port."""

    host: str
    port: int
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Any:
        server = ThreadingHTTPServer((self.host, self.port), self.handler_class())
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def outage(self) -> None:
        """Stop listening: connections are refused until `restore()`."""
        self.stop()

    def restore(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            self.start()

    @contextmanager
    def down(self) -> Iterator[None]:
        self.outage()
        try:
            yield
        finally:
            self.restore()
