"""The data administrator's API (`/api/admin/...`): one module per resource, one blueprint."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/api/admin")

# Each module adds its routes to `bp`; imported for that effect.
from backend.api.admin import (  # noqa: E402,F401
    audit,
    calendar,
    catalog,
    conflicts,
    departments,
    dept_keys,
    objections,
    outbox,
    quality,
    service_items,
    staff,
    webhooks,
)
