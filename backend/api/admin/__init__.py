"""The data administrator's API (`/api/admin/...`): one module per resource, one blueprint."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/api/admin")

# Each module adds its routes to `bp`; imported for that effect.
from backend.api.admin import calendar, catalog, departments, dept_keys, service_items, staff  # noqa: E402,F401
