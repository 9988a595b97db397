"""The outbox seen by the data administrator: what was sent, skipped (and why) or given up; put back."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from backend.api.admin import bp
from backend.clock import iso
from backend.db import db
from backend.models import OutboxMessage, Role
from backend.openapi import documented
from backend.services import notifications
from backend.web import PageQuery, now, page_to_json, parse_query


class OutboxQuery(PageQuery):
    status: Literal["pending", "sent", "skipped", "dead"] | None = None
    kind: Literal["wechat_subscribe", "webhook", "staff_alert"] | None = None
    department: str | None = Field(None, max_length=32)


class OutboxMessageJSON(TypedDict):
    id: int
    kind: str
    event: str
    status: str
    applicant_id: int | None
    department_id: int | None
    notification_id: int | None
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    created_at: str | None
    sent_at: str | None


class OutboxPage(TypedDict):
    items: list[OutboxMessageJSON]
    total: int
    page: int
    per_page: int


def outbox_message_to_json(message: OutboxMessage) -> OutboxMessageJSON:
    """A message's delivery state; never its payload."""
    return {
        "id": message.id, "kind": message.kind.value, "event": message.event, "status": message.status.value,
        "applicant_id": message.applicant_id, "department_id": message.department_id,
        "notification_id": message.notification_id, "attempts": message.attempts,
        "next_attempt_at": iso(message.next_attempt_at), "last_error": message.last_error,
        "created_at": iso(message.created_at), "sent_at": iso(message.sent_at),
    }


@bp.get("/outbox")
@staff_required(Role.DATA_ADMIN)
@documented("Outbox messages (WeChat messages, webhooks) and their delivery state", auth="staff",
            query=OutboxQuery, response=OutboxPage, errors=(403, 404))
def list_outbox() -> OutboxPage:
    query = parse_query(OutboxQuery)
    page = notifications.list_outbox(db.session(), status=query.status, kind=query.kind,
                                     department_code=query.department, page=query.page, per_page=query.per_page)
    return page_to_json(page, outbox_message_to_json)  # type: ignore[no-any-return]


@bp.post("/outbox/<int:message_id>/requeue")
@staff_required(Role.DATA_ADMIN)
@documented("Put a dead or skipped message back in the queue", auth="staff", response=OutboxMessageJSON,
            errors=(403, 404, 409))
def requeue_outbox_message(message_id: int) -> OutboxMessageJSON:
    message = notifications.requeue(db.session(), actor=current_actor(), message_id=message_id, now=now())
    return outbox_message_to_json(message)
