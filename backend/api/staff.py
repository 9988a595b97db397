"""The staff inbox (`/api/staff/notifications`): overdue objections, reminders, calendars to load."""

from __future__ import annotations

from flask import Blueprint, g
from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from backend.db import db
from backend.openapi import documented
from backend.services import notifications
from backend.web import PageQuery, now, page_to_json, parse_query
from miniprogram_api.schemas import NotificationJSON, notification_to_json

bp = Blueprint("staff", __name__, url_prefix="/api/staff")


class StaffNotificationQuery(PageQuery):
    unread: bool | None = Field(None, description="true: only unread messages")


class StaffNotificationPage(TypedDict):
    items: list[NotificationJSON]
    total: int
    page: int
    per_page: int
    unread: int


@bp.get("/notifications")
@staff_required()
@documented("My staff inbox, newest first, and how many are unread", auth="staff", query=StaffNotificationQuery,
            response=StaffNotificationPage, tags=("staff",))
def list_notifications() -> StaffNotificationPage:
    query = parse_query(StaffNotificationQuery)
    inbox = notifications.list_staff_notifications(db.session(), staff=g.staff, unread_only=bool(query.unread),
                                                   page=query.page, per_page=query.per_page)
    return {**page_to_json(inbox.page, notification_to_json), "unread": inbox.unread}  # type: ignore[typeddict-item]


@bp.post("/notifications/<int:notification_id>/read")
@staff_required()
@documented("Mark one of my messages read", auth="staff", response=NotificationJSON, errors=(404,),
            tags=("staff",))
def read_notification(notification_id: int) -> NotificationJSON:
    notification = notifications.mark_staff_read(db.session(), staff=g.staff, actor=current_actor(),
                                                 notification_id=notification_id, now=now())
    return notification_to_json(notification)
