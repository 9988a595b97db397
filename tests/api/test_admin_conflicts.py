"""Conflicts as the data administrator and the departments see them: masked, without the values."""

from __future__ import annotations

from flask import current_app

from backend.models import Role
from backend.services import conflicts
from tests.factories import admin_headers, bearer, login_staff, make_department, make_staff
from tests.unit.test_conflicts import id_card, social_card
from tests.unit.test_conflicts import world as world  # noqa: F401 (the fixture)


def _conflict(session, clock):
    id_card(session, clock, "张三")
    social_card(session, clock, "李四")
    clock.advance(minutes=5)
    conflicts.scan(session, current_app.extensions["protector"], now=clock())


def test_admin_lists_conflicts_masked_and_without_values(client, session, clock, world):  # noqa: F811
    _conflict(session, clock)
    headers = admin_headers(client, session, clock)
    response = client.get("/api/admin/conflicts?status=open", headers=headers)
    body = response.get_json()
    assert body["total"] == 1
    (item,) = body["items"]
    assert item["subject"] == {"type": "person", "masked": "440304********2638"}
    assert item["attribute"] == "name" and item["status"] == "open"
    assert [d["code"] for d in item["departments"]] == ["NH-GAJ", "NH-RSJ"]
    assert {s["catalog_item"] for s in item["sources"]} == {"id-card", "social-security-card"}
    assert all("record_no" not in s for s in item["sources"])
    assert item["first_seen_at"] == item["last_seen_at"] and item["resolved_at"] is None
    text = response.get_data(as_text=True)
    assert "张三" not in text and "李四" not in text and "440304199003072638" not in text
    assert client.get("/api/admin/conflicts?status=resolved", headers=headers).get_json()["total"] == 0
    assert client.get("/api/admin/conflicts?department=NH-RSJ", headers=headers).get_json()["total"] == 1
    assert client.get("/api/admin/conflicts?attribute=address", headers=headers).get_json()["total"] == 0
    assert client.get("/api/admin/conflicts?status=maybe", headers=headers).status_code == 422


def test_a_department_sees_its_conflicts_with_its_own_record_numbers(client, session, clock, world):  # noqa: F811
    _conflict(session, clock)
    body = client.get("/api/dept/conflicts", headers=bearer(login_staff(client, "rsj-op"))).get_json()
    assert body["total"] == 1
    sources = {s["catalog_item"]: s for s in body["items"][0]["sources"]}
    assert sources["social-security-card"]["record_no"] == "RS-1"
    assert "record_no" not in sources["id-card"]
    make_department(session, clock, code="NH-MZJ", name="民政局", is_approval=False)
    make_staff(session, clock, username="mzj-op", role=Role.DEPT_OPERATOR, department="NH-MZJ")
    assert client.get("/api/dept/conflicts", headers=bearer(login_staff(client, "mzj-op"))).get_json()["total"] == 0


def test_only_operators_list_department_conflicts(client, session, clock, world):  # noqa: F811
    assert client.get("/api/dept/conflicts").status_code == 401
    response = client.get("/api/dept/conflicts", headers=admin_headers(client, session, clock))
    assert response.status_code == 403
