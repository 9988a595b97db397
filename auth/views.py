"""Staff login, token rotation, logout and who-am-I."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g

from auth import sessions
from auth import staff as staff_service
from auth.decorators import staff_required, token_settings
from auth.schemas import (
    RefreshRequest,
    StaffJSON,
    StaffLoginRequest,
    TokenResponse,
    staff_to_json,
)
from backend.db import db
from backend.openapi import documented
from backend.web import now, parse_json

bp = Blueprint("staff_auth", __name__, url_prefix="/api/staff")


def _tokens_to_json(pair: sessions.TokenPair, account: Any) -> TokenResponse:
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token, "token_type": "Bearer",
            "expires_in": pair.expires_in, "account": staff_to_json(account)}


@bp.post("/login")
@documented("Username and password to access and refresh tokens", body=StaffLoginRequest,
            response=TokenResponse, errors=(401, 423, 429), tags=("staff",))
def login() -> TokenResponse:
    req = parse_json(StaffLoginRequest)
    config = current_app.extensions["config"]
    policy = staff_service.LoginPolicy(config.login_slowdown_after, config.login_lock_after, config.login_lock_seconds)
    account, pair = staff_service.login(db.session(), token_settings(), policy, username=req.username,
                                        password=req.password, request_id=g.request_id, now=now())
    return _tokens_to_json(pair, account)


@bp.post("/refresh")
@documented("Rotate a refresh token; a reused one revokes the whole login", body=RefreshRequest,
            response=TokenResponse, errors=(401,), tags=("staff",))
def refresh() -> TokenResponse:
    req = parse_json(RefreshRequest)
    account, pair = staff_service.refresh(db.session(), token_settings(), refresh_token=req.refresh_token, now=now())
    return _tokens_to_json(pair, account)


@bp.post("/logout")
@staff_required()
@documented("End this login (its refresh and access tokens)", auth="staff", status=204, tags=("staff",))
def logout() -> tuple[str, int]:
    staff_service.logout(db.session(), account=g.staff, family_id=g.token_family, request_id=g.request_id, now=now())
    return "", 204


@bp.get("/me")
@staff_required()
@documented("The calling staff account", auth="staff", response=StaffJSON, tags=("staff",))
def me() -> StaffJSON:
    return staff_to_json(g.staff)
