"""Applicants (mini-program users), their card wallet and enterprise authorizations.

Personal values exist only encrypted (for use) and masked (for display); identities are found by blind
index. One verified identity per account and one account per identity: `applicants.id_index` is unique.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, encrypted_info, str_enum
from backend.models.record import Record


class Applicant(Base):
    """A WeChat user of the mini-program (申请人), real-name verified or not yet."""

    __tablename__ = "applicants"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    # WeChat's session key: kept to decrypt data the mini-program may send later; never in an answer or a log.
    session_key_enc: Mapped[str] = mapped_column(Text, info=encrypted_info("applicants", "session_key_enc"))
    phone_enc: Mapped[str | None] = mapped_column(Text, info=encrypted_info("applicants", "phone_enc"))
    phone_masked: Mapped[str | None] = mapped_column(String(32))
    name_enc: Mapped[str | None] = mapped_column(Text, info=encrypted_info("applicants", "name_enc"))
    name_masked: Mapped[str | None] = mapped_column(String(64))
    id_number_enc: Mapped[str | None] = mapped_column(Text, info=encrypted_info("applicants", "id_number_enc"))
    id_number_masked: Mapped[str | None] = mapped_column(String(32))
    # Blind index (kind "id_number") of the verified ID number: the same value records carry as subject_index.
    id_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None and self.id_index is not None


class Binding(Base):
    """A record the applicant put into their card wallet (卡包绑定)."""

    __tablename__ = "bindings"
    __table_args__ = (UniqueConstraint("applicant_id", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    applicant: Mapped[Applicant] = relationship()
    record: Mapped[Record] = relationship()


class AuthorizationStatus(StrEnum):
    PENDING = "pending"  # granted, waiting for the agent to accept
    ACTIVE = "active"
    REVOKED = "revoked"  # by the legal representative
    ENDED = "ended"  # by itself: the business license was revoked or names another legal representative
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in (AuthorizationStatus.PENDING, AuthorizationStatus.ACTIVE)


class EnterpriseAuthorization(Base):
    """The legal representative lets an agent act for the enterprise (企业授权), until an end.

    The agent is named by name and ID number (blind index) and becomes `agent` when they accept with a
    verified identity whose index matches. `granted_by_index` is the legal representative's ID index at
    grant time: when the license names someone else, the authorization ends.
    """

    __tablename__ = "enterprise_authorizations"
    __table_args__ = (
        Index("ix_enterprise_authorizations_uscc_status", "uscc_index", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc_index: Mapped[str] = mapped_column(String(64))
    uscc_enc: Mapped[str] = mapped_column(Text, info=encrypted_info("enterprise_authorizations", "uscc_enc"))
    uscc_masked: Mapped[str] = mapped_column(String(32))
    enterprise_name: Mapped[str] = mapped_column(String(200))
    granted_by_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"), index=True)
    granted_by_index: Mapped[str] = mapped_column(String(64))
    agent_name_enc: Mapped[str] = mapped_column(
        Text, info=encrypted_info("enterprise_authorizations", "agent_name_enc"))
    agent_name_masked: Mapped[str] = mapped_column(String(64))
    agent_id_index: Mapped[str] = mapped_column(String(64), index=True)
    agent_id_masked: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("applicants.id"), index=True)
    status: Mapped[AuthorizationStatus] = mapped_column(str_enum(AuthorizationStatus, 12))
    # Service item codes the agent may act in; None: all of them.
    service_items: Mapped[list[str] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(32))

    granted_by: Mapped[Applicant] = relationship(foreign_keys=[granted_by_id])
    agent: Mapped[Applicant | None] = relationship(foreign_keys=[agent_id])

    def is_expired(self, now: datetime) -> bool:
        """Half-open: the authorization holds until, not at, `expires_at`."""
        return now >= self.expires_at

    def covers(self, service_item: str | None) -> bool:
        """Acting at all (None) is always covered; a service item only when unlimited or listed."""
        return service_item is None or self.service_items is None or service_item in self.service_items


class LegalRepLink(Base):
    """Derived, rebuildable: which ID (blind index) a business-license record version names as legal rep.

    Only for finding the enterprises of a legal representative without decrypting every license; whether
    someone *is* the legal representative is always decided from the live record.
    """

    __tablename__ = "legal_rep_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    uscc_index: Mapped[str] = mapped_column(String(64))
    rep_index: Mapped[str | None] = mapped_column(String(64), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
