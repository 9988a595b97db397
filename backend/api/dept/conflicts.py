"""Conflicts the operator's department takes part in: its data disagrees with another department's."""

from __future__ import annotations

from typing import Literal

from flask import g

from auth.decorators import current_actor, staff_required
from backend.api.admin.conflicts import ConflictPage, conflict_to_json
from backend.api.dept import bp
from backend.db import db
from backend.models import Role
from backend.openapi import documented
from backend.services import conflicts
from backend.web import PageQuery, now, page_to_json, parse_query


class DepartmentConflictQuery(PageQuery):
    status: Literal["open", "resolved"] | None = "open"


@bp.get("/conflicts")
@staff_required(Role.DEPT_OPERATOR)
@documented("Conflicts between this department's data and another's on a subject's common attribute (open by "
            "default); the department's own record numbers shown, values never", auth="staff",
            query=DepartmentConflictQuery, response=ConflictPage, errors=(403,))
def list_department_conflicts() -> ConflictPage:
    query = parse_query(DepartmentConflictQuery)
    page = conflicts.list_department_conflicts(db.session(), staff=g.staff, actor=current_actor(),
                                               status=query.status, page=query.page, per_page=query.per_page,
                                               now=now())
    return page_to_json(page, conflict_to_json)  # type: ignore[no-any-return]
