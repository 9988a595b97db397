"""The card wallet (卡包): licenses the caller bound, with their status today."""

from __future__ import annotations

from flask import current_app, g

from auth.decorators import applicant_required, current_actor
from backend.db import db
from backend.openapi import documented
from backend.services import wallet
from backend.web import PageQuery, now, page_to_json, parse_json, parse_query
from miniprogram_api import bp
from miniprogram_api.schemas import BindingJSON, BindingPage, CreateBindingRequest, binding_to_json


@bp.get("/bindings")
@applicant_required
@documented("My card wallet, newest first", auth="applicant", query=PageQuery, response=BindingPage, tags=("mp",))
def list_bindings() -> BindingPage:
    query = parse_query(PageQuery)
    page = wallet.list_bindings(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                                actor=current_actor(), page=query.page, per_page=query.per_page, now=now())
    return page_to_json(page, binding_to_json)  # type: ignore[no-any-return]


@bp.post("/bindings")
@applicant_required
@documented("Bind a valid license of mine or of an enterprise I act for", auth="applicant",
            body=CreateBindingRequest, response=BindingJSON, status=201, errors=(404, 409), tags=("mp",))
def add_binding() -> tuple[BindingJSON, int]:
    req = parse_json(CreateBindingRequest)
    entry = wallet.add_binding(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                               actor=current_actor(), record_id=req.record_id, now=now())
    return binding_to_json(entry), 201


@bp.delete("/bindings/<int:binding_id>")
@applicant_required
@documented("Take a license out of my wallet", auth="applicant", status=204, errors=(404,), tags=("mp",))
def remove_binding(binding_id: int) -> tuple[str, int]:
    wallet.remove_binding(db.session(), applicant=g.applicant, actor=current_actor(), binding_id=binding_id,
                          now=now())
    return "", 204
