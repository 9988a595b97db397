"""The administrator's catalog and service-item API: roles, status codes, the JSON shape, each error once."""

from __future__ import annotations

from typing import Any

import pytest

from backend.models import Role
from tests.factories import (
    admin_headers,
    bearer,
    catalog_item_spec,
    login_staff,
    make_catalog_item,
    make_department,
    make_service_item,
    make_staff,
)

ADMIN_ROUTES = [
    ("get", "/api/admin/catalog"),
    ("post", "/api/admin/catalog"),
    ("get", "/api/admin/catalog/business-license"),
    ("put", "/api/admin/catalog/business-license"),
    ("post", "/api/admin/catalog/business-license/publish"),
    ("post", "/api/admin/catalog/business-license/retire"),
    ("get", "/api/admin/service-items"),
    ("post", "/api/admin/service-items"),
    ("get", "/api/admin/service-items/food-license-new"),
    ("put", "/api/admin/service-items/food-license-new"),
]


def _body(**overrides: Any) -> dict[str, Any]:
    spec = catalog_item_spec(**overrides)
    spec["kind"], spec["subject_type"] = str(spec["kind"]), str(spec["subject_type"])
    return spec


def _put_body(**overrides: Any) -> dict[str, Any]:
    body = _body(**overrides)
    del body["code"]
    return body


@pytest.fixture
def admin(client, session, clock):
    make_department(session, clock)
    return admin_headers(client, session, clock)


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_anonymous_callers_get_401(client, method, path):
    response = getattr(client, method)(path, json={})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_staff_who_are_not_data_admins_get_403(client, session, clock, method, path):
    make_department(session, clock)
    make_staff(session, clock, username="counter1", role=Role.COUNTER_STAFF, department="NH-SCJ")
    response = getattr(client, method)(path, json={}, headers=bearer(login_staff(client, "counter1")))
    assert response.status_code == 403


def test_catalog_lifecycle_draft_published_next_version_retired(client, admin, clock):
    created = client.post("/api/admin/catalog", json=_body(), headers=admin)
    assert created.status_code == 201, created.get_json()
    item = created.get_json()
    assert item["status"] == "draft" and item["current_version"] is None and item["published"] is None
    assert item["source_department"] == {"code": "NH-SCJ", "name": "区市场监督管理局"}
    assert item["draft"]["subject_name_field"] == "enterprise_name"
    assert item["draft"]["fields"][3]["enum"] == ["有限责任公司", "股份有限公司", "其他"]
    assert item["has_unpublished_changes"] is True
    assert item["created_at"] == "2026-03-02T10:00:00+08:00"

    published = client.post("/api/admin/catalog/business-license/publish", headers=admin)
    assert published.status_code == 200
    body = published.get_json()
    assert body["status"] == "published" and body["current_version"] == 1
    assert body["published"]["fields"] == body["draft"]["fields"] and body["has_unpublished_changes"] is False

    again = client.post("/api/admin/catalog/business-license/publish", headers=admin)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "nothing_to_publish"

    fields = catalog_item_spec()["fields"] + [{"key": "registered_capital", "label": "注册资本（万元）",
                                               "type": "number", "required": False, "sensitive": False}]
    edited = client.put("/api/admin/catalog/business-license", json=_put_body(fields=fields), headers=admin)
    assert edited.status_code == 200, edited.get_json()
    body = edited.get_json()
    assert body["current_version"] == 1 and len(body["published"]["fields"]) == 6
    assert len(body["draft"]["fields"]) == 7 and body["has_unpublished_changes"] is True

    clock.advance(minutes=5)  # within the access token's life
    second = client.post("/api/admin/catalog/business-license/publish", headers=admin).get_json()
    assert second["current_version"] == 2 and len(second["published"]["fields"]) == 7
    assert [v["version"] for v in second["versions"]] == [1, 2]

    retired = client.post("/api/admin/catalog/business-license/retire", headers=admin)
    assert retired.status_code == 200
    assert retired.get_json()["status"] == "retired" and retired.get_json()["retired_at"] is not None
    listed = client.get("/api/admin/catalog?status=retired", headers=admin).get_json()
    assert [i["code"] for i in listed["items"]] == ["business-license"]


def test_admin_list_shows_drafts_and_retired_items_with_filters(client, session, clock, admin):
    make_catalog_item(session, clock, publish=False, code="draft-item", name="草稿")
    make_catalog_item(session, clock, code="live-item", name="已发布")
    make_catalog_item(session, clock, code="old-item", name="已废止")
    client.post("/api/admin/catalog/old-item/retire", headers=admin)
    everything = client.get("/api/admin/catalog", headers=admin).get_json()
    assert {i["code"]: i["status"] for i in everything["items"]} == {
        "draft-item": "draft", "live-item": "published", "old-item": "retired"}
    assert everything["total"] == 3 and everything["page"] == 1 and everything["per_page"] == 20
    drafts = client.get("/api/admin/catalog?status=draft", headers=admin).get_json()
    assert [i["code"] for i in drafts["items"]] == ["draft-item"]
    assert client.get("/api/admin/catalog?q=已发", headers=admin).get_json()["total"] == 1
    assert client.get("/api/admin/catalog?status=gone", headers=admin).status_code == 422


def test_get_one_item_and_404_for_an_unknown_code(client, session, clock, admin):
    make_catalog_item(session, clock, publish=False)
    assert client.get("/api/admin/catalog/business-license", headers=admin).get_json()["status"] == "draft"
    missing = client.get("/api/admin/catalog/nope", headers=admin)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    assert client.post("/api/admin/catalog/nope/publish", headers=admin).status_code == 404


def test_creating_a_taken_code_is_a_409(client, admin):
    assert client.post("/api/admin/catalog", json=_body(), headers=admin).status_code == 201
    again = client.post("/api/admin/catalog", json=_body(), headers=admin)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "catalog_item_exists"


@pytest.mark.parametrize(("change", "key"), [
    ({"fields": [{"key": "Name", "label": "名称", "type": "string"}], "subject_name_field": None}, "fields.0.key"),
    ({"fields": [{"key": "name", "label": "名称", "type": "text"}], "subject_name_field": None}, "fields.0.type"),
    ({"fields": [{"key": "kind", "label": "类型", "type": "enum"}], "subject_name_field": None}, "fields.0.enum"),
    ({"fields": [{"key": "kind", "label": "类型", "type": "enum", "enum": ["a", "a"]}], "subject_name_field": None},
     "fields.0.enum"),
    ({"fields": [{"key": "name", "label": "名称", "type": "string", "enum": ["a"]}], "subject_name_field": None},
     "fields.0.enum"),
    ({"fields": [{"key": "day", "label": "日期", "type": "date", "max_length": 10}], "subject_name_field": None},
     "fields.0.max_length"),
    ({"fields": [{"key": "name", "label": "名称", "type": "string", "max_length": 2001}],
      "subject_name_field": None}, "fields.0.max_length"),
    ({"fields": [{"key": "a", "label": "甲", "type": "string"}, {"key": "a", "label": "乙", "type": "string"}],
      "subject_name_field": None}, "fields.1.key"),
    ({"fields": [{"key": "name", "label": "名称", "type": "string", "common": "Full Name"}],
      "subject_name_field": None}, "fields.0.common"),
    ({"fields": [{"key": "name", "label": "名称", "type": "string", "colour": "red"}], "subject_name_field": None},
     "fields.0.colour"),
    ({"fields": [], "subject_name_field": None}, "fields"),
    ({"subject_name_field": "established_on"}, "subject_name_field"),
    ({"subject_name_field": "nickname"}, "subject_name_field"),
    ({"source_department": "NH-XXX"}, "source_department"),
    ({"kind": "paper"}, "kind"),
    ({"subject_type": "animal"}, "subject_type"),
    ({"code": "has space"}, "code"),
    ({"batch": ""}, "batch"),
])
def test_an_invalid_item_is_a_422_naming_the_field(client, admin, change, key):
    response = client.post("/api/admin/catalog", json={**_body(), **change}, headers=admin)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed" and key in error["fields"], error


def test_a_non_source_department_is_a_422(client, session, clock, admin):
    make_department(session, clock, code="NH-ZSJ", name="数据局", is_source=False, is_approval=False)
    response = client.post("/api/admin/catalog", json=_body(source_department="NH-ZSJ"), headers=admin)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"source_department": "is not a source department"}


def test_a_published_item_refuses_a_new_source_with_422(client, session, clock, admin):
    make_department(session, clock, code="NH-GAJ", name="公安分局", is_approval=False)
    make_catalog_item(session, clock)
    response = client.put("/api/admin/catalog/business-license", json=_put_body(source_department="NH-GAJ"),
                          headers=admin)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"source_department": "is fixed once the item is published"}


def test_retiring_a_draft_is_a_409(client, session, clock, admin):
    make_catalog_item(session, clock, publish=False)
    response = client.post("/api/admin/catalog/business-license/retire", headers=admin)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "catalog_item_draft"


def test_service_item_create_get_update_and_list(client, session, clock, admin):
    make_catalog_item(session, clock)
    body = {"code": "food-license-new", "name": "食品经营许可（新办）", "approval_department": "NH-SCJ",
            "materials": [{"name": "营业执照", "catalog_item": "business-license",
                           "fields": ["enterprise_name", "legal_rep_name"]},
                          {"name": "经营场所平面图"}]}
    created = client.post("/api/admin/service-items", json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    item = created.get_json()
    assert item["subject_type"] == "person"  # the default
    assert item["approval_department"] == {"code": "NH-SCJ", "name": "区市场监督管理局"}
    license_, paper = item["materials"]
    assert license_["catalog_item"]["code"] == "business-license" and license_["paper_only"] is False
    assert license_["fields"] == [{"key": "enterprise_name", "label": "名称"},
                                  {"key": "legal_rep_name", "label": "法定代表人"}]
    assert paper == {"position": 1, "name": "经营场所平面图", "catalog_item": None, "paper_only": True,
                     "all_fields": False, "fields": []}

    fetched = client.get("/api/admin/service-items/food-license-new", headers=admin)
    assert fetched.status_code == 200 and fetched.get_json() == item

    put = {"name": "食品经营许可（新办）", "approval_department": "NH-SCJ", "subject_type": "enterprise",
           "materials": [{"name": "营业执照", "catalog_item": "business-license"}]}
    updated = client.put("/api/admin/service-items/food-license-new", json=put, headers=admin)
    assert updated.status_code == 200
    only = updated.get_json()["materials"]
    assert len(only) == 1 and only[0]["all_fields"] is True and len(only[0]["fields"]) == 6
    assert updated.get_json()["subject_type"] == "enterprise"

    listed = client.get("/api/admin/service-items?department=NH-SCJ", headers=admin).get_json()
    assert listed["total"] == 1 and listed["items"][0]["code"] == "food-license-new"
    assert client.get("/api/admin/service-items/nope", headers=admin).status_code == 404
    assert client.put("/api/admin/service-items/nope", json=put, headers=admin).status_code == 404


def test_service_item_errors_are_422_and_409(client, session, clock, admin):
    make_catalog_item(session, clock)
    make_service_item(session, clock)
    body = {"code": "food-license-new", "name": "食品经营许可（新办）", "approval_department": "NH-SCJ",
            "materials": [{"name": "营业执照", "catalog_item": "business-license"}]}
    taken = client.post("/api/admin/service-items", json=body, headers=admin)
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "service_item_exists"
    bad = {**body, "code": "other", "materials": [{"name": "营业执照", "catalog_item": "business-license",
                                                    "fields": ["colour"]}, {"name": ""}]}
    invalid = client.post("/api/admin/service-items", json=bad, headers=admin)
    assert invalid.status_code == 422
    assert set(invalid.get_json()["error"]["fields"]) == {"materials.1.name"}  # shape first, at the edge
    bad["materials"] = [{"name": "营业执照", "catalog_item": "business-license", "fields": ["colour"]}]
    invalid = client.post("/api/admin/service-items", json=bad, headers=admin)
    assert invalid.get_json()["error"]["fields"] == {"materials.0.fields": "not fields of business-license: colour"}
    no_dept = client.post("/api/admin/service-items", json={**body, "code": "x1", "approval_department": "NH-X"},
                          headers=admin)
    assert no_dept.status_code == 422 and "approval_department" in no_dept.get_json()["error"]["fields"]
