"""The counter (窗口, rules 5 and 6): scan a counter code, accept, take paper instead, reopen, print the receipt.

Only counter staff of the service item's approval department act on a confirmation; anyone else gets 403,
and the attempt is audited with the subject's blind index (purpose limitation). Every view of the
confirmed values is audited once per subject whose data it shows (the enterprise's, and the applicant's
own when a material is theirs), with the service item as purpose and the fields shown, so that
`GET /api/mp/access-log` can tell each person and enterprise who used what.

Decisions:
- Scanning checks department, code (superseded/used → `code_used`/`code_expired`, half-open expiry) and the
  confirmation (stale → `preview_required`, on hold → `on_hold` with the reason, expired, voided...) before it
  consumes the code with one conditional UPDATE: of concurrent scans exactly one consumes it; a refused
  scan leaves the code usable.
- Accepting needs a consumed code of this confirmation (the applicant was at the counter) and a confirmed,
  not held, not expired confirmation; it is a conditional UPDATE too. A repeated (or concurrent) accept by
  the department answers with the one acceptance: one receipt, one notification, one webhook.
- The case's data can be reopened for 24 hours after acceptance (half-open), then 403.
- `paper-accepted` voids a confirmed, stale or lapsed confirmation (the counter took the paper application
  instead) and tells the applicant; voiding twice answers the voided confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.clock import iso
from backend.errors import Conflict, Forbidden, NotFound
from backend.models import (
    Acceptance,
    Confirmation,
    ConfirmationStatus,
    CounterCode,
    Receipt,
    StaffAccount,
    SubjectType,
)
from backend.protection import Protector, mask_username
from backend.services import applicants, audit, notifications, receipts
from backend.services.audit import Actor
from backend.services.confirmations import (
    ConfirmationView,
    check_acting,
    item_values,
    purpose_of,
    refusal,
    subject_id,
    token_hash,
    view_of,
)
from backend.services.retention import retention_end

REOPEN_WINDOW = timedelta(hours=24)


class CodeUsed(Conflict):
    code = "code_used"


class CodeExpired(Conflict):
    code = "code_expired"


class OtherDepartment(Forbidden):
    code = "other_department"


@dataclass(frozen=True)
class CounterCase:
    """A confirmation as counter staff see it: the applicant masked, the values when shown, the acceptance."""

    view: ConfirmationView
    acceptance: Acceptance | None


def _case(session: Session, protector: Protector, confirmation: Confirmation, now: datetime, *,
          values: bool) -> CounterCase:
    return CounterCase(view_of(session, protector, confirmation, now, values=values), confirmation.acceptance)


def _uses(confirmation: Confirmation, staff: StaffAccount, **extra: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """Audit details of a use of the values, one per subject whose data it touches (for the access log)."""
    service_item = confirmation.service_item
    department = service_item.approval_department
    per_subject: dict[str | None, list[dict[str, Any]]] = {}
    for item in confirmation.items:
        if item.record_id is None:
            continue
        per_subject.setdefault(item.record_subject_index, []).append({
            "material": item.material_name, "catalog_item": item.catalog_item.code if item.catalog_item else None,
            "record": item.record_id, "version": item.record_version,
            "fields": [{"key": f["key"], "label": f["label"]} for f in item.fields]})
    if not per_subject:
        per_subject[confirmation.subject_index] = []
    base = {"confirmation": confirmation.id, "applicant": confirmation.applicant_id,
            "service_item": {"code": service_item.code, "name": service_item.name},
            "department": {"code": department.code, "name": department.name},
            "staff": mask_username(staff.username), **extra}
    return [(index, {**base, "subject_type": (confirmation.subject_type.value if index == confirmation.subject_index
                                              else SubjectType.PERSON.value),
                     "materials": materials}) for index, materials in per_subject.items()]


def _record_use(session: Session, *, actor: Actor, action: str, confirmation: Confirmation, staff: StaffAccount,
                now: datetime, **extra: Any) -> None:
    for subject_index, details in _uses(confirmation, staff, **extra):
        audit.record(session, actor=actor, action=action, now=now, target_type="confirmation",
                     target_id=confirmation.id, subject_index=subject_index,
                     purpose=purpose_of(confirmation.service_item), details=details)


def _require_department(session: Session, *, staff: StaffAccount, actor: Actor, confirmation: Confirmation,
                        attempted: str, now: datetime) -> None:
    """Staff of another department get 403; the attempt is audited (and committed) first."""
    if staff.department_id is not None and staff.department_id == confirmation.service_item.approval_department_id:
        return
    for subject_index, details in _uses(confirmation, staff, attempted=attempted, outcome="refused"):
        details.pop("materials")
        audit.record(session, actor=actor, action="counter.refused", now=now, target_type="confirmation",
                     target_id=confirmation.id, subject_index=subject_index,
                     purpose=purpose_of(confirmation.service_item), details=details)
    session.commit()
    raise OtherDepartment("this service item is handled by another department: its data is not yours to see")


def _confirmation(session: Session, confirmation_id: int) -> Confirmation:
    confirmation = session.get(Confirmation, confirmation_id)
    if confirmation is None:
        raise NotFound("no such confirmation")
    return confirmation


def scan(session: Session, protector: Protector, *, staff: StaffAccount, actor: Actor, token: str,
         now: datetime) -> CounterCase:
    """The confirmed materials with full values, if the code is live and the service item is this department's."""
    code = session.scalar(select(CounterCode).where(CounterCode.token_hash == token_hash(token)))
    if code is None:
        raise NotFound("no such counter code: ask the applicant to show a fresh one", code="code_not_found")
    confirmation = code.confirmation
    _require_department(session, staff=staff, actor=actor, confirmation=confirmation, attempted="scan", now=now)
    if code.used_at is not None:
        raise CodeUsed("this counter code was already used; ask the applicant for a fresh one")
    if code.superseded_at is not None or code.is_expired(now):
        raise CodeExpired("this counter code expired; ask the applicant to show a fresh one")
    view = view_of(session, protector, confirmation, now, values=False)
    if view.status != ConfirmationStatus.CONFIRMED.value:
        raise refusal(view)
    won = session.execute(
        update(CounterCode)
        .where(CounterCode.id == code.id, CounterCode.used_at.is_(None), CounterCode.superseded_at.is_(None))
        .values(used_at=now, used_by_id=staff.id)
        .execution_options(synchronize_session=False)).rowcount == 1  # type: ignore[attr-defined]
    if not won:
        raise CodeUsed("this counter code was already used; ask the applicant for a fresh one")
    # Checked once the code is ours (a refusal rolls the consumption back): every writer then locks the
    # code before the audit chain's head, never the other way round.
    check_acting(session, protector, confirmation, now, undo=True)
    _record_use(session, actor=actor, action="counter.scanned", confirmation=confirmation, staff=staff, now=now,
                code=code.id)
    session.commit()
    return _case(session, protector, confirmation, now, values=True)


def accept(session: Session, protector: Protector, *, staff: StaffAccount, actor: Actor, confirmation_id: int,
           window: str | None, signing_key: Ed25519PrivateKey, now: datetime) -> CounterCase:
    """Accept the confirmation as the materials: acceptance, signed receipt, the applicant told, the webhook queued."""
    confirmation = _confirmation(session, confirmation_id)
    _require_department(session, staff=staff, actor=actor, confirmation=confirmation, attempted="accept", now=now)
    if confirmation.status is ConfirmationStatus.ACCEPTED:
        return _case(session, protector, confirmation, now, values=False)
    view = view_of(session, protector, confirmation, now, values=False)
    if view.status != ConfirmationStatus.CONFIRMED.value:
        raise refusal(view)
    if session.scalar(select(CounterCode.id).where(CounterCode.confirmation_id == confirmation.id,
                                                   CounterCode.used_at.is_not(None)).limit(1)) is None:
        raise Conflict("scan the applicant's counter code first", code="scan_required")
    won = session.execute(
        update(Confirmation)
        .where(Confirmation.id == confirmation.id, Confirmation.status == ConfirmationStatus.CONFIRMED)
        .values(status=ConfirmationStatus.ACCEPTED, accepted_at=now, retain_until=retention_end(now))
        .execution_options(synchronize_session=False)).rowcount == 1  # type: ignore[attr-defined]
    if not won:
        # A concurrent accept (or a push making it stale) came first: answer with what it is now.
        session.commit()
        session.refresh(confirmation)
        if confirmation.status is ConfirmationStatus.ACCEPTED:
            return _case(session, protector, confirmation, now, values=False)
        raise refusal(view_of(session, protector, confirmation, now, values=False))
    session.refresh(confirmation)
    check_acting(session, protector, confirmation, now, undo=True)  # after the update, as in `scan`
    department = confirmation.service_item.approval_department
    acceptance = Acceptance(confirmation_id=confirmation.id, staff_id=staff.id, department_id=department.id,
                            window=window, accepted_at=now, reopen_until=now + REOPEN_WINDOW)
    acceptance.staff, acceptance.department = staff, department
    session.add(acceptance)
    session.flush()
    receipt = receipts.issue_receipt(session, signing_key=signing_key, confirmation=confirmation,
                                     acceptance=acceptance, now=now)
    service_item = confirmation.service_item
    if confirmation.applicant_id is not None:
        notifications.notify_applicant(
            session, protector, applicant_id=confirmation.applicant_id, event="accepted", title="办件已受理",
            body=(f"您的「{service_item.name}」已由{department.name}受理，共享材料无需再交纸质件。"
                  f"回执编号 {receipt.receipt_no}。")[:500],
            data={"confirmation_id": confirmation.id, "receipt_no": receipt.receipt_no,
                  "service_item": service_item.code, "item": service_item.name, "result": "已受理",
                  "department": department.name, "at": iso(now)}, now=now)
    notifications.enqueue_webhook(session, protector, department_id=department.id, event="confirmation.accepted",
                                  payload=_webhook_payload(protector, confirmation, acceptance, receipt), now=now)
    _record_use(session, actor=actor, action="counter.accepted", confirmation=confirmation, staff=staff, now=now,
                window=window, receipt_no=receipt.receipt_no)
    session.commit()
    return _case(session, protector, confirmation, now, values=False)


def _webhook_payload(protector: Protector, confirmation: Confirmation, acceptance: Acceptance,
                     receipt: Receipt) -> dict[str, Any]:
    """What the approval system gets: the confirmed data in full, for this approval only."""
    applicant = confirmation.applicant
    applicant_json: dict[str, Any] | None = None
    if applicant is not None and applicant.name_enc and applicant.id_number_enc:
        applicant_json = {
            "name": protector.decrypt(applicant.name_enc, context=applicants.NAME_CONTEXT),
            "id_number": protector.decrypt(applicant.id_number_enc, context=applicants.ID_NUMBER_CONTEXT),
        }
    service_item = confirmation.service_item
    return {
        "event": "confirmation.accepted",
        "confirmation_id": confirmation.id,
        "receipt_no": receipt.receipt_no,
        "service_item": {"code": service_item.code, "name": service_item.name},
        "applicant": applicant_json,
        "acting_as": confirmation.acting_as,
        "subject": {"type": confirmation.subject_type.value, "name": confirmation.subject_name,
                    "id": subject_id(protector, confirmation)},
        "snapshot_digest": confirmation.snapshot_digest,
        "confirmed_at": iso(confirmation.confirmed_at),
        "accepted": {"at": iso(acceptance.accepted_at), "department": acceptance.department.code,
                     "window": acceptance.window, "staff_id": acceptance.staff_id},
        "materials": [
            {"position": item.position, "name": item.material_name, "paper": item.paper_reason}
            if item.is_paper else
            {"position": item.position, "name": item.material_name,
             "catalog_item": item.catalog_item.code if item.catalog_item else None,
             "source_department": item.source_department.code if item.source_department else None,
             "record_id": item.record_id, "record_version": item.record_version, "digest": item.digest,
             "fields": [{"key": f["key"], "label": f["label"]} for f in item.fields],
             "values": item_values(protector, item)}
            for item in confirmation.items
        ],
    }


def record_paper_acceptance(session: Session, protector: Protector, *, staff: StaffAccount, actor: Actor,
                            confirmation_id: int, window: str | None, now: datetime) -> CounterCase:
    """The counter took the paper application instead: the online confirmation is voided and the applicant told."""
    confirmation = _confirmation(session, confirmation_id)
    _require_department(session, staff=staff, actor=actor, confirmation=confirmation, attempted="paper_accepted",
                        now=now)
    voidable = [ConfirmationStatus.CONFIRMED, ConfirmationStatus.STALE, ConfirmationStatus.EXPIRED]
    if confirmation.status is ConfirmationStatus.VOIDED:
        return _case(session, protector, confirmation, now, values=False)
    if confirmation.status not in voidable:
        raise refusal(view_of(session, protector, confirmation, now, values=False))
    won = session.execute(
        update(Confirmation).where(Confirmation.id == confirmation.id, Confirmation.status.in_(voidable))
        .values(status=ConfirmationStatus.VOIDED, voided_at=now, void_reason="paper_accepted",
                retain_until=retention_end(now))
        .execution_options(synchronize_session=False)).rowcount == 1  # type: ignore[attr-defined]
    if not won:
        session.commit()
        session.refresh(confirmation)
        if confirmation.status is ConfirmationStatus.VOIDED:
            return _case(session, protector, confirmation, now, values=False)
        raise refusal(view_of(session, protector, confirmation, now, values=False))
    session.refresh(confirmation)
    session.execute(update(CounterCode).where(
        CounterCode.confirmation_id == confirmation.id, CounterCode.used_at.is_(None),
        CounterCode.superseded_at.is_(None)).values(superseded_at=now).execution_options(synchronize_session=False))
    service_item = confirmation.service_item
    department = service_item.approval_department
    if confirmation.applicant_id is not None:
        notifications.notify_applicant(
            session, protector, applicant_id=confirmation.applicant_id, event="confirmation_voided",
            title="线上确认已作废",
            body=(f"{department.name}已按纸质材料受理您的「{service_item.name}」申请，"
                  "该事项的线上共享确认已作废。")[:500],
            data={"confirmation_id": confirmation.id, "service_item": service_item.code,
                  "item": service_item.name, "note": "窗口已按纸质材料受理", "reason": "paper_accepted",
                  "at": iso(now)}, now=now)
    audit.record(session, actor=actor, action="counter.paper_accepted", now=now, target_type="confirmation",
                 target_id=confirmation.id, subject_index=confirmation.subject_index,
                 purpose=purpose_of(service_item),
                 details={"window": window, "department": department.code, "staff": mask_username(staff.username)})
    session.commit()
    return _case(session, protector, confirmation, now, values=False)


def reopen(session: Session, protector: Protector, *, staff: StaffAccount, actor: Actor, confirmation_id: int,
           now: datetime) -> CounterCase:
    """The accepted case's data again, for the department's staff within 24 hours of acceptance (audited)."""
    confirmation = _confirmation(session, confirmation_id)
    _require_department(session, staff=staff, actor=actor, confirmation=confirmation, attempted="reopen", now=now)
    acceptance = confirmation.acceptance
    if acceptance is None:
        raise Forbidden("only an accepted case can be reopened; scan the applicant's counter code",
                        code="not_accepted")
    if not acceptance.may_reopen(now):
        raise Forbidden(f"the case could be reopened until {iso(acceptance.reopen_until)}, 24 hours after acceptance",
                        code="reopen_window_closed")
    _record_use(session, actor=actor, action="counter.reopened", confirmation=confirmation, staff=staff, now=now)
    session.commit()
    return _case(session, protector, confirmation, now, values=True)


@dataclass(frozen=True)
class ReceiptDocument:
    receipt_no: str
    pdf: bytes


def print_receipt(session: Session, *, staff: StaffAccount, actor: Actor, confirmation_id: int, font_path: str,
                  public_base_url: str, now: datetime) -> ReceiptDocument:
    """The accepted confirmation's receipt as a one-page PDF (audited); the department's staff only."""
    confirmation = _confirmation(session, confirmation_id)
    _require_department(session, staff=staff, actor=actor, confirmation=confirmation, attempted="receipt", now=now)
    receipt = session.scalar(select(Receipt).where(Receipt.confirmation_id == confirmation.id))
    if receipt is None:
        raise Conflict("only an accepted confirmation has a receipt", code="not_accepted")
    pdf = receipts.render_pdf(receipt, font_path=font_path, public_base_url=public_base_url)
    audit.record(session, actor=actor, action="receipt.printed", now=now, target_type="receipt",
                 target_id=receipt.receipt_no, subject_index=confirmation.subject_index,
                 purpose=purpose_of(confirmation.service_item))
    session.commit()
    return ReceiptDocument(receipt.receipt_no, pdf)
