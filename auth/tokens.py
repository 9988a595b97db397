"""Access tokens are short-lived HS256 JWTs; their kind (`typ`) is checked so none stands in for another."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from backend.errors import Unauthorized
from backend.models import Principal

ALGORITHM = "HS256"
ACCESS_TYPES = {Principal.STAFF: "staff_access", Principal.APPLICANT: "applicant_access"}
# Clocks of two hosts may disagree a little about when a token was issued.
IAT_LEEWAY = timedelta(seconds=30)


@dataclass(frozen=True)
class AccessClaims:
    principal: Principal
    account_id: int
    family_id: int
    expires_at: datetime


def issue_access(key: bytes, *, principal: Principal, account_id: int, family_id: int,
                 now: datetime, ttl: int) -> str:
    """A signed access token for one account, naming its login family."""
    claims = {
        "sub": f"{principal.value}:{account_id}",
        "typ": ACCESS_TYPES[principal],
        "fam": family_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"typ": "JWT"})


def verify_access(key: bytes, token: str, *, principal: Principal, now: datetime) -> AccessClaims:
    """The claims of a genuine, unexpired access token of `principal`'s kind, or Unauthorized."""
    try:
        # Expiry is decided below with the app's clock (SYSTEM.md: one clock rules), so PyJWT's
        # own wall-clock checks are off; presence of every claim is still required.
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "sub", "typ"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("the access token is not valid", code="invalid_token") from exc
    if claims.get("typ") != ACCESS_TYPES[principal]:
        raise Unauthorized("this kind of token is not accepted here", code="invalid_token")
    try:
        kind, _, raw_id = str(claims["sub"]).partition(":")
        account_id, family_id = int(raw_id), int(claims["fam"])
        expires_at = datetime.fromtimestamp(int(claims["exp"]), now.tzinfo)
        issued_at = datetime.fromtimestamp(int(claims["iat"]), now.tzinfo)
    except (KeyError, TypeError, ValueError) as exc:
        raise Unauthorized("the access token is not valid", code="invalid_token") from exc
    if kind != principal.value:
        raise Unauthorized("this kind of token is not accepted here", code="invalid_token")
    if now >= expires_at:
        raise Unauthorized("the access token has expired", code="token_expired")
    if issued_at > now + IAT_LEEWAY:
        raise Unauthorized("the access token is not valid yet", code="invalid_token")
    return AccessClaims(principal, account_id, family_id, expires_at)
