"""Telling people: an inbox row and an outbox row in the caller's transaction; delivery happens after commit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db import Page, paginate
from backend.errors import Conflict, NotFound, ValidationError
from backend.models import (
    Applicant,
    Department,
    Notification,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Role,
    StaffAccount,
    StaffNotification,
    Subscription,
)
from backend.protection import Protector
from backend.services import audit
from backend.services.audit import Actor
from notifications.wechat import SUBSCRIBE_EVENTS as EVENTS

OUTBOX_CONTEXT = "outbox_messages.payload_enc"


def _enqueue(session: Session, protector: Protector, *, kind: OutboxKind, event: str, payload: dict[str, Any],
             now: datetime, applicant_id: int | None = None, department_id: int | None = None,
             notification_id: int | None = None) -> OutboxMessage:
    message = OutboxMessage(
        kind=kind, event=event, applicant_id=applicant_id, department_id=department_id,
        notification_id=notification_id,
        payload_enc=protector.encrypt(json.dumps(payload, ensure_ascii=False, sort_keys=True), context=OUTBOX_CONTEXT),
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now,
    )
    session.add(message)
    return message


def outbox_payload(protector: Protector, message: OutboxMessage) -> dict[str, Any]:
    """The decrypted payload of an outbox message."""
    payload: dict[str, Any] = json.loads(protector.decrypt(message.payload_enc, context=OUTBOX_CONTEXT))
    return payload


def notify_applicant(session: Session, protector: Protector, *, applicant_id: int, event: str, title: str,
                     body: str, data: dict[str, Any], now: datetime) -> Notification:
    """An inbox message, and a WeChat subscribe message queued for after commit (flushes, never commits).

    `event` is one of the subscribe events of SYSTEM.md (objection_result, correction_done,
    confirmation_stale, confirmation_voided, accepted, authorization_request); `data` holds ids and
    short display values for the message template, never full personal values. The WeChat message fills
    its template from `data["item"]` (what it is about, else the title), `data["result"]` (a word or two),
    `data["note"]` (else the body) and `data["at"]` (ISO time, else now); see notifications/wechat.py.
    """
    notification = Notification(applicant_id=applicant_id, event=event, title=title, body=body, data=data,
                                created_at=now)
    session.add(notification)
    session.flush()
    _enqueue(session, protector, kind=OutboxKind.WECHAT_SUBSCRIBE, event=event,
             payload={"title": title, "body": body, "data": data}, now=now, applicant_id=applicant_id,
             notification_id=notification.id)
    session.flush()
    return notification


def enqueue_webhook(session: Session, protector: Protector, *, department_id: int, event: str,
                    payload: dict[str, Any], now: datetime) -> OutboxMessage:
    """Queue a body for an approval department's system; signed and sent after commit (flushes)."""
    message = _enqueue(session, protector, kind=OutboxKind.WEBHOOK, event=event, payload=payload, now=now,
                       department_id=department_id)
    session.flush()
    return message


# --- the applicant's inbox and subscribe-message consent ---------------------------------------------------

@dataclass(frozen=True)
class Inbox:
    """A page of the inbox and how many messages are unread in all."""

    page: Page[Notification]
    unread: int


def list_notifications(session: Session, *, applicant: Applicant, unread_only: bool, page: int,
                       per_page: int) -> Inbox:
    """The applicant's inbox, newest first, with the unread count (titles and bodies hold no personal values)."""
    query = select(Notification).where(Notification.applicant_id == applicant.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    found = paginate(session, query.order_by(Notification.created_at.desc(), Notification.id.desc()), page=page,
                     per_page=per_page)
    unread = session.scalar(select(func.count()).select_from(Notification).where(
        Notification.applicant_id == applicant.id, Notification.read_at.is_(None))) or 0
    return Inbox(found, unread)


def mark_read(session: Session, *, applicant: Applicant, actor: Actor, notification_id: int,
              now: datetime) -> Notification:
    """Mark one of the applicant's messages read (again: unchanged); another user's is a 404."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.applicant_id != applicant.id:
        raise NotFound("no such notification")
    if notification.read_at is None:
        notification.read_at = now
        audit.record(session, actor=actor, action="notification.read", now=now, target_type="notification",
                     target_id=notification.id)
    session.commit()
    return notification


def record_subscriptions(session: Session, *, applicant: Applicant, actor: Actor, accepted: Sequence[str],
                         rejected: Sequence[str], templates: Mapping[str, str], now: datetime) -> list[Subscription]:
    """What the user answered in `wx.requestSubscribeMessage`: accepted events are kept with the template id
    they were for, rejected ones are dropped. Events without a configured template are refused (422)."""
    unknown = {f"templates.{i}": "is not a subscribe event" for i, e in enumerate(accepted) if e not in EVENTS}
    unknown |= {f"rejected.{i}": "is not a subscribe event" for i, e in enumerate(rejected) if e not in EVENTS}
    unconfigured = {f"templates.{i}": "has no template configured" for i, e in enumerate(accepted)
                    if e in EVENTS and e not in templates}
    if unknown or unconfigured:
        raise ValidationError("the subscriptions are not valid", fields={**unconfigured, **unknown})
    if set(accepted) & set(rejected):
        raise ValidationError("the subscriptions are not valid",
                              fields={"rejected": "an event cannot be both accepted and rejected"})
    existing = {s.event: s for s in session.scalars(select(Subscription).where(
        Subscription.applicant_id == applicant.id))}
    for event in dict.fromkeys(accepted):
        row = existing.get(event)
        if row is None:
            row = existing[event] = Subscription(applicant_id=applicant.id, event=event,
                                                 template_id=templates[event], accepted_at=now)
            session.add(row)
        else:
            row.template_id, row.accepted_at = templates[event], now
    for event in set(rejected) & set(existing):
        session.delete(existing.pop(event))
    session.flush()
    audit.record(session, actor=actor, action="subscriptions.answered", now=now, target_type="applicant",
                 target_id=applicant.id, details={"accepted": sorted(set(accepted)), "rejected": sorted(set(rejected))})
    session.commit()
    return sorted(existing.values(), key=lambda s: s.event)


# --- staff ----------------------------------------------------------------------------------------------

def department_operators(session: Session, department_id: int) -> list[int]:
    """The active operators of a department: who handles its objections."""
    return list(session.scalars(select(StaffAccount.id).where(
        StaffAccount.department_id == department_id, StaffAccount.role == Role.DEPT_OPERATOR,
        StaffAccount.is_active.is_(True)).order_by(StaffAccount.id)))


def data_admins(session: Session) -> list[int]:
    """The active data administrators."""
    return list(session.scalars(select(StaffAccount.id).where(
        StaffAccount.role == Role.DATA_ADMIN, StaffAccount.is_active.is_(True)).order_by(StaffAccount.id)))


def notify_staff(session: Session, *, staff_ids: Iterable[int], event: str, title: str, body: str,
                 data: dict[str, Any], now: datetime) -> list[StaffNotification]:
    """A staff inbox message to each of `staff_ids` (flushes, never commits). Staff alerts stay in-app: the
    outbox kind `staff_alert` has no channel yet."""
    rows = [StaffNotification(staff_id=staff_id, event=event, title=title[:100], body=body[:500], data=data,
                              created_at=now) for staff_id in dict.fromkeys(staff_ids)]
    session.add_all(rows)
    session.flush()
    return rows


@dataclass(frozen=True)
class StaffInbox:
    page: Page[StaffNotification]
    unread: int


def list_staff_notifications(session: Session, *, staff: StaffAccount, unread_only: bool, page: int,
                             per_page: int) -> StaffInbox:
    """The staff member's inbox, newest first, with the unread count."""
    query = select(StaffNotification).where(StaffNotification.staff_id == staff.id)
    if unread_only:
        query = query.where(StaffNotification.read_at.is_(None))
    found = paginate(session, query.order_by(StaffNotification.created_at.desc(), StaffNotification.id.desc()),
                     page=page, per_page=per_page)
    unread = session.scalar(select(func.count()).select_from(StaffNotification).where(
        StaffNotification.staff_id == staff.id, StaffNotification.read_at.is_(None))) or 0
    return StaffInbox(found, unread)


def mark_staff_read(session: Session, *, staff: StaffAccount, actor: Actor, notification_id: int,
                    now: datetime) -> StaffNotification:
    """Mark one of the staff member's messages read; another's is a 404."""
    notification = session.get(StaffNotification, notification_id)
    if notification is None or notification.staff_id != staff.id:
        raise NotFound("no such notification")
    if notification.read_at is None:
        notification.read_at = now
        audit.record(session, actor=actor, action="staff_notification.read", now=now,
                     target_type="staff_notification", target_id=notification.id)
    session.commit()
    return notification


# --- the outbox, for the data administrator -------------------------------------------------------------

def list_outbox(session: Session, *, status: str | None, kind: str | None, department_code: str | None,
                page: int, per_page: int) -> Page[OutboxMessage]:
    """Outbox messages newest first, e.g. the skipped and dead ones and why (never their payloads)."""
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    if status is not None:
        query = query.where(OutboxMessage.status == OutboxStatus(status))
    if kind is not None:
        query = query.where(OutboxMessage.kind == OutboxKind(kind))
    if department_code is not None:
        department = session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            raise NotFound(f"no department has code {department_code}")
        query = query.where(OutboxMessage.department_id == department.id)
    return paginate(session, query, page=page, per_page=per_page)


def requeue(session: Session, *, actor: Actor, message_id: int, now: datetime) -> OutboxMessage:
    """Put a dead or skipped message back in the queue, due now, with a fresh count of attempts."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("no such outbox message")
    if message.status not in (OutboxStatus.DEAD, OutboxStatus.SKIPPED):
        raise Conflict(f"this message is {message.status.value}; only a dead or skipped one is put back",
                       code="not_requeueable")
    previous = message.status
    message.status, message.attempts, message.next_attempt_at = OutboxStatus.PENDING, 0, now
    message.locked_by = message.locked_until = None
    audit.record(session, actor=actor, action="outbox.requeued", now=now, target_type="outbox_message",
                 target_id=message.id, details={"was": previous.value, "last_error": message.last_error})
    session.commit()
    return message
