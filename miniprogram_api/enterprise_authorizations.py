"""Enterprise authorizations: the legal representative grants and revokes, the named agent accepts."""

from __future__ import annotations

from flask import current_app, g

from auth.decorators import applicant_required, current_actor
from backend.db import db
from backend.openapi import documented
from backend.services import enterprises
from backend.web import PageQuery, now, page_to_json, parse_json, parse_query
from miniprogram_api import bp
from miniprogram_api.schemas import (
    AuthorizationJSON,
    AuthorizationPage,
    CreateAuthorizationRequest,
    authorization_to_json,
)


@bp.get("/enterprise-authorizations")
@applicant_required
@documented("Authorizations I granted or am named in, newest first", auth="applicant", query=PageQuery,
            response=AuthorizationPage, tags=("mp",))
def list_authorizations() -> AuthorizationPage:
    query = parse_query(PageQuery)
    page = enterprises.list_authorizations(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                                           page=query.page, per_page=query.per_page, now=now())
    return page_to_json(page, authorization_to_json)  # type: ignore[no-any-return]


@bp.post("/enterprise-authorizations")
@applicant_required
@documented("The legal representative authorizes an agent (30 days by default, at most a year)",
            auth="applicant", body=CreateAuthorizationRequest, response=AuthorizationJSON, status=201,
            errors=(403, 409), tags=("mp",))
def authorize_agent() -> tuple[AuthorizationJSON, int]:
    req = parse_json(CreateAuthorizationRequest)
    authorization = enterprises.authorize_agent(
        db.session(), current_app.extensions["protector"], applicant=g.applicant, actor=current_actor(),
        uscc=req.uscc, agent_name=req.agent_name, agent_id_number=req.agent_id_number, expires_at=req.expires_at,
        service_items=req.service_items, now=now())
    return authorization_to_json(enterprises.AuthorizationEntry(authorization, "grantor")), 201


@bp.get("/enterprise-authorizations/<int:authorization_id>")
@applicant_required
@documented("One authorization I granted or am named in", auth="applicant", response=AuthorizationJSON,
            errors=(404,), tags=("mp",))
def get_authorization(authorization_id: int) -> AuthorizationJSON:
    entry = enterprises.get_authorization(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                                          authorization_id=authorization_id, now=now())
    return authorization_to_json(entry)


@bp.post("/enterprise-authorizations/<int:authorization_id>/accept")
@applicant_required
@documented("The named agent accepts, with their verified identity", auth="applicant",
            response=AuthorizationJSON, errors=(403, 404, 409), tags=("mp",))
def accept_authorization(authorization_id: int) -> AuthorizationJSON:
    entry = enterprises.accept_authorization(db.session(), current_app.extensions["protector"],
                                             applicant=g.applicant, actor=current_actor(),
                                             authorization_id=authorization_id, now=now())
    return authorization_to_json(entry)


@bp.post("/enterprise-authorizations/<int:authorization_id>/revoke")
@applicant_required
@documented("The legal representative who granted it revokes it, at once", auth="applicant",
            response=AuthorizationJSON, errors=(403, 404, 409), tags=("mp",))
def revoke_authorization(authorization_id: int) -> AuthorizationJSON:
    entry = enterprises.revoke_authorization(db.session(), current_app.extensions["protector"],
                                             applicant=g.applicant, actor=current_actor(),
                                             authorization_id=authorization_id, now=now())
    return authorization_to_json(entry)
