"""Public receipt endpoints (no login): the signing public key, and verification of a receipt number + code.

Malformed numbers and codes are refused before the database is asked; each client address may verify a
limited number of times a minute in each worker process (a polite brake, not a security boundary: the
80-bit code is that).
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, request
from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor
from backend.db import db
from backend.errors import TooManyRequests, ValidationError
from backend.openapi import documented
from backend.services import receipts
from backend.services.receipts import RECEIPT_NO, VERIFY_CODE, Verification
from backend.web import Body, now, parse_query

bp = Blueprint("receipts", __name__, url_prefix="/api/receipts")

VERIFY_LIMIT = 30
VERIFY_WINDOW = timedelta(minutes=1)


class VerifyQuery(Body):
    code: str = Field(min_length=1, max_length=64, description="the verification code printed on the receipt")


class PublicKeyJSON(TypedDict):
    algorithm: str
    key_id: str
    pem: str
    raw_base64: str


class VerificationJSON(TypedDict):
    receipt_no: str
    genuine: bool
    status: str | None
    key_id: str | None
    certifies: dict[str, Any] | None
    holder: dict[str, Any] | None


class _Limiter:
    """At most `limit` calls per `window` per key, in this process."""

    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit, self.window = limit, window
        self._calls: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, moment: datetime) -> bool:
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= moment - self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                return False
            calls.append(moment)
            if len(self._calls) > 10_000:  # forget idle clients rather than grow without bound
                for idle in [k for k, v in self._calls.items() if not v or v[-1] <= moment - self.window]:
                    del self._calls[idle]
            return True


def verification_to_json(verification: Verification) -> VerificationJSON:
    return {"receipt_no": verification.receipt_no, "genuine": verification.genuine, "status": verification.status,
            "key_id": verification.key_id, "certifies": verification.certifies, "holder": verification.holder}


@bp.get("/public-key")
@documented("The Ed25519 public key that verifies receipt signatures (PEM and raw base64)", response=PublicKeyJSON)
def public_key() -> PublicKeyJSON:
    key = receipts.public_key(current_app.extensions["keys"].receipt_key)
    return {"algorithm": key.algorithm, "key_id": key.key_id, "pem": key.pem, "raw_base64": key.raw_base64}


@bp.get("/<receipt_no>/verify")
@documented("Is this receipt genuine, and what it certifies (masked; never full personal data)",
            query=VerifyQuery, response=VerificationJSON, errors=(429,))
def verify(receipt_no: str) -> VerificationJSON:
    query = parse_query(VerifyQuery)
    errors = {}
    if not RECEIPT_NO.match(receipt_no):
        errors["receipt_no"] = "is not a receipt number (ES + 8 digits + 8 characters)"
    if not VERIFY_CODE.match(query.code.upper()):
        errors["code"] = "is not a verification code (16 characters A-Z, 2-7)"
    if errors:
        raise ValidationError("the receipt number or code is malformed", fields=errors)
    moment = now()
    limiter: _Limiter = current_app.extensions.setdefault("receipt_verify_limiter",
                                                          _Limiter(VERIFY_LIMIT, VERIFY_WINDOW))
    if not limiter.allow(request.remote_addr or "-", moment):
        raise TooManyRequests("too many verifications from this address; try again in a minute",
                              headers={"Retry-After": str(int(VERIFY_WINDOW.total_seconds()))})
    verification = receipts.verify_receipt(db.session(), private_key=current_app.extensions["keys"].receipt_key,
                                           actor=current_actor(), receipt_no=receipt_no, code=query.code.upper(),
                                           now=moment)
    return verification_to_json(verification)
