"""Departments: sources of records, approval departments, or both; an approval department's webhook."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import Page, paginate
from backend.errors import Conflict, NotFound, ValidationError
from backend.models import Department, DepartmentWebhook
from backend.protection import Protector
from backend.services import audit
from backend.services.audit import Actor
from notifications import webhooks

WEBHOOK_SECRET_CONTEXT = "department_webhooks.secret_enc"


@dataclass(frozen=True)
class WebhookPolicy:
    """Where webhook URLs may point (SYSTEM.md): anywhere http(s) in development; in production no loopback,
    private or link-local host unless listed in `WEBHOOK_ALLOWED_HOSTS`."""

    production: bool = False
    allowed_hosts: tuple[str, ...] = ()
    resolver: webhooks.Resolver = webhooks.resolve


def check_webhook_url(url: str, policy: WebhookPolicy, *, field: str = "webhook_url") -> str:
    """The URL, stripped, if the policy allows it; 422 `webhook_url_refused` naming why otherwise."""
    try:
        webhooks.check_url(url, production=policy.production, allowed_hosts=policy.allowed_hosts,
                           resolver=policy.resolver)
    except webhooks.WebhookURLRefused as exc:
        raise ValidationError(f"this webhook URL is refused: {exc}", code="webhook_url_refused",
                              fields={field: str(exc)}) from None
    return url.strip()


def create_department(session: Session, *, actor: Actor, code: str, name: str, is_source: bool,
                      is_approval: bool, webhook_url: str | None, now: datetime,
                      webhook_policy: WebhookPolicy | None = None) -> Department:
    """A new department; codes are unique. A webhook URL given here is checked against `webhook_policy`
    (development rules when None); its signing secret comes from `set_webhook`."""
    if webhook_url:
        webhook_url = check_webhook_url(webhook_url, webhook_policy or WebhookPolicy())
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


@dataclass(frozen=True)
class WebhookSetting:
    """A department's webhook: the URL, and the signing secret in clear only when this call generated it."""

    department: Department
    secret: str | None
    secret_created_at: datetime | None


def set_webhook(session: Session, protector: Protector, *, actor: Actor, code: str, url: str | None,
                rotate_secret: bool, policy: WebhookPolicy, now: datetime) -> WebhookSetting:
    """Set (or with None clear) an approval department's webhook URL, checked against the policy. The first
    time, or with `rotate_secret`, a new signing secret is generated and returned here only."""
    department = get_department(session, code)
    if url:
        url = check_webhook_url(url, policy, field="url")
    department.webhook_url = url or None
    row = session.scalar(select(DepartmentWebhook).where(DepartmentWebhook.department_id == department.id))
    secret = None
    if url and (row is None or rotate_secret):
        secret = secrets.token_urlsafe(32)
        if row is None:
            row = DepartmentWebhook(department_id=department.id, secret_enc="", created_at=now)
            session.add(row)
        row.secret_enc = protector.encrypt(secret, context=WEBHOOK_SECRET_CONTEXT)
        row.created_at = now
    session.flush()
    audit.record(session, actor=actor, action="department.webhook_set", now=now, target_type="department",
                 target_id=department.code,
                 details={"url": department.webhook_url, "secret_issued": secret is not None})
    session.commit()
    return WebhookSetting(department, secret, row.created_at if row is not None else None)
