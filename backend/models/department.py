from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, encrypted_info


class Department(Base):
    """A government unit: a source of records, an approval department, or both."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    is_source: Mapped[bool] = mapped_column(Boolean, default=False)
    is_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DepartmentWebhook(Base):
    """The secret that signs an approval department's webhooks (HMAC-SHA256), one per department.

    Generated when the data administrator first sets the webhook URL (or asks for a new one) and shown
    in that answer only; kept encrypted because every delivery must compute the signature.
    """

    __tablename__ = "department_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), unique=True)
    secret_enc: Mapped[str] = mapped_column(Text, info=encrypted_info("department_webhooks", "secret_enc"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
