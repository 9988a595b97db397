"""Every model, imported so that the metadata (and Alembic) sees the whole schema."""

from backend.models.applicant import (
    Applicant,
    AuthorizationStatus,
    Binding,
    EnterpriseAuthorization,
    LegalRepLink,
)
from backend.models.audit import AuditCheckpoint, AuditEvent, AuditHead
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
from backend.models.confirmation import (
    ON_HOLD,
    Acceptance,
    Confirmation,
    ConfirmationItem,
    ConfirmationStatus,
    CounterCode,
    Receipt,
)
from backend.models.conflict import ConflictScan, ConflictStatus, SourceConflict, SourceConflictDepartment
from backend.models.department import Department, DepartmentWebhook
from backend.models.dept_api import DepartmentKey, DeptNonce, PushOperation, PushRequest, RecordRejection
from backend.models.notification import (
    Notification,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    StaffNotification,
    Subscription,
)
from backend.models.objection import ACTIVE_OBJECTION_STATUSES, Objection, ObjectionStatus
from backend.models.quality import QualityDaily, QualityItemSnapshot, QualityRecordState, QualityState
from backend.models.record import SUBJECT_INDEX_KIND, ChangeKind, Record, RecordStatus, RecordVersion
from backend.models.staff import Role, StaffAccount
from backend.models.tokens import Principal, RefreshToken, TokenFamily

__all__ = [
    "ON_HOLD",
    "Acceptance",
    "Confirmation",
    "ConfirmationItem",
    "ConfirmationStatus",
    "CounterCode",
    "Receipt",
    "ACTIVE_OBJECTION_STATUSES",
    "Notification",
    "Objection",
    "ObjectionStatus",
    "OutboxKind",
    "OutboxMessage",
    "OutboxStatus",
    "StaffNotification",
    "Subscription",
    "DepartmentWebhook",
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
    "AuditCheckpoint",
    "AuditEvent",
    "AuditHead",
    "CalendarDay",
    "CalendarYear",
    "DayKind",
    "DaySource",
    "ConflictScan",
    "ConflictStatus",
    "Department",
    "DepartmentKey",
    "DeptNonce",
    "PushOperation",
    "PushRequest",
    "RecordRejection",
    "SourceConflict",
    "SourceConflictDepartment",
    "Principal",
    "QualityDaily",
    "QualityItemSnapshot",
    "QualityRecordState",
    "QualityState",
    "RefreshToken",
    "Role",
    "StaffAccount",
    "TokenFamily",
]
