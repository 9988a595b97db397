"""A fake real-name authority on 127.0.0.1: `POST /verify {name, id_number}` → `{"match": true|false}`.

Pairs registered with `add(name, id_number)` match; every other pair answers `{"match": false}`.
`http_error_next(status)` answers an HTTP error once; `garbage_next()` answers a body that is not JSON;
`outage()` stops listening (connection refused). Every request body is kept in `requests`.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer


@dataclass
class FakeRealName(LoopbackServer):
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._pairs: set[tuple[str, str]] = set()
        self._next: deque[tuple[int, str]] = deque()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add(self, name: str, id_number: str) -> None:
        self._pairs.add((name, id_number))

    def http_error_next(self, status: int = 500) -> None:
        self._next.append((status, "<html>error</html>"))

    def garbage_next(self) -> None:
        self._next.append((200, "not json"))

    def answer(self, path: str, body: Any) -> tuple[int, str]:
        self.requests.append(body)
        if path != "/verify":
            return 404, "{}"
        if self._next:
            return self._next.popleft()
        if not isinstance(body, dict):
            return 400, json.dumps({"error": "bad request"})
        return 200, json.dumps({"match": (body.get("name"), body.get("id_number")) in self._pairs})

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                status, payload = fake.answer(self.path, body)
                data = payload.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
