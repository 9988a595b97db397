"""The inbox (通知) and which subscribe-message templates the user accepted (订阅消息)."""

from __future__ import annotations

from flask import current_app, g

from auth.decorators import applicant_required, current_actor
from backend.config import Config
from backend.db import db
from backend.openapi import documented
from backend.services import notifications
from backend.web import now, page_to_json, parse_json, parse_query
from miniprogram_api import bp
from miniprogram_api.schemas import (
    NotificationJSON,
    NotificationPage,
    NotificationQuery,
    SubscriptionList,
    SubscriptionsRequest,
    notification_to_json,
    subscription_to_json,
)


@bp.get("/notifications")
@applicant_required
@documented("My inbox, newest first, and how many are unread", auth="applicant", query=NotificationQuery,
            response=NotificationPage, tags=("mp",))
def list_notifications() -> NotificationPage:
    query = parse_query(NotificationQuery)
    inbox = notifications.list_notifications(db.session(), applicant=g.applicant, unread_only=bool(query.unread),
                                             page=query.page, per_page=query.per_page)
    return {**page_to_json(inbox.page, notification_to_json), "unread": inbox.unread}  # type: ignore[typeddict-item]


@bp.post("/notifications/<int:notification_id>/read")
@applicant_required
@documented("Mark one of my messages read", auth="applicant", response=NotificationJSON, errors=(404,),
            tags=("mp",))
def read_notification(notification_id: int) -> NotificationJSON:
    notification = notifications.mark_read(db.session(), applicant=g.applicant, actor=current_actor(),
                                           notification_id=notification_id, now=now())
    return notification_to_json(notification)


@bp.post("/subscriptions")
@applicant_required
@documented("Which subscribe-message templates I accepted (and rejected) in wx.requestSubscribeMessage",
            auth="applicant", body=SubscriptionsRequest, response=SubscriptionList, tags=("mp",))
def record_subscriptions() -> SubscriptionList:
    req = parse_json(SubscriptionsRequest)
    config: Config = current_app.extensions["config"]
    accepted = notifications.record_subscriptions(db.session(), applicant=g.applicant, actor=current_actor(),
                                                  accepted=req.templates, rejected=req.rejected,
                                                  templates=config.wechat_template_ids(), now=now())
    return {"items": [subscription_to_json(s) for s in accepted]}
