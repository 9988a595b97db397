"""The counter console (`/api/counter/...`): counter staff of the service item's approval department only."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g
from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from auth.schemas import DepartmentRef
from backend.clock import iso
from backend.config import Config
from backend.db import db
from backend.models import Role
from backend.openapi import documented
from backend.protection import mask_username
from backend.services import counter
from backend.services.counter import CounterCase
from backend.web import Body, now, parse_json
from miniprogram_api.schemas import ConfirmationJSON, confirmation_to_json

bp = Blueprint("counter", __name__, url_prefix="/api/counter")


class ScanRequest(Body):
    token: str = Field(min_length=32, max_length=128, pattern=r"^[A-Za-z0-9_-]+$",
                       description="the token in the applicant's QR code")


class AcceptRequest(Body):
    window: str | None = Field(None, max_length=50, description="the counter window, e.g. 3号窗口")


class ApplicantRefJSON(TypedDict):
    name_masked: str | None
    id_number_masked: str | None


class AcceptanceJSON(TypedDict):
    department: DepartmentRef
    window: str | None
    staff: str
    accepted_at: str | None
    reopen_until: str | None


class CounterCaseJSON(ConfirmationJSON):
    applicant: ApplicantRefJSON | None
    acceptance: AcceptanceJSON | None


def case_to_json(case: CounterCase) -> CounterCaseJSON:
    applicant, acceptance = case.view.confirmation.applicant, case.acceptance
    body: CounterCaseJSON = {
        **confirmation_to_json(case.view),  # type: ignore[typeddict-item]
        "applicant": None if applicant is None else {"name_masked": applicant.name_masked,
                                                     "id_number_masked": applicant.id_number_masked},
        "acceptance": None if acceptance is None else {
            "department": {"code": acceptance.department.code, "name": acceptance.department.name},
            "window": acceptance.window, "staff": mask_username(acceptance.staff.username),
            "accepted_at": iso(acceptance.accepted_at), "reopen_until": iso(acceptance.reopen_until)},
    }
    return body


@bp.post("/scan")
@staff_required(Role.COUNTER_STAFF)
@documented("Scan an applicant's counter code: the confirmed materials with full values (audited)", auth="staff",
            body=ScanRequest, response=CounterCaseJSON, errors=(403, 404, 409))
def scan() -> CounterCaseJSON:
    req = parse_json(ScanRequest)
    case = counter.scan(db.session(), current_app.extensions["protector"], staff=g.staff, actor=current_actor(),
                        token=req.token, now=now())
    return case_to_json(case)


@bp.post("/confirmations/<int:confirmation_id>/accept")
@staff_required(Role.COUNTER_STAFF)
@documented("Accept the scanned confirmation as the materials: receipt, applicant told, approval system fed",
            auth="staff", body=AcceptRequest, response=CounterCaseJSON, errors=(403, 404, 409))
def accept(confirmation_id: int) -> CounterCaseJSON:
    req = parse_json(AcceptRequest)
    case = counter.accept(db.session(), current_app.extensions["protector"], staff=g.staff, actor=current_actor(),
                          confirmation_id=confirmation_id, window=req.window,
                          signing_key=current_app.extensions["keys"].receipt_key, now=now())
    return case_to_json(case)


@bp.post("/confirmations/<int:confirmation_id>/paper-accepted")
@staff_required(Role.COUNTER_STAFF)
@documented("The counter took the paper application instead: the online confirmation is voided (作废)",
            auth="staff", body=AcceptRequest, response=CounterCaseJSON, errors=(403, 404, 409))
def paper_accepted(confirmation_id: int) -> CounterCaseJSON:
    req = parse_json(AcceptRequest)
    case = counter.record_paper_acceptance(db.session(), current_app.extensions["protector"], staff=g.staff,
                                           actor=current_actor(), confirmation_id=confirmation_id,
                                           window=req.window, now=now())
    return case_to_json(case)


@bp.get("/confirmations/<int:confirmation_id>")
@staff_required(Role.COUNTER_STAFF)
@documented("Reopen an accepted case's data, within 24 hours of acceptance (audited)", auth="staff",
            response=CounterCaseJSON, errors=(403, 404))
def reopen(confirmation_id: int) -> CounterCaseJSON:
    case = counter.reopen(db.session(), current_app.extensions["protector"], staff=g.staff, actor=current_actor(),
                          confirmation_id=confirmation_id, now=now())
    return case_to_json(case)


@bp.get("/confirmations/<int:confirmation_id>/receipt.pdf")
@staff_required(Role.COUNTER_STAFF)
@documented("The signed confirmation receipt (确认回执), one A4 page", auth="staff", content_type="application/pdf",
            errors=(403, 404, 409, 503))
def receipt_pdf(confirmation_id: int) -> Response:
    config: Config = current_app.extensions["config"]
    document = counter.print_receipt(db.session(), staff=g.staff, actor=current_actor(),
                                     confirmation_id=confirmation_id, font_path=config.receipt_font,
                                     public_base_url=config.public_base_url, now=now())
    return Response(document.pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="receipt-{document.receipt_no}.pdf"',
        "Cache-Control": "no-store"})
