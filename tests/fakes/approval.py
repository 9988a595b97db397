"""A fake district approval system on 127.0.0.1 that receives eshare's webhooks over real HTTP.

It checks each request's HMAC signature the way an approval system should (`notifications.webhooks.verify`
is not used: the check is written out here from the documented rule), records every request in `received`,
and answers the statuses scripted with `answer_next(status, ...)`, else 200. `accepted` holds the bodies it
took (2xx and a valid signature), one per delivery id: a repeat of a delivery id is answered 200 and not
taken twice, as the documentation asks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    status: int


@dataclass
class FakeApprovalSystem(LoopbackServer):
    secret: str = ""
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    accepted: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._statuses: deque[int] = deque()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/eshare/webhook"

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(_Handler):
            approval = fake

        return Handler

    def answer_next(self, *statuses: int) -> None:
        with self._lock:
            self._statuses.extend(statuses)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        timestamp = headers.get("X-Eshare-Timestamp", "")
        expected = "sha256=" + hmac.new(self.secret.encode("utf-8"), timestamp.encode("ascii") + b"\n" + body,
                                        hashlib.sha256).hexdigest()
        signature_ok = hmac.compare_digest(expected, headers.get("X-Eshare-Signature", ""))
        with self._lock:
            status = self._statuses.popleft() if self._statuses else 200
            if not signature_ok:
                status = 401
            if 200 <= status < 300:
                self.accepted.setdefault(headers.get("X-Eshare-Delivery", ""), json.loads(body))
            self.received.append(Received(path, headers, body, signature_ok, status))
        return status


class _Handler(BaseHTTPRequestHandler):
    approval: FakeApprovalSystem

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        status = self.approval.handle(self.path, dict(self.headers.items()), body)
        payload = b'{"ok": true}' if status < 300 else b'{"ok": false}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass
