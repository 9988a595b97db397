"""Declarative base, the Flask-SQLAlchemy handle and column types shared by every model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Enum, MetaData, Select, func, select
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator, TypeEngine

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# create_savepoint: tests wrap each test in an outer transaction; an app-level rollback
# must end only the savepoint, not the test's transaction (FACTS.md).
db = SQLAlchemy(model_class=Base, session_options={"join_transaction_mode": "create_savepoint"})


class UTCDateTime(TypeDecorator[datetime]):
    """Naive UTC in the column, aware UTC in Python; MySQL keeps microseconds."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def encrypted_info(table: str, column: str) -> dict[str, str]:
    """Column `info` marking a field-encrypted column; its value is the context bound into the cipher."""
    return {"encrypted": f"{table}.{column}"}


def str_enum(enum_type: type[StrEnum], length: int = 20) -> Enum:
    """A status column stored as its lower-case value in a VARCHAR, on every database."""
    return Enum(enum_type, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


def paginate(session: Session, query: Select[T], *, page: int, per_page: int) -> Page[T]:
    """One page of an ordered query and the total it would give unpaged."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = list(session.scalars(query.offset((page - 1) * per_page).limit(per_page)).all())
    return Page(items, total, page, per_page)
