"""The working-day calendar: load a year's official holiday schedule, correct single days, see what is missing."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from backend.api.admin import bp
from backend.clock import SHANGHAI, iso
from backend.db import db
from backend.errors import ValidationError
from backend.models import CalendarDay, Role
from backend.openapi import documented
from backend.services import workdays
from backend.web import Body, now, parse_json, parse_query


class LoadYearRequest(Body):
    holidays: list[date] = Field(max_length=366)
    workdays: list[date] = Field(max_length=366)


class CorrectDayRequest(Body):
    kind: Literal["holiday", "workday", "normal"]
    note: str | None = Field(None, max_length=200)


class OverviewQuery(Body):
    ahead: int = Field(2, ge=0, le=10)


class ScheduledDayJSON(TypedDict):
    date: str
    name: str | None


class CorrectionJSON(TypedDict):
    date: str
    kind: str
    note: str | None
    corrected_at: str | None
    corrected_by: str


class CalendarYearJSON(TypedDict):
    year: int
    source: str
    loaded_at: str | None
    loaded_by: str | None
    holidays: list[ScheduledDayJSON]
    workdays: list[ScheduledDayJSON]
    corrections: list[CorrectionJSON]


class KnownYearJSON(TypedDict):
    year: int
    source: str
    loaded_at: str | None
    loaded_by: str | None


class CalendarOverviewJSON(TypedDict):
    today: str
    years: list[KnownYearJSON]
    missing: list[int]


class CalendarDayJSON(TypedDict):
    date: str
    is_workday: bool
    source: str
    name: str | None
    note: str | None


def _scheduled_day_to_json(day: workdays.ScheduledDay) -> ScheduledDayJSON:
    return {"date": day.day.isoformat(), "name": day.name}


def _correction_to_json(correction: CalendarDay) -> CorrectionJSON:
    return {"date": correction.day.isoformat(), "kind": correction.kind.value, "note": correction.note,
            "corrected_at": iso(correction.recorded_at), "corrected_by": correction.recorded_by}


def calendar_year_to_json(schedule: workdays.YearSchedule) -> CalendarYearJSON:
    return {
        "year": schedule.year,
        "source": schedule.source,
        "loaded_at": iso(schedule.loaded_at),
        "loaded_by": schedule.loaded_by,
        "holidays": [_scheduled_day_to_json(d) for d in schedule.holidays],
        "workdays": [_scheduled_day_to_json(d) for d in schedule.workdays],
        "corrections": [_correction_to_json(c) for c in schedule.corrections],
    }


def known_year_to_json(year: workdays.KnownYear) -> KnownYearJSON:
    return {"year": year.year, "source": year.source, "loaded_at": iso(year.loaded_at), "loaded_by": year.loaded_by}


def calendar_overview_to_json(overview: workdays.CalendarOverview) -> CalendarOverviewJSON:
    return {"today": overview.today.isoformat(), "years": [known_year_to_json(y) for y in overview.years],
            "missing": overview.missing}


def calendar_day_to_json(status: workdays.DayStatus) -> CalendarDayJSON:
    return {"date": status.day.isoformat(), "is_workday": status.is_workday, "source": status.source,
            "name": status.name, "note": status.note}


def _path_date(text: str) -> date:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValidationError("the date in the path is not valid", fields={"day": "must be a date: YYYY-MM-DD"})


@bp.get("/calendar")
@staff_required(Role.DATA_ADMIN)
@documented("Years the working-day calendar knows, and the coming years still missing", auth="staff",
            query=OverviewQuery, response=CalendarOverviewJSON, errors=(403,))
def calendar_overview() -> CalendarOverviewJSON:
    query = parse_query(OverviewQuery)
    overview = workdays.calendar_overview(db.session(), today=now().astimezone(SHANGHAI).date(), ahead=query.ahead)
    return calendar_overview_to_json(overview)


@bp.get("/calendar/<int:year>")
@staff_required(Role.DATA_ADMIN)
@documented("A year's holidays and adjusted working weekends, and its corrections", auth="staff",
            response=CalendarYearJSON, errors=(403, 409))
def get_calendar_year(year: int) -> CalendarYearJSON:
    return calendar_year_to_json(workdays.year_schedule(db.session(), year))


@bp.put("/calendar/<int:year>")
@staff_required(Role.DATA_ADMIN)
@documented("Load a year's official holiday schedule (replaces the bundled one and any earlier load)",
            auth="staff", body=LoadYearRequest, response=CalendarYearJSON, errors=(403,))
def load_calendar_year(year: int) -> CalendarYearJSON:
    req = parse_json(LoadYearRequest)
    session = db.session()
    workdays.load_year(session, actor=current_actor(), year=year, holidays=list(req.holidays),
                       workdays=list(req.workdays), now=now())
    return calendar_year_to_json(workdays.year_schedule(session, year))


@bp.get("/calendar/days/<day>")
@staff_required(Role.DATA_ADMIN)
@documented("Whether a day is a working day, and which rule says so", auth="staff", response=CalendarDayJSON,
            errors=(403, 409, 422))
def get_calendar_day(day: str) -> CalendarDayJSON:
    return calendar_day_to_json(workdays.day_status(db.session(), _path_date(day)))


@bp.put("/calendar/days/<day>")
@staff_required(Role.DATA_ADMIN)
@documented("Correct a single day (holiday or workday); kind normal removes the correction", auth="staff",
            body=CorrectDayRequest, response=CalendarDayJSON, errors=(403, 409))
def correct_calendar_day(day: str) -> CalendarDayJSON:
    req = parse_json(CorrectDayRequest)
    status = workdays.correct_day(db.session(), actor=current_actor(), day=_path_date(day), kind=req.kind,
                                  note=req.note, now=now())
    return calendar_day_to_json(status)
