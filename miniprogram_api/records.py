"""The caller's data and licenses, or those of an enterprise they act for (`?subject=<uscc>`)."""

from __future__ import annotations

from flask import current_app, g

from auth.decorators import applicant_required, current_actor
from backend.db import db
from backend.openapi import documented
from backend.services import wallet
from backend.web import now, page_to_json, parse_query
from miniprogram_api import bp
from miniprogram_api.schemas import RecordDetailJSON, RecordPage, RecordQuery, record_detail_to_json, record_to_json


@bp.get("/records")
@applicant_required
@documented("My records, or an enterprise's with ?subject=<uscc>; identifiers masked", auth="applicant",
            query=RecordQuery, response=RecordPage, errors=(403, 404), tags=("mp",))
def list_records() -> RecordPage:
    query = parse_query(RecordQuery)
    page = wallet.list_records(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                               actor=current_actor(), uscc=query.subject, page=query.page, per_page=query.per_page,
                               now=now())
    return page_to_json(page, record_to_json)  # type: ignore[no-any-return]


@bp.get("/records/<int:record_id>")
@applicant_required
@documented("One record in full, with each field's provenance (audited)", auth="applicant",
            response=RecordDetailJSON, errors=(404,), tags=("mp",))
def get_record(record_id: int) -> RecordDetailJSON:
    detail = wallet.get_record(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                               actor=current_actor(), record_id=record_id, now=now())
    return record_detail_to_json(detail)
