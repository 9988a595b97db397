"""Staff accounts, created by the data administrator."""

from __future__ import annotations

from pydantic import Field

from auth.decorators import current_actor, staff_required
from auth.schemas import StaffJSON, staff_to_json
from auth.staff import create_staff
from backend.api.admin import bp
from backend.db import db
from backend.models import Role
from backend.openapi import documented
from backend.web import Body, now, parse_json


class CreateStaffRequest(Body):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    password: str = Field(min_length=1, max_length=256)
    role: Role
    department: str | None = Field(None, max_length=32)
    display_name: str | None = Field(None, max_length=100)


@bp.post("/staff")
@staff_required(Role.DATA_ADMIN)
@documented("Create a staff account", auth="staff", body=CreateStaffRequest, response=StaffJSON, status=201,
            errors=(403, 409))
def create_staff_account() -> tuple[StaffJSON, int]:
    req = parse_json(CreateStaffRequest)
    account = create_staff(db.session(), actor=current_actor(), username=req.username, password=req.password,
                           role=req.role, display_name=req.display_name, department_code=req.department, now=now())
    return staff_to_json(account), 201
