from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, encrypted_info, str_enum


class Notification(Base):
    """An in-app inbox message (通知), written in the same transaction as the event it tells of."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_applicant_created", "applicant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"))
    event: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # ids only (confirmation, objection...), never personal values
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxKind(StrEnum):
    WECHAT_SUBSCRIBE = "wechat_subscribe"  # a WeChat subscribe message to an applicant
    WEBHOOK = "webhook"  # confirmed data to an approval department's system
    STAFF_ALERT = "staff_alert"  # overdue objections etc. to department operators and administrators


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"  # nothing to send to (no subscription, no webhook URL): recorded, not retried
    DEAD = "dead"  # gave up after the last attempt


class OutboxMessage(Base):
    """Work to do after commit: drained by `flask notifications deliver|worker`, several workers at once.

    The payload is encrypted: webhook bodies carry confirmed personal data.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OutboxKind] = mapped_column(str_enum(OutboxKind, 20))
    event: Mapped[str] = mapped_column(String(40))
    applicant_id: Mapped[int | None] = mapped_column(ForeignKey("applicants.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    payload_enc: Mapped[str] = mapped_column(Text, info=encrypted_info("outbox_messages", "payload_enc"))
    status: Mapped[OutboxStatus] = mapped_column(str_enum(OutboxStatus, 12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Subscription(Base):
    """A subscribe-message template the applicant accepted in `wx.requestSubscribeMessage` (one row per event).

    `template_id` is the template the acceptance was for: when the configured template of the event
    changes, the old acceptance no longer covers it and messages are skipped until the user accepts again.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("applicant_id", "event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"))
    event: Mapped[str] = mapped_column(String(40))
    template_id: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StaffNotification(Base):
    """An in-app message to a staff member (overdue objections, reminders, unknown calendars)."""

    __tablename__ = "staff_notifications"
    __table_args__ = (Index("ix_staff_notifications_staff_created", "staff_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"))
    event: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(String(500))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # ids only, never personal values
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
