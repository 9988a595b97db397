"""Objections to a source department's records, handled by its operators (staff accounts, not the signed API)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, get_args

from flask import current_app, g
from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from backend.api.dept import bp
from backend.clock import iso
from backend.db import db
from backend.models import ObjectionStatus, Role
from backend.openapi import documented
from backend.services import objections
from backend.services.objections import ObjectionEntry
from backend.web import Body, PageQuery, now, page_to_json, parse_json, parse_query
from miniprogram_api.schemas import ObjectionJSON, objection_to_json

StatusName = Literal["open", "correcting", "corrected", "rejected", "withdrawn"]
assert set(get_args(StatusName)) == {s.value for s in ObjectionStatus}


class DepartmentObjectionQuery(PageQuery):
    status: StatusName | None = None
    overdue: bool | None = Field(None, description="true: only those past their pending deadline now")


class DecisionRequest(Body):
    decision: Literal["correct", "reject"]
    reason: str | None = Field(None, max_length=500, description="required for reject")


class StaffObjectionJSON(ObjectionJSON):
    """The applicant's view of an objection, plus what the deciding department works with."""

    calendar_unknown_year: int | None
    decision_overdue_at: str | None
    correction_overdue_at: str | None
    objected_value: NotRequired[Any]


class StaffObjectionPage(TypedDict):
    items: list[StaffObjectionJSON]
    total: int
    page: int
    per_page: int


def staff_objection_to_json(entry: ObjectionEntry) -> StaffObjectionJSON:
    """An objection as staff see it; the claimed value, reason and objected value only in a detail."""
    o = entry.objection
    body: StaffObjectionJSON = {
        **objection_to_json(entry),  # type: ignore[typeddict-item]
        "calendar_unknown_year": o.calendar_unknown_year,
        "decision_overdue_at": iso(o.decision_overdue_at),
        "correction_overdue_at": iso(o.correction_overdue_at),
    }
    body["record"]["record_no"] = o.record.record_no
    body["record"]["subject_masked"] = o.record.subject_masked
    if entry.detailed:
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
