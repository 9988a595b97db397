from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, encrypted_info, str_enum
from backend.models.record import Record


class ObjectionStatus(StrEnum):
    OPEN = "open"  # filed, awaiting the source department's decision
    CORRECTING = "correcting"  # decided `correct`; awaiting the corrected record
    CORRECTED = "corrected"  # the corrected version arrived
    REJECTED = "rejected"  # decided `reject`, with a reason
    WITHDRAWN = "withdrawn"  # the applicant withdrew it


# While an objection is in one of these, the record is under objection: confirmations using it hold.
ACTIVE_OBJECTION_STATUSES = (ObjectionStatus.OPEN, ObjectionStatus.CORRECTING)


class Objection(Base):
    """An applicant says a field of a record is wrong (数据异议); the source department decides."""

    __tablename__ = "objections"
    __table_args__ = (
        Index("ix_objections_record_status", "record_id", "status"),
        Index("ix_objections_department_status", "department_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"))
    # "<record_id>:<field>" while open or correcting, else None: the unique index allows one active
    # objection per record and field, also when two are filed at the same moment.
    active_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    record_version: Mapped[int] = mapped_column(Integer)  # the version objected to
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))  # the record's source
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    claimed_value_enc: Mapped[str | None] = mapped_column(Text, info=encrypted_info("objections", "claimed_value_enc"))
    reason_enc: Mapped[str] = mapped_column(Text, info=encrypted_info("objections", "reason_enc"))
    status: Mapped[ObjectionStatus] = mapped_column(str_enum(ObjectionStatus, 12))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decision_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: that year's calendar is unknown
    # The year whose working-day calendar is missing for the pending deadline (never guessed); the sweep
    # computes the deadline once the administrator loads it, and tells the administrators once.
    calendar_unknown_year: Mapped[int | None] = mapped_column(Integer)
    calendar_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision: Mapped[str | None] = mapped_column(String(12))  # correct | reject
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_late: Mapped[bool | None] = mapped_column(Boolean)
    correction_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    corrected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    correction_version: Mapped[int | None] = mapped_column(Integer)
    correction_late: Mapped[bool | None] = mapped_column(Boolean)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The sweep's bookkeeping, so that running it every minute flags and reminds once.
    decision_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    correction_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    correction_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    record: Mapped[Record] = relationship()
