from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, str_enum


class Principal(StrEnum):
    STAFF = "staff"
    APPLICANT = "applicant"


class TokenFamily(Base):
    """One login: every refresh token rotated from it, and the access tokens naming it."""

    __tablename__ = "token_families"

    id: Mapped[int] = mapped_column(primary_key=True)
    principal: Mapped[Principal] = mapped_column(str_enum(Principal, 12))
    account_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """Stored as a SHA-256 digest; a token is good for exactly one rotation."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("token_families.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
