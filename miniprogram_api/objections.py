"""Objections (数据异议): the applicant says a field of a record is wrong; the source department decides."""

from __future__ import annotations

from flask import current_app, g

from auth.decorators import applicant_required, current_actor
from backend.db import db
from backend.openapi import documented
from backend.services import objections
from backend.web import now, page_to_json, parse_json, parse_query
from miniprogram_api import bp
from miniprogram_api.schemas import (
    CreateObjectionRequest,
    ObjectionJSON,
    ObjectionPage,
    ObjectionQuery,
    objection_to_json,
)


@bp.get("/objections")
@applicant_required
@documented("My objections, newest first, with their deadlines", auth="applicant", query=ObjectionQuery,
            response=ObjectionPage, tags=("mp",))
def list_objections() -> ObjectionPage:
    query = parse_query(ObjectionQuery)
    page = objections.list_own_objections(db.session(), applicant=g.applicant, status=query.status,
                                          page=query.page, per_page=query.per_page, now=now())
    return page_to_json(page, objection_to_json)  # type: ignore[no-any-return]


@bp.post("/objections")
@applicant_required
@documented("Object to a field of a record I may see; decided within 2 working days", auth="applicant",
            body=CreateObjectionRequest, response=ObjectionJSON, status=201, errors=(404, 409), tags=("mp",))
def file_objection() -> tuple[ObjectionJSON, int]:
    req = parse_json(CreateObjectionRequest)
    entry = objections.file_objection(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                                      actor=current_actor(), record_id=req.record_id, field=req.field,
                                      claimed_value=req.claimed_value, reason=req.reason, now=now())
    return objection_to_json(entry), 201


@bp.get("/objections/<int:objection_id>")
@applicant_required
@documented("One of my objections in full", auth="applicant", response=ObjectionJSON, errors=(404,), tags=("mp",))
def get_objection(objection_id: int) -> ObjectionJSON:
    entry = objections.get_own_objection(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                                         actor=current_actor(), objection_id=objection_id, now=now())
    return objection_to_json(entry)


@bp.post("/objections/<int:objection_id>/withdraw")
@applicant_required
@documented("Withdraw my objection while it is open", auth="applicant", response=ObjectionJSON, errors=(404, 409),
            tags=("mp",))
def withdraw_objection(objection_id: int) -> ObjectionJSON:
    entry = objections.withdraw_objection(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                                          actor=current_actor(), objection_id=objection_id, now=now())
    return objection_to_json(entry)
