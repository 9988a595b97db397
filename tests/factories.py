"""Plain functions that make rows through the services, for tests."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from auth.staff import create_staff
from backend.models import Department, Role, StaffAccount
from backend.services.audit import SYSTEM
from backend.services.departments import create_department
from tests.conftest import FrozenClock

PASSWORD = "Correct-horse-42"


def make_department(session: Session, clock: FrozenClock, *, code: str = "NH-SCJ", name: str = "区市场监督管理局",
                    is_source: bool = True, is_approval: bool = True, **overrides: Any) -> Department:
    return create_department(session, actor=SYSTEM, code=code, name=name, is_source=is_source,
                             is_approval=is_approval, webhook_url=overrides.get("webhook_url"), now=clock())


def make_staff(session: Session, clock: FrozenClock, *, username: str = "admin", role: Role = Role.DATA_ADMIN,
               department: str | None = None, password: str = PASSWORD) -> StaffAccount:
    return create_staff(session, actor=SYSTEM, username=username, password=password, role=role,
                        display_name=None, department_code=department, now=clock())


def login_staff(client: FlaskClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/api/staff/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def admin_headers(client: FlaskClient, session: Session, clock: FrozenClock, username: str = "admin") -> dict[str, str]:
    """A data administrator, logged in: the headers to act as them."""
    make_staff(session, clock, username=username, role=Role.DATA_ADMIN)
    return bearer(login_staff(client, username))
