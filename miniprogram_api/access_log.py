"""Who used my data: every use by staff of mine and of the enterprises I represent, from the audit chain."""

from __future__ import annotations

from flask import current_app, g

from auth.decorators import applicant_required
from backend.db import db
from backend.openapi import documented
from backend.services import access_log
from backend.web import PageQuery, now, page_to_json, parse_query
from miniprogram_api import bp
from miniprogram_api.schemas import AccessLogPage, access_entry_to_json


@bp.get("/access-log")
@applicant_required
@documented("Who used my data (and my enterprises'): department, masked staff account, when, service item, fields",
            auth="applicant", query=PageQuery, response=AccessLogPage, errors=(403,), tags=("mp",))
def list_access_log() -> AccessLogPage:
    query = parse_query(PageQuery)
    page = access_log.list_access_log(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                                      page=query.page, per_page=query.per_page, now=now())
    return page_to_json(page, access_entry_to_json)  # type: ignore[no-any-return]
