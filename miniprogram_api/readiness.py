"""Before applying: which materials of a service item the caller's data can replace, and which need paper."""

from __future__ import annotations

from flask import current_app, g

from auth.decorators import applicant_required, current_actor
from backend.db import db
from backend.openapi import documented
from backend.services import confirmations
from backend.web import now, parse_query
from miniprogram_api import bp
from miniprogram_api.schemas import ReadinessJSON, ReadinessQuery, readiness_to_json


@bp.get("/service-items/<code>/readiness")
@applicant_required
@documented("Every material of a service item: the valid record that can replace it, or paper and why",
            auth="applicant", query=ReadinessQuery, response=ReadinessJSON, errors=(403, 404), tags=("mp",))
def get_readiness(code: str) -> ReadinessJSON:
    query = parse_query(ReadinessQuery)
    readiness = confirmations.readiness(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                                        actor=current_actor(), service_item=code, uscc=query.subject, now=now())
    return readiness_to_json(readiness)
