"""Objections to a source department's records, handled by its operators (staff accounts, not the signed API)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, get_args

from flask import current_app, g
from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from auth.schemas import DepartmentRef
from backend.api.dept import bp
from backend.clock import iso
from backend.db import db
from backend.models import ObjectionStatus, Role
from backend.openapi import documented
from backend.services import objections
from backend.services.objections import ObjectionEntry
from backend.web import Body, PageQuery, now, page_to_json, parse_json, parse_query

StatusName = Literal["open", "correcting", "corrected", "rejected", "withdrawn"]
assert set(get_args(StatusName)) == {s.value for s in ObjectionStatus}


class DepartmentObjectionQuery(PageQuery):
    status: StatusName | None = None
    overdue: bool | None = Field(None, description="true: only those past their pending deadline now")


class DecisionRequest(Body):
    decision: Literal["correct", "reject"]
    reason: str | None = Field(None, max_length=500, description="required for reject")


class ObjectedRecordJSON(TypedDict):
    id: int
    catalog_item: str
    name: str
    record_no: str
    subject_masked: str
    version: int


class StaffObjectionJSON(TypedDict):
    id: int
    status: str
    record: ObjectedRecordJSON
    department: DepartmentRef
    field: str
    field_label: str
    filed_at: str | None
    decision_due_at: str | None
    deadline_unknown: bool
    calendar_unknown_year: int | None
    overdue: bool
    decision: str | None
    decision_reason: str | None
    decided_at: str | None
    decision_late: bool | None
    correction_due_at: str | None
    corrected_at: str | None
    correction_version: int | None
    correction_late: bool | None
    withdrawn_at: str | None
    decision_overdue_at: str | None
    correction_overdue_at: str | None
    claimed_value: NotRequired[str | None]
    reason: NotRequired[str | None]
    objected_value: NotRequired[Any]


class StaffObjectionPage(TypedDict):
    items: list[StaffObjectionJSON]
    total: int
    page: int
    per_page: int


def staff_objection_to_json(entry: ObjectionEntry) -> StaffObjectionJSON:
    """An objection as staff see it; the claimed value, reason and objected value only in a detail."""
    o, record = entry.objection, entry.objection.record
    body: StaffObjectionJSON = {
        "id": o.id,
        "status": o.status.value,
        "record": {"id": record.id, "catalog_item": record.catalog_item.code, "name": record.catalog_item.name,
                   "record_no": record.record_no, "subject_masked": record.subject_masked,
                   "version": o.record_version},
        "department": {"code": record.department.code, "name": record.department.name},
        "field": o.field,
        "field_label": entry.field_label,
        "filed_at": iso(o.filed_at),
        "decision_due_at": iso(o.decision_due_at),
        "deadline_unknown": entry.deadline_unknown,
        "calendar_unknown_year": o.calendar_unknown_year,
        "overdue": entry.overdue,
        "decision": o.decision,
        "decision_reason": o.decision_reason,
        "decided_at": iso(o.decided_at),
        "decision_late": o.decision_late,
        "correction_due_at": iso(o.correction_due_at),
        "corrected_at": iso(o.corrected_at),
        "correction_version": o.correction_version,
        "correction_late": o.correction_late,
        "withdrawn_at": iso(o.withdrawn_at),
        "decision_overdue_at": iso(o.decision_overdue_at),
        "correction_overdue_at": iso(o.correction_overdue_at),
    }
    if entry.detailed:
        body["claimed_value"] = entry.claimed_value
        body["reason"] = entry.reason
        body["objected_value"] = entry.objected_value
    return body


@bp.get("/objections")
@staff_required(Role.DEPT_OPERATOR)
@documented("Objections to my department's records; filter by status and overdue", auth="staff",
            query=DepartmentObjectionQuery, response=StaffObjectionPage, errors=(403,), tags=("dept",))
def list_objections() -> StaffObjectionPage:
    query = parse_query(DepartmentObjectionQuery)
    page = objections.list_department_objections(db.session(), staff=g.staff, status=query.status,
                                                 overdue=query.overdue, page=query.page, per_page=query.per_page,
                                                 now=now())
    return page_to_json(page, staff_objection_to_json)  # type: ignore[no-any-return]


@bp.get("/objections/<int:objection_id>")
@staff_required(Role.DEPT_OPERATOR)
@documented("One objection with the claimed value, the reason and the value objected to (audited)", auth="staff",
            response=StaffObjectionJSON, errors=(403, 404), tags=("dept",))
def get_objection(objection_id: int) -> StaffObjectionJSON:
    entry = objections.get_department_objection(db.session(), current_app.extensions["protector"], staff=g.staff,
                                                actor=current_actor(), objection_id=objection_id, now=now())
    return staff_objection_to_json(entry)


@bp.post("/objections/<int:objection_id>/decision")
@staff_required(Role.DEPT_OPERATOR)
@documented("Decide an open objection: correct (push the corrected record within 1 working day) or reject",
            auth="staff", body=DecisionRequest, response=StaffObjectionJSON, errors=(403, 404, 409), tags=("dept",))
def decide_objection(objection_id: int) -> StaffObjectionJSON:
    req = parse_json(DecisionRequest)
    entry = objections.decide_objection(db.session(), current_app.extensions["protector"], staff=g.staff,
                                        actor=current_actor(), objection_id=objection_id, decision=req.decision,
                                        reason=req.reason, now=now())
    return staff_objection_to_json(entry)
