"""Department API keys: issue (the secret shown once), list, disable. Rotation = issue, then disable the old."""

from __future__ import annotations

from flask import current_app
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from backend.api.admin import bp
from backend.clock import iso
from backend.db import db
from backend.models import DepartmentKey, Role
from backend.openapi import documented
from backend.services import dept_keys
from backend.web import Body, PageQuery, now, page_to_json, parse_json, parse_query


class IssueKeyRequest(Body):
    """No options: `{}`."""


class DepartmentKeyJSON(TypedDict):
    key_id: str
    department: str
    status: str
    created_at: str | None
    disabled_at: str | None
    last_used_at: str | None


class IssuedKeyJSON(DepartmentKeyJSON):
    secret: str


class DepartmentKeyPage(TypedDict):
    items: list[DepartmentKeyJSON]
    total: int
    page: int
    per_page: int


def department_key_to_json(key: DepartmentKey) -> DepartmentKeyJSON:
    return {
        "key_id": key.key_id,
        "department": key.department.code,
        "status": "active" if key.is_active else "disabled",
        "created_at": iso(key.created_at),
        "disabled_at": iso(key.disabled_at),
        "last_used_at": iso(key.last_used_at),
    }


@bp.post("/departments/<code>/keys")
@staff_required(Role.DATA_ADMIN)
@documented("Issue a department API key; the secret is shown in this answer only", auth="staff",
            body=IssueKeyRequest, response=IssuedKeyJSON, status=201, errors=(403, 404))
def issue_department_key(code: str) -> tuple[IssuedKeyJSON, int]:
    parse_json(IssueKeyRequest)
    issued = dept_keys.issue_key(db.session(), current_app.extensions["protector"], actor=current_actor(),
                                 department_code=code, now=now())
    return {**department_key_to_json(issued.key), "secret": issued.secret}, 201


@bp.get("/departments/<code>/keys")
@staff_required(Role.DATA_ADMIN)
@documented("A department's API keys (never their secrets)", auth="staff", query=PageQuery,
            response=DepartmentKeyPage, errors=(403, 404))
def list_department_keys(code: str) -> DepartmentKeyPage:
    query = parse_query(PageQuery)
    page = dept_keys.list_keys(db.session(), department_code=code, page=query.page, per_page=query.per_page)
    return page_to_json(page, department_key_to_json)  # type: ignore[no-any-return]


@bp.post("/departments/<code>/keys/<key_id>/disable")
@staff_required(Role.DATA_ADMIN)
@documented("Disable a department API key for good", auth="staff", response=DepartmentKeyJSON,
            errors=(403, 404))
def disable_department_key(code: str, key_id: str) -> DepartmentKeyJSON:
    key = dept_keys.disable_key(db.session(), actor=current_actor(), department_code=code, key_id=key_id,
                                now=now())
    return department_key_to_json(key)
