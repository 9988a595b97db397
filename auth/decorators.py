"""Who is calling: bearer tokens to `g.staff` or `g.applicant`, roles checked; never a redirect, always JSON errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request

from auth import sessions, tokens
from backend.config import Config
from backend.db import db
from backend.errors import Forbidden, Unauthorized
from backend.models import Applicant, Principal, Role, StaffAccount
from backend.services.audit import Actor
from backend.web import now

F = TypeVar("F", bound=Callable[..., Any])


def token_settings() -> sessions.TokenSettings:
    config: Config = current_app.extensions["config"]
    return sessions.TokenSettings(current_app.extensions["keys"].token_key, config.access_token_ttl,
                                  config.refresh_token_ttl)


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("log in first: an Authorization: Bearer token is required")
    return token.strip()


def staff_required(*roles: Role) -> Callable[[F], F]:
    """Require a live staff access token, and one of `roles` when given; sets `g.staff`."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            claims = tokens.verify_access(token_settings().key, _bearer(), principal=Principal.STAFF, now=now())
            if not sessions.family_is_live(db.session(), claims.family_id):
                raise Unauthorized("this login has ended; log in again", code="token_revoked")
            account = db.session.get(StaffAccount, claims.account_id)
            if account is None or not account.is_active:
                raise Unauthorized("this staff account is not active", code="token_revoked")
            if roles and account.role not in roles:
                raise Forbidden("your role may not do this")
            g.staff, g.token_family = account, claims.family_id
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def applicant_required(view: F) -> F:
    """Require a live applicant access token; sets `g.applicant` and `g.token_family`."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        claims = tokens.verify_access(token_settings().key, _bearer(), principal=Principal.APPLICANT, now=now())
        if not sessions.family_is_live(db.session(), claims.family_id):
            raise Unauthorized("this login has ended; log in again", code="token_revoked")
        applicant = db.session.get(Applicant, claims.account_id)
        if applicant is None:
            raise Unauthorized("this account does not exist", code="token_revoked")
        g.applicant, g.token_family = applicant, claims.family_id
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def current_actor() -> Actor:
    """The caller as the audit chain names them, with this request's id."""
    request_id = g.get("request_id")
    if g.get("staff") is not None:
        return Actor("staff", str(g.staff.id), request_id)
    if g.get("applicant") is not None:
        return Actor("applicant", str(g.applicant.id), request_id)
    if g.get("department") is not None:
        return Actor("department", g.department.code, request_id)
    return Actor("anonymous", None, request_id)
