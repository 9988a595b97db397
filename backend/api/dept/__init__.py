"""The source departments' system API (`/api/dept/...`), signed with a department key: one blueprint."""

from flask import Blueprint

bp = Blueprint("dept", __name__, url_prefix="/api/dept")

# Each module adds its routes to `bp`; imported for that effect.
from backend.api.dept import records  # noqa: E402,F401
