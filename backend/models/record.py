from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, encrypted_info, str_enum
from backend.models.catalog import CatalogItem, CatalogVersion, SubjectType
from backend.models.department import Department

# Blind-index kinds: the same person's ID number indexes alike in records, identities and audit.
SUBJECT_INDEX_KIND = {SubjectType.PERSON: "id_number", SubjectType.ENTERPRISE: "uscc"}


class RecordStatus(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"


class ChangeKind(StrEnum):
    NEW = "new"  # 新增
    CHANGE = "change"  # 变更
    REVOKE = "revoke"  # 注销


class Record(Base):
    """One record of a catalog item for one subject (政务数据/电子证照记录), named by the source's record_no.

    Never overwritten: every push adds a `RecordVersion`; the row here mirrors the latest one so that
    lists and lookups need no join. The subject's ID and name exist only encrypted; the subject is
    found by its blind index.
    """

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("catalog_item_id", "record_no"),
        Index("ix_records_subject_item", "subject_index", "catalog_item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    catalog_item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    record_no: Mapped[str] = mapped_column(String(100))
    subject_type: Mapped[SubjectType] = mapped_column(str_enum(SubjectType, 12))
    subject_index: Mapped[str] = mapped_column(String(64))
    subject_id_enc: Mapped[str] = mapped_column(Text, info=encrypted_info("records", "subject_id_enc"))
    subject_masked: Mapped[str] = mapped_column(String(32))
    latest_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[RecordStatus] = mapped_column(str_enum(RecordStatus, 12))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    catalog_item: Mapped[CatalogItem] = relationship()
    department: Mapped[Department] = relationship()
    versions: Mapped[list[RecordVersion]] = relationship(back_populates="record", order_by="RecordVersion.version")

    def is_valid_on(self, day: date) -> bool:
        """Valid: not revoked, and `day` within its validity (both ends inclusive)."""
        if self.status is not RecordStatus.VALID:
            return False
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until


class RecordVersion(Base):
    """One pushed state of a record: what the source said, when, and whether it arrived in time."""

    __tablename__ = "record_versions"
    __table_args__ = (UniqueConstraint("record_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"))
    version: Mapped[int] = mapped_column(Integer)
    change: Mapped[ChangeKind] = mapped_column(str_enum(ChangeKind, 12))
    catalog_version_id: Mapped[int] = mapped_column(ForeignKey("catalog_versions.id"))
    # All field values as one encrypted JSON object; `filled_fields` names the keys that hold a value
    # (completeness is measured without decrypting).
    fields_enc: Mapped[str] = mapped_column(Text, info=encrypted_info("record_versions", "fields_enc"))
    subject_name_enc: Mapped[str] = mapped_column(Text, info=encrypted_info("record_versions", "subject_name_enc"))
    filled_fields: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[RecordStatus] = mapped_column(str_enum(RecordStatus, 12))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    revoke_reason: Mapped[str | None] = mapped_column(String(200))
    produced_at: Mapped[datetime] = mapped_column(UTCDateTime())  # for a revocation: revoked_at
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: the calendar of that year is unknown
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    objection_id: Mapped[int | None] = mapped_column(Integer)

    record: Mapped[Record] = relationship(back_populates="versions")
    catalog_version: Mapped[CatalogVersion] = relationship()
