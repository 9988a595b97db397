from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, str_enum
from backend.models.department import Department


class ItemKind(StrEnum):
    DATA = "data"
    LICENSE = "license"


class SubjectType(StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"


class FieldType(StrEnum):
    """The type of one field in a catalog item's spec."""

    STRING = "string"
    DATE = "date"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ENUM = "enum"


class CatalogStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


class CatalogItem(Base):
    """One kind of shareable data or e-license (共享互认目录项), with exactly one source department.

    `draft_fields` is the spec being edited; publishing freezes it as the next `CatalogVersion`.
    Records always keep the version they were validated against.
    """

    __tablename__ = "catalog_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[ItemKind] = mapped_column(str_enum(ItemKind, 12))
    subject_type: Mapped[SubjectType] = mapped_column(str_enum(SubjectType, 12))
    source_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    batch: Mapped[str] = mapped_column(String(32))
    status: Mapped[CatalogStatus] = mapped_column(str_enum(CatalogStatus, 12), index=True)
    draft_fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    draft_subject_name_field: Mapped[str | None] = mapped_column(String(64))
    current_version: Mapped[int | None] = mapped_column(Integer)  # None until first published
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    source_department: Mapped[Department] = relationship()
    versions: Mapped[list[CatalogVersion]] = relationship(back_populates="item", order_by="CatalogVersion.version")

    def version_in_force(self) -> CatalogVersion | None:
        """The version named by `current_version` (kept when retired); None before the first publication."""
        if self.current_version is None:
            return None
        return next((v for v in self.versions if v.version == self.current_version), None)


class CatalogVersion(Base):
    """A published, frozen field spec of a catalog item."""

    __tablename__ = "catalog_versions"
    __table_args__ = (UniqueConstraint("item_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"))
    version: Mapped[int] = mapped_column(Integer)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    subject_name_field: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())

    item: Mapped[CatalogItem] = relationship(back_populates="versions")


class ServiceItem(Base):
    """Something applied for at an approval department (政务服务事项), and the materials it needs."""

    __tablename__ = "service_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    approval_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    subject_type: Mapped[SubjectType] = mapped_column(str_enum(SubjectType, 12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    approval_department: Mapped[Department] = relationship()
    materials: Mapped[list[Material]] = relationship(
        back_populates="service_item", order_by="Material.position", cascade="all, delete-orphan")


class Material(Base):
    """One material a service item needs; mapped to a catalog item, or paper-only."""

    __tablename__ = "materials"
    __table_args__ = (UniqueConstraint("service_item_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    catalog_item_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_items.id"), index=True)
    # Minimum necessary: the catalog fields this material needs shared; empty means all of them.
    field_keys: Mapped[list[str]] = mapped_column(JSON)

    service_item: Mapped[ServiceItem] = relationship(back_populates="materials")
    catalog_item: Mapped[CatalogItem | None] = relationship()
