"""The applicant's data and licenses (rule 4), and the card wallet (卡包) of bound licenses.

An applicant sees the records of the subjects they may act for: their own (the record's subject index is
their verified ID's blind index) and those of enterprises they act for (`enterprises.acting_role`). Lists
show identifiers and names masked, also to their owner; the detail shows full values with each field's
provenance and is audited with its purpose. Anything else answers 404, never 403.

Statuses, decided with the app's clock on the Shanghai calendar day: `revoked` (注销), `expired` (past
`valid_until`), `not_yet_valid` (before `valid_from`), `under_objection`, `valid`. A revoked or expired
record never shows as valid, also through a binding made while it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.db import Page, paginate
from backend.errors import Conflict, NotFound, ValidationError
from backend.models import (
    ACTIVE_OBJECTION_STATUSES,
    Applicant,
    Binding,
    ItemKind,
    Objection,
    Record,
    RecordStatus,
    RecordVersion,
    SubjectType,
)
from backend.protection import Protector, mask_name
from backend.services import audit, enterprises
from backend.services.audit import Actor
from backend.services.enterprises import IdentityRequired, today

FIELDS_CONTEXT = "record_versions.fields_enc"
SUBJECT_ID_CONTEXT = "records.subject_id_enc"
SUBJECT_NAME_CONTEXT = "record_versions.subject_name_enc"

VALID = "valid"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
REVOKED = "revoked"
UNDER_OBJECTION = "under_objection"

_ABSENT = object()

PURPOSE_OWN = "applicant views own record (wallet)"
PURPOSE_ENTERPRISE = "applicant views enterprise record as {role} (wallet)"


@dataclass(frozen=True)
class WalletRecord:
    """A record as lists show it: the subject's identifier masked, its live status."""

    record: Record
    status: str
    # A person's name masked; an enterprise's name in full (public registration data, 公示).
    subject_name_shown: str


@dataclass(frozen=True)
class FieldValue:
    """One field's full value and where it came from: the version that last set it."""

    key: str
    label: str
    type: str
    sensitive: bool
    value: Any
    version: int
    change: str
    produced_at: datetime
    received_at: datetime
    catalog_version: int


@dataclass(frozen=True)
class RecordDetail:
    record: Record
    status: str
    subject_id: str
    subject_name: str
    latest: RecordVersion
    fields: list[FieldValue]
    purpose: str


@dataclass(frozen=True)
class WalletBinding:
    binding: Binding
    record: WalletRecord


def objected_records(session: Session, record_ids: Iterable[int]) -> set[int]:
    """Which of these records have an objection open or awaiting its correction (one query)."""
    ids = list(set(record_ids))
    if not ids:
        return set()
    return set(session.scalars(select(Objection.record_id).where(
        Objection.record_id.in_(ids), Objection.status.in_(ACTIVE_OBJECTION_STATUSES))))


def under_objection(session: Session, record: Record) -> bool:
    """Is an objection on this record open or awaiting its correction? Then it shows so to everyone."""
    return record.id in objected_records(session, [record.id])


def record_status(session: Session, record: Record, now: datetime, *, objected: bool | None = None) -> str:
    """The record's status for the applicant today: revoked, expired, not_yet_valid, under_objection or valid.

    `objected` says whether it is under objection when the caller already knows (lists ask once for all).
    """
    if record.status is RecordStatus.REVOKED:
        return REVOKED
    day = today(now)
    if record.valid_until is not None and day > record.valid_until:
        return EXPIRED
    if record.valid_from is not None and day < record.valid_from:
        return NOT_YET_VALID
    if objected if objected is not None else under_objection(session, record):
        return UNDER_OBJECTION
    return VALID


def access_purpose(session: Session, protector: Protector, *, applicant: Applicant, record: Record,
                   now: datetime) -> str | None:
    """Why `applicant` may see `record` (the audit purpose), or None when they may not (flushes ends noticed)."""
    if not applicant.is_verified:
        return None
    if record.subject_index == applicant.id_index:
        return PURPOSE_OWN
    if record.subject_type is SubjectType.ENTERPRISE:
        acting = enterprises.acting_role(session, protector, applicant=applicant, uscc_index=record.subject_index,
                                         now=now)
        if acting is not None:
            return PURPOSE_ENTERPRISE.format(role=acting.role)
    return None


def get_visible_record(session: Session, protector: Protector, *, applicant: Applicant, record_id: int,
                       now: datetime) -> Record:
    """The record if `applicant` may see it, else 404 (also for records that exist); audits nothing."""
    record = session.get(Record, record_id)
    if record is None or access_purpose(session, protector, applicant=applicant, record=record, now=now) is None:
        raise NotFound("no such record")
    return record


def _latest_versions(session: Session, records: Sequence[Record]) -> dict[int, RecordVersion]:
    if not records:
        return {}
    rows = session.scalars(select(RecordVersion).join(Record, and_(
        RecordVersion.record_id == Record.id, RecordVersion.version == Record.latest_version)).where(
        Record.id.in_([r.id for r in records])))
    return {version.record_id: version for version in rows}


def _wallet_records(session: Session, protector: Protector, records: Sequence[Record],
                    now: datetime) -> list[WalletRecord]:
    latest = _latest_versions(session, records)
    objected = objected_records(session, [r.id for r in records])
    names: dict[str, str] = {}
    entries = []
    for record in records:
        version = latest[record.id]
        token = version.subject_name_enc
        if token not in names:
            name = protector.decrypt(token, context=SUBJECT_NAME_CONTEXT)
            names[token] = mask_name(name) if record.subject_type is SubjectType.PERSON else name
        entries.append(WalletRecord(record, record_status(session, record, now, objected=record.id in objected),
                                    names[token]))
    return entries


def _subject_of_list(session: Session, protector: Protector, applicant: Applicant, uscc: str | None,
                     now: datetime) -> tuple[str, str]:
    if not applicant.is_verified or applicant.id_index is None:
        raise IdentityRequired("complete real-name verification to see your data and licenses")
    if uscc is None:
        return applicant.id_index, PURPOSE_OWN
    index = enterprises.uscc_index(protector, uscc, field="subject")
    acting = enterprises.acting_role(session, protector, applicant=applicant, uscc_index=index, now=now)
    if acting is None:
        # Not 403: whether an enterprise exists is not for an outsider to learn here.
        raise NotFound("no enterprise you may act for has this code")
    return index, PURPOSE_ENTERPRISE.format(role=acting.role)


def list_records(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor, uscc: str | None,
                 page: int, per_page: int, now: datetime) -> Page[WalletRecord]:
    """The applicant's own records, or (with `uscc`) those of an enterprise they act for; masked, audited."""
    subject_index, purpose = _subject_of_list(session, protector, applicant, uscc, now)
    query = (select(Record).where(Record.subject_index == subject_index)
             .options(selectinload(Record.catalog_item), selectinload(Record.department))
             .order_by(Record.updated_at.desc(), Record.id.desc()))
    found = paginate(session, query, page=page, per_page=per_page)
    entries = _wallet_records(session, protector, found.items, now)
    audit.record(session, actor=actor, action="wallet.records_listed", now=now, subject_index=subject_index,
                 purpose=purpose, details={"page": page, "records": [r.id for r in found.items]})
    session.commit()
    return Page(entries, found.total, found.page, found.per_page)


def _fields(protector: Protector, record: Record) -> tuple[RecordVersion, list[FieldValue]]:
    """Current values and, per field, the version that set the value it has now."""
    plain: dict[str, dict[str, Any]] = {}
    versions = list(record.versions)
    for version in versions:
        if version.fields_enc not in plain:  # a revocation repeats the ciphertext of the version before
            loaded = json.loads(protector.decrypt(version.fields_enc, context=FIELDS_CONTEXT))
            plain[version.fields_enc] = loaded if isinstance(loaded, dict) else {}
    latest = versions[-1]
    spec = latest.catalog_version.fields
    listed = [f["key"] for f in spec]
    listed += sorted({k for values in plain.values() for k in values} - set(listed))
    # A field's value (or its absence) comes from the first version of the run that has said it since.
    origin: dict[str, RecordVersion] = {}
    previous: dict[str, Any] | None = None
    for version in versions:
        values = plain[version.fields_enc]
        for key in listed:
            if previous is None or previous.get(key, _ABSENT) != values.get(key, _ABSENT):
                origin[key] = version
        previous = values
    current = plain[latest.fields_enc]
    described = {f["key"]: f for f in spec}
    fields = []
    for key in listed:
        source = origin[key]
        described_field = described.get(key, {})
        fields.append(FieldValue(
            key=key, label=described_field.get("label", key), type=described_field.get("type", "string"),
            sensitive=bool(described_field.get("sensitive")), value=current.get(key), version=source.version,
            change=source.change.value, produced_at=source.produced_at, received_at=source.received_at,
            catalog_version=source.catalog_version.version))
    return latest, fields


def current_fields(protector: Protector, record: Record) -> tuple[RecordVersion, list[FieldValue]]:
    """The record's latest version and every field's current value with the version that set it (provenance)."""
    return _fields(protector, record)


def get_record(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor, record_id: int,
               now: datetime) -> RecordDetail:
    """One record in full with per-field provenance, if the applicant may see it (404 otherwise); audited."""
    record = session.get(Record, record_id)
    purpose = None if record is None else access_purpose(session, protector, applicant=applicant, record=record,
                                                          now=now)
    if record is None or purpose is None:
        raise NotFound("no such record")
    latest, fields = _fields(protector, record)
    detail = RecordDetail(
        record=record, status=record_status(session, record, now),
        subject_id=protector.decrypt(record.subject_id_enc, context=SUBJECT_ID_CONTEXT),
        subject_name=protector.decrypt(latest.subject_name_enc, context=SUBJECT_NAME_CONTEXT),
        latest=latest, fields=fields, purpose=purpose)
    audit.record(session, actor=actor, action="wallet.record_viewed", now=now, target_type="record",
                 target_id=record.id, subject_index=record.subject_index, purpose=purpose,
                 details={"version": record.latest_version})
    session.commit()
    return detail


# --- the card wallet --------------------------------------------------------------------------------------

def add_binding(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor, record_id: int,
                now: datetime) -> WalletBinding:
    """Put a valid license the applicant may see into their wallet; once per license."""
    record = get_visible_record(session, protector, applicant=applicant, record_id=record_id, now=now)
    if record.catalog_item.kind is not ItemKind.LICENSE:
        raise ValidationError("only licenses go into the card wallet", code="not_a_license",
                              fields={"record_id": "is not a license"})
    status = record_status(session, record, now)
    if status != VALID:
        raise Conflict(f"this license is {status.replace('_', ' ')}; only a valid one can be bound",
                       code="record_not_valid")
    if session.scalar(select(Binding.id).where(Binding.applicant_id == applicant.id,
                                               Binding.record_id == record.id)) is not None:
        raise Conflict("this license is already in your wallet", code="already_bound")
    binding = Binding(applicant_id=applicant.id, record_id=record.id, created_at=now)
    try:
        with session.begin_nested():
            session.add(binding)
    except IntegrityError:
        raise Conflict("this license is already in your wallet", code="already_bound") from None
    audit.record(session, actor=actor, action="wallet.binding_added", now=now, target_type="binding",
                 target_id=binding.id, subject_index=record.subject_index, details={"record": record.id})
    session.commit()
    return WalletBinding(binding, _wallet_records(session, protector, [record], now)[0])


def list_bindings(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor, page: int,
                  per_page: int, now: datetime) -> Page[WalletBinding]:
    """The wallet, newest first, each license with its status today.

    A binding of an enterprise the applicant no longer acts for is kept but not shown (it shows again if
    they are authorized again).
    """
    visible: list[str] = []
    if applicant.is_verified and applicant.id_index is not None:
        visible.append(applicant.id_index)
        visible += [e.uscc_index for e in enterprises.acting_enterprises(session, protector, applicant=applicant,
                                                                         now=now)]
    query = (select(Binding).join(Record, Binding.record_id == Record.id)
             .where(Binding.applicant_id == applicant.id, Record.subject_index.in_(visible))
             .options(selectinload(Binding.record).selectinload(Record.catalog_item),
                      selectinload(Binding.record).selectinload(Record.department))
             .order_by(Binding.created_at.desc(), Binding.id.desc()))
    found = paginate(session, query, page=page, per_page=per_page)
    records = _wallet_records(session, protector, [b.record for b in found.items], now)
    if found.items:
        audit.record(session, actor=actor, action="wallet.bindings_listed", now=now,
                     details={"page": page, "records": [b.record_id for b in found.items]})
    session.commit()
    return Page([WalletBinding(b, r) for b, r in zip(found.items, records, strict=True)], found.total, found.page,
                found.per_page)


def remove_binding(session: Session, *, applicant: Applicant, actor: Actor, binding_id: int, now: datetime) -> None:
    """Take a license out of the wallet (the record itself is untouched); another user's binding is a 404."""
    binding = session.scalar(select(Binding).where(Binding.id == binding_id, Binding.applicant_id == applicant.id))
    if binding is None:
        raise NotFound("no such binding")
    subject_index = binding.record.subject_index
    record_id = binding.record_id
    session.delete(binding)
    audit.record(session, actor=actor, action="wallet.binding_removed", now=now, target_type="binding",
                 target_id=binding_id, subject_index=subject_index, details={"record": record_id})
    session.commit()
