"""Every model, imported so that the metadata (and Alembic) sees the whole schema."""

from backend.models.applicant import (
    Applicant,
    AuthorizationStatus,
    Binding,
    EnterpriseAuthorization,
    LegalRepLink,
)
from backend.models.audit import AuditEvent, AuditHead
from backend.models.calendar import CalendarDay, CalendarYear, DayKind, DaySource
from backend.models.catalog import (
    CatalogItem,
    CatalogStatus,
    CatalogVersion,
    ItemKind,
    Material,
    ServiceItem,
    SubjectType,
)
from backend.models.department import Department
from backend.models.dept_api import DepartmentKey, DeptNonce, PushOperation, PushRequest, RecordRejection
from backend.models.notification import Notification, OutboxKind, OutboxMessage, OutboxStatus
from backend.models.objection import ACTIVE_OBJECTION_STATUSES, Objection, ObjectionStatus
from backend.models.record import SUBJECT_INDEX_KIND, ChangeKind, Record, RecordStatus, RecordVersion
from backend.models.staff import Role, StaffAccount
from backend.models.tokens import Principal, RefreshToken, TokenFamily

__all__ = [
    "ACTIVE_OBJECTION_STATUSES",
    "Notification",
    "Objection",
    "ObjectionStatus",
    "OutboxKind",
    "OutboxMessage",
    "OutboxStatus",
    "Applicant",
    "AuthorizationStatus",
    "Binding",
    "EnterpriseAuthorization",
    "LegalRepLink",
    "SUBJECT_INDEX_KIND",
    "ChangeKind",
    "Record",
    "RecordStatus",
    "RecordVersion",
    "CatalogItem",
    "CatalogStatus",
    "CatalogVersion",
    "ItemKind",
    "Material",
    "ServiceItem",
    "SubjectType",
    "AuditEvent",
    "AuditHead",
    "CalendarDay",
    "CalendarYear",
    "DayKind",
    "DaySource",
    "Department",
    "DepartmentKey",
    "DeptNonce",
    "PushOperation",
    "PushRequest",
    "RecordRejection",
    "Principal",
    "RefreshToken",
    "Role",
    "StaffAccount",
    "TokenFamily",
]
