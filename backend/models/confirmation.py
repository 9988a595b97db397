"""Material exemption (材料免交): the applicant's frozen confirmation, its counter codes, the acceptance, the receipt.

A confirmation is a snapshot: each material's record id and version, the minimum-necessary field values
(encrypted) and a salted digest per material. `on_hold` is never stored: it is shown while an objection on
one of its records is open. `expired` is shown from `expires_at` on, and stored by the retention run.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, encrypted_info, str_enum
from backend.models.applicant import Applicant
from backend.models.catalog import CatalogItem, ServiceItem, SubjectType
from backend.models.department import Department
from backend.models.staff import StaffAccount


class ConfirmationStatus(StrEnum):
    DRAFT = "draft"  # previewed, not yet confirmed
    CONFIRMED = "confirmed"  # frozen; may be shown at the counter until it expires
    STALE = "stale"  # a record it uses changed or was revoked before acceptance: preview again
    ACCEPTED = "accepted"  # the counter accepted it as the materials (受理)
    VOIDED = "voided"  # the counter took the paper application instead (作废)
    EXPIRED = "expired"  # past `expires_at` without acceptance (stored by the retention run)


# Shown, never stored: a confirmed confirmation while an objection on one of its records is open.
ON_HOLD = "on_hold"


class Confirmation(Base):
    """One applicant's preview-then-confirm of exact data for one service item (共享互认确认)."""

    __tablename__ = "confirmations"
    __table_args__ = (
        Index("ix_confirmations_applicant_created", "applicant_id", "created_at"),
        Index("ix_confirmations_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None once the retention run has anonymized the confirmation.
    applicant_id: Mapped[int | None] = mapped_column(ForeignKey("applicants.id"))
    service_item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    acting_as: Mapped[str] = mapped_column(String(24))  # self | legal_representative | agent
    subject_type: Mapped[SubjectType] = mapped_column(str_enum(SubjectType, 12))
    # The applicant's ID blind index, or the enterprise's USCC blind index; never a clear identifier.
    subject_index: Mapped[str | None] = mapped_column(String(64), index=True)
    subject_id_enc: Mapped[str | None] = mapped_column(Text, info=encrypted_info("confirmations", "subject_id_enc"))
    subject_masked: Mapped[str | None] = mapped_column(String(32))
    subject_name: Mapped[str | None] = mapped_column(String(200))  # an enterprise's name; a person's masked
    status: Mapped[ConfirmationStatus] = mapped_column(str_enum(ConfirmationStatus, 12))
    snapshot_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A draft's end (7 days), then the confirmed snapshot's (CONFIRMATION_TTL_DAYS).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stale_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(String(32))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    receipt_no: Mapped[str | None] = mapped_column(String(32))
    # Kept at least until then (3 years after confirmation, acceptance or voiding); None for drafts.
    retain_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    anonymized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    applicant: Mapped[Applicant | None] = relationship()
    service_item: Mapped[ServiceItem] = relationship()
    items: Mapped[list[ConfirmationItem]] = relationship(
        back_populates="confirmation", order_by="ConfirmationItem.position", cascade="all, delete-orphan")
    acceptance: Mapped[Acceptance | None] = relationship(back_populates="confirmation")

    def is_expired(self, now: datetime) -> bool:
        """Half-open: usable until, not at, `expires_at`."""
        return now >= self.expires_at

    def shown_status(self, now: datetime, *, held: bool) -> str:
        """The status people see: `expired` from the expiry on, `on_hold` while confirmed and objected."""
        if self.status in (ConfirmationStatus.DRAFT, ConfirmationStatus.CONFIRMED,
                           ConfirmationStatus.STALE) and self.is_expired(now):
            return ConfirmationStatus.EXPIRED.value
        if self.status is ConfirmationStatus.CONFIRMED and held:
            return ON_HOLD
        return self.status.value


class ConfirmationItem(Base):
    """One material of the confirmation: the record (id + version) that replaces it, or paper and why."""

    __tablename__ = "confirmation_items"
    __table_args__ = (UniqueConstraint("confirmation_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    confirmation_id: Mapped[int] = mapped_column(ForeignKey("confirmations.id"))
    position: Mapped[int] = mapped_column(Integer)  # the material's position in the service item
    material_name: Mapped[str] = mapped_column(String(100))
    catalog_item_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_items.id"))
    # None for paper, and once anonymized by the retention run.
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"), index=True)
    record_version: Mapped[int | None] = mapped_column(Integer)
    source_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # Whose record it is: the enterprise's, or the applicant's own (e.g. the legal representative's ID card).
    record_subject_type: Mapped[SubjectType | None] = mapped_column(str_enum(SubjectType, 12))
    record_subject_index: Mapped[str | None] = mapped_column(String(64))
    # The shared fields with labels and per-field provenance; no values.
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The minimum-necessary values as one encrypted JSON object; None for paper and after retention.
    values_enc: Mapped[str | None] = mapped_column(Text, info=encrypted_info("confirmation_items", "values_enc"))
    salt: Mapped[str | None] = mapped_column(String(32))
    digest: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the salted canonical snapshot
    paper_reason: Mapped[str | None] = mapped_column(String(32))  # none, expired, revoked, under_objection...

    confirmation: Mapped[Confirmation] = relationship(back_populates="items")
    catalog_item: Mapped[CatalogItem | None] = relationship()
    source_department: Mapped[Department | None] = relationship()

    @property
    def is_paper(self) -> bool:
        return self.paper_reason is not None


class CounterCode(Base):
    """A short-lived, single-use token shown as a QR code (办事二维码); only its SHA-256 is stored."""

    __tablename__ = "counter_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    confirmation_id: Mapped[int] = mapped_column(ForeignKey("confirmations.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a newer code was issued

    confirmation: Mapped[Confirmation] = relationship()

    def is_expired(self, now: datetime) -> bool:
        """Half-open: a code is expired iff now >= expires_at."""
        return now >= self.expires_at


class Acceptance(Base):
    """Counter staff accepted the confirmation as the materials (受理 / 用证记录); reopenable for 24 hours."""

    __tablename__ = "acceptances"

    id: Mapped[int] = mapped_column(primary_key=True)
    confirmation_id: Mapped[int] = mapped_column(ForeignKey("confirmations.id"), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    window: Mapped[str | None] = mapped_column(String(50))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reopen_until: Mapped[datetime] = mapped_column(UTCDateTime())

    confirmation: Mapped[Confirmation] = relationship(back_populates="acceptance")
    staff: Mapped[StaffAccount] = relationship()
    department: Mapped[Department] = relationship()

    def may_reopen(self, now: datetime) -> bool:
        """Half-open: the case's data can be reopened until, not at, `reopen_until`."""
        return now < self.reopen_until


class Receipt(Base):
    """The signed proof of an accepted confirmation (确认回执).

    `payload` is the canonical JSON that was signed and holds no personal values: the holder (masked
    applicant and subject) is bound to it through `holder_digest` inside it, so the retention run can
    drop `holder` and the signature still verifies.
    """

    __tablename__ = "receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_no: Mapped[str] = mapped_column(String(32), unique=True)
    # None once the confirmation itself is deleted after the retention period.
    confirmation_id: Mapped[int | None] = mapped_column(ForeignKey("confirmations.id"), unique=True)
    payload: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))  # base64 Ed25519 signature over `payload`
    key_id: Mapped[str] = mapped_column(String(32))  # fingerprint of the public key that verifies it
    holder: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # masked only; None after retention
    holder_salt: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    anonymized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    confirmation: Mapped[Confirmation | None] = relationship()
