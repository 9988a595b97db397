"""The source departments' API (`/api/dept/...`): their systems sign with a department key; their operators
(objections) log in as staff. One blueprint."""

from flask import Blueprint

bp = Blueprint("dept", __name__, url_prefix="/api/dept")

# Each module adds its routes to `bp`; imported for that effect.
from backend.api.dept import conflicts, objections, records  # noqa: E402,F401
