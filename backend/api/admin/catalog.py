"""Catalog items: draft, edit, publish a new version, retire; drafts and retired items included."""

from __future__ import annotations

from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from auth.schemas import DepartmentRef
from backend.api.admin import bp
from backend.api.catalog import CODE_PATTERN, FieldJSON, department_ref, field_to_json
from backend.clock import iso
from backend.db import db
from backend.models import CatalogItem, CatalogStatus, ItemKind, Role, SubjectType
from backend.models.catalog import FieldType
from backend.openapi import documented
from backend.services import catalog
from backend.web import Body, PageQuery, now, page_to_json, parse_json, parse_query


class FieldSpecBody(Body):
    key: str = Field(max_length=64, description="lower-case letter, then letters, digits or _")
    label: str = Field(max_length=100)
    type: FieldType
    required: bool = False
    sensitive: bool = False
    max_length: int | None = Field(None, description="type string only, 1..2000")
    enum: list[str] | None = Field(None, description="type enum only: the allowed values")
    common: str | None = Field(None, max_length=64,
                               description="common attribute compared across sources, e.g. name, address")


class ItemSpecBody(Body):
    name: str = Field(min_length=2, max_length=100)
    kind: ItemKind
    subject_type: SubjectType
    source_department: str = Field(min_length=1, max_length=32)
    batch: str = Field(min_length=1, max_length=32)
    subject_name_field: str | None = Field(None, max_length=64)
    fields: list[FieldSpecBody] = Field(max_length=100)


class CreateCatalogItemRequest(ItemSpecBody):
    code: str = Field(min_length=2, max_length=64, pattern=CODE_PATTERN)


class CatalogListQuery(PageQuery):
    status: CatalogStatus | None = None
    kind: ItemKind | None = None
    subject_type: SubjectType | None = None
    department: str | None = Field(None, max_length=32, description="source department code")
    q: str | None = Field(None, max_length=100, description="part of the name or code")


class SpecJSON(TypedDict):
    subject_name_field: str | None
    fields: list[FieldJSON]


class PublishedSpecJSON(TypedDict):
    version: int
    published_at: str | None
    subject_name_field: str | None
    fields: list[FieldJSON]


class VersionRef(TypedDict):
    version: int
    published_at: str | None


class CatalogItemJSON(TypedDict):
    code: str
    name: str
    kind: str
    subject_type: str
    source_department: DepartmentRef
    batch: str
    status: str
    current_version: int | None
    has_unpublished_changes: bool
    draft: SpecJSON
    published: PublishedSpecJSON | None
    versions: list[VersionRef]
    created_at: str | None
    updated_at: str | None
    published_at: str | None
    retired_at: str | None


class CatalogItemPage(TypedDict):
    items: list[CatalogItemJSON]
    total: int
    page: int
    per_page: int


def catalog_item_to_json(item: CatalogItem) -> CatalogItemJSON:
    version = item.version_in_force()
    return {
        "code": item.code,
        "name": item.name,
        "kind": item.kind.value,
        "subject_type": item.subject_type.value,
        "source_department": department_ref(item.source_department),
        "batch": item.batch,
        "status": item.status.value,
        "current_version": item.current_version,
        "has_unpublished_changes": catalog.has_unpublished_changes(item),
        "draft": {"subject_name_field": item.draft_subject_name_field,
                  "fields": [field_to_json(f) for f in item.draft_fields]},
        "published": None if version is None else {
            "version": version.version, "published_at": iso(version.published_at),
            "subject_name_field": version.subject_name_field, "fields": [field_to_json(f) for f in version.fields]},
        "versions": [{"version": v.version, "published_at": iso(v.published_at)} for v in item.versions],
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "published_at": iso(item.published_at),
        "retired_at": iso(item.retired_at),
    }


@bp.get("/catalog")
@staff_required(Role.DATA_ADMIN)
@documented("Every catalog item, drafts and retired ones included", auth="staff", query=CatalogListQuery,
            response=CatalogItemPage, errors=(403,))
def list_catalog_items() -> CatalogItemPage:
    query = parse_query(CatalogListQuery)
    page = catalog.list_items(db.session(), page=query.page, per_page=query.per_page, status=query.status,
                              kind=query.kind, subject_type=query.subject_type, department=query.department,
                              q=query.q)
    return page_to_json(page, catalog_item_to_json)  # type: ignore[no-any-return]


@bp.post("/catalog")
@staff_required(Role.DATA_ADMIN)
@documented("Draft a catalog item", auth="staff", body=CreateCatalogItemRequest, response=CatalogItemJSON,
            status=201, errors=(403, 409))
def create_catalog_item() -> tuple[CatalogItemJSON, int]:
    req = parse_json(CreateCatalogItemRequest)
    item = catalog.create_item(
        db.session(), actor=current_actor(), code=req.code, name=req.name, kind=req.kind,
        subject_type=req.subject_type, source_department=req.source_department, batch=req.batch,
        subject_name_field=req.subject_name_field, fields=[f.model_dump() for f in req.fields], now=now())
    return catalog_item_to_json(item), 201


@bp.get("/catalog/<code>")
@staff_required(Role.DATA_ADMIN)
@documented("One catalog item: its draft, the version in force and the history", auth="staff",
            response=CatalogItemJSON, errors=(403, 404))
def get_catalog_item(code: str) -> CatalogItemJSON:
    return catalog_item_to_json(catalog.get_item(db.session(), code))


@bp.put("/catalog/<code>")
@staff_required(Role.DATA_ADMIN)
@documented("Edit the draft spec (of a published item: its next version)", auth="staff", body=ItemSpecBody,
            response=CatalogItemJSON, errors=(403, 404, 409))
def update_catalog_item(code: str) -> CatalogItemJSON:
    req = parse_json(ItemSpecBody)
    item = catalog.update_item(
        db.session(), actor=current_actor(), code=code, name=req.name, kind=req.kind,
        subject_type=req.subject_type, source_department=req.source_department, batch=req.batch,
        subject_name_field=req.subject_name_field, fields=[f.model_dump() for f in req.fields], now=now())
    return catalog_item_to_json(item)


@bp.post("/catalog/<code>/publish")
@staff_required(Role.DATA_ADMIN)
@documented("Publish the draft as the next version", auth="staff", response=CatalogItemJSON,
            errors=(403, 404, 409))
def publish_catalog_item(code: str) -> CatalogItemJSON:
    return catalog_item_to_json(catalog.publish_item(db.session(), actor=current_actor(), code=code, now=now()))


@bp.post("/catalog/<code>/retire")
@staff_required(Role.DATA_ADMIN)
@documented("Retire a published item: off the public catalog, no new pushes", auth="staff",
            response=CatalogItemJSON, errors=(403, 404, 409))
def retire_catalog_item(code: str) -> CatalogItemJSON:
    return catalog_item_to_json(catalog.retire_item(db.session(), actor=current_actor(), code=code, now=now()))
