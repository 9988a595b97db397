"""Objections (数据异议, rule 7): filed by applicants, decided by the source department within 2 working days.

Life of an objection: `open` (filed; the decision is due at 23:59:59 Asia/Shanghai of the 2nd working day
after the filing day) → `rejected` (with a reason), or `correcting` (the corrected record is due at the end of
the 1st working day after the decision) → `corrected` when the department pushes a new version of the record.
The applicant may withdraw while it is `open`. While `open` or `correcting` the record is under objection:
the wallet shows it so, and confirmations using it are on hold (`active_objections`).

Decisions:
- One active objection per record and field, kept by a unique `active_key` so that two filings at the same
  moment cannot both pass (409 `objection_exists`).
- A deadline in a year the working-day calendar does not know is stored as None with the missing year in
  `calendar_unknown_year`: shown as unknown, told to the data administrators by the sweep, and computed by
  the sweep once the year is loaded. It is never guessed; a decision made while it is unknown has
  `decision_late` None.
- A late decision or correction is still accepted and recorded as late (`decision_late`, `correction_late`).
- A correction is any new or changed version of the record pushed while the objection is `correcting`, or one
  whose `objection_id` names an `open` or `correcting` objection on that record (then the decision `correct`
  is recorded at the same moment). A revocation corrects nothing.
- The sweep (`flask objections sweep`, every minute) flags overdue decisions and corrections once (the
  `*_overdue_at` columns) and tells the department's operators and the data administrators in their staff
  inbox; it reminds the operators half a working day before a deadline, which we fix at 12:00 Asia/Shanghai of
  the due day (the morning of the last working day is over; its afternoon remains). Each flag is set by a
  conditional update, so two sweeps running at once still notify once.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.clock import SHANGHAI, iso
from backend.db import Page, paginate
from backend.errors import Conflict, Forbidden, NotFound, ValidationError
from backend.models import (
    ACTIVE_OBJECTION_STATUSES,
    Applicant,
    ChangeKind,
    Department,
    Objection,
    ObjectionStatus,
    Record,
    RecordStatus,
    RecordVersion,
    StaffAccount,
)
from backend.protection import Protector
from backend.services import audit, notifications, wallet, workdays
from backend.services.audit import Actor
from backend.services.workdays import CalendarUnknown

if TYPE_CHECKING:
    from backend.services.record_changes import RecordChange

DECISION_WORKING_DAYS = 2
CORRECTION_WORKING_DAYS = 1
# "Half a working day before the deadline": noon of the due day (see the module docstring).
REMINDER_TIME = time(12, 0)
MAX_TEXT = 500
CORRECT = "correct"
REJECT = "reject"
DECISIONS = (CORRECT, REJECT)
CLAIMED_CONTEXT = "objections.claimed_value_enc"
REASON_CONTEXT = "objections.reason_enc"
FIELDS_CONTEXT = "record_versions.fields_enc"
PURPOSE_HANDLE = "source department handles a data objection"
PURPOSE_OWN = "applicant views own objection"
PURPOSE_ADMIN = "data administrator oversees objections"
SWEEPER = Actor("system", "objections.sweep")
CORRECTOR = Actor("system", "record_changes")
RESULT_WORDS = {CORRECT: "予以更正", REJECT: "不予更正"}


class ObjectionExists(Conflict):
    code = "objection_exists"


class ObjectionNotOpen(Conflict):
    code = "objection_not_open"


@dataclass(frozen=True)
class ObjectionEntry:
    """An objection as shown: its field's label, whether a deadline has passed unmet now, and in a detail
    the decrypted claimed value and reason (and, for the department, the value objected to)."""

    objection: Objection
    field_label: str
    overdue: bool
    deadline_unknown: bool
    detailed: bool = False
    claimed_value: str | None = None
    reason: str | None = None
    objected_value: Any = None


@dataclass(frozen=True)
class SweepReport:
    deadlines_computed: int = 0
    calendar_alerts: int = 0
    decision_overdue: int = 0
    correction_overdue: int = 0
    decision_reminders: int = 0
    correction_reminders: int = 0


@dataclass(frozen=True)
class DepartmentObjectionFigures:
    """One source department's objections filed in a period (rule 7's KPI, read by the oversight dashboard).

    `upheld` counts decisions `correct`; `overdue` counts objections whose decision or correction came late
    or is past due unmet at `now`; medians are over the objections of the period that reached that step;
    rates are per 10,000 records the department held at the end of the period (None without records).
    """

    department_code: str
    department_name: str
    filed: int
    upheld: int
    rejected: int
    withdrawn: int
    pending: int
    overdue: int
    decision_overdue: int
    correction_overdue: int
    deadline_unknown: int
    median_time_to_decide: timedelta | None
    median_time_to_correct: timedelta | None
    records: int
    objections_per_10k_records: float | None
    upheld_per_10k_records: float | None


# --- reading ------------------------------------------------------------------------------------------

def active_objections(session: Session, record_ids: Iterable[int]) -> dict[int, Objection]:
    """The open (or awaiting-correction) objection on each of these records that has one: they are on hold."""
    ids = list(set(record_ids))
    if not ids:
        return {}
    rows = session.scalars(
        select(Objection).where(Objection.record_id.in_(ids), Objection.status.in_(ACTIVE_OBJECTION_STATUSES))
        .order_by(Objection.filed_at)
    ).all()
    found: dict[int, Objection] = {}
    for row in rows:
        found.setdefault(row.record_id, row)
    return found


def _pending_due(objection: Objection) -> datetime | None:
    if objection.status is ObjectionStatus.OPEN:
        return objection.decision_due_at
    if objection.status is ObjectionStatus.CORRECTING:
        return objection.correction_due_at
    return None


def overdue_steps(*, status: ObjectionStatus, decision_due_at: datetime | None, decision_late: bool | None,
                  correction_due_at: datetime | None, correction_late: bool | None,
                  now: datetime) -> tuple[bool, bool]:
    """(decision overdue, correction overdue): done late, or still pending past its deadline at `now`."""
    decision = bool(decision_late) or (
        status is ObjectionStatus.OPEN and decision_due_at is not None and workdays.is_late(now, decision_due_at))
    correction = bool(correction_late) or (
        status is ObjectionStatus.CORRECTING and correction_due_at is not None
        and workdays.is_late(now, correction_due_at))
    return decision, correction


def is_overdue(objection: Objection, now: datetime) -> bool:
    """Its pending step (decision or correction) is past its deadline at `now`."""
    due = _pending_due(objection)
    return due is not None and workdays.is_late(now, due)


def _deadline_unknown(objection: Objection) -> bool:
    return objection.status in ACTIVE_OBJECTION_STATUSES and _pending_due(objection) is None


def _overdue_clause(now: datetime) -> ColumnElement[bool]:
    # is_late(now, due) <=> due <= now - 1 s (a 23:59:59 deadline covers that whole second). The explicit
    # IS NOT NULL keeps the clause true or false (never NULL), so that its negation is right too.
    cutoff = now - timedelta(seconds=1)
    return or_(and_(Objection.status == ObjectionStatus.OPEN, Objection.decision_due_at.is_not(None),
                    Objection.decision_due_at <= cutoff),
               and_(Objection.status == ObjectionStatus.CORRECTING, Objection.correction_due_at.is_not(None),
                    Objection.correction_due_at <= cutoff))


def _unknown_clause() -> ColumnElement[bool]:
    return or_(and_(Objection.status == ObjectionStatus.OPEN, Objection.decision_due_at.is_(None)),
               and_(Objection.status == ObjectionStatus.CORRECTING, Objection.correction_due_at.is_(None)))


def _objected_versions(session: Session, objections: Sequence[Objection]) -> dict[tuple[int, int], RecordVersion]:
    if not objections:
        return {}
    pairs = {(o.record_id, o.record_version) for o in objections}
    rows = session.scalars(select(RecordVersion).where(
        RecordVersion.record_id.in_({p[0] for p in pairs})).options(selectinload(RecordVersion.catalog_version)))
    return {(v.record_id, v.version): v for v in rows if (v.record_id, v.version) in pairs}


def _label(version: RecordVersion | None, key: str) -> str:
    if version is None:
        return key
    return next((str(f.get("label") or key) for f in version.catalog_version.fields if f.get("key") == key), key)


def _entries(session: Session, objections: Sequence[Objection], now: datetime) -> list[ObjectionEntry]:
    versions = _objected_versions(session, objections)
    return [ObjectionEntry(o, _label(versions.get((o.record_id, o.record_version)), o.field), is_overdue(o, now),
                           _deadline_unknown(o)) for o in objections]


def _detail(session: Session, protector: Protector, objection: Objection, now: datetime, *,
            with_value: bool) -> ObjectionEntry:
    version = _objected_versions(session, [objection]).get((objection.record_id, objection.record_version))
    objected = None
    if with_value and version is not None:
        values = json.loads(protector.decrypt(version.fields_enc, context=FIELDS_CONTEXT))
        objected = values.get(objection.field) if isinstance(values, dict) else None
    claimed = (protector.decrypt(objection.claimed_value_enc, context=CLAIMED_CONTEXT)
               if objection.claimed_value_enc is not None else None)
    return ObjectionEntry(objection, _label(version, objection.field), is_overdue(objection, now),
                          _deadline_unknown(objection), detailed=True, claimed_value=claimed,
                          reason=protector.decrypt(objection.reason_enc, context=REASON_CONTEXT),
                          objected_value=objected)


def _query(*, status: str | None, overdue: bool | None, now: datetime) -> Any:
    query = (select(Objection).options(selectinload(Objection.record).selectinload(Record.catalog_item),
                                       selectinload(Objection.record).selectinload(Record.department))
             .order_by(Objection.filed_at.desc(), Objection.id.desc()))
    if status is not None:
        query = query.where(Objection.status == ObjectionStatus(status))
    if overdue is True:
        query = query.where(_overdue_clause(now))
    elif overdue is False:
        query = query.where(~_overdue_clause(now))
    return query


def _check_status(status: str | None) -> None:
    if status is not None and status not in {s.value for s in ObjectionStatus}:
        raise ValidationError("the query is not valid",
                              fields={"status": "must be one of " + ", ".join(s.value for s in ObjectionStatus)})


# --- deadlines ----------------------------------------------------------------------------------------

def _deadline(session: Session, after: datetime, working_days: int) -> tuple[datetime | None, int | None]:
    """The deadline, or None and the year whose calendar is missing (never a guess)."""
    try:
        return workdays.working_deadline(session, after=after, working_days=working_days), None
    except CalendarUnknown as exc:
        return None, exc.year


def reminder_at(due_at: datetime) -> datetime:
    """When the sweep reminds: 12:00 Asia/Shanghai of the due day, half a working day before its end."""
    day = due_at.astimezone(SHANGHAI).date()
    return datetime.combine(day, REMINDER_TIME, tzinfo=SHANGHAI).astimezone(UTC)


def _late(moment: datetime, due: datetime | None) -> bool | None:
    return None if due is None else workdays.is_late(moment, due)


# --- the applicant ------------------------------------------------------------------------------------

def _text(value: str | None, name: str, *, required: bool) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise ValidationError("the objection is not valid", fields={name: "is required"})
        return None
    if len(value) > MAX_TEXT:
        raise ValidationError("the objection is not valid", fields={name: f"must be at most {MAX_TEXT} characters"})
    return value


def file_objection(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor, record_id: int,
                   field: str, claimed_value: str | None, reason: str, now: datetime) -> ObjectionEntry:
    """Object to one field of a record the applicant may see; one active objection per record and field."""
    record = wallet.get_visible_record(session, protector, applicant=applicant, record_id=record_id, now=now)
    if record.status is RecordStatus.REVOKED:
        raise Conflict("this record is revoked (注销); there is nothing left to correct", code="record_revoked")
    latest = session.scalar(select(RecordVersion).where(RecordVersion.record_id == record.id,
                                                        RecordVersion.version == record.latest_version))
    if latest is None or field not in {f.get("key") for f in latest.catalog_version.fields}:
        raise ValidationError("the objection is not valid", fields={"field": "is not a field of this record"})
    reason_text = _text(reason, "reason", required=True)
    claimed_text = _text(claimed_value, "claimed_value", required=False)
    key = f"{record.id}:{field}"
    if session.scalar(select(Objection.id).where(Objection.active_key == key)) is not None:
        raise ObjectionExists("an objection to this field is already being handled; see it in your objections")
    due, unknown_year = _deadline(session, now, DECISION_WORKING_DAYS)
    objection = Objection(
        record_id=record.id, record_version=record.latest_version, department_id=record.department_id,
        applicant_id=applicant.id, field=field, active_key=key,
        claimed_value_enc=(protector.encrypt(claimed_text, context=CLAIMED_CONTEXT)
                           if claimed_text is not None else None),
        reason_enc=protector.encrypt(reason_text or "", context=REASON_CONTEXT),
        status=ObjectionStatus.OPEN, filed_at=now, decision_due_at=due, calendar_unknown_year=unknown_year)
    try:
        with session.begin_nested():
            session.add(objection)
    except IntegrityError:
        raise ObjectionExists("an objection to this field is already being handled; see it in your objections") \
            from None
    audit.record(session, actor=actor, action="objection.filed", now=now, target_type="objection",
                 target_id=objection.id, subject_index=record.subject_index,
                 details={"record": record.id, "version": record.latest_version, "field": field,
                          "decision_due_at": iso(due), "calendar_unknown_year": unknown_year})
    label = _label(latest, field)
    due_text = _shanghai(due) if due is not None else "（工作日历未载入，期限待定）"
    notifications.notify_staff(
        session, staff_ids=notifications.department_operators(session, record.department_id),
        event="objection_filed", title="新的数据异议",
        body=f"{record.catalog_item.name}「{label}」有一条数据异议，请于{due_text}前作出处理决定。",
        data={"objection_id": objection.id, "record_id": record.id}, now=now)
    session.commit()
    return _detail(session, protector, objection, now, with_value=False)


def list_own_objections(session: Session, *, applicant: Applicant, status: str | None, page: int, per_page: int,
                        now: datetime) -> Page[ObjectionEntry]:
    """The applicant's objections, newest first, with their deadlines (no claimed values or reasons)."""
    _check_status(status)
    query = _query(status=status, overdue=None, now=now).where(Objection.applicant_id == applicant.id)
    found = paginate(session, query, page=page, per_page=per_page)
    return Page(_entries(session, found.items, now), found.total, found.page, found.per_page)


def _own(session: Session, applicant: Applicant, objection_id: int) -> Objection:
    objection = session.get(Objection, objection_id)
    if objection is None or objection.applicant_id != applicant.id:
        raise NotFound("no such objection")
    return objection


def get_own_objection(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor,
                      objection_id: int, now: datetime) -> ObjectionEntry:
    """One of the applicant's objections in full (another user's is a 404); audited."""
    objection = _own(session, applicant, objection_id)
    entry = _detail(session, protector, objection, now, with_value=False)
    audit.record(session, actor=actor, action="objection.viewed", now=now, target_type="objection",
                 target_id=objection.id, subject_index=objection.record.subject_index, purpose=PURPOSE_OWN)
    session.commit()
    return entry


def withdraw_objection(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor,
                       objection_id: int, now: datetime) -> ObjectionEntry:
    """The applicant takes back an objection that is still open (not once decided)."""
    objection = _own(session, applicant, objection_id)
    moved = session.execute(update(Objection).where(
        Objection.id == objection.id, Objection.status == ObjectionStatus.OPEN).values(
        status=ObjectionStatus.WITHDRAWN, withdrawn_at=now, active_key=None)).rowcount  # type: ignore[attr-defined]
    if moved != 1:
        raise ObjectionNotOpen(f"this objection is {objection.status.value}; only an open one can be withdrawn")
    session.refresh(objection)
    audit.record(session, actor=actor, action="objection.withdrawn", now=now, target_type="objection",
                 target_id=objection.id, subject_index=objection.record.subject_index)
    notifications.notify_staff(
        session, staff_ids=notifications.department_operators(session, objection.department_id),
        event="objection_withdrawn", title="数据异议已撤回",
        body=f"{objection.record.catalog_item.name}的一条数据异议已由申请人撤回，无需处理。",
        data={"objection_id": objection.id, "record_id": objection.record_id}, now=now)
    session.commit()
    return _detail(session, protector, objection, now, with_value=False)


# --- the source department ----------------------------------------------------------------------------

def _operator_department(staff: StaffAccount) -> int:
    if staff.department_id is None:
        raise Forbidden("you belong to no department")
    return staff.department_id


def list_department_objections(session: Session, *, staff: StaffAccount, status: str | None,
                               overdue: bool | None, page: int, per_page: int,
                               now: datetime) -> Page[ObjectionEntry]:
    """Objections to the operator's own department's records; filter by status and by overdue now."""
    _check_status(status)
    query = _query(status=status, overdue=overdue, now=now).where(
        Objection.department_id == _operator_department(staff))
    found = paginate(session, query, page=page, per_page=per_page)
    return Page(_entries(session, found.items, now), found.total, found.page, found.per_page)


def _for_department(session: Session, staff: StaffAccount, objection_id: int, *, lock: bool = False) -> Objection:
    query = select(Objection).where(Objection.id == objection_id)
    objection = session.scalar(query.with_for_update() if lock else query)
    if objection is None:
        raise NotFound("no such objection")
    if objection.department_id != _operator_department(staff):
        raise Forbidden("this objection is for another department's record")
    return objection


def get_department_objection(session: Session, protector: Protector, *, staff: StaffAccount, actor: Actor,
                             objection_id: int, now: datetime) -> ObjectionEntry:
    """One objection with the claimed value, the reason and the value objected to, for its department; audited."""
    objection = _for_department(session, staff, objection_id)
    entry = _detail(session, protector, objection, now, with_value=True)
    audit.record(session, actor=actor, action="objection.viewed", now=now, target_type="objection",
                 target_id=objection.id, subject_index=objection.record.subject_index, purpose=PURPOSE_HANDLE)
    session.commit()
    return entry


def decide_objection(session: Session, protector: Protector, *, staff: StaffAccount, actor: Actor,
                     objection_id: int, decision: str, reason: str | None, now: datetime) -> ObjectionEntry:
    """The source department decides an open objection: `correct` (then push the corrected record within
    1 working day) or `reject` with a reason. A late decision is accepted and recorded as late."""
    if decision not in DECISIONS:
        raise ValidationError("the decision is not valid", fields={"decision": "must be correct or reject"})
    reason_text = _text(reason, "reason", required=decision == REJECT)
    objection = _for_department(session, staff, objection_id, lock=True)
    if objection.status is not ObjectionStatus.OPEN:
        raise ObjectionNotOpen(f"this objection is {objection.status.value}; only an open one can be decided")
    _record_decision(session, protector, objection, decision=decision, reason=reason_text, staff_id=staff.id,
                     now=now)
    audit.record(session, actor=actor, action="objection.decided", now=now, target_type="objection",
                 target_id=objection.id, subject_index=objection.record.subject_index,
                 details={"decision": decision, "late": objection.decision_late,
                          "correction_due_at": iso(objection.correction_due_at)})
    session.commit()
    return _detail(session, protector, objection, now, with_value=True)


def _record_decision(session: Session, protector: Protector, objection: Objection, *, decision: str,
                     reason: str | None, staff_id: int | None, now: datetime) -> None:
    """Move an open objection to its decision and tell the applicant (flushes)."""
    new_status = ObjectionStatus.CORRECTING if decision == CORRECT else ObjectionStatus.REJECTED
    moved = session.execute(update(Objection).where(
        Objection.id == objection.id, Objection.status == ObjectionStatus.OPEN).values(
        status=new_status)).rowcount  # type: ignore[attr-defined]
    if moved != 1:
        raise ObjectionNotOpen("this objection was decided or withdrawn at the same moment")
    objection.status = new_status
    if objection.decision_due_at is None:  # the year may have been loaded since the filing
        objection.decision_due_at, objection.calendar_unknown_year = _deadline(session, objection.filed_at,
                                                                               DECISION_WORKING_DAYS)
    objection.decision, objection.decision_reason = decision, reason
    objection.decided_by_id, objection.decided_at = staff_id, now
    objection.decision_late = _late(now, objection.decision_due_at)
    if decision == CORRECT:
        objection.correction_due_at, year = _deadline(session, now, CORRECTION_WORKING_DAYS)
        objection.calendar_unknown_year = year
        objection.calendar_alerted_at = None
    else:
        objection.active_key = None
        objection.calendar_unknown_year = None
    session.flush()
    record = objection.record
    label = _label(_objected_versions(session, [objection]).get((objection.record_id, objection.record_version)),
                   objection.field)
    if decision == CORRECT:
        due = objection.correction_due_at
        when = f"，将于{_shanghai(due)}前推送更正后的数据" if due is not None else "，将推送更正后的数据"
        body = f"您对{record.catalog_item.name}「{label}」提出的数据异议，{record.department.name}决定予以更正{when}。"
    else:
        body = (f"您对{record.catalog_item.name}「{label}」提出的数据异议，{record.department.name}决定不予更正，"
                "理由见异议详情。")
    notifications.notify_applicant(
        session, protector, applicant_id=objection.applicant_id, event="objection_result",
        title="数据异议处理结果", body=body,
        data={"objection_id": objection.id, "record_id": record.id, "decision": decision,
              "item": record.catalog_item.name, "result": RESULT_WORDS[decision], "note": label, "at": iso(now)},
        now=now)


def _shanghai(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")




# --- corrections arrive with a push -------------------------------------------------------------------

def on_record_changes(session: Session, protector: Protector, *, changes: Sequence[RecordChange],
                      now: datetime) -> None:
    """A new version of a record corrects its `correcting` objection, and the `open` or `correcting` one its
    `objection_id` names; the applicant is told (flushes, inside the push's transaction)."""
    versions = {c.record_id: c for c in changes if c.change in (ChangeKind.NEW, ChangeKind.CHANGE)}
    if not versions:
        return
    named = {c.objection_id: c.record_id for c in versions.values() if c.objection_id is not None}
    condition = and_(Objection.record_id.in_(list(versions)), Objection.status == ObjectionStatus.CORRECTING)
    if named:
        condition = or_(condition, and_(Objection.id.in_(list(named)),
                                        Objection.status.in_(ACTIVE_OBJECTION_STATUSES)))
    candidates = session.scalars(select(Objection).where(condition).order_by(Objection.id)).all()
    for objection in candidates:
        if objection.id in named and named[objection.id] != objection.record_id:
            continue  # names an objection on another record: not a correction of it
        _correct(session, protector, objection, version=versions[objection.record_id].version, now=now)


def _correct(session: Session, protector: Protector, objection: Objection, *, version: int, now: datetime) -> None:
    if objection.status is ObjectionStatus.OPEN:
        # The department corrected without deciding first: the push is its decision `correct`.
        try:
            _record_decision(session, protector, objection, decision=CORRECT, reason=None, staff_id=None, now=now)
        except ObjectionNotOpen:  # decided or withdrawn at this very moment: never fail the push for it
            session.refresh(objection)
            if objection.status is not ObjectionStatus.CORRECTING:
                return
        else:
            audit.record(session, actor=CORRECTOR, action="objection.decided", now=now, target_type="objection",
                         target_id=objection.id, subject_index=objection.record.subject_index,
                         details={"decision": CORRECT, "late": objection.decision_late, "by": "push"})
    moved = session.execute(update(Objection).where(
        Objection.id == objection.id, Objection.status == ObjectionStatus.CORRECTING).values(
        status=ObjectionStatus.CORRECTED, active_key=None, corrected_at=now, correction_version=version,
        correction_late=_late(now, objection.correction_due_at), calendar_unknown_year=None,
    )).rowcount  # type: ignore[attr-defined]
    if moved != 1:
        return
    session.refresh(objection)
    record = objection.record
    label = _label(_objected_versions(session, [objection]).get((objection.record_id, objection.record_version)),
                   objection.field)
    audit.record(session, actor=CORRECTOR, action="objection.corrected", now=now, target_type="objection",
                 target_id=objection.id, subject_index=record.subject_index,
                 details={"version": version, "late": objection.correction_late})
    notifications.notify_applicant(
        session, protector, applicant_id=objection.applicant_id, event="correction_done", title="数据已更正",
        body=f"您对{record.catalog_item.name}「{label}」提出的数据异议已更正，请查看最新数据。",
        data={"objection_id": objection.id, "record_id": record.id, "version": version,
              "item": record.catalog_item.name, "result": "已更正", "note": label, "at": iso(now)}, now=now)


# --- the sweep ----------------------------------------------------------------------------------------

def _flag(session: Session, objection: Objection, column: str, now: datetime, *conditions: Any) -> bool:
    """Set a bookkeeping column once: true only for the one sweep whose update found it empty."""
    target = getattr(Objection, column)
    result = session.execute(update(Objection).where(Objection.id == objection.id, target.is_(None), *conditions)
                             .values({column: now}).execution_options(synchronize_session=False))
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def _compute_missing_deadlines(session: Session) -> int:
    """Deadlines left unknown for want of a calendar year, computed now if the year has been loaded."""
    computed = 0
    waiting = session.scalars(select(Objection).where(
        Objection.status != ObjectionStatus.WITHDRAWN,
        or_(Objection.decision_due_at.is_(None),
            and_(Objection.decision == CORRECT, Objection.correction_due_at.is_(None))))).all()
    for objection in waiting:
        missing: int | None = None
        if objection.decision_due_at is None:
            due, missing = _deadline(session, objection.filed_at, DECISION_WORKING_DAYS)
            if due is not None:
                objection.decision_due_at = due
                if objection.decided_at is not None:
                    objection.decision_late = workdays.is_late(objection.decided_at, due)
                computed += 1
        if missing is None and objection.decision == CORRECT and objection.correction_due_at is None \
                and objection.decided_at is not None:
            due, missing = _deadline(session, objection.decided_at, CORRECTION_WORKING_DAYS)
            if due is not None:
                objection.correction_due_at = due
                if objection.corrected_at is not None:
                    objection.correction_late = workdays.is_late(objection.corrected_at, due)
                computed += 1
        objection.calendar_unknown_year = missing
    session.flush()
    return computed


def _staff_message(session: Session, objection: Objection, *, event: str, title: str, body: str,
                   admins: bool, now: datetime) -> None:
    recipients = notifications.department_operators(session, objection.department_id)
    if admins:
        recipients = sorted(set(recipients) | set(notifications.data_admins(session)))
    notifications.notify_staff(session, staff_ids=recipients, event=event, title=title, body=body,
                               data={"objection_id": objection.id, "record_id": objection.record_id,
                                     "department": objection.record.department.code}, now=now)


def sweep(session: Session, *, now: datetime) -> SweepReport:
    """Flag overdue decisions and corrections once and tell the department's operators and the data
    administrators; remind the operators at noon of the due day; compute deadlines whose calendar year has
    been loaded since, and tell the administrators once about each that still cannot be. Idempotent."""
    computed = _compute_missing_deadlines(session)
    counts = {"calendar": 0, "decision_overdue": 0, "correction_overdue": 0, "decision_remind": 0,
              "correction_remind": 0}
    cutoff = now - timedelta(seconds=1)
    for objection in session.scalars(select(Objection).where(
            Objection.calendar_unknown_year.is_not(None), Objection.calendar_alerted_at.is_(None),
            Objection.status.in_(ACTIVE_OBJECTION_STATUSES))).all():
        if _flag(session, objection, "calendar_alerted_at", now):
            year = objection.calendar_unknown_year
            _staff_message(session, objection, event="calendar_unknown", title=f"{year}年工作日历未载入",
                           body=f"数据异议#{objection.id}的处理期限落在{year}年，该年工作日历尚未载入，期限无法计算。"
                                f"请在 PUT /api/admin/calendar/{year} 载入国务院办公厅公布的安排。",
                           admins=True, now=now)
            counts["calendar"] += 1
    steps = (
        ("decision", ObjectionStatus.OPEN, Objection.decision_due_at, "作出处理决定"),
        ("correction", ObjectionStatus.CORRECTING, Objection.correction_due_at, "推送更正后的数据"),
    )
    for step, status, due_column, action in steps:
        overdue_column, reminded_column = f"{step}_overdue_at", f"{step}_reminded_at"
        for objection in session.scalars(select(Objection).where(
                Objection.status == status, due_column <= cutoff,
                getattr(Objection, overdue_column).is_(None)).order_by(Objection.id)).all():
            if _flag(session, objection, overdue_column, now, Objection.status == status):
                due = getattr(objection, f"{step}_due_at")
                _staff_message(session, objection, event=f"objection_{step}_overdue", title="数据异议已超期",
                               body=f"{objection.record.department.name}：{objection.record.catalog_item.name}的数据异议"
                                    f"#{objection.id}应于{_shanghai(due)}前{action}，已超期。",
                               admins=True, now=now)
                audit.record(session, actor=SWEEPER, action=f"objection.{step}_overdue", now=now,
                             target_type="objection", target_id=objection.id,
                             subject_index=objection.record.subject_index, details={"due_at": iso(due)})
                counts[f"{step}_overdue"] += 1
        for objection in session.scalars(select(Objection).where(
                Objection.status == status, due_column > cutoff, getattr(Objection, reminded_column).is_(None),
                getattr(Objection, overdue_column).is_(None)).order_by(Objection.id)).all():
            due = getattr(objection, f"{step}_due_at")
            if now < reminder_at(due):
                continue
            if _flag(session, objection, reminded_column, now, Objection.status == status):
                _staff_message(session, objection, event=f"objection_{step}_reminder", title="数据异议即将到期",
                               body=f"{objection.record.catalog_item.name}的数据异议#{objection.id}请于"
                                    f"{_shanghai(due)}前{action}。",
                               admins=False, now=now)
                counts[f"{step}_remind"] += 1
    session.commit()
    return SweepReport(computed, counts["calendar"], counts["decision_overdue"], counts["correction_overdue"],
                       counts["decision_remind"], counts["correction_remind"])


# --- oversight ----------------------------------------------------------------------------------------

def list_all_objections(session: Session, *, department_code: str | None, status: str | None,
                        overdue: bool | None, deadline_unknown: bool | None, page: int, per_page: int,
                        now: datetime) -> Page[ObjectionEntry]:
    """Every department's objections for the data administrator (no personal values): overdue ones, and
    those whose deadline waits for a calendar year to be loaded."""
    _check_status(status)
    query = _query(status=status, overdue=overdue, now=now)
    if department_code is not None:
        query = query.join(Department, Department.id == Objection.department_id).where(
            Department.code == department_code)
    if deadline_unknown is True:
        query = query.where(_unknown_clause())
    elif deadline_unknown is False:
        query = query.where(~_unknown_clause())
    found = paginate(session, query, page=page, per_page=per_page)
    return Page(_entries(session, found.items, now), found.total, found.page, found.per_page)


def _period_bound(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given as a period bound")
        return value
    return datetime.combine(value, time(0), tzinfo=SHANGHAI).astimezone(UTC)


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def _per_10k(count: int, records: int) -> float | None:
    return None if records == 0 else round(count * 10000 / records, 2)


def department_figures(session: Session, *, start: date | datetime, end: date | datetime,
                       now: datetime) -> list[DepartmentObjectionFigures]:
    """Per source department, the objections filed in [start, end): filed, upheld, rejected, overdue, medians to
    decide and to correct, and rates per 10,000 records held at `end`. Dates are Asia/Shanghai days (`end` is
    the day after the last); aware datetimes are taken as they are. Read-only."""
    start_at, end_at = _period_bound(start), _period_bound(end)
    rows = session.execute(select(
        Objection.department_id, Objection.status, Objection.decision, Objection.filed_at, Objection.decided_at,
        Objection.corrected_at, Objection.decision_late, Objection.correction_late, Objection.decision_due_at,
        Objection.correction_due_at,
    ).where(Objection.filed_at >= start_at, Objection.filed_at < end_at)).all()
    records: dict[int, int] = {row[0]: row[1] for row in session.execute(select(
        Record.department_id, func.count()).where(Record.created_at < end_at).group_by(Record.department_id))}
    by_department: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_department[row.department_id].append(row)
    departments = session.scalars(select(Department).where(
        or_(Department.is_source.is_(True), Department.id.in_(list(by_department)))).order_by(Department.code)).all()
    figures = []
    for department in departments:
        mine = by_department.get(department.id, [])
        decision_overdue = correction_overdue = overdue = unknown = 0
        to_decide: list[timedelta] = []
        to_correct: list[timedelta] = []
        for row in mine:
            late_decision, late_correction = overdue_steps(
                status=row.status, decision_due_at=row.decision_due_at, decision_late=row.decision_late,
                correction_due_at=row.correction_due_at, correction_late=row.correction_late, now=now)
            decision_overdue += late_decision
            correction_overdue += late_correction
            overdue += late_decision or late_correction
            unknown += (row.status is ObjectionStatus.OPEN and row.decision_due_at is None) or (
                row.status is ObjectionStatus.CORRECTING and row.correction_due_at is None)
            if row.decided_at is not None:
                to_decide.append(row.decided_at - row.filed_at)
            if row.corrected_at is not None and row.decided_at is not None:
                to_correct.append(row.corrected_at - row.decided_at)
        held = int(records.get(department.id, 0))
        filed = len(mine)
        upheld = sum(1 for row in mine if row.decision == CORRECT)
        figures.append(DepartmentObjectionFigures(
            department_code=department.code, department_name=department.name, filed=filed, upheld=upheld,
            rejected=sum(1 for row in mine if row.decision == REJECT),
            withdrawn=sum(1 for row in mine if row.status is ObjectionStatus.WITHDRAWN),
            pending=sum(1 for row in mine if row.status in ACTIVE_OBJECTION_STATUSES),
            overdue=overdue, decision_overdue=decision_overdue, correction_overdue=correction_overdue,
            deadline_unknown=unknown, median_time_to_decide=_median(to_decide),
            median_time_to_correct=_median(to_correct), records=held,
            objections_per_10k_records=_per_10k(filed, held), upheld_per_10k_records=_per_10k(upheld, held)))
    return figures
