"""Material exemption: preview (draft), confirm (frozen snapshot), list, and the counter code to show."""

from __future__ import annotations

from flask import current_app, g

from auth.decorators import applicant_required, current_actor
from backend.db import db
from backend.openapi import documented
from backend.services import confirmations
from backend.web import PageQuery, now, page_to_json, parse_json, parse_query
from miniprogram_api import bp
from miniprogram_api.schemas import (
    ConfirmationJSON,
    ConfirmationPage,
    CounterCodeJSON,
    CreateConfirmationRequest,
    confirmation_to_json,
    counter_code_to_json,
)


@bp.post("/confirmations")
@applicant_required
@documented("Preview: a draft showing exactly the values each material would share, with provenance",
            auth="applicant", body=CreateConfirmationRequest, response=ConfirmationJSON, status=201,
            errors=(403, 404, 409), tags=("mp",))
def create_confirmation() -> tuple[ConfirmationJSON, int]:
    req = parse_json(CreateConfirmationRequest)
    view = confirmations.create_confirmation(
        db.session(), current_app.extensions["protector"], applicant=g.applicant, actor=current_actor(),
        service_item=req.service_item, uscc=req.subject, record_ids=req.record_ids, now=now())
    return confirmation_to_json(view), 201


@bp.post("/confirmations/<int:confirmation_id>/confirm")
@applicant_required
@documented("Confirm the preview: the snapshot is frozen until it expires (30 days by default)",
            auth="applicant", response=ConfirmationJSON, errors=(404, 409), tags=("mp",))
def confirm(confirmation_id: int) -> ConfirmationJSON:
    view = confirmations.confirm(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                                 actor=current_actor(), confirmation_id=confirmation_id,
                                 ttl_days=current_app.extensions["config"].confirmation_ttl_days, now=now())
    return confirmation_to_json(view)


@bp.get("/confirmations")
@applicant_required
@documented("My confirmations, newest first, with their status now (no values)", auth="applicant",
            query=PageQuery, response=ConfirmationPage, tags=("mp",))
def list_confirmations() -> ConfirmationPage:
    query = parse_query(PageQuery)
    page = confirmations.list_confirmations(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                                            page=query.page, per_page=query.per_page, now=now())
    return page_to_json(page, confirmation_to_json)  # type: ignore[no-any-return]


@bp.get("/confirmations/<int:confirmation_id>")
@applicant_required
@documented("One of my confirmations with its frozen values (audited)", auth="applicant",
            response=ConfirmationJSON, errors=(404,), tags=("mp",))
def get_confirmation(confirmation_id: int) -> ConfirmationJSON:
    view = confirmations.get_confirmation(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                                          actor=current_actor(), confirmation_id=confirmation_id, now=now())
    return confirmation_to_json(view)


@bp.post("/confirmations/<int:confirmation_id>/counter-code")
@applicant_required
@documented("A fresh single-use counter code (≤ 300 s) as text and as a QR code PNG; older codes stop working",
            auth="applicant", response=CounterCodeJSON, status=201, errors=(404, 409), tags=("mp",))
def issue_counter_code(confirmation_id: int) -> tuple[CounterCodeJSON, int]:
    issued = confirmations.issue_counter_code(
        db.session(), current_app.extensions["protector"], applicant=g.applicant, actor=current_actor(),
        confirmation_id=confirmation_id, ttl_seconds=current_app.extensions["config"].counter_code_ttl_seconds,
        now=now())
    return counter_code_to_json(issued), 201
