"""Service items: create, replace, list; materials map to published catalog items or are paper-only."""

from __future__ import annotations

from pydantic import Field

from auth.decorators import current_actor, staff_required
from backend.api.admin import bp
from backend.api.catalog import CODE_PATTERN, ServiceItemJSON, ServiceItemPage, ServiceItemQuery, service_item_to_json
from backend.db import db
from backend.models import Role, SubjectType
from backend.openapi import documented
from backend.services import service_items
from backend.web import Body, now, page_to_json, parse_json, parse_query


class MaterialBody(Body):
    name: str = Field(min_length=1, max_length=100)
    catalog_item: str | None = Field(None, max_length=64, description="a published catalog item; absent: paper only")
    fields: list[str] | None = Field(None, max_length=100,
                                     description="the item's fields to share (minimum necessary); absent: all")


class ServiceItemBody(Body):
    name: str = Field(min_length=2, max_length=100)
    approval_department: str = Field(min_length=1, max_length=32)
    subject_type: SubjectType = SubjectType.PERSON
    materials: list[MaterialBody] = Field(max_length=50)


class CreateServiceItemRequest(ServiceItemBody):
    code: str = Field(min_length=2, max_length=64, pattern=CODE_PATTERN)


@bp.get("/service-items")
@staff_required(Role.DATA_ADMIN)
@documented("Every service item", auth="staff", query=ServiceItemQuery, response=ServiceItemPage, errors=(403,))
def list_service_items() -> ServiceItemPage:
    query = parse_query(ServiceItemQuery)
    page = service_items.list_service_items(db.session(), page=query.page, per_page=query.per_page,
                                            department=query.department, subject_type=query.subject_type, q=query.q)
    return page_to_json(page, service_item_to_json)  # type: ignore[no-any-return]


@bp.post("/service-items")
@staff_required(Role.DATA_ADMIN)
@documented("Create a service item and its materials", auth="staff", body=CreateServiceItemRequest,
            response=ServiceItemJSON, status=201, errors=(403, 409))
def create_service_item() -> tuple[ServiceItemJSON, int]:
    req = parse_json(CreateServiceItemRequest)
    item = service_items.create_service_item(
        db.session(), actor=current_actor(), code=req.code, name=req.name,
        approval_department=req.approval_department, subject_type=req.subject_type,
        materials=[m.model_dump() for m in req.materials], now=now())
    return service_item_to_json(item), 201


@bp.get("/service-items/<code>")
@staff_required(Role.DATA_ADMIN)
@documented("One service item", auth="staff", response=ServiceItemJSON, errors=(403, 404))
def get_service_item(code: str) -> ServiceItemJSON:
    return service_item_to_json(service_items.get_service_item(db.session(), code))


@bp.put("/service-items/<code>")
@staff_required(Role.DATA_ADMIN)
@documented("Replace a service item's name, department and materials", auth="staff", body=ServiceItemBody,
            response=ServiceItemJSON, errors=(403, 404))
def update_service_item(code: str) -> ServiceItemJSON:
    req = parse_json(ServiceItemBody)
    item = service_items.update_service_item(
        db.session(), actor=current_actor(), code=code, name=req.name,
        approval_department=req.approval_department, subject_type=req.subject_type,
        materials=[m.model_dump() for m in req.materials], now=now())
    return service_item_to_json(item)
