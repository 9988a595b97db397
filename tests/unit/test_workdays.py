"""Working days follow the State Council schedule with its adjusted weekends; unknown years are an error."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest
from sqlalchemy import event, func, select

from backend.clock import SHANGHAI
from backend.db import db
from backend.errors import ValidationError
from backend.models import AuditEvent, CalendarDay, CalendarYear
from backend.services import workdays
from backend.services.audit import Actor
from backend.services.workdays import CalendarUnknown, WorkdayCalendar

ADMIN = Actor("staff", "1")

# Test data in the shape of an official schedule; not the real 2027 one.
HOLIDAYS_2027 = [date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3),
                 *(date(2027, 2, 5) + timedelta(days=i) for i in range(8))]
WORKDAYS_2027 = [date(2027, 2, 20)]


def shanghai(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def load_2027(session, clock, **overrides):
    args = {"holidays": HOLIDAYS_2027, "workdays": WORKDAYS_2027, **overrides}
    return workdays.load_year(session, actor=ADMIN, year=2027, now=clock(), **args)


def audit_actions(session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_adjusted_working_weekends_of_2026_are_working_days(session):
    for day in (date(2026, 2, 14), date(2026, 2, 28), date(2026, 10, 10)):
        assert day.weekday() >= 5
        assert workdays.is_workday(session, day)
    assert not workdays.is_workday(session, date(2026, 10, 11))  # an ordinary Sunday


def test_national_day_and_spring_festival_2026_are_days_off(session):
    for offset in range(7):
        assert not workdays.is_workday(session, date(2026, 10, 1) + timedelta(days=offset))
    assert workdays.is_workday(session, date(2026, 10, 8))
    for offset in range(9):
        assert not workdays.is_workday(session, date(2026, 2, 15) + timedelta(days=offset))
    assert workdays.is_workday(session, date(2026, 2, 24))


def test_calendar_agrees_with_chinesecalendar_on_every_bundled_day(session):
    calendar = WorkdayCalendar(session)
    day, last = date(workdays.bundled_years().start, 1, 1), date(workdays.bundled_years().stop - 1, 12, 31)
    while day <= last:
        assert calendar.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_bundled_years_are_exactly_what_chinesecalendar_covers():
    years = workdays.bundled_years()
    assert years.start == 2004 and 2026 in years and 2027 not in years
    for year in (years.start, years.stop - 1):
        chinese_calendar.is_workday(date(year, 6, 1))
    for year in (years.start - 1, years.stop):
        with pytest.raises(NotImplementedError):
            chinese_calendar.is_workday(date(year, 6, 1))


def test_add_working_days_skips_national_day_and_counts_the_working_saturday(session):
    assert workdays.add_working_days(session, date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert workdays.add_working_days(session, date(2026, 9, 30), 2) == date(2026, 10, 9)
    assert workdays.add_working_days(session, date(2026, 9, 30), 3) == date(2026, 10, 10)


def test_add_working_days_never_counts_the_start_day(session):
    assert workdays.add_working_days(session, date(2026, 3, 2), 1) == date(2026, 3, 3)
    assert workdays.add_working_days(session, date(2026, 3, 6), 1) == date(2026, 3, 9)  # Friday to Monday
    assert workdays.add_working_days(session, date(2026, 3, 7), 1) == date(2026, 3, 9)  # from a Saturday


def test_add_working_days_needs_at_least_one_day(session):
    with pytest.raises(ValueError):
        workdays.add_working_days(session, date(2026, 3, 2), 0)


def test_objection_filed_before_national_day_is_due_on_october_9(session):
    due = workdays.working_deadline(session, after=shanghai(2026, 9, 30, 16, 30), working_days=2)
    assert due == shanghai(2026, 10, 9, 23, 59, 59)
    assert due.tzinfo is UTC


def test_deadline_counts_from_the_shanghai_date(session):
    # 17:30 UTC on Monday 2026-03-02 is already Tuesday 01:30 in Shanghai.
    due = workdays.working_deadline(session, after=datetime(2026, 3, 2, 17, 30, tzinfo=UTC), working_days=1)
    assert due == shanghai(2026, 3, 4, 23, 59, 59)


def test_deadline_refuses_a_naive_moment(session):
    with pytest.raises(ValueError):
        workdays.working_deadline(session, after=datetime(2026, 3, 2, 10), working_days=1)


def test_late_only_from_the_second_after_the_deadline():
    due = shanghai(2026, 10, 9, 23, 59, 59)
    assert not workdays.is_late(due - timedelta(seconds=1), due)
    assert not workdays.is_late(due, due)
    assert not workdays.is_late(due + timedelta(microseconds=500_000), due)
    assert not workdays.is_late(due + timedelta(microseconds=999_999), due)
    assert workdays.is_late(due + timedelta(seconds=1), due)  # 00:00:00 the next day
    assert workdays.is_late(shanghai(2026, 10, 10, 9, 0), due)


def test_deadline_in_2027_is_unknown_until_the_year_is_loaded(session, clock):
    with pytest.raises(CalendarUnknown) as raised:
        workdays.working_deadline(session, after=shanghai(2026, 12, 30, 10, 0), working_days=2)
    assert raised.value.code == "calendar_unknown" and raised.value.status == 409
    assert "2027" in raised.value.message and "PUT /api/admin/calendar/2027" in raised.value.message
    with pytest.raises(CalendarUnknown):
        workdays.is_workday(session, date(2027, 3, 1))  # a plain Monday is no guess either

    load_2027(session, clock)

    due = workdays.working_deadline(session, after=shanghai(2026, 12, 30, 10, 0), working_days=2)
    assert due == shanghai(2027, 1, 4, 23, 59, 59)  # 12-31, then past the New Year holiday
    assert workdays.is_workday(session, date(2027, 2, 20))  # the loaded adjusted Saturday
    assert not workdays.is_workday(session, date(2027, 2, 8))


def test_load_with_a_bad_date_changes_nothing(session, clock):
    with pytest.raises(ValidationError) as raised:
        load_2027(session, clock, holidays=[date(2027, 1, 1), date(2026, 12, 31)])
    assert raised.value.fields == {"holidays.1": "2026-12-31 is not in 2027"}
    assert session.scalar(select(func.count()).select_from(CalendarYear)) == 0
    assert session.scalar(select(func.count()).select_from(CalendarDay)) == 0
    assert audit_actions(session) == []
    with pytest.raises(CalendarUnknown):
        workdays.is_workday(session, date(2027, 1, 1))


def test_load_names_every_bad_field(session, clock):
    with pytest.raises(ValidationError) as raised:
        load_2027(session, clock, holidays=[date(2027, 1, 1), date(2027, 1, 1), date(2027, 2, 20)],
                  workdays=[date(2027, 1, 4), date(2027, 2, 20)])
    assert raised.value.fields == {
        "holidays.1": "2027-01-01 is listed twice",
        "workdays.0": "2027-01-04 is a Monday; an adjusted working day is a Saturday or Sunday",
        "workdays.1": "2027-02-20 is also listed as a holiday",
    }


def test_load_needs_holidays_and_a_sensible_year(session, clock):
    with pytest.raises(ValidationError) as raised:
        load_2027(session, clock, holidays=[])
    assert raised.value.fields == {"holidays": "an official schedule lists at least one holiday"}
    with pytest.raises(ValidationError) as raised:
        workdays.load_year(session, actor=ADMIN, year=1990, holidays=[date(1990, 1, 1)], workdays=[], now=clock())
    assert set(raised.value.fields) == {"year"}


def test_holiday_may_fall_on_a_weekend(session, clock):
    load_2027(session, clock)
    assert workdays.day_status(session, date(2027, 1, 2)).source == "loaded"  # a Saturday, listed


def test_reloading_a_year_replaces_its_days(session, clock):
    load_2027(session, clock)
    clock.advance(days=1)
    entry = load_2027(session, clock, holidays=[date(2027, 1, 1)], workdays=[])
    assert entry.loaded_at == clock()
    assert workdays.is_workday(session, date(2027, 2, 8))
    assert not workdays.is_workday(session, date(2027, 2, 20))
    schedule = workdays.year_schedule(session, 2027)
    assert [d.day for d in schedule.holidays] == [date(2027, 1, 1)] and schedule.workdays == []
    assert session.scalar(select(func.count()).select_from(CalendarYear)) == 1
    event_details = session.scalars(select(AuditEvent.details).where(AuditEvent.action == "calendar.year_loaded")
                                    .order_by(AuditEvent.seq)).all()
    assert [d["replaced"] for d in event_details] == [False, True]


def test_loaded_year_replaces_the_bundled_schedule(session, clock):
    workdays.load_year(session, actor=ADMIN, year=2026, holidays=[date(2026, 10, 8)], workdays=[], now=clock())
    assert not workdays.is_workday(session, date(2026, 10, 8))
    assert workdays.is_workday(session, date(2026, 10, 1))  # the load is the whole schedule
    assert not workdays.is_workday(session, date(2026, 10, 10))
    assert workdays.year_schedule(session, 2026).source == "loaded"


def test_correction_overrides_the_calendar_until_removed(session, clock):
    status = workdays.correct_day(session, actor=ADMIN, day=date(2026, 3, 3), kind="holiday", note="台风停工",
                                  now=clock())
    assert (status.is_workday, status.source, status.note) == (False, "correction", "台风停工")
    assert workdays.add_working_days(session, date(2026, 3, 2), 1) == date(2026, 3, 4)

    workdays.correct_day(session, actor=ADMIN, day=date(2026, 10, 3), kind="workday", note=None, now=clock())
    assert workdays.is_workday(session, date(2026, 10, 3))

    status = workdays.correct_day(session, actor=ADMIN, day=date(2026, 3, 3), kind="normal", note=None, now=clock())
    assert (status.is_workday, status.source) == (True, "week")
    assert workdays.is_workday(session, date(2026, 3, 3))
    assert audit_actions(session) == ["calendar.day_corrected"] * 3


def test_correction_survives_a_reload_of_its_year(session, clock):
    load_2027(session, clock)
    workdays.correct_day(session, actor=ADMIN, day=date(2027, 1, 4), kind="holiday", note=None, now=clock())
    load_2027(session, clock)
    assert not workdays.is_workday(session, date(2027, 1, 4))
    assert [c.day for c in workdays.year_schedule(session, 2027).corrections] == [date(2027, 1, 4)]


def test_correction_in_an_unknown_year_is_refused(session, clock):
    with pytest.raises(CalendarUnknown):
        workdays.correct_day(session, actor=ADMIN, day=date(2027, 1, 4), kind="workday", note=None, now=clock())
    assert session.scalar(select(func.count()).select_from(CalendarDay)) == 0


def test_load_is_audited(session, clock):
    load_2027(session, clock)
    event_ = session.scalars(select(AuditEvent)).one()
    assert (event_.action, event_.target_type, event_.target_id, event_.actor_id) == \
        ("calendar.year_loaded", "calendar_year", "2027", "1")
    assert event_.details == {"holidays": len(HOLIDAYS_2027), "workdays": 1, "replaced": False}


def test_missing_years_lists_the_coming_years_nobody_covers(session, clock):
    today = date(2026, 3, 2)
    assert workdays.missing_years(session, today=today) == [2027, 2028]
    assert workdays.missing_years(session, today=today, ahead=0) == []
    load_2027(session, clock)
    assert workdays.missing_years(session, today=today) == [2028]
    known = {y.year: y.source for y in workdays.known_years(session)}
    assert known[2026] == "bundled" and known[2027] == "loaded" and 2028 not in known


def test_calendar_reads_the_database_once_per_year(session):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):  # not the test harness's SAVEPOINTs
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        start = shanghai(2026, 1, 1, 9, 0)
        for hour in range(2000):
            workdays.working_deadline(session, after=start + timedelta(hours=hour), working_days=2)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 2


def test_session_calendar_is_read_again_after_the_transaction_ends(session):
    first = workdays.calendar_for(session)
    assert workdays.is_workday(session, date(2026, 3, 2))
    assert workdays.calendar_for(session) is first
    session.commit()
    assert workdays.calendar_for(session) is not first
