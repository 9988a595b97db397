"""Material exemption (材料免交, rules 4-6): readiness, preview, confirm, the counter code, and staleness.

The applicant sees, for each material of a service item, the record that can replace it or why paper is
needed; previews exactly the values that will be shared (only the fields the material needs, with their
provenance); confirms, which freezes the snapshot (record ids, versions, values and salted digests) for
CONFIRMATION_TTL_DAYS; and gets a short-lived, single-use counter code to show at the counter.

Decisions:
- A confirmation is the applicant's own object: anyone else gets 404. For an enterprise, the applicant
  must be able to act for it in this service item at every step (preview, confirm, code, scan, accept).
- A material's record is the subject's (the enterprise's, or the person's own); in an enterprise's
  application a person-type material is the applicant's own record (the legal representative's ID card).
- Confirm freezes exactly what was previewed: if a record got a new version since the preview, confirm
  answers 409 `preview_required`. Revoked, expired or not-yet-valid records answer 409 `record_not_valid`,
  records under an open objection 409 `record_under_objection`, both at preview and at confirm.
- Confirm and the counter code's consumption are conditional UPDATEs: of two concurrent confirms one
  confirms and the other answers with the confirmed confirmation.
- `on_hold` is computed on each read from `objections.active_objections`, never stored.
- Digests are SHA-256 over the canonical JSON of a material's snapshot with a random salt, so that a
  digest printed on a receipt cannot be brute-forced back to low-entropy values.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from backend.clock import iso
from backend.db import Page, paginate
from backend.errors import Conflict, NotFound, ValidationError
from backend.models import (
    Applicant,
    CatalogStatus,
    Confirmation,
    ConfirmationItem,
    ConfirmationStatus,
    CounterCode,
    Material,
    Objection,
    Record,
    ServiceItem,
    SubjectType,
)
from backend.models.confirmation import ON_HOLD
from backend.protection import Protector
from backend.services import applicants, audit, enterprises, notifications, objections, wallet
from backend.services.audit import Actor, canonical_json
from backend.services.enterprises import IdentityRequired
from backend.services.retention import retention_end

if TYPE_CHECKING:
    from backend.services.record_changes import RecordChange

VALUES_CONTEXT = "confirmation_items.values_enc"
SUBJECT_ID_CONTEXT = "confirmations.subject_id_enc"
DRAFT_TTL = timedelta(days=7)
MAX_RECORDS = 50

SELF = "self"
# Why a material needs paper.
PAPER_ONLY = "paper_only"  # the material maps to no catalog item
NOT_SHARED = "not_shared"  # its catalog item is not (or no longer) published
NO_RECORD = "none"  # no record of the subject for it
NOT_CHOSEN = "not_chosen"  # a valid record exists, but the applicant did not include it
REASON_PRIORITY = (wallet.UNDER_OBJECTION, wallet.NOT_YET_VALID, wallet.EXPIRED, wallet.REVOKED)
# The system notices staleness while a department pushes; it is not the department's act.
WATCHER = Actor("system", "confirmations")


class PreviewRequired(Conflict):
    code = "preview_required"


class OnHold(Conflict):
    code = "on_hold"


class RecordNotValid(Conflict):
    code = "record_not_valid"


class RecordUnderObjection(Conflict):
    code = "record_under_objection"


class ConfirmationExpired(Conflict):
    code = "confirmation_expired"


class AuthorizationEnded(Conflict):
    code = "authorization_ended"


# --- who the application is for ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Subject:
    """Whom the application is for: the applicant, or an enterprise they may act for in this service item."""

    type: SubjectType
    index: str
    id: str  # the ID number or USCC in full: stored encrypted, shown masked
    masked: str
    name: str  # a person's name masked; an enterprise's name in full (public registration data)
    acting_as: str  # self | legal_representative | agent


def purpose_of(service_item: ServiceItem) -> str:
    """The audit purpose of every use of data in a confirmation: the service item it is for."""
    return f"service item {service_item.code} {service_item.name}"[:200]


def get_service_item(session: Session, code: str, *, field: str | None = None) -> ServiceItem:
    """The service item with its materials; 404 (or 422 naming `field`, when it came in a body) otherwise."""
    item = session.scalar(select(ServiceItem).where(ServiceItem.code == code).options(
        selectinload(ServiceItem.materials).selectinload(Material.catalog_item),
        selectinload(ServiceItem.approval_department)))
    if item is None:
        if field is not None:
            raise ValidationError("no such service item", fields={field: "no service item has this code"})
        raise NotFound("no such service item")
    return item


def _subject(session: Session, protector: Protector, *, applicant: Applicant, service_item: ServiceItem,
             uscc: str | None, now: datetime) -> Subject:
    if not applicant.is_verified or applicant.id_index is None:
        raise IdentityRequired("complete real-name verification first")
    if service_item.subject_type is SubjectType.PERSON:
        if uscc is not None:
            raise ValidationError("this service item is for persons",
                                  fields={"subject": "leave it out: this service item is for persons"})
        id_number = protector.decrypt(applicant.id_number_enc or "", context=applicants.ID_NUMBER_CONTEXT)
        return Subject(SubjectType.PERSON, applicant.id_index, id_number, applicant.id_number_masked or "",
                       applicant.name_masked or "", SELF)
    if uscc is None:
        raise ValidationError("this service item is for enterprises",
                              fields={"subject": "is required: the unified social credit code of the enterprise"})
    index = enterprises.uscc_index(protector, uscc, field="subject")
    acting = enterprises.acting_role(session, protector, applicant=applicant, uscc_index=index, now=now,
                                     service_item=service_item.code)
    if acting is None:
        # Not 403: whether an enterprise exists is not for an outsider to learn here.
        raise NotFound("no enterprise you may act for in this service item has this code")
    rep = acting.representative
    return Subject(SubjectType.ENTERPRISE, index, uscc.strip().upper(), rep.uscc_masked, rep.enterprise_name,
                   acting.role)


def _record_subject(material: Material, subject: Subject, applicant: Applicant) -> str | None:
    """Whose record can replace the material: the subject's, or in an enterprise's application the applicant's own."""
    item = material.catalog_item
    if item is None:
        return None
    if item.subject_type is subject.type:
        return subject.index
    if item.subject_type is SubjectType.PERSON:
        return applicant.id_index
    return None  # an enterprise's license in a person's application: nothing can replace it


def check_acting(session: Session, protector: Protector, confirmation: Confirmation, now: datetime, *,
                 undo: bool = False) -> None:
    """The applicant may still act for the confirmation's enterprise in its service item (409 otherwise).

    With `undo`, a refusal first rolls back what the use case wrote (it checks after its conditional update).
    """
    if confirmation.subject_type is not SubjectType.ENTERPRISE:
        return
    applicant = confirmation.applicant
    if (applicant is None or confirmation.subject_index is None or not enterprises.may_act_for(
            session, protector, applicant=applicant, uscc_index=confirmation.subject_index, now=now,
            service_item=confirmation.service_item.code)):
        if undo:
            session.rollback()
        raise AuthorizationEnded("the applicant may no longer act for this enterprise in this service item")


# --- readiness --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MaterialReadiness:
    """One material: the record that can replace it (`record` valid), or paper and why (`reason`)."""

    material: Material
    record: Record | None  # the best candidate, shown also when it cannot be used (expired, revoked...)
    record_status: str | None
    reason: str | None  # None: the record replaces the material


@dataclass(frozen=True)
class Readiness:
    service_item: ServiceItem
    subject: Subject
    materials: list[MaterialReadiness]

    @property
    def ready(self) -> bool:
        """Every material can be replaced by a record: no paper at all."""
        return all(m.reason is None for m in self.materials)


def _state(session: Session, record: Record, objected: Iterable[int], now: datetime) -> str:
    status = wallet.record_status(session, record, now)
    if status == wallet.VALID and record.id in objected:
        return wallet.UNDER_OBJECTION
    return status


def _best(candidates: list[tuple[Record, str]]) -> tuple[Record, str] | None:
    valid = [c for c in candidates if c[1] == wallet.VALID]
    if valid:
        return max(valid, key=lambda c: (c[0].updated_at, c[0].id))
    if not candidates:
        return None
    return min(candidates, key=lambda c: (REASON_PRIORITY.index(c[1]) if c[1] in REASON_PRIORITY else 99,
                                          -c[0].updated_at.timestamp(), -c[0].id))


def _assess(session: Session, *, applicant: Applicant, service_item: ServiceItem, subject: Subject,
            now: datetime) -> list[MaterialReadiness]:
    wanted = {(m.catalog_item_id, _record_subject(m, subject, applicant)) for m in service_item.materials
              if m.catalog_item is not None and m.catalog_item.status is CatalogStatus.PUBLISHED}
    wanted = {(item, index) for item, index in wanted if index is not None}
    records: list[Record] = []
    if wanted:
        records = list(session.scalars(select(Record).where(
            Record.catalog_item_id.in_({item for item, _ in wanted}),
            Record.subject_index.in_({index for _, index in wanted}))
            .options(selectinload(Record.catalog_item), selectinload(Record.department))).all())
    objected = objections.active_objections(session, [r.id for r in records])
    candidates: dict[tuple[int, str], list[tuple[Record, str]]] = defaultdict(list)
    for record in records:
        candidates[(record.catalog_item_id, record.subject_index)].append((record, _state(session, record, objected,
                                                                                           now)))
    assessed = []
    for material in service_item.materials:
        item = material.catalog_item
        if item is None:
            assessed.append(MaterialReadiness(material, None, None, PAPER_ONLY))
            continue
        if item.status is not CatalogStatus.PUBLISHED:
            assessed.append(MaterialReadiness(material, None, None, NOT_SHARED))
            continue
        index = _record_subject(material, subject, applicant)
        best = _best(candidates.get((item.id, index), [])) if index is not None else None
        if best is None:
            assessed.append(MaterialReadiness(material, None, None, NO_RECORD))
        else:
            record, status = best
            assessed.append(MaterialReadiness(material, record, status, None if status == wallet.VALID else status))
    return assessed


def readiness(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor, service_item: str,
              uscc: str | None, now: datetime) -> Readiness:
    """For each material of the service item: the valid record that can replace it, or paper and why (audited)."""
    item = get_service_item(session, service_item)
    subject = _subject(session, protector, applicant=applicant, service_item=item, uscc=uscc, now=now)
    materials = _assess(session, applicant=applicant, service_item=item, subject=subject, now=now)
    audit.record(session, actor=actor, action="confirmation.readiness_viewed", now=now,
                 subject_index=subject.index, purpose=purpose_of(item),
                 details={"service_item": item.code,
                          "records": sorted(m.record.id for m in materials if m.record is not None)})
    session.commit()
    return Readiness(item, subject, materials)


# --- the snapshot -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hold:
    """An open objection that holds the confirmation."""

    record_id: int
    material: str
    field: str
    filed_at: datetime


@dataclass(frozen=True)
class MaterialView:
    item: ConfirmationItem
    values: dict[str, Any] | None  # None: not shown here, or removed by the retention run


@dataclass(frozen=True)
class ConfirmationView:
    """A confirmation as shown: its status now (with `on_hold`/`expired`), holds, materials (values when shown)."""

    confirmation: Confirmation
    status: str
    holds: list[Hold]
    materials: list[MaterialView]
    values_shown: bool


def item_digest(*, salt: str, catalog_item: str, record_id: int, version: int, values: dict[str, Any]) -> str:
    """SHA-256 of one material's salted canonical snapshot."""
    return hashlib.sha256(canonical_json({"salt": salt, "catalog_item": catalog_item, "record": record_id,
                                          "version": version, "values": values})).hexdigest()


def snapshot_digest(confirmation: Confirmation) -> str:
    """SHA-256 of the whole frozen snapshot: service item, subject, and each material's record, version and digest."""
    materials = [
        {"position": i.position, "material": i.material_name, "paper": i.paper_reason}
        if i.is_paper else
        {"position": i.position, "material": i.material_name, "record": i.record_id, "version": i.record_version,
         "digest": i.digest}
        for i in confirmation.items
    ]
    return hashlib.sha256(canonical_json({
        "confirmation": confirmation.id, "service_item": confirmation.service_item.code,
        "subject": {"type": confirmation.subject_type.value, "id_masked": confirmation.subject_masked},
        "materials": materials})).hexdigest()


def _snapshot_item(protector: Protector, material: Material, record: Record, subject_index: str) -> ConfirmationItem:
    """The material's minimum-necessary values from the record's latest version, with per-field provenance."""
    latest, values = wallet.current_fields(protector, record)
    spec_keys = [f["key"] for f in latest.catalog_version.fields]
    keys = list(material.field_keys) or spec_keys
    shared = [v for v in values if v.key in keys]
    shared.sort(key=lambda v: keys.index(v.key))
    plain = {v.key: v.value for v in shared}
    salt = secrets.token_hex(16)
    assert material.catalog_item is not None
    return ConfirmationItem(
        position=material.position, material_name=material.name, catalog_item_id=record.catalog_item_id,
        record_id=record.id, record_version=record.latest_version, source_department_id=record.department_id,
        record_subject_type=record.subject_type, record_subject_index=subject_index,
        fields=[{"key": v.key, "label": v.label, "type": v.type, "sensitive": v.sensitive, "version": v.version,
                 "change": v.change, "produced_at": iso(v.produced_at), "received_at": iso(v.received_at),
                 "catalog_version": v.catalog_version} for v in shared],
        values_enc=protector.encrypt(json.dumps(plain, ensure_ascii=False, sort_keys=True), context=VALUES_CONTEXT),
        salt=salt, digest=item_digest(salt=salt, catalog_item=material.catalog_item.code, record_id=record.id,
                                      version=record.latest_version, values=plain))


def subject_id(protector: Protector, confirmation: Confirmation) -> str | None:
    """The subject's ID number or USCC in full (None after the retention run)."""
    if confirmation.subject_id_enc is None:
        return None
    return protector.decrypt(confirmation.subject_id_enc, context=SUBJECT_ID_CONTEXT)


def item_values(protector: Protector, item: ConfirmationItem) -> dict[str, Any] | None:
    """The frozen values of one material (None for paper, and after the retention run)."""
    if item.values_enc is None:
        return None
    values: dict[str, Any] = json.loads(protector.decrypt(item.values_enc, context=VALUES_CONTEXT))
    return values


def holds_of(session: Session, confirmations: Sequence[Confirmation]) -> dict[int, list[Hold]]:
    """The open objections holding each confirmation, in one query for all of them."""
    record_ids = [i.record_id for c in confirmations for i in c.items if i.record_id is not None]
    open_: dict[int, Objection] = objections.active_objections(session, record_ids)
    held: dict[int, list[Hold]] = {}
    for confirmation in confirmations:
        held[confirmation.id] = [
            Hold(i.record_id, i.material_name, open_[i.record_id].field, open_[i.record_id].filed_at)
            for i in confirmation.items if i.record_id is not None and i.record_id in open_]
    return held


def view_of(session: Session, protector: Protector, confirmation: Confirmation, now: datetime, *,
            values: bool, holds: list[Hold] | None = None) -> ConfirmationView:
    """The confirmation as shown now; decrypts its values only when `values`."""
    if holds is None:
        holds = holds_of(session, [confirmation])[confirmation.id]
    return ConfirmationView(
        confirmation=confirmation, status=confirmation.shown_status(now, held=bool(holds)), holds=holds,
        materials=[MaterialView(i, item_values(protector, i) if values else None) for i in confirmation.items],
        values_shown=values)


def refusal(view: ConfirmationView) -> Conflict:
    """Why a confirmation that is not plainly `confirmed` cannot be used now (the error to raise)."""
    confirmation, status = view.confirmation, view.status
    if status == ON_HOLD:
        reasons = "; ".join(f"{h.material}: an objection on field {h.field} is open" for h in view.holds)
        return OnHold(f"on hold until the objections are decided ({reasons})",
                      fields={"confirmation_id": str(confirmation.id), "reason": reasons})
    if status == ConfirmationStatus.STALE.value:
        return PreviewRequired("the data changed after it was confirmed; the applicant must preview and confirm again",
                               fields={"confirmation_id": str(confirmation.id)})
    if status == ConfirmationStatus.EXPIRED.value:
        return ConfirmationExpired(f"the confirmation expired at {iso(confirmation.expires_at)}; preview again")
    if status == ConfirmationStatus.DRAFT.value:
        return Conflict("the preview is not confirmed yet", code="not_confirmed")
    if status == ConfirmationStatus.ACCEPTED.value:
        return Conflict("the confirmation was already accepted", code="already_accepted")
    if status == ConfirmationStatus.VOIDED.value:
        return Conflict("the confirmation was voided: the counter accepted the paper application",
                        code="confirmation_voided")
    return Conflict(f"the confirmation is {status}")


def _own(session: Session, applicant: Applicant, confirmation_id: int) -> Confirmation:
    confirmation = session.scalar(select(Confirmation).where(Confirmation.id == confirmation_id,
                                                             Confirmation.applicant_id == applicant.id))
    if confirmation is None:
        raise NotFound("no such confirmation")
    return confirmation


def _audit_details(confirmation: Confirmation, **extra: Any) -> dict[str, Any]:
    return {"service_item": confirmation.service_item.code,
            "records": [[i.record_id, i.record_version] for i in confirmation.items if i.record_id is not None],
            **extra}


# --- preview and confirm ----------------------------------------------------------------------------------

def _refuse_unusable(material_name: str, status: str) -> None:
    if status == wallet.UNDER_OBJECTION:
        raise RecordUnderObjection(f"{material_name}: an objection on this record is open; it cannot be shared "
                                   "until the source department decides")
    if status != wallet.VALID:
        raise RecordNotValid(f"{material_name}: the record is {status.replace('_', ' ')} and cannot be shared")


def create_confirmation(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor,
                        service_item: str, uscc: str | None, record_ids: Sequence[int],
                        now: datetime) -> ConfirmationView:
    """A draft showing exactly the values that would be shared, with provenance; only the fields materials need."""
    item = get_service_item(session, service_item, field="service_item")
    subject = _subject(session, protector, applicant=applicant, service_item=item, uscc=uscc, now=now)
    if len(set(record_ids)) != len(record_ids):
        raise ValidationError("a record is named twice", fields={"record_ids": "must be distinct"})
    records = [wallet.get_visible_record(session, protector, applicant=applicant, record_id=record_id, now=now)
               for record_id in record_ids]
    assessed = {m.material.position: m for m in _assess(session, applicant=applicant, service_item=item,
                                                        subject=subject, now=now)}
    chosen: dict[int, Record] = {}
    for index, record in enumerate(records):
        material = next((m for m in item.materials if m.position not in chosen and m.catalog_item is not None
                         and m.catalog_item_id == record.catalog_item_id
                         and m.catalog_item.status is CatalogStatus.PUBLISHED
                         and _record_subject(m, subject, applicant) == record.subject_index), None)
        if material is None:
            raise ValidationError("a record replaces no material of this service item", fields={
                f"record_ids.{index}": "replaces no (other) material of this service item for this subject"})
        chosen[material.position] = record
    objected = objections.active_objections(session, [r.id for r in records])
    for material in item.materials:
        if material.position in chosen:
            _refuse_unusable(material.name, _state(session, chosen[material.position], objected, now))
    confirmation = Confirmation(
        applicant_id=applicant.id, service_item_id=item.id, acting_as=subject.acting_as, subject_type=subject.type,
        subject_index=subject.index, subject_id_enc=protector.encrypt(subject.id, context=SUBJECT_ID_CONTEXT),
        subject_masked=subject.masked, subject_name=subject.name[:200],
        status=ConfirmationStatus.DRAFT, created_at=now, expires_at=now + DRAFT_TTL)
    confirmation.service_item = item
    for material in item.materials:
        picked = chosen.get(material.position)
        if picked is not None:
            confirmation.items.append(_snapshot_item(protector, material, picked, picked.subject_index))
            continue
        reason = assessed[material.position].reason or NOT_CHOSEN
        confirmation.items.append(ConfirmationItem(
            position=material.position, material_name=material.name, catalog_item_id=material.catalog_item_id,
            fields=[], paper_reason=reason))
    session.add(confirmation)
    session.flush()
    audit.record(session, actor=actor, action="confirmation.previewed", now=now, target_type="confirmation",
                 target_id=confirmation.id, subject_index=subject.index, purpose=purpose_of(item),
                 details=_audit_details(confirmation, acting_as=subject.acting_as))
    session.commit()
    return view_of(session, protector, confirmation, now, values=True, holds=[])


def confirm(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor, confirmation_id: int,
            ttl_days: int, now: datetime) -> ConfirmationView:
    """Freeze the previewed snapshot for `ttl_days`; a second (or concurrent) confirm answers the confirmed one."""
    confirmation = _own(session, applicant, confirmation_id)
    if confirmation.status is ConfirmationStatus.CONFIRMED:
        return view_of(session, protector, confirmation, now, values=True)
    view = view_of(session, protector, confirmation, now, values=False, holds=[])
    if view.status != ConfirmationStatus.DRAFT.value:
        raise refusal(view)
    items = [i for i in confirmation.items if i.record_id is not None]
    records = {r.id: r for r in session.scalars(select(Record).where(Record.id.in_([i.record_id for i in items])))}
    objected = objections.active_objections(session, records)
    for item in items:
        record = records[item.record_id]  # type: ignore[index]
        _refuse_unusable(item.material_name, _state(session, record, objected, now))
        if record.latest_version != item.record_version:
            raise PreviewRequired(f"{item.material_name}: the record changed after your preview; preview again")
    digest = snapshot_digest(confirmation)
    won = session.execute(
        update(Confirmation)
        .where(Confirmation.id == confirmation.id, Confirmation.status == ConfirmationStatus.DRAFT)
        .values(status=ConfirmationStatus.CONFIRMED, confirmed_at=now, snapshot_digest=digest,
                expires_at=now + timedelta(days=ttl_days), retain_until=retention_end(now))
        .execution_options(synchronize_session=False)).rowcount == 1  # type: ignore[attr-defined]
    if not won:
        # Another request confirmed (or something else changed it) first: answer with what it is now.
        session.commit()
        session.refresh(confirmation)
        if confirmation.status is ConfirmationStatus.CONFIRMED:
            return view_of(session, protector, confirmation, now, values=True)
        raise refusal(view_of(session, protector, confirmation, now, values=False))
    session.refresh(confirmation)
    # Checked once the row is ours (a refusal rolls the update back) so that every writer locks the
    # confirmation before the audit chain's head, which ending an authorization appends to.
    check_acting(session, protector, confirmation, now, undo=True)
    audit.record(session, actor=actor, action="confirmation.confirmed", now=now, target_type="confirmation",
                 target_id=confirmation.id, subject_index=confirmation.subject_index,
                 purpose=purpose_of(confirmation.service_item),
                 details=_audit_details(confirmation, snapshot_digest=digest,
                                        expires_at=iso(confirmation.expires_at)))
    session.commit()
    return view_of(session, protector, confirmation, now, values=True, holds=[])


def get_confirmation(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor,
                     confirmation_id: int, now: datetime) -> ConfirmationView:
    """One of the applicant's confirmations with its frozen values (audited); another user's is a 404."""
    confirmation = _own(session, applicant, confirmation_id)
    view = view_of(session, protector, confirmation, now, values=True)
    audit.record(session, actor=actor, action="confirmation.viewed", now=now, target_type="confirmation",
                 target_id=confirmation.id, subject_index=confirmation.subject_index,
                 purpose=purpose_of(confirmation.service_item))
    session.commit()
    return view


def list_confirmations(session: Session, protector: Protector, *, applicant: Applicant, page: int, per_page: int,
                       now: datetime) -> Page[ConfirmationView]:
    """The applicant's confirmations, newest first, each with its status now; no values in the list."""
    query = (select(Confirmation).where(Confirmation.applicant_id == applicant.id)
             .options(selectinload(Confirmation.items), selectinload(Confirmation.service_item))
             .order_by(Confirmation.created_at.desc(), Confirmation.id.desc()))
    found = paginate(session, query, page=page, per_page=per_page)
    holds = holds_of(session, found.items)
    return Page([view_of(session, protector, c, now, values=False, holds=holds[c.id]) for c in found.items],
                found.total, found.page, found.per_page)


# --- the counter code -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuedCode:
    confirmation: Confirmation
    token: str  # shown once; only its SHA-256 is stored
    expires_at: datetime
    png_base64: str


def token_hash(token: str) -> str:
    """What is stored of a counter code: its SHA-256 (the token itself has 256 random bits)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def qr_png(data: str) -> bytes:
    """A QR code PNG; version 4 (up to 62 bytes at level M) and mask fixed so that nothing is searched."""
    fixed = len(data.encode("utf-8")) <= 62
    code = qrcode.QRCode(version=4 if fixed else None, error_correction=ERROR_CORRECT_M, box_size=8, border=4,
                         mask_pattern=0 if fixed else None)
    code.add_data(data)
    code.make(fit=not fixed)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def issue_counter_code(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor,
                       confirmation_id: int, ttl_seconds: int, now: datetime) -> IssuedCode:
    """A fresh single-use token (256 random bits, no personal data) valid `ttl_seconds`; older live codes end."""
    confirmation = _own(session, applicant, confirmation_id)
    view = view_of(session, protector, confirmation, now, values=False)
    if view.status != ConfirmationStatus.CONFIRMED.value:
        raise refusal(view)
    check_acting(session, protector, confirmation, now)
    session.execute(update(CounterCode).where(
        CounterCode.confirmation_id == confirmation.id, CounterCode.used_at.is_(None),
        CounterCode.superseded_at.is_(None)).values(superseded_at=now).execution_options(synchronize_session=False))
    token = secrets.token_urlsafe(32)
    expires_at = min(now + timedelta(seconds=ttl_seconds), confirmation.expires_at)
    code = CounterCode(confirmation_id=confirmation.id, token_hash=token_hash(token), issued_at=now,
                       expires_at=expires_at)
    session.add(code)
    session.flush()
    audit.record(session, actor=actor, action="counter_code.issued", now=now, target_type="confirmation",
                 target_id=confirmation.id, subject_index=confirmation.subject_index,
                 details={"code": code.id, "expires_at": iso(expires_at)})
    session.commit()
    return IssuedCode(confirmation, token, expires_at, base64.b64encode(qr_png(token)).decode("ascii"))


# --- staleness --------------------------------------------------------------------------------------------

def on_record_changes(session: Session, protector: Protector, *, changes: Sequence[RecordChange],
                      now: datetime) -> None:
    """Confirmed, not yet accepted confirmations using these records turn stale; their applicants are told (flushes).

    One query finds the confirmations for the whole batch; each one turns stale once, however many of its
    records the batch changes.
    """
    newest: dict[int, int] = {}
    for change in changes:
        newest[change.record_id] = max(change.version, newest.get(change.record_id, 0))
    if not newest:
        return
    rows = session.execute(
        select(ConfirmationItem.confirmation_id, ConfirmationItem.record_id, ConfirmationItem.record_version)
        .join(Confirmation, Confirmation.id == ConfirmationItem.confirmation_id)
        .where(ConfirmationItem.record_id.in_(newest), Confirmation.status == ConfirmationStatus.CONFIRMED,
               Confirmation.expires_at > now)).all()
    changed: dict[int, set[int]] = defaultdict(set)
    for confirmation_id, record_id, version in rows:
        if record_id is not None and version is not None and newest[record_id] > version:
            changed[confirmation_id].add(record_id)
    if not changed:
        return
    session.execute(update(Confirmation).where(
        Confirmation.id.in_(changed), Confirmation.status == ConfirmationStatus.CONFIRMED)
        .values(status=ConfirmationStatus.STALE, stale_at=now).execution_options(synchronize_session=False))
    stale = session.scalars(select(Confirmation).where(
        Confirmation.id.in_(changed), Confirmation.status == ConfirmationStatus.STALE, Confirmation.stale_at == now)
        .options(selectinload(Confirmation.service_item), selectinload(Confirmation.items))
        .execution_options(populate_existing=True)).all()
    for confirmation in stale:
        materials = [i.material_name for i in confirmation.items if i.record_id in changed[confirmation.id]]
        if confirmation.applicant_id is not None:
            notifications.notify_applicant(
                session, protector, applicant_id=confirmation.applicant_id, event="confirmation_stale",
                title="共享材料已更新，请重新确认",
                body=(f"您为「{confirmation.service_item.name}」确认的材料（{'、'.join(materials)}）已由数源部门更新，"
                      "原确认已失效，请重新预览并确认。")[:500],
                data={"confirmation_id": confirmation.id, "service_item": confirmation.service_item.code,
                      "item": confirmation.service_item.name, "note": "材料已更新，请重新确认", "at": iso(now)},
                now=now)
        audit.record(session, actor=WATCHER, action="confirmation.stale", now=now, target_type="confirmation",
                     target_id=confirmation.id, subject_index=confirmation.subject_index,
                     details={"records": sorted(changed[confirmation.id])})
    session.flush()
