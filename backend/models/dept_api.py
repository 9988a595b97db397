from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, encrypted_info, str_enum
from backend.models.department import Department


class DepartmentKey(Base):
    """A source department system's API key: `key_id` is public, the HMAC secret is stored encrypted.

    The server must recompute each request's HMAC, so the secret is kept (encrypted), not hashed.
    Rotation is a new key followed by disabling the old one; a disabled key never works again.
    """

    __tablename__ = "department_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    secret_enc: Mapped[str] = mapped_column(Text, info=encrypted_info("department_keys", "secret_enc"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    department: Mapped[Department] = relationship()

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class DeptNonce(Base):
    """A nonce seen with a key; the unique constraint refuses a replayed request (kept 10 minutes)."""

    __tablename__ = "dept_nonces"
    __table_args__ = (UniqueConstraint("key_id", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class PushOperation(StrEnum):
    PUSH = "push"  # PUT /api/dept/records: new and changed records
    REVOKE = "revoke"  # POST /api/dept/records/revoke


class PushRequest(Base):
    """One push under an Idempotency-Key: the body's digest and the answer, replayed to a retry.

    The unique (department, key) makes two concurrent retries of the same push write once.
    """

    __tablename__ = "push_requests"
    __table_args__ = (UniqueConstraint("department_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    idempotency_key: Mapped[str] = mapped_column(String(100))
    operation: Mapped[PushOperation] = mapped_column(str_enum(PushOperation, 12))
    request_digest: Mapped[str] = mapped_column(String(64))
    accepted: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class RecordRejection(Base):
    """A pushed record that was refused, with its reasons (`errors`: field → message, never a value)."""

    __tablename__ = "record_rejections"
    __table_args__ = (Index("ix_record_rejections_department_received", "department_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    push_request_id: Mapped[int] = mapped_column(ForeignKey("push_requests.id"), index=True)
    operation: Mapped[PushOperation] = mapped_column(str_enum(PushOperation, 12))
    catalog_item_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_items.id"))  # None: no such item
    catalog_item_code: Mapped[str | None] = mapped_column(String(64))  # as sent
    record_no: Mapped[str | None] = mapped_column(String(100))  # as sent
    errors: Mapped[dict[str, str]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
