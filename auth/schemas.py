"""Request bodies and answers of the login endpoints."""

from __future__ import annotations

from pydantic import Field
from typing_extensions import TypedDict

from backend.clock import iso
from backend.models import StaffAccount
from backend.web import Body


class StaffLoginRequest(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=10, max_length=200)


class DepartmentRef(TypedDict):
    code: str
    name: str


class StaffJSON(TypedDict):
    id: int
    username: str
    display_name: str
    role: str
    department: DepartmentRef | None
    is_active: bool
    last_login_at: str | None


class TokenResponse(TypedDict):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    account: StaffJSON


def staff_to_json(account: StaffAccount) -> StaffJSON:
    department = account.department
    return {
        "id": account.id,
        "username": account.username,
        "display_name": account.display_name,
        "role": account.role.value,
        "department": {"code": department.code, "name": department.name} if department else None,
        "is_active": account.is_active,
        "last_login_at": iso(account.last_login_at),
    }
