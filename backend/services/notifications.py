"""Telling people: an inbox row and an outbox row in the caller's transaction; delivery happens after commit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.models import Notification, OutboxKind, OutboxMessage, OutboxStatus
from backend.protection import Protector

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
    short display values for the message template, never full personal values.
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
