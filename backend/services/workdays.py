"""Working days (rule 8): the State Council holiday schedule with its adjusted working weekends (调休).

Where a day's status comes from, strongest first: a single-day correction by the data administrator,
the year's official schedule loaded by the administrator, the bundled `chinesecalendar` package, and
for days none of them names the Monday-to-Friday rule. A year that is neither loaded nor bundled is
unknown: asking about it raises `CalendarUnknown`, never a weekends-only guess.

Deadline work runs once per pushed record, so `WorkdayCalendar` reads each year once and answers from
memory; the module functions use one calendar per session transaction (`calendar_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Literal

import chinese_calendar
from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session, SessionTransaction

from backend.clock import SHANGHAI
from backend.errors import Conflict, ValidationError
from backend.models import CalendarDay, CalendarYear, DayKind, DaySource
from backend.services import audit
from backend.services.audit import Actor

CorrectionKind = Literal["holiday", "workday", "normal"]
YearSource = Literal["bundled", "loaded"]

FIRST_LOADABLE_YEAR = 2000
LAST_LOADABLE_YEAR = 2100
END_OF_DAY = time(23, 59, 59)
_CACHE_KEY = "eshare.workday_calendar"
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CalendarUnknown(Conflict):
    code = "calendar_unknown"

    def __init__(self, year: int) -> None:
        super().__init__(f"the working-day calendar of {year} is not loaded; the data administrator loads it "
                         f"at PUT /api/admin/calendar/{year}")
        self.year = year


@dataclass(frozen=True)
class ScheduledDay:
    day: date
    name: str | None


@dataclass(frozen=True)
class YearSchedule:
    """A known year: its holidays and adjusted working weekends, where they come from, and the corrections."""

    year: int
    source: YearSource
    loaded_at: datetime | None
    loaded_by: str | None
    holidays: list[ScheduledDay]
    workdays: list[ScheduledDay]
    corrections: list[CalendarDay]


@dataclass(frozen=True)
class KnownYear:
    year: int
    source: YearSource
    loaded_at: datetime | None
    loaded_by: str | None


@dataclass(frozen=True)
class DayStatus:
    """One day as the calendar now sees it, and why: `source` is correction, loaded, bundled or week."""

    day: date
    is_workday: bool
    source: str
    name: str | None
    note: str | None


@dataclass(frozen=True)
class CalendarOverview:
    today: date
    years: list[KnownYear]
    missing: list[int]


# --- the bundled package ---------------------------------------------------------------------------

@cache
def bundled_years() -> range:
    """The years chinesecalendar covers, read from its own holidays table (the range it validates against)."""
    years = [day.year for day in chinese_calendar.holidays]
    return range(min(years), max(years) + 1)


def _holiday_name(english: str) -> str:
    try:
        return str(chinese_calendar.Holiday(english).chinese)
    except ValueError:
        return english


@cache
def _bundled_schedule(year: int) -> tuple[tuple[ScheduledDay, ...], tuple[ScheduledDay, ...]]:
    holidays = tuple(ScheduledDay(day, _holiday_name(name))
                     for day, name in sorted(chinese_calendar.holidays.items()) if day.year == year)
    workdays = tuple(ScheduledDay(day, _holiday_name(name))
                     for day, name in sorted(chinese_calendar.workdays.items()) if day.year == year)
    return holidays, workdays


# --- reading ---------------------------------------------------------------------------------------

def _actor_name(actor: Actor) -> str:
    return f"{actor.type}:{actor.id}" if actor.id else actor.type


def _loaded_years(session: Session) -> dict[int, CalendarYear]:
    return {entry.year: entry for entry in session.scalars(select(CalendarYear))}


def year_schedule(session: Session, year: int) -> YearSchedule:
    """The schedule of a known year (loaded wins over bundled); `CalendarUnknown` for any other year."""
    loaded = session.scalar(select(CalendarYear).where(CalendarYear.year == year))
    if loaded is None and year not in bundled_years():
        raise CalendarUnknown(year)
    days = session.scalars(select(CalendarDay).where(CalendarDay.year == year).order_by(CalendarDay.day)).all()
    corrections = [d for d in days if d.source is DaySource.CORRECTION]
    if loaded is None:
        holidays, workdays = _bundled_schedule(year)
        return YearSchedule(year, "bundled", None, None, list(holidays), list(workdays), corrections)
    listed = [d for d in days if d.source is DaySource.LOADED]
    return YearSchedule(
        year, "loaded", loaded.loaded_at, loaded.loaded_by,
        [ScheduledDay(d.day, d.name) for d in listed if d.kind is DayKind.HOLIDAY],
        [ScheduledDay(d.day, d.name) for d in listed if d.kind is DayKind.WORKDAY],
        corrections,
    )


def day_status(session: Session, day: date) -> DayStatus:
    """Whether `day` is a working day, and which rule says so."""
    schedule = year_schedule(session, day.year)
    named = {d.day: d.name for d in schedule.holidays + schedule.workdays}
    for correction in schedule.corrections:
        if correction.day == day:
            return DayStatus(day, correction.kind is DayKind.WORKDAY, "correction", named.get(day), correction.note)
    if any(d.day == day for d in schedule.holidays):
        return DayStatus(day, False, schedule.source, named[day], None)
    if any(d.day == day for d in schedule.workdays):
        return DayStatus(day, True, schedule.source, named[day], None)
    return DayStatus(day, day.weekday() < 5, "week", None, None)


def known_years(session: Session) -> list[KnownYear]:
    """Every year the calendar can answer for: bundled with the package or loaded by the administrator."""
    loaded = _loaded_years(session)
    years = {y: KnownYear(y, "bundled", None, None) for y in bundled_years()}
    years.update({y: KnownYear(y, "loaded", e.loaded_at, e.loaded_by) for y, e in loaded.items()})
    return [years[y] for y in sorted(years)]


def missing_years(session: Session, *, today: date, ahead: int = 2) -> list[int]:
    """This year and the next `ahead` years that neither the package nor the administrator covers."""
    loaded = _loaded_years(session)
    return [y for y in range(today.year, today.year + ahead + 1) if y not in loaded and y not in bundled_years()]


def calendar_overview(session: Session, *, today: date, ahead: int = 2) -> CalendarOverview:
    """The known years, and the coming years the administrator still has to load."""
    return CalendarOverview(today, known_years(session), missing_years(session, today=today, ahead=ahead))


class WorkdayCalendar:
    """Answers many working-day questions from one read of each year it touches (two small queries)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        # Per year, the days whose status is fixed by the schedule or a correction (True = working);
        # any other day follows the Monday-to-Friday rule.
        self._years: dict[int, dict[date, bool]] = {}

    def _fixed_days(self, year: int) -> dict[date, bool]:
        fixed = self._years.get(year)
        if fixed is None:
            schedule = year_schedule(self._session, year)
            fixed = {d.day: False for d in schedule.holidays}
            fixed.update({d.day: True for d in schedule.workdays})
            fixed.update({c.day: c.kind is DayKind.WORKDAY for c in schedule.corrections})
            self._years[year] = fixed
        return fixed

    def is_workday(self, day: date) -> bool:
        """A working day under the holiday schedule, its adjusted working weekends and any correction."""
        return self._fixed_days(day.year).get(day, day.weekday() < 5)

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n >= 1); `day` itself never counts."""
        if n < 1:
            raise ValueError("count at least one working day")
        while n:
            day += timedelta(days=1)
            if self.is_workday(day):
                n -= 1
        return day

    def working_deadline(self, *, after: datetime, working_days: int) -> datetime:
        """23:59:59 Asia/Shanghai of the n-th working day after the Shanghai date of `after`, in UTC."""
        if after.tzinfo is None:
            raise ValueError("naive datetime given to working_deadline")
        due = self.add_working_days(after.astimezone(SHANGHAI).date(), working_days)
        return datetime.combine(due, END_OF_DAY, tzinfo=SHANGHAI).astimezone(UTC)


def calendar_for(session: Session) -> WorkdayCalendar:
    """The calendar of the session's current transaction: read once, dropped when the transaction ends."""
    calendar = session.info.get(_CACHE_KEY)
    if calendar is None:
        calendar = session.info[_CACHE_KEY] = WorkdayCalendar(session)
    return calendar  # type: ignore[no-any-return]


@event.listens_for(Session, "after_transaction_end")
def _forget_calendar(session: Session, transaction: SessionTransaction) -> None:
    # A new transaction may see a year another process loaded meanwhile; savepoints keep the cache.
    if transaction.parent is None:
        session.info.pop(_CACHE_KEY, None)


def is_workday(session: Session, day: date) -> bool:
    """A working day under the holiday schedule, its adjusted working weekends and any correction."""
    return calendar_for(session).is_workday(day)


def add_working_days(session: Session, day: date, n: int) -> date:
    """The n-th working day after `day` (n >= 1); `day` itself never counts."""
    return calendar_for(session).add_working_days(day, n)


def working_deadline(session: Session, *, after: datetime, working_days: int) -> datetime:
    """23:59:59 Asia/Shanghai of the n-th working day after the Shanghai date of `after`, in UTC."""
    return calendar_for(session).working_deadline(after=after, working_days=working_days)


def is_late(moment: datetime, due_at: datetime) -> bool:
    """Late iff at or after the second that follows `due_at` (a 23:59:59 deadline covers that whole second)."""
    return moment >= due_at + timedelta(seconds=1)


# --- writing ---------------------------------------------------------------------------------------

def _schedule_errors(year: int, holidays: list[date], workdays: list[date]) -> dict[str, str]:
    fields: dict[str, str] = {}
    if not FIRST_LOADABLE_YEAR <= year <= LAST_LOADABLE_YEAR:
        return {"year": f"must be between {FIRST_LOADABLE_YEAR} and {LAST_LOADABLE_YEAR}"}
    if not holidays:
        fields["holidays"] = "an official schedule lists at least one holiday"
    seen: set[date] = set()
    for index, day in enumerate(holidays):
        key = f"holidays.{index}"
        if day.year != year:
            fields[key] = f"{day.isoformat()} is not in {year}"
        elif day in seen:
            fields[key] = f"{day.isoformat()} is listed twice"
        seen.add(day)
    holiday_set, seen = seen, set()
    for index, day in enumerate(workdays):
        key = f"workdays.{index}"
        if day.year != year:
            fields[key] = f"{day.isoformat()} is not in {year}"
        elif day in holiday_set:
            fields[key] = f"{day.isoformat()} is also listed as a holiday"
        elif day.weekday() < 5:
            fields[key] = (f"{day.isoformat()} is a {_WEEKDAYS[day.weekday()]}; an adjusted working day is a "
                           f"Saturday or Sunday")
        elif day in seen:
            fields[key] = f"{day.isoformat()} is listed twice"
        seen.add(day)
    return fields


def _forget(session: Session) -> None:
    session.info.pop(_CACHE_KEY, None)


def load_year(session: Session, *, actor: Actor, year: int, holidays: list[date], workdays: list[date],
              now: datetime) -> CalendarYear:
    """Load a year's official schedule, replacing any earlier load of it and the bundled one; corrections stay."""
    fields = _schedule_errors(year, holidays, workdays)
    if fields:
        raise ValidationError(f"the holiday schedule of {year} is not valid", fields=fields)
    entry = session.scalar(select(CalendarYear).where(CalendarYear.year == year))
    replaced = entry is not None
    if entry is None:
        entry = CalendarYear(year=year, loaded_at=now, loaded_by=_actor_name(actor))
        session.add(entry)
    else:
        entry.loaded_at, entry.loaded_by = now, _actor_name(actor)
    session.execute(delete(CalendarDay).where(CalendarDay.year == year, CalendarDay.source == DaySource.LOADED))
    session.add_all(
        CalendarDay(year=year, day=day, kind=kind, source=DaySource.LOADED, recorded_at=now,
                    recorded_by=_actor_name(actor))
        for kind, days in ((DayKind.HOLIDAY, holidays), (DayKind.WORKDAY, workdays)) for day in sorted(days)
    )
    session.flush()
    audit.record(session, actor=actor, action="calendar.year_loaded", now=now, target_type="calendar_year",
                 target_id=year, details={"holidays": len(holidays), "workdays": len(workdays),
                                          "replaced": replaced})
    _forget(session)
    session.commit()
    return entry


def correct_day(session: Session, *, actor: Actor, day: date, kind: CorrectionKind, note: str | None,
                now: datetime) -> DayStatus:
    """Make one day of a known year a holiday or a working day; `normal` removes the correction."""
    if kind not in ("holiday", "workday", "normal"):
        raise ValidationError("the correction is not valid", fields={"kind": "must be holiday, workday or normal"})
    year_schedule(session, day.year)  # a correction sits on a known year; it never makes one known
    existing = session.scalar(select(CalendarDay).where(CalendarDay.day == day,
                                                        CalendarDay.source == DaySource.CORRECTION))
    previous = existing.kind.value if existing is not None else "normal"
    if kind == "normal":
        if existing is not None:
            session.delete(existing)
    else:
        if existing is None:
            existing = CalendarDay(year=day.year, day=day, source=DaySource.CORRECTION)
            session.add(existing)
        existing.kind, existing.note = DayKind(kind), note
        existing.recorded_at, existing.recorded_by = now, _actor_name(actor)
    session.flush()
    audit.record(session, actor=actor, action="calendar.day_corrected", now=now, target_type="calendar_day",
                 target_id=day.isoformat(), details={"kind": kind, "previous": previous, "note": note})
    _forget(session)
    session.commit()
    return day_status(session, day)
