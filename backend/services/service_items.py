"""Service items (政务服务事项): what an approval department accepts, and the materials each needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.db import Page, paginate
from backend.errors import Conflict, NotFound, ValidationError
from backend.models import CatalogItem, CatalogStatus, Department, Material, ServiceItem, SubjectType
from backend.services import audit
from backend.services.audit import Actor

MAX_MATERIALS = 50
MAX_NAME = 100
MATERIAL_ATTRIBUTES = ("name", "catalog_item", "fields")


def _approval_department(session: Session, code: str) -> Department:
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise ValidationError("no such department", fields={"approval_department": "no department has this code"})
    if not department.is_approval:
        raise ValidationError("this department approves no applications",
                              fields={"approval_department": "is not an approval department"})
    return department


def _check_material(session: Session, raw: Any, where: str,
                    errors: dict[str, str]) -> tuple[str, CatalogItem | None, list[str]] | None:
    if not isinstance(raw, Mapping):
        errors[where] = "must be an object"
        return None
    before = len(errors)
    for attribute in raw:
        if attribute not in MATERIAL_ATTRIBUTES:
            errors[f"{where}.{attribute}"] = "is not a known field"
    name: Any = raw.get("name")
    code: Any = raw.get("catalog_item")
    keys: Any = raw.get("fields")
    if not isinstance(name, str) or not name.strip():
        errors[f"{where}.name"] = "is required"
    elif len(name.strip()) > MAX_NAME:
        errors[f"{where}.name"] = f"must be at most {MAX_NAME} characters"
    item = None
    if code is not None:
        item = session.scalar(select(CatalogItem).where(CatalogItem.code == code)) if isinstance(code, str) else None
        if item is None:
            errors[f"{where}.catalog_item"] = "no catalog item has this code"
        elif item.status is not CatalogStatus.PUBLISHED:
            errors[f"{where}.catalog_item"] = f"is {item.status.value}, not published"
    if keys is not None:
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            errors[f"{where}.fields"] = "must be a list of field keys"
        elif code is None and keys:
            errors[f"{where}.fields"] = "a paper-only material shares no fields"
        elif len(set(keys)) != len(keys):
            errors[f"{where}.fields"] = "field keys must be distinct"
        elif item is not None and item.status is CatalogStatus.PUBLISHED:
            version = item.version_in_force()
            known = {f["key"] for f in version.fields} if version else set()
            unknown = [k for k in keys if k not in known]
            if unknown:
                errors[f"{where}.fields"] = f"not fields of {item.code}: {', '.join(unknown)}"
    if len(errors) > before:
        return None
    return name.strip(), item, list(keys or [])


def _check_materials(session: Session, materials: Any) -> list[tuple[str, CatalogItem | None, list[str]]]:
    """Each material's name, catalog item and shared field keys, or a ValidationError naming each problem."""
    if not isinstance(materials, Sequence) or isinstance(materials, str):
        raise ValidationError("the service item is not valid", fields={"materials": "must be a list"})
    errors: dict[str, str] = {}
    if not materials:
        errors["materials"] = "at least one material is required"
    elif len(materials) > MAX_MATERIALS:
        errors["materials"] = f"at most {MAX_MATERIALS} materials"
    checked = []
    names: dict[str, int] = {}
    for index, raw in enumerate(materials):
        material = _check_material(session, raw, f"materials.{index}", errors)
        if material is None:
            continue
        if material[0] in names:
            errors[f"materials.{index}.name"] = f"repeats the name of material {names[material[0]]}"
        names.setdefault(material[0], index)
        checked.append(material)
    if errors:
        raise ValidationError("the service item is not valid", fields=errors)
    return checked


def _set_materials(item: ServiceItem, materials: list[tuple[str, CatalogItem | None, list[str]]]) -> None:
    # Rows are updated in place by position so that their ids stay stable for whatever refers to them.
    existing = list(item.materials)
    for position, (name, catalog_item, keys) in enumerate(materials):
        if position < len(existing):
            row = existing[position]
            row.name, row.catalog_item, row.field_keys = name, catalog_item, keys
        else:
            item.materials.append(Material(position=position, name=name, catalog_item=catalog_item, field_keys=keys))
    for row in existing[len(materials):]:
        item.materials.remove(row)


def create_service_item(session: Session, *, actor: Actor, code: str, name: str, approval_department: str,
                        subject_type: SubjectType, materials: Sequence[Mapping[str, Any]],
                        now: datetime) -> ServiceItem:
    """A new service item at an approval department; each material maps to a published catalog item or is paper."""
    department = _approval_department(session, approval_department)
    checked = _check_materials(session, materials)
    if session.scalar(select(ServiceItem.id).where(ServiceItem.code == code)) is not None:
        raise Conflict("a service item with this code exists", code="service_item_exists")
    item = ServiceItem(code=code, name=name, approval_department=department, subject_type=subject_type,
                       created_at=now, updated_at=now)
    _set_materials(item, checked)
    session.add(item)
    session.flush()
    audit.record(session, actor=actor, action="service_item.created", now=now, target_type="service_item",
                 target_id=code, details={"approval_department": department.code, "materials": len(checked)})
    session.commit()
    return item


def update_service_item(session: Session, *, actor: Actor, code: str, name: str, approval_department: str,
                        subject_type: SubjectType, materials: Sequence[Mapping[str, Any]],
                        now: datetime) -> ServiceItem:
    """Replace a service item's name, department, subject type and materials."""
    item = session.scalar(select(ServiceItem).where(ServiceItem.code == code).with_for_update())
    if item is None:
        raise NotFound(f"no service item has code {code}")
    department = _approval_department(session, approval_department)
    checked = _check_materials(session, materials)
    item.name, item.approval_department, item.subject_type = name, department, subject_type
    _set_materials(item, checked)
    item.updated_at = now
    session.flush()
    audit.record(session, actor=actor, action="service_item.updated", now=now, target_type="service_item",
                 target_id=code, details={"approval_department": department.code, "materials": len(checked)})
    session.commit()
    return item


def _with_materials() -> Select[Any]:
    return select(ServiceItem).options(
        selectinload(ServiceItem.approval_department),
        selectinload(ServiceItem.materials).selectinload(Material.catalog_item).options(
            selectinload(CatalogItem.source_department), selectinload(CatalogItem.versions)),
    )


def get_service_item(session: Session, code: str) -> ServiceItem:
    """The service item with this code and its materials (404 when there is none)."""
    item = session.scalar(_with_materials().where(ServiceItem.code == code))
    if item is None:
        raise NotFound(f"no service item has code {code}")
    return item


def list_service_items(session: Session, *, page: int, per_page: int, department: str | None = None,
                       subject_type: SubjectType | None = None, q: str | None = None) -> Page[ServiceItem]:
    """Service items by code, filtered by approval department, subject type and a name/code substring."""
    query = _with_materials()
    if department:
        query = query.where(ServiceItem.approval_department.has(Department.code == department))
    if subject_type is not None:
        query = query.where(ServiceItem.subject_type == subject_type)
    if q:
        query = query.where(or_(ServiceItem.name.icontains(q, autoescape=True),
                                ServiceItem.code.icontains(q, autoescape=True)))
    return paginate(session, query.order_by(ServiceItem.code), page=page, per_page=per_page)
