"""HMAC department signatures (SYSTEM.md): one implementation for the server, tests, the CLI and the benchmark.

X-Signature = lowercase hex HMAC-SHA256(secret as UTF-8, METHOD \\n PATH_WITH_QUERY \\n X-Timestamp \\n
X-Nonce \\n hex SHA-256 of the raw body). The timestamp must be within 300 s of the app's clock and the
nonce is spent once per key; a retried push is signed anew and carries the same Idempotency-Key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request

from backend.db import db
from backend.errors import Unauthorized
from backend.services import dept_keys
from backend.web import now

F = TypeVar("F", bound=Callable[..., Any])

KEY_HEADER = "X-Dept-Key"
TIMESTAMP_HEADER = "X-Timestamp"
NONCE_HEADER = "X-Nonce"
SIGNATURE_HEADER = "X-Signature"
MAX_SKEW_SECONDS = 300
_NONCE = re.compile(r"^[A-Za-z0-9._~-]{8,64}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")

log = logging.getLogger("eshare.auth.signatures")


class SignatureRequired(Unauthorized):
    code = "signature_required"


class SignatureInvalid(Unauthorized):
    code = "signature_invalid"


class TimestampSkew(Unauthorized):
    code = "timestamp_skew"


def body_digest(body: bytes) -> str:
    """Hex SHA-256 of the raw body, as it enters the string to sign."""
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes) -> str:
    """METHOD, path with query, timestamp, nonce and the body's digest, one per line."""
    return "\n".join((method.upper(), path_with_query, timestamp, nonce, body_digest(body)))


def compute_signature(secret: str, method: str, path_with_query: str, timestamp: str, nonce: str,
                      body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 keyed with the secret's UTF-8 bytes."""
    message = string_to_sign(method, path_with_query, timestamp, nonce, body).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign_request(key_id: str, secret: str, method: str, path_with_query: str, body: bytes = b"", *,
                 timestamp: int, nonce: str | None = None) -> dict[str, str]:
    """The four signature headers of one request (a fresh nonce unless one is given)."""
    nonce = nonce or secrets.token_hex(16)
    stamp = str(int(timestamp))
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: stamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: compute_signature(secret, method, path_with_query, stamp, nonce, body),
    }


def _path_with_query() -> str:
    path = request.script_root + request.path
    query = request.query_string.decode("latin-1")
    return f"{path}?{query}" if query else path


def _verify() -> None:
    headers = {name: request.headers.get(name, "").strip()
               for name in (KEY_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)}
    missing = [name for name, value in headers.items() if not value]
    if missing:
        raise SignatureRequired(f"sign the request: {', '.join(missing)} missing",
                                fields={name: "is required" for name in missing})
    key_id, stamp, nonce, signature = (headers[n] for n in (KEY_HEADER, TIMESTAMP_HEADER, NONCE_HEADER,
                                                             SIGNATURE_HEADER))
    moment = now()
    if not _TIMESTAMP.match(stamp):
        raise TimestampSkew("X-Timestamp must be unix seconds")
    if abs(int(moment.timestamp()) - int(stamp)) > MAX_SKEW_SECONDS:
        raise TimestampSkew(f"X-Timestamp is more than {MAX_SKEW_SECONDS} s from the server's clock")
    if not _NONCE.match(nonce):
        raise SignatureInvalid("X-Nonce must be 8 to 64 characters of A-Z a-z 0-9 . _ ~ -")
    session = db.session()
    key = dept_keys.active_key(session, key_id)
    secret = dept_keys.key_secret(current_app.extensions["protector"], key)
    expected = compute_signature(secret, request.method, _path_with_query(), stamp, nonce,
                                 request.get_data(cache=True))
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8")):
        raise SignatureInvalid("the signature does not match this request")
    dept_keys.spend_nonce(session, key=key, nonce=nonce, now=moment)
    g.dept_key = key
    g.department = key.department


def department_required(view: F) -> F:
    """Require a request signed with an active department key; sets `g.department` and `g.dept_key`."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            _verify()
        except Unauthorized as exc:
            # The key id is public; the signature, nonce and body stay out of the log.
            log.warning("department signature refused: %s", exc.code,
                        extra={"event": "dept_signature_refused"})
            raise
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
