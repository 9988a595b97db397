"""HTTP for the phone mini-program (`/api/mp/...`): one module per resource, request models in `schemas`."""

from flask import Blueprint

bp = Blueprint("mp", __name__, url_prefix="/api/mp")

# Each module adds its routes to `bp`; imported for that effect.
from miniprogram_api import auth, bindings, enterprise_authorizations, me, records  # noqa: E402,F401
