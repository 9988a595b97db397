"""Login families: a refresh token rotates once; presenting a used one revokes the whole family."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auth import tokens
from backend.errors import Unauthorized
from backend.models import Principal, RefreshToken, TokenFamily


@dataclass(frozen=True)
class TokenSettings:
    key: bytes
    access_ttl: int
    refresh_ttl: int


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    account_id: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _issue(session: Session, settings: TokenSettings, family: TokenFamily, now: datetime) -> TokenPair:
    refresh = secrets.token_urlsafe(32)
    session.add(RefreshToken(family_id=family.id, token_hash=_digest(refresh), issued_at=now,
                             expires_at=now + timedelta(seconds=settings.refresh_ttl)))
    access = tokens.issue_access(settings.key, principal=family.principal, account_id=family.account_id,
                                 family_id=family.id, now=now, ttl=settings.access_ttl)
    return TokenPair(access, refresh, settings.access_ttl, family.account_id)


def open_family(session: Session, settings: TokenSettings, *, principal: Principal, account_id: int,
                now: datetime) -> TokenPair:
    """Start a login: a new family with its first refresh token (flushes; the caller commits)."""
    family = TokenFamily(principal=principal, account_id=account_id, created_at=now)
    session.add(family)
    session.flush()
    return _issue(session, settings, family, now)


def rotate(session: Session, settings: TokenSettings, *, refresh_token: str, principal: Principal,
           now: datetime) -> TokenPair:
    """Trade a refresh token for a new pair; a second use of one token ends its family."""
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _digest(refresh_token)))
    family = session.get(TokenFamily, row.family_id) if row else None
    if row is None or family is None or family.principal != principal:
        raise Unauthorized("the refresh token is not valid", code="invalid_token")
    if family.revoked_at is not None:
        raise Unauthorized("this login has ended; log in again", code="invalid_token")
    if now >= row.expires_at:
        raise Unauthorized("the refresh token has expired; log in again", code="token_expired")
    # Conditional update: of two concurrent rotations of one token exactly one wins.
    claimed = session.execute(
        update(RefreshToken).where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None)).values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        revoke_family(session, family_id=family.id, now=now, reason="refresh_reused")
        session.commit()
        raise Unauthorized("this refresh token was already used; the login is revoked", code="refresh_reused")
    pair = _issue(session, settings, family, now)
    session.commit()
    return pair


def revoke_family(session: Session, *, family_id: int, now: datetime, reason: str) -> None:
    """End a login: its refresh tokens and access tokens stop working (flushes)."""
    session.execute(
        update(TokenFamily).where(TokenFamily.id == family_id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
    )
    session.flush()


def family_of(session: Session, refresh_token: str) -> int | None:
    """The login family a refresh token belongs to."""
    return session.scalar(select(RefreshToken.family_id).where(RefreshToken.token_hash == _digest(refresh_token)))


def family_is_live(session: Session, family_id: int) -> bool:
    family = session.get(TokenFamily, family_id)
    return family is not None and family.revoked_at is None
