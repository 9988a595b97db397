"""The public catalog (公示) and service items: anyone may read them, no login.

Only published catalog items show, with their source department and field labels and types, never data.
The serializers of catalog fields and service items live here and are reused by the admin API.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic import Field
from typing_extensions import TypedDict

from auth.schemas import DepartmentRef
from backend.clock import iso
from backend.db import db
from backend.models import CatalogItem, CatalogStatus, Department, ItemKind, Material, ServiceItem, SubjectType
from backend.openapi import documented
from backend.services import catalog, service_items
from backend.services.catalog import CatalogEntry
from backend.web import PageQuery, page_to_json, parse_query

bp = Blueprint("catalog", __name__, url_prefix="/api")

# Catalog and service item codes appear in URLs.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class CatalogQuery(PageQuery):
    kind: ItemKind | None = None
    subject_type: SubjectType | None = None
    department: str | None = Field(None, max_length=32, description="source department code")
    q: str | None = Field(None, max_length=100, description="part of the name or code")


class ServiceItemQuery(PageQuery):
    department: str | None = Field(None, max_length=32, description="approval department code")
    subject_type: SubjectType | None = None
    q: str | None = Field(None, max_length=100, description="part of the name or code")


class FieldJSON(TypedDict):
    key: str
    label: str
    type: str
    required: bool
    sensitive: bool
    max_length: int | None
    enum: list[str] | None
    common: str | None


class CatalogEntryJSON(TypedDict):
    code: str
    name: str
    kind: str
    subject_type: str
    source_department: DepartmentRef
    batch: str
    version: int
    version_published_at: str | None
    first_published_at: str | None
    subject_name_field: str | None
    fields: list[FieldJSON]
    record_count: int
    last_updated_at: str | None


class CatalogEntryPage(TypedDict):
    items: list[CatalogEntryJSON]
    total: int
    page: int
    per_page: int


class SharedFieldJSON(TypedDict):
    key: str
    label: str | None


class MaterialCatalogItemJSON(TypedDict):
    code: str
    name: str
    kind: str
    status: str
    source_department: DepartmentRef


class MaterialJSON(TypedDict):
    position: int
    name: str
    catalog_item: MaterialCatalogItemJSON | None
    paper_only: bool
    all_fields: bool
    fields: list[SharedFieldJSON]


class ServiceItemJSON(TypedDict):
    code: str
    name: str
    subject_type: str
    approval_department: DepartmentRef
    materials: list[MaterialJSON]
    updated_at: str | None


class ServiceItemPage(TypedDict):
    items: list[ServiceItemJSON]
    total: int
    page: int
    per_page: int


def department_ref(department: Department) -> DepartmentRef:
    return {"code": department.code, "name": department.name}


def field_to_json(field: dict[str, Any]) -> FieldJSON:
    return {
        "key": field["key"],
        "label": field["label"],
        "type": field["type"],
        "required": bool(field.get("required")),
        "sensitive": bool(field.get("sensitive")),
        "max_length": field.get("max_length"),
        "enum": field.get("enum"),
        "common": field.get("common"),
    }


def catalog_entry_to_json(entry: CatalogEntry) -> CatalogEntryJSON:
    item, version = entry.item, entry.version
    return {
        "code": item.code,
        "name": item.name,
        "kind": item.kind.value,
        "subject_type": item.subject_type.value,
        "source_department": department_ref(item.source_department),
        "batch": item.batch,
        "version": version.version,
        "version_published_at": iso(version.published_at),
        "first_published_at": iso(item.published_at),
        "subject_name_field": version.subject_name_field,
        "fields": [field_to_json(f) for f in version.fields],
        "record_count": entry.stats.valid,
        "last_updated_at": iso(entry.stats.last_updated_at),
    }


def _shared_fields(material: Material, item: CatalogItem) -> list[SharedFieldJSON]:
    version = item.version_in_force()
    labels = {f["key"]: f["label"] for f in version.fields} if version else {}
    keys = material.field_keys or list(labels)
    return [{"key": key, "label": labels.get(key)} for key in keys]


def material_to_json(material: Material) -> MaterialJSON:
    item = material.catalog_item
    return {
        "position": material.position,
        "name": material.name,
        "catalog_item": None if item is None else {
            "code": item.code, "name": item.name, "kind": item.kind.value, "status": item.status.value,
            "source_department": department_ref(item.source_department)},
        # A retired item no longer replaces the paper material.
        "paper_only": item is None or item.status is not CatalogStatus.PUBLISHED,
        "all_fields": item is not None and not material.field_keys,
        "fields": [] if item is None else _shared_fields(material, item),
    }


def service_item_to_json(item: ServiceItem) -> ServiceItemJSON:
    return {
        "code": item.code,
        "name": item.name,
        "subject_type": item.subject_type.value,
        "approval_department": department_ref(item.approval_department),
        "materials": [material_to_json(m) for m in item.materials],
        "updated_at": iso(item.updated_at),
    }


@bp.get("/catalog")
@documented("The public catalog: published items, their source and fields (公示)", query=CatalogQuery,
            response=CatalogEntryPage)
def list_catalog() -> CatalogEntryPage:
    query = parse_query(CatalogQuery)
    page = catalog.list_published(db.session(), page=query.page, per_page=query.per_page, kind=query.kind,
                                  subject_type=query.subject_type, department=query.department, q=query.q)
    return page_to_json(page, catalog_entry_to_json)  # type: ignore[no-any-return]


@bp.get("/catalog/<code>")
@documented("One published catalog item", response=CatalogEntryJSON, errors=(404,))
def get_catalog_item(code: str) -> CatalogEntryJSON:
    return catalog_entry_to_json(catalog.get_published(db.session(), code))


@bp.get("/service-items")
@documented("Service items and the materials they need", query=ServiceItemQuery, response=ServiceItemPage)
def list_service_items() -> ServiceItemPage:
    query = parse_query(ServiceItemQuery)
    page = service_items.list_service_items(db.session(), page=query.page, per_page=query.per_page,
                                            department=query.department, subject_type=query.subject_type, q=query.q)
    return page_to_json(page, service_item_to_json)  # type: ignore[no-any-return]


@bp.get("/service-items/<code>")
@documented("One service item and its materials", response=ServiceItemJSON, errors=(404,))
def get_service_item(code: str) -> ServiceItemJSON:
    return service_item_to_json(service_items.get_service_item(db.session(), code))
