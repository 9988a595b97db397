"""Departments: sources of records, approval departments, or both."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import Page, paginate
from backend.errors import Conflict, NotFound
from backend.models import Department
from backend.services import audit
from backend.services.audit import Actor


def create_department(session: Session, *, actor: Actor, code: str, name: str, is_source: bool,
                      is_approval: bool, webhook_url: str | None, now: datetime) -> Department:
    """A new department; codes are unique."""
    if session.scalar(select(Department.id).where(Department.code == code)) is not None:
        raise Conflict("a department with this code exists", code="department_exists")
    department = Department(code=code, name=name, is_source=is_source, is_approval=is_approval,
                            webhook_url=webhook_url, created_at=now)
    session.add(department)
    session.flush()
    audit.record(session, actor=actor, action="department.created", now=now, target_type="department",
                 target_id=code)
    session.commit()
    return department


def list_departments(session: Session, *, page: int, per_page: int) -> Page[Department]:
    return paginate(session, select(Department).order_by(Department.code), page=page, per_page=per_page)


def get_department(session: Session, code: str) -> Department:
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFound(f"no department has code {code}")
    return department
