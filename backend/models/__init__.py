"""Every model, imported so that the metadata (and Alembic) sees the whole schema."""

from backend.models.audit import AuditEvent, AuditHead
from backend.models.department import Department
from backend.models.staff import Role, StaffAccount
from backend.models.tokens import Principal, RefreshToken, TokenFamily

__all__ = [
    "AuditEvent",
    "AuditHead",
    "Department",
    "Principal",
    "RefreshToken",
    "Role",
    "StaffAccount",
    "TokenFamily",
]
