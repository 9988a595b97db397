"""Multi-source conflicts (多源校核): which subjects' common attributes disagree across source departments."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from typing_extensions import TypedDict

from auth.decorators import current_actor, staff_required
from auth.schemas import DepartmentRef
from backend.api.admin import bp
from backend.api.catalog import department_ref
from backend.clock import iso
from backend.db import db
from backend.models import Role
from backend.openapi import documented
from backend.services import conflicts
from backend.services.conflicts import ConflictEntry
from backend.web import PageQuery, now, page_to_json, parse_query


class ConflictQuery(PageQuery):
    status: Literal["open", "resolved"] | None = None
    attribute: str | None = Field(None, max_length=64, description="a common attribute, e.g. name, address")
    department: str | None = Field(None, max_length=32, description="a department taking part")


class SubjectJSON(TypedDict):
    type: str
    masked: str


class SourceJSON(TypedDict, total=False):
    department: str
    catalog_item: str
    record_id: int
    record_no: str  # only for the listing department's own records


class ConflictJSON(TypedDict):
    id: int
    subject: SubjectJSON
    attribute: str
    status: str
    departments: list[DepartmentRef]
    sources: list[SourceJSON]
    first_seen_at: str | None
    last_seen_at: str | None
    resolved_at: str | None


class ConflictPage(TypedDict):
    items: list[ConflictJSON]
    total: int
    page: int
    per_page: int


def conflict_to_json(entry: ConflictEntry) -> ConflictJSON:
    """A conflict without the values: that the sources disagree, where, and since when."""
    conflict = entry.conflict
    sources: list[SourceJSON] = []
    for source in conflict.sources:
        item: SourceJSON = {"department": source["department"], "catalog_item": source["catalog_item"],
                            "record_id": source["record_id"]}
        if source["record_id"] in entry.own_record_nos:
            item["record_no"] = entry.own_record_nos[source["record_id"]]
        sources.append(item)
    return {
        "id": conflict.id,
        "subject": {"type": conflict.subject_type.value, "masked": conflict.subject_masked},
        "attribute": conflict.attribute,
        "status": conflict.status.value,
        "departments": [department_ref(d) for d in entry.departments],
        "sources": sources,
        "first_seen_at": iso(conflict.first_seen_at),
        "last_seen_at": iso(conflict.last_seen_at),
        "resolved_at": iso(conflict.resolved_at),
    }


@bp.get("/conflicts")
@staff_required(Role.DATA_ADMIN)
@documented("Conflicts between source departments on a subject's common attribute, newest first; subjects "
            "masked, values never shown", auth="staff", query=ConflictQuery, response=ConflictPage, errors=(403,))
def list_conflicts() -> ConflictPage:
    query = parse_query(ConflictQuery)
    page = conflicts.list_conflicts(db.session(), actor=current_actor(), status=query.status,
                                    attribute=query.attribute, department_code=query.department, page=query.page,
                                    per_page=query.per_page, now=now())
    return page_to_json(page, conflict_to_json)  # type: ignore[no-any-return]
