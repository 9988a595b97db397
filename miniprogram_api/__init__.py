"""HTTP for the phone mini-program (`/api/mp/...`): one module per resource, request models in `schemas`."""

from flask import Blueprint

bp = Blueprint("mp", __name__, url_prefix="/api/mp")

# Each module adds its routes to `bp`; imported for that effect.
from miniprogram_api import (  # noqa: E402,F401
    access_log,
    auth,
    bindings,
    confirmations,
    enterprise_authorizations,
    me,
    notifications,
    objections,
    readiness,
    records,
)
