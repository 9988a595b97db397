"""The staff inbox (`/api/staff/notifications`): overdue objections, reminders, calendars to load."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g
from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from backend.clock import iso
from backend.db import db
from backend.models import StaffNotification
from backend.openapi import documented
from backend.services import notifications
from backend.web import PageQuery, now, page_to_json, parse_query

bp = Blueprint("staff", __name__, url_prefix="/api/staff")


class StaffNotificationQuery(PageQuery):
    unread: bool | None = Field(None, description="true: only unread messages")


class StaffNotificationJSON(TypedDict):
    id: int
    event: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: str | None
    read: bool
    read_at: str | None


class StaffNotificationPage(TypedDict):
    items: list[StaffNotificationJSON]
    total: int
    page: int
    per_page: int
    unread: int


def staff_notification_to_json(notification: StaffNotification) -> StaffNotificationJSON:
    return {
        "id": notification.id,
        "event": notification.event,
        "title": notification.title,
        "body": notification.body,
        "data": notification.data,
        "created_at": iso(notification.created_at),
        "read": notification.read_at is not None,
        "read_at": iso(notification.read_at),
    }


@bp.get("/notifications")
@staff_required()
@documented("My staff inbox, newest first, and how many are unread", auth="staff", query=StaffNotificationQuery,
            response=StaffNotificationPage, tags=("staff",))
def list_notifications() -> StaffNotificationPage:
    query = parse_query(StaffNotificationQuery)
    inbox = notifications.list_staff_notifications(db.session(), staff=g.staff, unread_only=bool(query.unread),
                                                   page=query.page, per_page=query.per_page)
    return {**page_to_json(inbox.page, staff_notification_to_json), "unread": inbox.unread}  # type: ignore[typeddict-item]


@bp.post("/notifications/<int:notification_id>/read")
@staff_required()
@documented("Mark one of my messages read", auth="staff", response=StaffNotificationJSON, errors=(404,),
            tags=("staff",))
def read_notification(notification_id: int) -> StaffNotificationJSON:
    notification = notifications.mark_staff_read(db.session(), staff=g.staff, actor=current_actor(),
                                                 notification_id=notification_id, now=now())
    return staff_notification_to_json(notification)
