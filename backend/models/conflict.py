from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, str_enum
from backend.models.catalog import SubjectType


class ConflictStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"  # the sources agree again (or one of them no longer holds the attribute)


class SourceConflict(Base):
    """Two source departments disagree on a common attribute (name, address...) of one subject (多源校核).

    Opened and closed only by `conflicts scan`. The values are never stored: the sources know their own.
    `open_key` is `subject_index:attribute` while open and NULL once resolved, so that a subject has at most
    one open conflict per attribute even when two scans run at once.
    """

    __tablename__ = "source_conflicts"
    __table_args__ = (Index("ix_source_conflicts_status_first_seen", "status", "first_seen_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_index: Mapped[str] = mapped_column(String(64), index=True)  # blind index, never a clear ID
    subject_type: Mapped[SubjectType] = mapped_column(str_enum(SubjectType, 12))
    subject_masked: Mapped[str] = mapped_column(String(32))
    attribute: Mapped[str] = mapped_column(String(64))
    status: Mapped[ConflictStatus] = mapped_column(str_enum(ConflictStatus, 12))
    open_key: Mapped[str | None] = mapped_column(String(130), unique=True)
    # [{department, catalog_item, record_id}] of every valid record holding the attribute, ordered
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SourceConflictDepartment(Base):
    """A department involved in a conflict: each one lists (and is told of) the conflicts it takes part in."""

    __tablename__ = "source_conflict_departments"

    conflict_id: Mapped[int] = mapped_column(ForeignKey("source_conflicts.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True, index=True)


class ConflictScan(Base):
    """One run of `conflicts scan`: what it looked at and found; the last one says where the next starts."""

    __tablename__ = "conflict_scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    full: Mapped[bool] = mapped_column(Boolean)
    subjects: Mapped[int] = mapped_column(Integer)
    opened: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
