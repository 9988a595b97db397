"""Applicant login with a WeChat code, token rotation and logout."""

from __future__ import annotations

from flask import current_app, g

from auth import applicants as applicant_auth
from auth import sessions
from auth.decorators import applicant_required, token_settings
from auth.schemas import RefreshRequest
from backend.db import db
from backend.models import Applicant, Principal
from backend.openapi import documented
from backend.services import applicants
from backend.web import now, parse_json
from miniprogram_api import bp
from miniprogram_api.schemas import LoginRequest, TokenResponse, applicant_to_json


def _tokens_to_json(pair: sessions.TokenPair, applicant: Applicant) -> TokenResponse:
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token, "token_type": "Bearer",
            "expires_in": pair.expires_in, "account": applicant_to_json(applicant)}


@bp.post("/auth/login")
@documented("A wx.login code to access and refresh tokens (the account is created at first login)",
            body=LoginRequest, response=TokenResponse, errors=(401, 403, 429, 503), tags=("mp",))
def login() -> TokenResponse:
    req = parse_json(LoginRequest)
    applicant, pair = applicant_auth.login(
        db.session(), current_app.extensions["wechat"], token_settings(), current_app.extensions["protector"],
        code=req.code, request_id=g.request_id, now=now())
    return _tokens_to_json(pair, applicant)


@bp.post("/auth/refresh")
@documented("Rotate a refresh token; a reused one revokes the whole login", body=RefreshRequest,
            response=TokenResponse, errors=(401,), tags=("mp",))
def refresh() -> TokenResponse:
    req = parse_json(RefreshRequest)
    pair = sessions.rotate(db.session(), token_settings(), refresh_token=req.refresh_token,
                           principal=Principal.APPLICANT, now=now())
    return _tokens_to_json(pair, applicants.get_applicant(db.session(), pair.account_id))


@bp.post("/auth/logout")
@applicant_required
@documented("End this login (its refresh and access tokens)", auth="applicant", status=204, tags=("mp",))
def logout() -> tuple[str, int]:
    applicant_auth.logout(db.session(), applicant=g.applicant, family_id=g.token_family, request_id=g.request_id,
                          now=now())
    return "", 204
