"""Records pushed by their source department: new and changed, revoked, and the department's own report."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any

from flask import Response, current_app, g, jsonify, request
from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor
from auth.signatures import department_required
from backend.api.dept import bp
from backend.clock import iso
from backend.db import db
from backend.errors import BadRequest
from backend.openapi import documented
from backend.services import records
from backend.services.records import DepartmentReport, ItemReport, PushOutcome, PushResultJSON
from backend.web import Body, now, parse_json, parse_query

IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:/+=-]{1,100}$")


class PushRecordsRequest(Body):
    """Each record is checked on its own against its item's published spec; a bad one is only rejected.

    A record: {catalog_item, record_no, subject_id, subject_name, fields, produced_at, valid_from?,
    valid_until?, objection_id?}.
    """

    records: list[dict[str, Any]] = Field(description=f"up to {records.MAX_BATCH} records")


class RevokeRecordsRequest(Body):
    """A revocation: {catalog_item, record_no, reason, revoked_at?} (revoked_at defaults to now)."""

    records: list[dict[str, Any]] = Field(description=f"up to {records.MAX_BATCH} revocations")


class ReportQuery(Body):
    start: date | None = Field(None, alias="from", description="first day (Asia/Shanghai); default 30 days before `to`")
    end: date | None = Field(None, alias="to", description="the day after the last (Asia/Shanghai); default tomorrow")


# `from` is a Python keyword: the functional form names it.
PeriodJSON = TypedDict("PeriodJSON", {"from": str, "to": str, "start": "str | None", "end": "str | None"})


class AcceptedJSON(TypedDict):
    total: int
    new: int
    change: int
    revoke: int


class TimelinessJSON(TypedDict):
    on_time: int
    late: int
    unknown: int


class RejectionExampleJSON(TypedDict):
    record_no: str | None
    operation: str
    errors: dict[str, str]
    received_at: str | None


class RejectedJSON(TypedDict):
    total: int
    reasons: dict[str, dict[str, int]]
    examples: list[RejectionExampleJSON]


class ItemReportJSON(TypedDict):
    catalog_item: str | None
    name: str | None
    accepted: AcceptedJSON
    timeliness: TimelinessJSON
    rejected: RejectedJSON


class ReportJSON(TypedDict):
    department: str
    period: PeriodJSON
    items: list[ItemReportJSON]


def _idempotency_key() -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not key:
        raise BadRequest("an Idempotency-Key header is required: the same key makes a retried push harmless",
                         code="idempotency_key_required", fields={IDEMPOTENCY_HEADER: "is required"})
    if not _IDEMPOTENCY_KEY.match(key):
        raise BadRequest("the Idempotency-Key is not valid", code="idempotency_key_invalid",
                         fields={IDEMPOTENCY_HEADER: "1 to 100 characters of A-Z a-z 0-9 . _ : / + = -"})
    return key


def _request_digest() -> str:
    return hashlib.sha256(request.get_data(cache=True)).hexdigest()


def push_result_to_json(outcome: PushOutcome) -> Response:
    response = jsonify(outcome.body)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def item_report_to_json(item: ItemReport) -> ItemReportJSON:
    return {
        "catalog_item": item.code,
        "name": item.name,
        "accepted": {"total": item.accepted, "new": item.new, "change": item.change, "revoke": item.revoke},
        "timeliness": {"on_time": item.on_time, "late": item.late, "unknown": item.lateness_unknown},
        "rejected": {
            "total": item.rejected,
            "reasons": item.reasons,
            "examples": [{"record_no": e.record_no, "operation": e.operation, "errors": e.errors,
                          "received_at": iso(e.received_at)} for e in item.examples],
        },
    }


def report_to_json(report: DepartmentReport) -> ReportJSON:
    return {
        "department": report.department.code,
        "period": {"from": report.first_day.isoformat(), "to": report.end_day.isoformat(),
                   "start": iso(report.start), "end": iso(report.end)},
        "items": [item_report_to_json(item) for item in report.items],
    }


@bp.put("/records")
@department_required
@documented("Push new and changed records (up to 1000); each is accepted or rejected with reasons",
            auth="department", body=PushRecordsRequest, response=PushResultJSON, errors=(403, 409, 413))
def push_records() -> Response:
    key = _idempotency_key()
    req = parse_json(PushRecordsRequest)
    outcome = records.push_records(db.session(), current_app.extensions["protector"], actor=current_actor(),
                                   department=g.department, records=req.records, idempotency_key=key,
                                   request_digest=_request_digest(), now=now())
    return push_result_to_json(outcome)


@bp.post("/records/revoke")
@department_required
@documented("Revoke (注销) records; history is kept", auth="department", body=RevokeRecordsRequest,
            response=PushResultJSON, errors=(403, 409, 413))
def revoke_records() -> Response:
    key = _idempotency_key()
    req = parse_json(RevokeRecordsRequest)
    outcome = records.revoke_records(db.session(), current_app.extensions["protector"], actor=current_actor(),
                                     department=g.department,
                                     records=req.records, idempotency_key=key, request_digest=_request_digest(),
                                     now=now())
    return push_result_to_json(outcome)


@bp.get("/records/report")
@department_required
@documented("What this department sent per catalog item: accepted, rejected with reasons, late",
            auth="department", query=ReportQuery, response=ReportJSON)
def records_report() -> ReportJSON:
    query = parse_query(ReportQuery)
    report = records.department_report(db.session(), department=g.department, start=query.start, end=query.end,
                                       now=now())
    return report_to_json(report)
