"""Records pushed by their source department (rules 1 and 2).

Each record of a batch is validated against its catalog item's published spec; the accepted ones are
written together in one transaction (new record, new version, never an overwrite), the rejected ones are
kept with their reasons, and each version notes whether it arrived by the end of the first working day
after it was produced. A batch runs under an Idempotency-Key: a retry gets the first answer back.

Decisions:
- One data, one source: a batch naming any item of another source department is refused whole (403
  `not_source`), before anything is written; an unknown, draft or retired item only rejects its records.
- A record that says exactly what its latest version says (same fields, name and validity, still valid)
  adds no version: it is accepted with the existing version and `unchanged: true`.
- A record named twice in one batch is rejected each time: the batch does not say which state is newer.
- Revoking a revoked record is accepted as unchanged.

Speed: one query for the batch's items, one for its existing records (with their latest versions), bulk
inserts and updates, and one working-day deadline per produced date; never a query per record.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NotRequired

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError
from typing_extensions import TypedDict

from backend.clock import SHANGHAI, iso
from backend.errors import AppError, Conflict, Forbidden, ValidationError
from backend.models import (
    SUBJECT_INDEX_KIND,
    CatalogItem,
    CatalogStatus,
    CatalogVersion,
    ChangeKind,
    Department,
    PushOperation,
    PushRequest,
    Record,
    RecordRejection,
    RecordStatus,
    RecordVersion,
    SubjectType,
)
from backend.models.catalog import FieldType
from backend.protection import Protector, mask_identifier
from backend.services import audit, catalog, record_changes, workdays
from backend.services.audit import Actor
from backend.services.record_changes import RecordChange

MAX_BATCH = 1000
# A produced_at this far ahead of the server's clock is still accepted (the source's clock may run fast).
FUTURE_SKEW = timedelta(minutes=5)
DEADLINE_WORKING_DAYS = 1
MAX_RECORD_NO = 100
MAX_SUBJECT_NAME = 100
MAX_REASON = 200
MAX_CODE = 64
REPORT_EXAMPLES = 5
REPORT_DEFAULT_DAYS = 30
REPORT_MAX_DAYS = 366

SUBJECT_ID_CONTEXT = "records.subject_id_enc"
FIELDS_CONTEXT = "record_versions.fields_enc"
SUBJECT_NAME_CONTEXT = "record_versions.subject_name_enc"

PUSH_KEYS = frozenset({"catalog_item", "record_no", "subject_id", "subject_name", "fields", "produced_at",
                       "valid_from", "valid_until", "objection_id"})
REVOKE_KEYS = frozenset({"catalog_item", "record_no", "reason", "revoked_at"})

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS_17 = re.compile(r"^[0-9]{17}")

IS_REQUIRED = "is required"


class BatchTooLarge(AppError):
    status = 413
    code = "batch_too_large"


class NotSource(Forbidden):
    code = "not_source"


class IdempotencyMismatch(Conflict):
    code = "idempotency_mismatch"


class ConcurrentPush(Conflict):
    code = "concurrent_push"


# --- the answer (stored and replayed as it is) -----------------------------------------------------------

class RecordResultJSON(TypedDict):
    index: int
    catalog_item: str | None
    record_no: str | None
    status: str  # accepted | rejected
    record_id: NotRequired[int | None]
    version: NotRequired[int]
    change: NotRequired[str | None]  # new | change | revoke; None when unchanged
    unchanged: NotRequired[bool]
    due_at: NotRequired[str | None]
    on_time: NotRequired[bool | None]  # None: the calendar of the deadline's year is not loaded
    errors: NotRequired[dict[str, str]]


class PushResultJSON(TypedDict):
    operation: str
    idempotency_key: str
    received_at: str | None
    accepted: int
    rejected: int
    unchanged: int
    results: list[RecordResultJSON]


@dataclass(frozen=True)
class PushOutcome:
    """A push's answer; `replayed` when it is the stored answer to an earlier request with the same key."""

    body: PushResultJSON
    replayed: bool


# --- shared machinery ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Spec:
    item: CatalogItem
    version: CatalogVersion
    fields: dict[str, dict[str, Any]]
    subject_name_field: str | None


@dataclass
class _Existing:
    id: int
    subject_index: str
    latest_version: int
    status: RecordStatus
    valid_from: date | None
    valid_until: date | None
    catalog_version_id: int
    fields_enc: str
    subject_name_enc: str
    filled_fields: list[str]


@dataclass
class _Batch:
    """What one batch loaded once: its items (by code) and the existing records it names."""

    department: Department
    items: dict[str, CatalogItem]
    specs: dict[int, _Spec] = field(default_factory=dict)
    existing: dict[tuple[int, str], _Existing] = field(default_factory=dict)
    deadlines: dict[date, datetime | None] = field(default_factory=dict)


def _check_batch(entries: Sequence[Any]) -> None:
    if len(entries) > MAX_BATCH:
        raise BatchTooLarge(f"a batch holds at most {MAX_BATCH} records; this one has {len(entries)}: split it",
                            fields={"records": f"at most {MAX_BATCH} records per request"})
    if not entries:
        raise ValidationError("the batch is empty", fields={"records": "at least one record"})


def _stored(session: Session, department: Department, key: str) -> PushRequest | None:
    return session.scalar(select(PushRequest).where(PushRequest.department_id == department.id,
                                                    PushRequest.idempotency_key == key))


def _replay(stored: PushRequest, operation: PushOperation, digest: str) -> PushOutcome:
    if stored.operation is not operation or stored.request_digest != digest:
        raise IdempotencyMismatch("this Idempotency-Key was used for a different request; use a new key",
                                  fields={"Idempotency-Key": "already used with another body"})
    return PushOutcome(stored.response, replayed=True)  # type: ignore[arg-type]


def _code(entry: Any) -> str | None:
    code = entry.get("catalog_item") if isinstance(entry, Mapping) else None
    return code[:MAX_CODE] if isinstance(code, str) and code else None


def _load_items(session: Session, entries: Sequence[Any]) -> dict[str, CatalogItem]:
    wanted = {code for code in map(_code, entries) if code is not None}
    if not wanted:
        return {}
    return {item.code: item for item in session.scalars(select(CatalogItem).where(CatalogItem.code.in_(wanted)))}


def _check_sources(entries: Sequence[Any], items: Mapping[str, CatalogItem], department: Department) -> None:
    foreign: dict[str, str] = {}
    codes: set[str] = set()
    for index, entry in enumerate(entries):
        code = _code(entry)
        item = items.get(code) if code is not None else None
        if item is not None and item.source_department_id != department.id:
            foreign[f"records.{index}.catalog_item"] = f"{item.code} is provided by another department"
            codes.add(item.code)
    if foreign:
        raise NotSource(f"one data, one source: only the source department may push {', '.join(sorted(codes))}; "
                        "nothing of this request was written", fields=foreign)


def _claim(session: Session, *, department: Department, key: str, operation: PushOperation, digest: str,
           now: datetime) -> PushRequest | PushOutcome:
    """Take the Idempotency-Key first: a concurrent retry waits on it, then replays our answer."""
    claim = PushRequest(department_id=department.id, idempotency_key=key, operation=operation,
                        request_digest=digest, accepted=0, rejected=0, response={}, received_at=now)
    session.add(claim)
    try:
        session.flush()
    except IntegrityError:
        # Nothing of ours is written yet; a new transaction sees the retry that won.
        session.rollback()
        stored = _stored(session, department, key)
        if stored is None:
            raise ConcurrentPush("a push with this Idempotency-Key is in progress; retry shortly") from None
        return _replay(stored, operation, digest)
    return claim


def _spec_of(session: Session, batch: _Batch, item: CatalogItem) -> _Spec:
    spec = batch.specs.get(item.id)
    if spec is None:
        version = catalog.published_version(session, item)
        spec = _Spec(item, version, {f["key"]: f for f in version.fields}, version.subject_name_field)
        batch.specs[item.id] = spec
    return spec


def _item_errors(session: Session, batch: _Batch, entry: Mapping[str, Any]) -> tuple[_Spec | None, dict[str, str]]:
    if _is_blank(entry.get("catalog_item")):
        return None, {"catalog_item": IS_REQUIRED}
    code = _code(entry)
    if code is None:
        return None, {"catalog_item": "must be a string"}
    item = batch.items.get(code)
    if item is None:
        return None, {"catalog_item": "no catalog item has this code"}
    if item.status is CatalogStatus.DRAFT:
        return None, {"catalog_item": "is not published yet: it takes no records"}
    if item.status is CatalogStatus.RETIRED:
        return None, {"catalog_item": "is retired: it takes no new records"}
    return _spec_of(session, batch, item), {}


def _record_no(value: Any, errors: dict[str, str]) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        errors["record_no"] = IS_REQUIRED
        return None
    if not isinstance(value, str):
        errors["record_no"] = "must be a string"
        return None
    value = value.strip()
    if len(value) > MAX_RECORD_NO:
        errors["record_no"] = f"must be at most {MAX_RECORD_NO} characters"
    elif _CONTROL.search(value):
        errors["record_no"] = "must not contain control characters"
    return value


def _moment(value: Any, name: str, now: datetime, errors: dict[str, str], *, required: bool) -> datetime | None:
    if value is None:
        if required:
            errors[name] = IS_REQUIRED
        return None
    if not isinstance(value, str):
        errors[name] = "must be an ISO 8601 date-time string"
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        errors[name] = "must be an ISO 8601 date-time with offset, e.g. 2026-03-02T09:30:00+08:00"
        return None
    if moment.tzinfo is None:
        errors[name] = "must carry a UTC offset, e.g. +08:00"
        return None
    moment = moment.astimezone(UTC)
    if moment > now + FUTURE_SKEW:
        errors[name] = "is in the future"
        return None
    return moment


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _optional_date(value: Any, name: str, errors: dict[str, str]) -> date | None:
    if value is None or value == "":
        return None
    parsed = _parse_date(value)
    if parsed is None:
        errors[name] = "must be a date (YYYY-MM-DD)"
    return parsed


@lru_cache(maxsize=16384)
def _area_code_known(area: str, birth_year: str) -> bool:
    try:
        ric.get_birth_place(f"{area}{birth_year}0101000")
    except InvalidComponent:
        return False
    return True


def _validate_id_number(number: str) -> None:
    """`stdnum.cn.ric.validate`, step by step, with the area-code lookup (most of its time) cached."""
    if len(number) != 18:
        raise InvalidLength()
    if not _DIGITS_17.match(number):
        raise InvalidFormat()
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidChecksum()
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidComponent() from None
    if not _area_code_known(number[:6], number[6:10]):
        raise InvalidComponent()


def _subject_id(value: Any, subject_type: SubjectType, errors: dict[str, str]) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        errors["subject_id"] = IS_REQUIRED
        return None
    if not isinstance(value, str):
        errors["subject_id"] = "must be a string"
        return None
    number = value.strip().upper()
    kind = "ID number (GB 11643)" if subject_type is SubjectType.PERSON else "unified social credit code (GB 32100)"
    try:
        if subject_type is SubjectType.PERSON:
            _validate_id_number(number)
        else:
            uscc.validate(number)
    except InvalidChecksum:
        errors["subject_id"] = f"the check digit of this {kind} is wrong"
    except InvalidLength:
        errors["subject_id"] = f"an {kind} has 18 characters" if subject_type is SubjectType.PERSON \
            else f"a {kind} has 18 characters"
    except InvalidComponent:
        errors["subject_id"] = f"the birth date or area code of this {kind} is not valid"
    except StdnumError:
        errors["subject_id"] = f"is not a valid {kind}"
    return number


def _field_value(spec: Mapping[str, Any], value: Any) -> tuple[Any, str | None]:
    """The value to store, or the reason it is refused."""
    kind = spec["type"]
    if kind == FieldType.STRING:
        if not isinstance(value, str):
            return None, "must be a string"
        value = value.strip()
        limit = spec.get("max_length")
        if limit is not None and len(value) > limit:
            return None, f"must be at most {limit} characters"
        return value, None
    if kind == FieldType.DATE:
        parsed = _parse_date(value)
        if parsed is None:
            return None, "must be a date (YYYY-MM-DD)"
        return parsed.isoformat(), None
    if kind == FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None, "must be a number"
        return value, None
    if kind == FieldType.BOOLEAN:
        if not isinstance(value, bool):
            return None, "must be true or false"
        return value, None
    if kind == FieldType.ENUM:
        allowed = spec.get("enum") or []
        if not isinstance(value, str) or value.strip() not in allowed:
            return None, "must be one of: " + ", ".join(allowed)
        return value.strip(), None
    return None, "has a type this server does not know"


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _field_values(spec: _Spec, raw: Any, errors: dict[str, str]) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        errors["fields"] = "must be an object of field values"
        return {}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        field_spec = spec.fields.get(key)
        if field_spec is None:
            errors[str(key)[:MAX_CODE]] = "is not a field of this catalog item"
        elif not _is_blank(value):
            stored, problem = _field_value(field_spec, value)
            if problem is not None:
                errors[key] = problem
            else:
                values[key] = stored
    for key, field_spec in spec.fields.items():
        if field_spec.get("required") and key not in values and key not in errors:
            errors[key] = IS_REQUIRED
    return values


def _unknown_keys(entry: Mapping[str, Any], known: frozenset[str], errors: dict[str, str]) -> None:
    for key in entry:
        if key not in known:
            errors[str(key)[:MAX_CODE]] = "is not a known field"


def _deadline(session: Session, batch: _Batch, produced_at: datetime) -> datetime | None:
    day = produced_at.astimezone(SHANGHAI).date()
    if day not in batch.deadlines:
        try:
            due: datetime | None = workdays.working_deadline(session, after=produced_at,
                                                             working_days=DEADLINE_WORKING_DAYS)
        except workdays.CalendarUnknown:
            # Never a guess: the administrator sees the missing year and the version says "unknown".
            due = None
        batch.deadlines[day] = due
    return batch.deadlines[day]


def _timeliness(session: Session, batch: _Batch, produced_at: datetime, now: datetime) -> tuple[
        datetime | None, bool | None]:
    due = _deadline(session, batch, produced_at)
    return due, (None if due is None else not workdays.is_late(now, due))


def _load_existing(session: Session, batch: _Batch, keys: set[tuple[int, str]]) -> None:
    if not keys:
        return
    latest = and_(RecordVersion.record_id == Record.id, RecordVersion.version == Record.latest_version)
    rows = session.execute(
        select(Record.catalog_item_id, Record.record_no, Record.id, Record.subject_index, Record.latest_version,
               Record.status, Record.valid_from, Record.valid_until, RecordVersion.catalog_version_id,
               RecordVersion.fields_enc, RecordVersion.subject_name_enc, RecordVersion.filled_fields)
        .join(RecordVersion, latest)
        .where(_by_item(keys))
    )
    for item_id, record_no, *latest_state in rows:
        batch.existing[(item_id, record_no)] = _Existing(*latest_state)


def _duplicates(keys: Sequence[tuple[int, str] | None]) -> set[tuple[int, str]]:
    seen: set[tuple[int, str]] = set()
    repeated: set[tuple[int, str]] = set()
    for key in keys:
        if key is not None:
            (repeated if key in seen else seen).add(key)
    return repeated


def _fields_json(values: Mapping[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass
class _Writes:
    """Rows of one batch, written together at the end."""

    new_records: list[dict[str, Any]] = field(default_factory=list)
    # Versions of new records wait for their record ids; keyed by (item id, record_no).
    new_versions: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    record_updates: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    # Results of new records, completed with their ids once inserted.
    pending: dict[tuple[int, str], RecordResultJSON] = field(default_factory=dict)


def _rejected(index: int, entry: Any, errors: dict[str, str]) -> RecordResultJSON:
    record_no = entry.get("record_no") if isinstance(entry, Mapping) else None
    return {"index": index, "catalog_item": _code(entry),
            "record_no": record_no.strip()[:MAX_RECORD_NO] if isinstance(record_no, str) else None,
            "status": "rejected", "errors": errors}


def _accepted(index: int, code: str, record_no: str, *, record_id: int | None, version: int,
              change: ChangeKind | None, due_at: datetime | None = None,
              on_time: bool | None = None) -> RecordResultJSON:
    # A new record's id is filled in once the batch is inserted.
    result: RecordResultJSON = {"index": index, "catalog_item": code, "record_no": record_no, "status": "accepted",
                                "record_id": record_id, "version": version,
                                "change": change.value if change else None, "unchanged": change is None}
    if change is not None:
        result["due_at"], result["on_time"] = iso(due_at), on_time
    return result


def _run(session: Session, protector: Protector, *, actor: Actor, department: Department, operation: PushOperation,
         entries: Sequence[Any], idempotency_key: str, request_digest: str, now: datetime,
         handle: Callable[[Session, _Batch, Sequence[Any], _Writes, datetime], list[RecordResultJSON]]
         ) -> PushOutcome:
    _check_batch(entries)
    stored = _stored(session, department, idempotency_key)
    if stored is not None:
        return _replay(stored, operation, request_digest)
    batch = _Batch(department, _load_items(session, entries))
    _check_sources(entries, batch.items, department)
    claim = _claim(session, department=department, key=idempotency_key, operation=operation,
                   digest=request_digest, now=now)
    if isinstance(claim, PushOutcome):
        return claim
    writes = _Writes()
    results = handle(session, batch, entries, writes, now)
    try:
        _write(session, writes, claim_id=claim.id)
    except IntegrityError as exc:
        session.rollback()
        raise ConcurrentPush("another push changed these records at the same moment; nothing was written; "
                             "retry with the same Idempotency-Key") from exc
    record_changes.apply(session, protector, now=now, changes=[
        RecordChange(v["record_id"], v["version"], v["change"], v.get("objection_id")) for v in writes.versions])
    body = _body(operation, idempotency_key, results, now)
    claim.accepted, claim.rejected, claim.response = body["accepted"], body["rejected"], dict(body)
    audit.record(session, actor=actor, action=f"records.{operation.value}", now=now, target_type="push_request",
                 target_id=claim.id, details=_audit_details(batch, results, idempotency_key))
    session.commit()
    return PushOutcome(body, replayed=False)


def _write(session: Session, writes: _Writes, *, claim_id: int) -> None:
    # Sorted, so that two batches touching the same records lock them in the same order.
    if writes.new_records:
        writes.new_records.sort(key=lambda r: (r["catalog_item_id"], r["record_no"]))
        session.execute(insert(Record), writes.new_records)
        for key, record_id in _new_ids(session, list(writes.new_versions)).items():
            writes.new_versions[key]["record_id"] = record_id
            writes.pending[key]["record_id"] = record_id
        writes.versions.extend(writes.new_versions.values())
    if writes.record_updates:
        writes.record_updates.sort(key=lambda r: r["id"])
        session.execute(update(Record), writes.record_updates)
    if writes.versions:
        writes.versions.sort(key=lambda v: (v["record_id"], v["version"]))
        session.execute(insert(RecordVersion), writes.versions)
    if writes.rejections:
        for row in writes.rejections:
            row["push_request_id"] = claim_id
        session.execute(insert(RecordRejection), writes.rejections)


def _by_item(keys: Iterable[tuple[int, str]]) -> Any:
    """`(item, record_no) IN ...` as one condition per item (the unique index serves each)."""
    numbers: dict[int, list[str]] = defaultdict(list)
    for item_id, record_no in keys:
        numbers[item_id].append(record_no)
    return or_(*(and_(Record.catalog_item_id == item_id, Record.record_no.in_(nos))
                 for item_id, nos in numbers.items()))


def _new_ids(session: Session, keys: list[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """The ids of the records this batch just inserted (one query: portable where RETURNING is not)."""
    rows = session.execute(select(Record.catalog_item_id, Record.record_no, Record.id).where(_by_item(keys)))
    found = {(item_id, record_no): record_id for item_id, record_no, record_id in rows}
    return {key: found[key] for key in keys}


def _body(operation: PushOperation, key: str, results: list[RecordResultJSON], now: datetime) -> PushResultJSON:
    accepted = sum(1 for r in results if r["status"] == "accepted")
    return {
        "operation": operation.value,
        "idempotency_key": key,
        "received_at": iso(now),
        "accepted": accepted,
        "rejected": len(results) - accepted,
        "unchanged": sum(1 for r in results if r.get("unchanged")),
        "results": results,
    }


def _audit_details(batch: _Batch, results: list[RecordResultJSON], key: str) -> dict[str, Any]:
    counts: dict[str, int] = defaultdict(int)
    for result in results:
        if result["status"] == "rejected":
            counts["rejected"] += 1
        elif result.get("unchanged"):
            counts["unchanged"] += 1
        else:
            counts[str(result.get("change"))] += 1
            on_time = result.get("on_time")
            counts["on_time" if on_time else "late" if on_time is False else "lateness_unknown"] += 1
    items = sorted({r["catalog_item"] for r in results if r["catalog_item"] in batch.items})
    return {"idempotency_key": key, "records": len(results), "items": items, **dict(sorted(counts.items()))}


def _rejection_row(batch: _Batch, operation: PushOperation, result: RecordResultJSON,
                   now: datetime) -> dict[str, Any]:
    code = result["catalog_item"]
    item = batch.items.get(code) if code else None
    return {"department_id": batch.department.id, "operation": operation,
            "catalog_item_id": item.id if item is not None else None,
            "catalog_item_code": code[:64] if code else None, "record_no": result["record_no"],
            "errors": result.get("errors", {}), "received_at": now}


# --- push (新增、变更) --------------------------------------------------------------------------------------

@dataclass
class _Valid:
    spec: _Spec
    record_no: str
    subject_id: str
    subject_index: str
    subject_name: str
    values: dict[str, Any]
    produced_at: datetime
    valid_from: date | None
    valid_until: date | None
    objection_id: int | None


def _check_push(session: Session, protector: Protector, batch: _Batch, entry: Any,
                now: datetime) -> tuple[_Valid | None, dict[str, str]]:
    if not isinstance(entry, Mapping):
        return None, {"record": "must be an object"}
    errors: dict[str, str] = {}
    _unknown_keys(entry, PUSH_KEYS, errors)
    spec, item_errors = _item_errors(session, batch, entry)
    errors.update(item_errors)
    record_no = _record_no(entry.get("record_no"), errors)
    produced_at = _moment(entry.get("produced_at"), "produced_at", now, errors, required=True)
    valid_from = _optional_date(entry.get("valid_from"), "valid_from", errors)
    valid_until = _optional_date(entry.get("valid_until"), "valid_until", errors)
    if valid_from and valid_until and valid_from > valid_until:
        errors["valid_until"] = "must not be before valid_from"
    objection_id = entry.get("objection_id")
    if objection_id is not None and (isinstance(objection_id, bool) or not isinstance(objection_id, int)
                                     or objection_id < 1):
        errors["objection_id"] = "must be a positive whole number"
    raw_name = entry.get("subject_name")
    if raw_name is not None and not isinstance(raw_name, str):
        errors["subject_name"] = "must be a string"
        raw_name = None
    if spec is None:
        return None, errors
    subject_id = _subject_id(entry.get("subject_id"), spec.item.subject_type, errors)
    name = raw_name.strip() if raw_name else ""
    raw_fields = entry.get("fields")
    named = spec.subject_name_field
    if named and name and (raw_fields is None or isinstance(raw_fields, Mapping)) and _is_blank(
            (raw_fields or {}).get(named)):
        raw_fields = {**(raw_fields or {}), named: name}  # the name field may be left to subject_name
    values = _field_values(spec, raw_fields, errors)
    subject_name = _subject_name(spec, name, values, errors)
    if errors:
        return None, errors
    assert record_no is not None and produced_at is not None and subject_id is not None
    index = protector.blind_index(SUBJECT_INDEX_KIND[spec.item.subject_type], subject_id)
    return _Valid(spec, record_no, subject_id, index, subject_name, values, produced_at, valid_from, valid_until,
                  objection_id), errors


def _subject_name(spec: _Spec, name: str, values: Mapping[str, Any], errors: dict[str, str]) -> str:
    """The top-level name; where the spec names a field for it, the two agree (either may be left out)."""
    named = spec.subject_name_field
    if named is not None and named in values:
        if not name:
            name = values[named]
        elif values[named] != name:
            errors[named] = "must equal subject_name"
    if not name:
        errors.setdefault("subject_name", IS_REQUIRED)
    elif len(name) > MAX_SUBJECT_NAME:
        errors["subject_name"] = f"must be at most {MAX_SUBJECT_NAME} characters"
    return name


def _unchanged(protector: Protector, existing: _Existing, valid: _Valid) -> bool:
    if existing.status is not RecordStatus.VALID or (existing.valid_from, existing.valid_until) != (
            valid.valid_from, valid.valid_until):
        return False
    stored = json.loads(protector.decrypt(existing.fields_enc, context=FIELDS_CONTEXT))
    if stored != valid.values:
        return False
    return protector.decrypt(existing.subject_name_enc, context=SUBJECT_NAME_CONTEXT) == valid.subject_name


def _push_handler(protector: Protector) -> Callable[
        [Session, _Batch, Sequence[Any], _Writes, datetime], list[RecordResultJSON]]:
    def handle(session: Session, batch: _Batch, entries: Sequence[Any], writes: _Writes,
               now: datetime) -> list[RecordResultJSON]:
        checked = [_check_push(session, protector, batch, entry, now) for entry in entries]
        keys = [(v.spec.item.id, v.record_no) if v else None for v, _ in checked]
        repeated = _duplicates(keys)
        _load_existing(session, batch, {k for k in keys if k is not None})
        results: list[RecordResultJSON] = []
        for index, (entry, (valid, errors)) in enumerate(zip(entries, checked, strict=True)):
            key = keys[index]
            if valid is not None and key is not None:
                if key in repeated:
                    errors = {"record_no": "appears more than once in this batch; send one state per record"}
                elif (found := batch.existing.get(key)) is not None and found.subject_index != valid.subject_index:
                    errors = {"subject_id": "differs from the subject of this record: a record never changes subject"}
            if errors or valid is None or key is None:
                result = _rejected(index, entry, errors)
                writes.rejections.append(_rejection_row(batch, PushOperation.PUSH, result, now))
            else:
                result = _stage_push(session, protector, batch, valid, key, index, writes, now)
            results.append(result)
        return results

    return handle


def _stage_push(session: Session, protector: Protector, batch: _Batch, valid: _Valid, key: tuple[int, str],
                index: int, writes: _Writes, now: datetime) -> RecordResultJSON:
    code = valid.spec.item.code
    existing = batch.existing.get(key)
    if existing is not None and _unchanged(protector, existing, valid):
        return _accepted(index, code, valid.record_no, record_id=existing.id, version=existing.latest_version,
                         change=None)
    due_at, on_time = _timeliness(session, batch, valid.produced_at, now)
    change = ChangeKind.NEW if existing is None else ChangeKind.CHANGE
    number = 1 if existing is None else existing.latest_version + 1
    version = {
        "change": change,
        "version": number,
        "catalog_version_id": valid.spec.version.id,
        "fields_enc": protector.encrypt(_fields_json(valid.values), context=FIELDS_CONTEXT),
        "subject_name_enc": protector.encrypt(valid.subject_name, context=SUBJECT_NAME_CONTEXT),
        "filled_fields": sorted(valid.values),
        "status": RecordStatus.VALID,
        "valid_from": valid.valid_from,
        "valid_until": valid.valid_until,
        "revoke_reason": None,
        "produced_at": valid.produced_at,
        "received_at": now,
        "due_at": due_at,
        "on_time": on_time,
        "objection_id": valid.objection_id,
    }
    result = _accepted(index, code, valid.record_no, record_id=existing.id if existing else None,
                       version=number, change=change, due_at=due_at, on_time=on_time)
    if existing is None:
        writes.new_records.append({
            "catalog_item_id": key[0], "department_id": batch.department.id, "record_no": valid.record_no,
            "subject_type": valid.spec.item.subject_type, "subject_index": valid.subject_index,
            "subject_id_enc": protector.encrypt(valid.subject_id, context=SUBJECT_ID_CONTEXT),
            "subject_masked": mask_identifier(valid.subject_id), "latest_version": 1,
            "status": RecordStatus.VALID, "valid_from": valid.valid_from, "valid_until": valid.valid_until,
            "created_at": now, "updated_at": now,
        })
        writes.new_versions[key] = version
        writes.pending[key] = result
    else:
        writes.record_updates.append({
            "id": existing.id, "department_id": batch.department.id, "latest_version": number,
            "status": RecordStatus.VALID, "valid_from": valid.valid_from, "valid_until": valid.valid_until,
            "updated_at": now,
        })
        writes.versions.append({**version, "record_id": existing.id})
    return result


def push_records(session: Session, protector: Protector, *, actor: Actor, department: Department,
                 records: Sequence[Any], idempotency_key: str, request_digest: str, now: datetime) -> PushOutcome:
    """Validate a batch (≤ 1000) against the published specs; write the accepted together, keep every result.

    Only the item's source department may push (403 `not_source` for the whole request otherwise). A replay
    of the same Idempotency-Key and body returns the first answer and writes nothing; another body is a 409.
    """
    return _run(session, protector, actor=actor, department=department, operation=PushOperation.PUSH, entries=records,
                idempotency_key=idempotency_key, request_digest=request_digest, now=now,
                handle=_push_handler(protector))


# --- revoke (注销) ----------------------------------------------------------------------------------------

def _check_revoke(session: Session, batch: _Batch, entry: Any, now: datetime) -> tuple[
        tuple[_Spec, str, str, datetime] | None, dict[str, str]]:
    if not isinstance(entry, Mapping):
        return None, {"record": "must be an object"}
    errors: dict[str, str] = {}
    _unknown_keys(entry, REVOKE_KEYS, errors)
    spec, item_errors = _item_errors(session, batch, entry)
    errors.update(item_errors)
    record_no = _record_no(entry.get("record_no"), errors)
    reason = entry.get("reason")
    if _is_blank(reason):
        errors["reason"] = IS_REQUIRED
    elif not isinstance(reason, str):
        errors["reason"] = "must be a string"
    elif len(reason.strip()) > MAX_REASON:
        errors["reason"] = f"must be at most {MAX_REASON} characters"
    revoked_at = _moment(entry.get("revoked_at"), "revoked_at", now, errors, required=False) or now
    if errors or spec is None:
        return None, errors
    assert record_no is not None and isinstance(reason, str)
    return (spec, record_no, reason.strip(), revoked_at), errors


def _revoke_handler(session: Session, batch: _Batch, entries: Sequence[Any], writes: _Writes,
                    now: datetime) -> list[RecordResultJSON]:
    checked = [_check_revoke(session, batch, entry, now) for entry in entries]
    keys = [(v[0].item.id, v[1]) if v else None for v, _ in checked]
    repeated = _duplicates(keys)
    _load_existing(session, batch, {k for k in keys if k is not None})
    results: list[RecordResultJSON] = []
    for index, (entry, (valid, errors)) in enumerate(zip(entries, checked, strict=True)):
        key = keys[index]
        existing = batch.existing.get(key) if key is not None else None
        if valid is not None and key is not None:
            if key in repeated:
                errors = {"record_no": "appears more than once in this batch"}
            elif existing is None:
                errors = {"record_no": "no record of this catalog item has this number"}
        if errors or valid is None or existing is None:
            result = _rejected(index, entry, errors)
            writes.rejections.append(_rejection_row(batch, PushOperation.REVOKE, result, now))
            results.append(result)
            continue
        spec, record_no, reason, revoked_at = valid
        if existing.status is RecordStatus.REVOKED:
            results.append(_accepted(index, spec.item.code, record_no, record_id=existing.id,
                                     version=existing.latest_version, change=None))
            continue
        due_at, on_time = _timeliness(session, batch, revoked_at, now)
        number = existing.latest_version + 1
        # The revoke version repeats the last content (ciphertexts copied as they are) with the new status.
        writes.versions.append({
            "record_id": existing.id, "version": number, "change": ChangeKind.REVOKE,
            "catalog_version_id": existing.catalog_version_id, "fields_enc": existing.fields_enc,
            "subject_name_enc": existing.subject_name_enc, "filled_fields": existing.filled_fields,
            "status": RecordStatus.REVOKED, "valid_from": existing.valid_from, "valid_until": existing.valid_until,
            "revoke_reason": reason, "produced_at": revoked_at, "received_at": now, "due_at": due_at,
            "on_time": on_time, "objection_id": None,
        })
        writes.record_updates.append({"id": existing.id, "department_id": batch.department.id,
                                      "latest_version": number, "status": RecordStatus.REVOKED, "updated_at": now})
        results.append(_accepted(index, spec.item.code, record_no, record_id=existing.id, version=number,
                                 change=ChangeKind.REVOKE, due_at=due_at, on_time=on_time))
    return results


def revoke_records(session: Session, protector: Protector, *, actor: Actor, department: Department,
                   records: Sequence[Any], idempotency_key: str, request_digest: str, now: datetime) -> PushOutcome:
    """Revoke (注销) records: each gets a revoke version, history kept; lateness counts from `revoked_at`."""
    return _run(session, protector, actor=actor, department=department, operation=PushOperation.REVOKE, entries=records,
                idempotency_key=idempotency_key, request_digest=request_digest, now=now, handle=_revoke_handler)


# --- the department's report ------------------------------------------------------------------------------

@dataclass
class RejectionExample:
    record_no: str | None
    operation: str
    errors: dict[str, str]
    received_at: datetime


@dataclass
class ItemReport:
    """What a department sent for one catalog item in a period."""

    code: str | None
    name: str | None
    new: int = 0
    change: int = 0
    revoke: int = 0
    on_time: int = 0
    late: int = 0
    lateness_unknown: int = 0
    rejected: int = 0
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)  # field → message → count
    examples: list[RejectionExample] = field(default_factory=list)  # most recent first

    @property
    def accepted(self) -> int:
        return self.new + self.change + self.revoke


@dataclass(frozen=True)
class DepartmentReport:
    department: Department
    first_day: date
    end_day: date  # the day after the last one
    start: datetime
    end: datetime
    items: list[ItemReport]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(UTC)


def department_report(session: Session, *, department: Department, start: date | None, end: date | None,
                      now: datetime) -> DepartmentReport:
    """Per catalog item, what was received in [start, end) (Shanghai days; default the last 30 days up to
    today): accepted (new/change/revoke), on time, late, lateness unknown, rejected with grouped reasons."""
    end_day = end or now.astimezone(SHANGHAI).date() + timedelta(days=1)
    first_day = start or end_day - timedelta(days=REPORT_DEFAULT_DAYS)
    if first_day >= end_day:
        raise ValidationError("the period is empty", fields={"from": "must be before `to`"})
    if (end_day - first_day).days > REPORT_MAX_DAYS:
        raise ValidationError("the period is too long", fields={"to": f"at most {REPORT_MAX_DAYS} days after `from`"})
    start_at, end_at = _midnight(first_day), _midnight(end_day)
    items = {item.id: item for item in session.scalars(
        select(CatalogItem).where(CatalogItem.source_department_id == department.id))}
    reports: dict[Any, ItemReport] = {item_id: ItemReport(item.code, item.name) for item_id, item in items.items()}

    def report_for(item_id: int | None, code: str | None) -> ItemReport:
        key: Any = item_id if item_id is not None else ("unknown", code)
        if key not in reports:
            item = session.get(CatalogItem, item_id) if item_id is not None else None
            reports[key] = ItemReport(item.code if item else code, item.name if item else None)
        return reports[key]

    versions = session.execute(
        select(Record.catalog_item_id, RecordVersion.change, RecordVersion.on_time, func.count())
        .join(Record, RecordVersion.record_id == Record.id)
        .where(Record.department_id == department.id, RecordVersion.received_at >= start_at,
               RecordVersion.received_at < end_at)
        .group_by(Record.catalog_item_id, RecordVersion.change, RecordVersion.on_time)
    )
    for item_id, change, on_time, count in versions:
        report = report_for(item_id, None)
        kind = ChangeKind(change)
        if kind is ChangeKind.NEW:
            report.new += count
        elif kind is ChangeKind.CHANGE:
            report.change += count
        else:
            report.revoke += count
        if on_time is None:
            report.lateness_unknown += count
        elif on_time:
            report.on_time += count
        else:
            report.late += count
    rejections = session.execute(
        select(RecordRejection.catalog_item_id, RecordRejection.catalog_item_code, RecordRejection.record_no,
               RecordRejection.operation, RecordRejection.errors, RecordRejection.received_at)
        .where(RecordRejection.department_id == department.id, RecordRejection.received_at >= start_at,
               RecordRejection.received_at < end_at)
        .order_by(RecordRejection.received_at.desc(), RecordRejection.id.desc())
    )
    for rejected_item, code, record_no, operation, errors, received_at in rejections:
        report = report_for(rejected_item, code)
        report.rejected += 1
        for name, message in errors.items():
            by_message = report.reasons.setdefault(name, {})
            by_message[message] = by_message.get(message, 0) + 1
        if len(report.examples) < REPORT_EXAMPLES:
            report.examples.append(RejectionExample(record_no, PushOperation(operation).value, errors, received_at))
    ordered = sorted(reports.values(), key=lambda r: (r.code is None, r.code or ""))
    return DepartmentReport(department, first_day, end_day, start_at, end_at, ordered)
