from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, str_enum


class DayKind(StrEnum):
    HOLIDAY = "holiday"  # a day off, whatever the weekday (放假)
    WORKDAY = "workday"  # a working day, whatever the weekday (调休上班)


class DaySource(StrEnum):
    LOADED = "loaded"  # part of a year's official schedule loaded by the data administrator
    CORRECTION = "correction"  # a single-day correction on top of the bundled or loaded schedule


class CalendarYear(Base):
    """A year whose official holiday schedule the data administrator loaded; it replaces the bundled one."""

    __tablename__ = "calendar_years"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    loaded_by: Mapped[str] = mapped_column(String(80))  # the audit actor, e.g. "staff:3"


class CalendarDay(Base):
    """One day whose working status differs from the Monday-to-Friday rule, or a correction of one.

    A date has at most one loaded row and one correction; the correction wins.
    """

    __tablename__ = "calendar_days"
    __table_args__ = (UniqueConstraint("day", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)  # = day.year, so one year is read in one query
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[DayKind] = mapped_column(str_enum(DayKind, 12))
    source: Mapped[DaySource] = mapped_column(str_enum(DaySource, 12))
    name: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(80))
