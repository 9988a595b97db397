"""The caller's account: profile, real-name verification, phone number, the enterprises they act for."""

from __future__ import annotations

from flask import current_app, g

from auth import applicants as applicant_auth
from auth.decorators import applicant_required, current_actor
from backend.db import db
from backend.openapi import documented
from backend.services import applicants, enterprises
from backend.web import now, parse_json
from miniprogram_api import bp
from miniprogram_api.schemas import (
    ApplicantJSON,
    EnterpriseList,
    IdentityRequest,
    PhoneRequest,
    applicant_to_json,
    enterprise_to_json,
)


@bp.get("/me")
@applicant_required
@documented("The calling applicant (identity and phone masked)", auth="applicant", response=ApplicantJSON,
            tags=("mp",))
def me() -> ApplicantJSON:
    return applicant_to_json(g.applicant)


@bp.post("/me/identity")
@applicant_required
@documented("Real-name verification: name and ID number, once per account and one account per identity",
            auth="applicant", body=IdentityRequest, response=ApplicantJSON, errors=(409, 429, 503), tags=("mp",))
def verify_identity() -> ApplicantJSON:
    req = parse_json(IdentityRequest)
    applicant = applicants.verify_identity(
        db.session(), current_app.extensions["protector"], current_app.extensions["realname"],
        applicant=g.applicant, actor=current_actor(), name=req.name, id_number=req.id_number, now=now())
    return applicant_to_json(applicant)


@bp.post("/me/phone")
@applicant_required
@documented("Keep the phone number of a WeChat getPhoneNumber code", auth="applicant", body=PhoneRequest,
            response=ApplicantJSON, errors=(429, 503), tags=("mp",))
def set_phone() -> ApplicantJSON:
    req = parse_json(PhoneRequest)
    applicant = applicant_auth.bind_phone(
        db.session(), current_app.extensions["wechat"], current_app.extensions["protector"], applicant=g.applicant,
        actor=current_actor(), code=req.code, now=now())
    return applicant_to_json(applicant)


@bp.get("/me/enterprises")
@applicant_required
@documented("The enterprises the caller may act for: as legal representative or as an agent",
            auth="applicant", response=EnterpriseList, tags=("mp",))
def my_enterprises() -> EnterpriseList:
    found = enterprises.list_enterprises(db.session(), current_app.extensions["protector"], applicant=g.applicant,
                                         now=now())
    return {"items": [enterprise_to_json(e) for e in found]}
