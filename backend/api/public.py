"""Anyone may call these: liveness, the API document and its page for humans."""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from flask import Blueprint, Response, current_app, send_from_directory
from sqlalchemy import text
from typing_extensions import TypedDict

from backend.db import db
from backend.errors import ServiceUnavailable
from backend.openapi import build_document, documented

bp = Blueprint("public", __name__)
docs = Blueprint("docs", __name__, url_prefix="/api/docs")


class Health(TypedDict):
    status: str
    database: str


@bp.get("/healthz")
@documented("Liveness and a database round trip", response=Health, errors=(503,))
def healthz() -> Health:
    try:
        db.session.execute(text("SELECT 1")).scalar_one()
    except Exception as exc:  # any driver error means the database is not there for us
        current_app.logger.warning("health check: database unreachable (%s)", type(exc).__name__)
        raise ServiceUnavailable("the database does not answer", code="database_unavailable") from exc
    return {"status": "ok", "database": "ok"}


@bp.get("/api/openapi.json")
@documented("This OpenAPI 3 document", response=dict[str, Any])
def openapi() -> dict[str, Any]:
    return build_document(current_app)


_DOCS_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>eshare API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>"""


@docs.get("")
@documented("The API document for humans (Swagger UI, served locally)", content_type="text/html")
def page() -> Response:
    return Response(_DOCS_PAGE, mimetype="text/html")


@docs.get("/<path:filename>")
def asset(filename: str) -> Response:
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)
