"""The audit log for the data administrator: search (the subject never in a query string), chain verification,
signed checkpoints."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from flask import current_app, request
from pydantic import AwareDatetime, Field
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from backend.api.admin import bp
from backend.clock import SHANGHAI, iso
from backend.db import db
from backend.errors import BadRequest
from backend.models import AuditCheckpoint, AuditEvent, Role
from backend.openapi import documented
from backend.services import audit
from backend.services.audit import AuditFilters, Verification
from backend.web import PageQuery, now, page_to_json, parse_json, parse_query

SUBJECT_HEADER = "X-Audit-Subject"


class AuditQuery(PageQuery):
    actor_type: str | None = Field(None, max_length=16, description="staff, applicant, department, system, anonymous")
    actor_id: str | None = Field(None, max_length=64)
    action: str | None = Field(None, max_length=64, description="exact, or a prefix ending in * (`wallet.*`)")
    subject_index: str | None = Field(None, pattern=r"^[0-9a-f]{64}$",
                                      description="a blind index as events show it (never a clear ID)")
    start: AwareDatetime | date | None = Field(None, alias="from",
                                               description="inclusive; a date means 00:00 Asia/Shanghai")
    end: AwareDatetime | date | None = Field(None, alias="to",
                                             description="exclusive; a date means 00:00 Asia/Shanghai")


class AuditSearchRequest(AuditQuery):
    subject: str | None = Field(None, min_length=18, max_length=18,
                                description="a clear ID number or USCC: sent in the body, searched by blind index")


class ActorJSON(TypedDict):
    type: str
    id: str | None


class TargetJSON(TypedDict):
    type: str | None
    id: str | None


class AuditEventJSON(TypedDict):
    seq: int
    at: str | None
    actor: ActorJSON
    action: str
    target: TargetJSON
    subject_index: str | None
    purpose: str | None
    request_id: str | None
    details: dict[str, Any]
    hash: str


class AuditEventPage(TypedDict):
    items: list[AuditEventJSON]
    total: int
    page: int
    per_page: int


class CheckpointProblemJSON(TypedDict):
    seq: int | None
    problem: str


class CheckpointsCheckJSON(TypedDict):
    ok: bool
    checked: int
    problems: list[CheckpointProblemJSON]


class VerifyJSON(TypedDict):
    ok: bool
    checked: int
    head_seq: int
    problem: str | None
    seq: int | None
    checkpoints: CheckpointsCheckJSON


class CheckpointJSON(TypedDict):
    seq: int
    hash: str
    at: str
    signature: str
    key_id: str
    public_key: str


class CheckpointPage(TypedDict):
    items: list[CheckpointJSON]
    total: int
    page: int
    per_page: int


def audit_event_to_json(event: AuditEvent) -> AuditEventJSON:
    return {
        "seq": event.seq,
        "at": iso(event.at),
        "actor": {"type": event.actor_type, "id": event.actor_id},
        "action": event.action,
        "target": {"type": event.target_type, "id": event.target_id},
        "subject_index": event.subject_index,
        "purpose": event.purpose,
        "request_id": event.request_id,
        "details": event.details,
        "hash": event.hash,
    }


def checkpoint_to_json(checkpoint: AuditCheckpoint) -> CheckpointJSON:
    return audit.checkpoint_to_json(  # type: ignore[return-value]
        checkpoint, current_app.extensions["keys"].receipt_key.public_key())


def verification_to_json(result: Verification) -> VerifyJSON:
    chain, checked = result.chain, result.checkpoints
    return {
        "ok": result.ok,
        "checked": chain.checked,
        "head_seq": chain.head_seq,
        "problem": chain.problem,
        "seq": chain.seq,
        "checkpoints": {"ok": checked.ok, "checked": checked.checked,
                        "problems": [{"seq": p.seq, "problem": p.problem} for p in checked.problems]},
    }


def _moment(value: datetime | date | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if value is not None else None
    return datetime.combine(value, time(0), tzinfo=SHANGHAI).astimezone(UTC)


def _filters(query: AuditQuery, subject: str | None) -> AuditFilters:
    indexes: tuple[str, ...] = ()
    if subject:
        indexes = tuple(audit.subject_indexes(current_app.extensions["protector"], subject))
    elif query.subject_index:
        indexes = (query.subject_index,)
    return AuditFilters(subject_indexes=indexes, actor_type=query.actor_type, actor_id=query.actor_id,
                        action=query.action, start=_moment(query.start), end=_moment(query.end))


def _search(query: AuditQuery, subject: str | None) -> AuditEventPage:
    page = audit.search_events(db.session(), actor=current_actor(), filters=_filters(query, subject),
                               page=query.page, per_page=query.per_page, now=now())
    return page_to_json(page, audit_event_to_json)  # type: ignore[no-any-return]


@bp.get("/audit")
@staff_required(Role.DATA_ADMIN)
@documented("Search the audit log, newest first (the search is audited). A subject goes in the X-Audit-Subject "
            "header or the body of POST /api/admin/audit/search, never in the query string", auth="staff",
            query=AuditQuery, response=AuditEventPage, errors=(403,))
def search_audit() -> AuditEventPage:
    if "subject" in request.args:
        # Refused rather than used: a clear ID in a URL ends up in proxy and browser logs.
        raise BadRequest("never put a subject in the query string: send it in the X-Audit-Subject header or the "
                         "body of POST /api/admin/audit/search", code="subject_in_query",
                         fields={"subject": "not allowed in the query string"})
    return _search(parse_query(AuditQuery), request.headers.get(SUBJECT_HEADER, "").strip() or None)


@bp.post("/audit/search")
@staff_required(Role.DATA_ADMIN)
@documented("Search the audit log by a clear ID number or USCC (turned into its blind index), actor, action, "
            "period; the search is audited", auth="staff", body=AuditSearchRequest, response=AuditEventPage,
            errors=(403,))
def search_audit_by_subject() -> AuditEventPage:
    req = parse_json(AuditSearchRequest)
    return _search(req, req.subject)


@bp.get("/audit/verify")
@staff_required(Role.DATA_ADMIN)
@documented("Verify the audit chain, and the chain against the signed checkpoints stored with it", auth="staff",
            response=VerifyJSON, errors=(403,))
def verify_audit() -> VerifyJSON:
    result = audit.verify(db.session(), current_app.extensions["keys"].receipt_key.public_key())
    return verification_to_json(result)


@bp.get("/audit/checkpoints")
@staff_required(Role.DATA_ADMIN)
@documented("The signed checkpoints of the chain head, oldest first: export them to check the chain later",
            auth="staff", query=PageQuery, response=CheckpointPage, errors=(403,))
def list_checkpoints() -> CheckpointPage:
    query = parse_query(PageQuery)
    page = audit.list_checkpoints(db.session(), page=query.page, per_page=query.per_page)
    return page_to_json(page, checkpoint_to_json)  # type: ignore[no-any-return]
