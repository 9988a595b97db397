"""The public listing (公示): no login, published items only, filters, pagination and record figures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.models import ItemKind, RecordStatus, SubjectType
from backend.services import catalog
from backend.services.audit import SYSTEM
from tests.factories import (
    catalog_item_spec,
    insert_record_row,
    make_catalog_item,
    make_department,
    make_service_item,
)


@pytest.fixture
def district(session, clock):
    """Two sources, a published item at each, a data item, a draft and a retired item."""
    make_department(session, clock)
    make_department(session, clock, code="NH-GAJ", name="公安分局", is_approval=False)
    license_ = make_catalog_item(session, clock)
    make_catalog_item(session, clock, code="id-card", name="居民身份证", subject_type=SubjectType.PERSON,
                      source_department="NH-GAJ", subject_name_field="name",
                      fields=[{"key": "name", "label": "姓名", "type": "string", "required": True},
                              {"key": "id_number", "label": "公民身份号码", "type": "string", "sensitive": True}])
    make_catalog_item(session, clock, code="tax-proof", name="纳税证明", kind=ItemKind.DATA)
    make_catalog_item(session, clock, publish=False, code="draft-item", name="草稿目录")
    make_catalog_item(session, clock, code="retired-item", name="已废止目录")
    catalog.retire_item(session, actor=SYSTEM, code="retired-item", now=clock())
    return license_


def _codes(client, query: str = "") -> list[str]:
    response = client.get(f"/api/catalog{query}")
    assert response.status_code == 200, response.get_json()
    return [item["code"] for item in response.get_json()["items"]]


def test_anyone_lists_published_items_only(client, district):
    body = client.get("/api/catalog").get_json()
    assert [i["code"] for i in body["items"]] == ["business-license", "id-card", "tax-proof"]
    assert body["total"] == 3 and body["page"] == 1 and body["per_page"] == 20


def test_drafts_and_retired_items_are_not_found(client, district):
    assert client.get("/api/catalog/business-license").status_code == 200
    for code in ("draft-item", "retired-item", "nope"):
        response = client.get(f"/api/catalog/{code}")
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_an_entry_shows_source_labels_types_batch_version_and_no_data(client, session, clock, district):
    entry = client.get("/api/catalog/id-card").get_json()
    assert entry["source_department"] == {"code": "NH-GAJ", "name": "公安分局"}
    assert entry["kind"] == "license" and entry["subject_type"] == "person"
    assert entry["batch"] == "第一批" and entry["version"] == 1
    assert entry["version_published_at"] == "2026-03-02T10:00:00+08:00"
    assert [(f["key"], f["label"], f["type"], f["sensitive"]) for f in entry["fields"]] == [
        ("name", "姓名", "string", False), ("id_number", "公民身份号码", "string", True)]
    assert entry["record_count"] == 0 and entry["last_updated_at"] is None
    assert set(entry) == {"code", "name", "kind", "subject_type", "source_department", "batch", "version",
                          "version_published_at", "first_published_at", "subject_name_field", "fields",
                          "record_count", "last_updated_at"}


def test_filters_by_kind_subject_type_department_and_text(client, district):
    assert _codes(client, "?kind=data") == ["tax-proof"]
    assert _codes(client, "?kind=license&subject_type=enterprise") == ["business-license"]
    assert _codes(client, "?subject_type=person") == ["id-card"]
    assert _codes(client, "?department=NH-GAJ") == ["id-card"]
    assert _codes(client, "?department=NH-NONE") == []
    assert _codes(client, "?q=身份") == ["id-card"]
    assert _codes(client, "?q=LICENSE") == ["business-license"]
    assert _codes(client, "?q=废止") == []  # retired items are not found by text either
    assert _codes(client, "?q=%25") == []  # a % is a character, not a wildcard


def test_a_bad_filter_is_a_422(client, district):
    response = client.get("/api/catalog?kind=paper")
    assert response.status_code == 422 and "kind" in response.get_json()["error"]["fields"]
    assert client.get("/api/catalog?per_page=500").status_code == 422


def test_pages_follow_the_envelope(client, district):
    first = client.get("/api/catalog?per_page=2").get_json()
    second = client.get("/api/catalog?per_page=2&page=2").get_json()
    assert [i["code"] for i in first["items"]] == ["business-license", "id-card"]
    assert [i["code"] for i in second["items"]] == ["tax-proof"]
    assert first["total"] == second["total"] == 3 and second["page"] == 2 and second["per_page"] == 2


def test_record_count_is_valid_records_and_last_update_the_latest_change(client, session, clock, district):
    insert_record_row(session, clock, district, record_no="L1", updated_at=clock() - timedelta(days=3))
    insert_record_row(session, clock, district, record_no="L2", updated_at=clock() - timedelta(hours=5))
    insert_record_row(session, clock, district, record_no="L3", status=RecordStatus.REVOKED,
                      updated_at=clock() - timedelta(hours=1))
    items = {i["code"]: i for i in client.get("/api/catalog").get_json()["items"]}
    assert items["business-license"]["record_count"] == 2
    assert items["business-license"]["last_updated_at"] == "2026-03-02T09:00:00+08:00"
    assert items["id-card"]["record_count"] == 0
    assert client.get("/api/catalog/business-license").get_json()["record_count"] == 2


def test_the_public_sees_the_version_in_force_not_the_draft(client, session, clock, district):
    fields = catalog_item_spec()["fields"] + [{"key": "registered_capital", "label": "注册资本", "type": "number"}]
    catalog.update_item(session, actor=SYSTEM, now=clock(), **catalog_item_spec(fields=fields))
    entry = client.get("/api/catalog/business-license").get_json()
    assert entry["version"] == 1 and "registered_capital" not in [f["key"] for f in entry["fields"]]
    clock.advance(days=1)
    catalog.publish_item(session, actor=SYSTEM, code="business-license", now=clock())
    entry = client.get("/api/catalog/business-license").get_json()
    assert entry["version"] == 2 and entry["fields"][-1]["key"] == "registered_capital"
    assert entry["first_published_at"] == "2026-03-02T10:00:00+08:00"
    assert entry["version_published_at"] == "2026-03-03T10:00:00+08:00"


def test_anyone_lists_service_items_and_their_materials(client, session, clock, district):
    make_service_item(session, clock)
    make_service_item(session, clock, code="id-check", name="身份核验", subject_type=SubjectType.PERSON,
                      materials=[{"name": "身份证", "catalog_item": "id-card"}])
    body = client.get("/api/service-items").get_json()
    assert [i["code"] for i in body["items"]] == ["food-license-new", "id-check"] and body["total"] == 2
    assert [i["code"] for i in client.get("/api/service-items?q=身份").get_json()["items"]] == ["id-check"]
    assert client.get("/api/service-items?subject_type=enterprise").get_json()["total"] == 1
    item = client.get("/api/service-items/id-check").get_json()
    material = item["materials"][0]
    assert material["catalog_item"]["source_department"]["code"] == "NH-GAJ"
    assert material["all_fields"] is True
    assert material["fields"] == [{"key": "name", "label": "姓名"}, {"key": "id_number", "label": "公民身份号码"}]
    assert client.get("/api/service-items/nope").status_code == 404


def test_a_material_of_a_retired_item_falls_back_to_paper(client, session, clock, district):
    make_service_item(session, clock)
    catalog.retire_item(session, actor=SYSTEM, code="business-license", now=clock())
    material = client.get("/api/service-items/food-license-new").get_json()["materials"][0]
    assert material["catalog_item"]["status"] == "retired" and material["paper_only"] is True
