"""Every department's objections for the data administrator: overdue ones, and deadlines waiting for a calendar."""

from __future__ import annotations

from pydantic import Field

from auth.decorators import staff_required
from backend.api.admin import bp
from backend.api.dept.objections import (
    DepartmentObjectionQuery,
    StaffObjectionPage,
    staff_objection_to_json,
)
from backend.db import db
from backend.models import Role
from backend.openapi import documented
from backend.services import objections
from backend.web import now, page_to_json, parse_query


class AdminObjectionQuery(DepartmentObjectionQuery):
    department: str | None = Field(None, max_length=32, description="a department's code")
    deadline_unknown: bool | None = Field(None, description="true: the pending deadline waits for a calendar year")


@bp.get("/objections")
@staff_required(Role.DATA_ADMIN)
@documented("All objections, without personal values; filter by department, status, overdue, deadline_unknown",
            auth="staff", query=AdminObjectionQuery, response=StaffObjectionPage, errors=(403,))
def list_objections() -> StaffObjectionPage:
    query = parse_query(AdminObjectionQuery)
    page = objections.list_all_objections(db.session(), department_code=query.department, status=query.status,
                                          overdue=query.overdue, deadline_unknown=query.deadline_unknown,
                                          page=query.page, per_page=query.per_page, now=now())
    return page_to_json(page, staff_objection_to_json)  # type: ignore[no-any-return]
