"""The shared catalog (共享互认目录): items drafted, published as frozen versions, retired; and its public listing."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.db import Page, paginate
from backend.errors import Conflict, NotFound, ValidationError
from backend.models import (
    CatalogItem,
    CatalogStatus,
    CatalogVersion,
    Department,
    ItemKind,
    Material,
    Record,
    RecordStatus,
    ServiceItem,
    SubjectType,
)
from backend.models.catalog import FieldType
from backend.services import audit
from backend.services.audit import Actor

FIELD_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_FIELDS = 100
MAX_LABEL = 100
MAX_ENUM_VALUES = 200
MAX_ENUM_VALUE = 100
MAX_STRING_LENGTH = 2000
FIELD_ATTRIBUTES = ("key", "label", "type", "required", "sensitive", "max_length", "enum", "common")


@dataclass(frozen=True)
class RecordStats:
    """What the public listing says about an item's records: how many are valid, and the last change."""

    valid: int = 0
    last_updated_at: datetime | None = None


@dataclass(frozen=True)
class CatalogEntry:
    """One line of the public catalog (公示): the item, the spec in force and its record figures."""

    item: CatalogItem
    version: CatalogVersion
    stats: RecordStats


# --- the field spec ---------------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_field(raw: Any, where: str, errors: dict[str, str]) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        errors[where] = "must be an object"
        return None
    for name in raw:
        if name not in FIELD_ATTRIBUTES:
            errors[f"{where}.{name}"] = "is not a known field"
    key: Any = raw.get("key")
    label: Any = raw.get("label")
    type_: Any = raw.get("type")
    if not isinstance(key, str) or not FIELD_KEY.match(key):
        errors[f"{where}.key"] = "must be a lower-case letter, then up to 63 lower-case letters, digits or _"
    if not isinstance(label, str) or not label.strip():
        errors[f"{where}.label"] = "is required"
    elif len(label.strip()) > MAX_LABEL:
        errors[f"{where}.label"] = f"must be at most {MAX_LABEL} characters"
    known_type = type_ in {t.value for t in FieldType}
    if not known_type:
        errors[f"{where}.type"] = "must be one of " + ", ".join(t.value for t in FieldType)
    for flag in ("required", "sensitive"):
        if not isinstance(raw.get(flag, False), bool):
            errors[f"{where}.{flag}"] = "must be true or false"
    # Whether max_length and enum belong is judged only against a known type.
    max_length = raw.get("max_length")
    if max_length is not None:
        if known_type and type_ != FieldType.STRING:
            errors[f"{where}.max_length"] = "is only for fields of type string"
        elif not _is_int(max_length) or not 1 <= max_length <= MAX_STRING_LENGTH:
            errors[f"{where}.max_length"] = f"must be a whole number from 1 to {MAX_STRING_LENGTH}"
    enum = raw.get("enum")
    if type_ == FieldType.ENUM:
        if not isinstance(enum, list) or not enum:
            errors[f"{where}.enum"] = "a field of type enum needs a non-empty list of values"
        elif not all(isinstance(v, str) and v.strip() and len(v) <= MAX_ENUM_VALUE for v in enum):
            errors[f"{where}.enum"] = f"every value must be a non-empty string of at most {MAX_ENUM_VALUE} characters"
        elif len(set(enum)) != len(enum):
            errors[f"{where}.enum"] = "values must be distinct"
        elif len(enum) > MAX_ENUM_VALUES:
            errors[f"{where}.enum"] = f"at most {MAX_ENUM_VALUES} values"
    elif enum is not None and known_type:
        errors[f"{where}.enum"] = "is only for fields of type enum"
    common = raw.get("common")
    if common is not None and (not isinstance(common, str) or not FIELD_KEY.match(common)):
        errors[f"{where}.common"] = "must be a lower-case letter, then up to 63 lower-case letters, digits or _"
    if any(e == where or e.startswith(where + ".") for e in errors):
        return None
    return {
        "key": key,
        "label": label.strip(),
        "type": FieldType(type_).value,
        "required": raw.get("required", False),
        "sensitive": raw.get("sensitive", False),
        "max_length": max_length,
        "enum": list(enum) if enum is not None else None,
        "common": common,
    }


def check_spec(fields: Any, subject_name_field: str | None) -> list[dict[str, Any]]:
    """A field spec in its stored form, or a ValidationError naming each bad attribute (`fields.2.type`)."""
    errors: dict[str, str] = {}
    if not isinstance(fields, Sequence) or isinstance(fields, str):
        raise ValidationError("the field spec is not valid", fields={"fields": "must be a list of fields"})
    if not fields:
        errors["fields"] = "at least one field is required"
    elif len(fields) > MAX_FIELDS:
        errors["fields"] = f"at most {MAX_FIELDS} fields"
    spec: list[dict[str, Any]] = []
    seen: dict[str, dict[Any, int]] = {"key": {}, "label": {}, "common": {}}
    for index, raw in enumerate(fields):
        field = _check_field(raw, f"fields.{index}", errors)
        if field is None:
            continue
        for attribute, taken in seen.items():
            value = field[attribute]
            if value is None:
                continue
            if value in taken:
                errors[f"fields.{index}.{attribute}"] = f"repeats the {attribute} of field {taken[value]}"
            else:
                taken[value] = index
        spec.append(field)
    if subject_name_field is not None:
        named = next((f for f in spec if f["key"] == subject_name_field), None)
        if named is None:
            errors.setdefault("subject_name_field", "names no field of this item")
        elif named["type"] != FieldType.STRING:
            errors["subject_name_field"] = "must name a field of type string"
    if errors:
        raise ValidationError("the catalog item is not valid", fields=errors)
    return spec


def _source_department(session: Session, code: str) -> Department:
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise ValidationError("no such department", fields={"source_department": "no department has this code"})
    if not department.is_source:
        raise ValidationError("this department does not provide data",
                              fields={"source_department": "is not a source department"})
    return department


# --- lifecycle --------------------------------------------------------------------------------------------

def get_item(session: Session, code: str) -> CatalogItem:
    """The catalog item with this code, whatever its status (404 when there is none)."""
    item = session.scalar(select(CatalogItem).where(CatalogItem.code == code))
    if item is None:
        raise NotFound(f"no catalog item has code {code}")
    return item


def _item_for_update(session: Session, code: str) -> CatalogItem:
    # The row lock makes concurrent edits and publications of one item queue up (MariaDB).
    item = session.scalar(select(CatalogItem).where(CatalogItem.code == code).with_for_update())
    if item is None:
        raise NotFound(f"no catalog item has code {code}")
    return item


def published_version(session: Session, item: CatalogItem) -> CatalogVersion:
    """The spec records of `item` are validated against; also for a retired item (its last version); 409 for a draft."""
    version = item.version_in_force()
    if version is None:
        raise Conflict(f"catalog item {item.code} has not been published", code="catalog_item_not_published")
    return version


def create_item(session: Session, *, actor: Actor, code: str, name: str, kind: ItemKind, subject_type: SubjectType,
                source_department: str, batch: str, subject_name_field: str | None,
                fields: Sequence[Mapping[str, Any]], now: datetime) -> CatalogItem:
    """A new draft item with exactly one source department; codes are unique; the spec is checked in full."""
    spec = check_spec(fields, subject_name_field)
    department = _source_department(session, source_department)
    if session.scalar(select(CatalogItem.id).where(CatalogItem.code == code)) is not None:
        raise Conflict("a catalog item with this code exists", code="catalog_item_exists")
    item = CatalogItem(code=code, name=name, kind=kind, subject_type=subject_type, source_department=department,
                       batch=batch, status=CatalogStatus.DRAFT, draft_fields=spec,
                       draft_subject_name_field=subject_name_field, current_version=None, created_at=now,
                       updated_at=now)
    session.add(item)
    session.flush()
    audit.record(session, actor=actor, action="catalog.created", now=now, target_type="catalog_item",
                 target_id=code, details={"source_department": department.code, "fields": len(spec)})
    session.commit()
    return item


def update_item(session: Session, *, actor: Actor, code: str, name: str, kind: ItemKind, subject_type: SubjectType,
                source_department: str, batch: str, subject_name_field: str | None,
                fields: Sequence[Mapping[str, Any]], now: datetime) -> CatalogItem:
    """Edit the draft spec; on a published item this prepares its next version and leaves the one in force alone.

    Kind, subject type and source department are fixed once published: records already rest on them.
    Name and batch are descriptive and change at once.
    """
    spec = check_spec(fields, subject_name_field)
    item = _item_for_update(session, code)
    if item.status is CatalogStatus.RETIRED:
        raise Conflict("a retired catalog item cannot be edited", code="catalog_item_retired")
    if item.status is CatalogStatus.PUBLISHED:
        fixed = {"kind": (item.kind, kind), "subject_type": (item.subject_type, subject_type),
                 "source_department": (item.source_department.code, source_department)}
        errors = {attr: "is fixed once the item is published" for attr, (old, new) in fixed.items() if old != new}
        if errors:
            raise ValidationError("a published item keeps its kind, subject type and source", fields=errors)
    else:
        item.source_department = _source_department(session, source_department)
        item.kind, item.subject_type = kind, subject_type
    item.name, item.batch = name, batch
    item.draft_fields, item.draft_subject_name_field = spec, subject_name_field
    item.updated_at = now
    session.flush()
    audit.record(session, actor=actor, action="catalog.updated", now=now, target_type="catalog_item",
                 target_id=code, details={"status": item.status.value, "fields": len(spec)})
    session.commit()
    return item


def has_unpublished_changes(item: CatalogItem) -> bool:
    """The draft differs from the version in force (always so before the first publication)."""
    version = item.version_in_force()
    return version is None or (version.fields, version.subject_name_field) != (
        item.draft_fields, item.draft_subject_name_field)


def _fields_in_use(session: Session, item: CatalogItem, kept: set[str]) -> dict[str, str]:
    materials = session.execute(
        select(ServiceItem.code, Material.name, Material.field_keys)
        .join(Material.service_item).where(Material.catalog_item_id == item.id)
        .order_by(ServiceItem.code, Material.position)
    ).all()
    dropped: dict[str, str] = {}
    for service_code, material, keys in materials:
        for key in keys:
            if key not in kept:
                dropped.setdefault(key, f"is shared by material {material!r} of service item {service_code}")
    return dropped


def publish_item(session: Session, *, actor: Actor, code: str, now: datetime) -> CatalogItem:
    """Freeze the draft as the next version and put it in force; nothing new to publish is a 409."""
    item = _item_for_update(session, code)
    if item.status is CatalogStatus.RETIRED:
        raise Conflict("a retired catalog item cannot be published", code="catalog_item_retired")
    if not has_unpublished_changes(item):
        raise Conflict("the draft equals the published version: nothing to publish", code="nothing_to_publish")
    dropped = _fields_in_use(session, item, {f["key"] for f in item.draft_fields})
    if dropped:
        raise Conflict("service items share fields this version drops; change their materials first",
                       code="fields_in_use", fields=dropped)
    number = max((v.version for v in item.versions), default=0) + 1
    item.versions.append(CatalogVersion(version=number, fields=copy.deepcopy(item.draft_fields),
                                        subject_name_field=item.draft_subject_name_field, published_at=now))
    item.current_version, item.status, item.updated_at = number, CatalogStatus.PUBLISHED, now
    if item.published_at is None:
        item.published_at = now
    session.flush()
    audit.record(session, actor=actor, action="catalog.published", now=now, target_type="catalog_item",
                 target_id=code, details={"version": number})
    session.commit()
    return item


def retire_item(session: Session, *, actor: Actor, code: str, now: datetime) -> CatalogItem:
    """Published to retired: gone from the public catalog, refuses new pushes; its records and versions stay."""
    item = _item_for_update(session, code)
    if item.status is not CatalogStatus.PUBLISHED:
        raise Conflict(f"only a published item can be retired; this one is {item.status.value}",
                       code=f"catalog_item_{item.status.value}")
    item.status, item.retired_at, item.updated_at = CatalogStatus.RETIRED, now, now
    session.flush()
    audit.record(session, actor=actor, action="catalog.retired", now=now, target_type="catalog_item",
                 target_id=code, details={"version": item.current_version})
    session.commit()
    return item


# --- lists ------------------------------------------------------------------------------------------------

def _filtered(query: Select[Any], *, kind: ItemKind | None, subject_type: SubjectType | None,
              department: str | None, q: str | None) -> Select[Any]:
    if kind is not None:
        query = query.where(CatalogItem.kind == kind)
    if subject_type is not None:
        query = query.where(CatalogItem.subject_type == subject_type)
    if department:
        query = query.where(CatalogItem.source_department.has(Department.code == department))
    if q:
        query = query.where(or_(CatalogItem.name.icontains(q, autoescape=True),
                                CatalogItem.code.icontains(q, autoescape=True)))
    return query


def list_items(session: Session, *, page: int, per_page: int, status: CatalogStatus | None = None,
               kind: ItemKind | None = None, subject_type: SubjectType | None = None,
               department: str | None = None, q: str | None = None) -> Page[CatalogItem]:
    """Every item, drafts and retired ones included (the administrator's view)."""
    query = select(CatalogItem).options(selectinload(CatalogItem.source_department),
                                        selectinload(CatalogItem.versions))
    if status is not None:
        query = query.where(CatalogItem.status == status)
    query = _filtered(query, kind=kind, subject_type=subject_type, department=department, q=q)
    return paginate(session, query.order_by(CatalogItem.code), page=page, per_page=per_page)


def record_stats(session: Session, item_ids: Sequence[int]) -> dict[int, RecordStats]:
    """Valid-record count and last update per item, in one grouped query."""
    if not item_ids:
        return {}
    rows = session.execute(
        select(Record.catalog_item_id,
               # count(CASE ...) rather than FILTER (WHERE ...), which MySQL and MariaDB lack.
               func.count(case((Record.status == RecordStatus.VALID, Record.id))),
               func.max(Record.updated_at))
        .where(Record.catalog_item_id.in_(item_ids)).group_by(Record.catalog_item_id)
    ).all()
    return {item_id: RecordStats(valid or 0, last) for item_id, valid, last in rows}


def _entries(session: Session, items: Sequence[CatalogItem]) -> list[CatalogEntry]:
    stats = record_stats(session, [item.id for item in items])
    return [CatalogEntry(item, published_version(session, item), stats.get(item.id, RecordStats())) for item in items]


def _published() -> Select[Any]:
    return select(CatalogItem).where(CatalogItem.status == CatalogStatus.PUBLISHED).options(
        selectinload(CatalogItem.source_department), selectinload(CatalogItem.versions))


def list_published(session: Session, *, page: int, per_page: int, kind: ItemKind | None = None,
                   subject_type: SubjectType | None = None, department: str | None = None,
                   q: str | None = None) -> Page[CatalogEntry]:
    """The public catalog (公示): published items only, with the spec in force and their record figures."""
    query = _filtered(_published(), kind=kind, subject_type=subject_type, department=department, q=q)
    items = paginate(session, query.order_by(CatalogItem.code), page=page, per_page=per_page)
    return Page(_entries(session, items.items), items.total, items.page, items.per_page)


def get_published(session: Session, code: str) -> CatalogEntry:
    """One item of the public catalog; drafts and retired items are not there (404)."""
    item = session.scalar(_published().where(CatalogItem.code == code))
    if item is None:
        raise NotFound(f"no published catalog item has code {code}")
    return _entries(session, [item])[0]
