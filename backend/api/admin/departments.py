"""Departments: list and create (source and/or approval)."""

from __future__ import annotations

from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from backend.api.admin import bp
from backend.api.admin.webhooks import webhook_policy
from backend.clock import iso
from backend.db import db
from backend.models import Department, Role
from backend.openapi import documented
from backend.services import departments
from backend.web import Body, PageQuery, now, page_to_json, parse_json, parse_query


class CreateDepartmentRequest(Body):
    code: str = Field(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    name: str = Field(min_length=2, max_length=100)
    is_source: bool = False
    is_approval: bool = False
    webhook_url: str | None = Field(None, max_length=500)


class DepartmentJSON(TypedDict):
    code: str
    name: str
    is_source: bool
    is_approval: bool
    webhook_url: str | None
    created_at: str | None


class DepartmentPage(TypedDict):
    items: list[DepartmentJSON]
    total: int
    page: int
    per_page: int


def department_to_json(department: Department) -> DepartmentJSON:
    return {
        "code": department.code,
        "name": department.name,
        "is_source": department.is_source,
        "is_approval": department.is_approval,
        "webhook_url": department.webhook_url,
        "created_at": iso(department.created_at),
    }


@bp.get("/departments")
@staff_required(Role.DATA_ADMIN)
@documented("All departments", auth="staff", query=PageQuery, response=DepartmentPage, errors=(403,))
def list_departments() -> DepartmentPage:
    query = parse_query(PageQuery)
    page = departments.list_departments(db.session(), page=query.page, per_page=query.per_page)
    return page_to_json(page, department_to_json)  # type: ignore[no-any-return]


@bp.post("/departments")
@staff_required(Role.DATA_ADMIN)
@documented("Create a department (a webhook URL is checked; its secret comes from PUT .../webhook)", auth="staff",
            body=CreateDepartmentRequest, response=DepartmentJSON, status=201, errors=(403, 409))
def create_department() -> tuple[DepartmentJSON, int]:
    req = parse_json(CreateDepartmentRequest)
    department = departments.create_department(
        db.session(), actor=current_actor(), code=req.code, name=req.name, is_source=req.is_source,
        is_approval=req.is_approval, webhook_url=req.webhook_url, now=now(), webhook_policy=webhook_policy())
    return department_to_json(department), 201
