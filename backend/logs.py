"""JSON log lines on stdout, each with its request id; personal data never reaches them."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request

# Defence in depth: the code never logs values, but if one slips into a message these go dark.
_REDACTIONS = [
    (re.compile(r"\b\d{17}[\dXx]\b"), "[id]"),  # resident ID numbers
    (re.compile(r"\b[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}\b"), "[uscc]"),
    (re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+"), "[jwt]"),
    (re.compile(r"(?i)(bearer\s+)\S+"), r"\1[token]"),
]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class _Stdout(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is now (so a test capturing stdout sees the lines)."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # type: ignore[no-untyped-def]
        pass


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if has_request_context():
            line["request_id"] = getattr(g, "request_id", None)
        for key in ("method", "path", "status", "duration_ms", "event"):
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def configure_logging(app: Flask, level: str) -> None:
    handler = _Stdout()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("eshare")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    app.logger.handlers[:] = [handler]
    app.logger.setLevel(level)
    app.logger.propagate = False

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        started = g.get("request_started")
        duration = round((time.perf_counter() - started) * 1000, 1) if started else None
        # The path only: query strings may carry subjects or codes.
        logging.getLogger("eshare.http").info(
            "request", extra={"method": request.method, "path": request.path,
                              "status": response.status_code, "duration_ms": duration},
        )
        return response
