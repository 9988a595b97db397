"""`GET /api/mp/access-log`: every use of the caller's data by staff, drawn from the audit chain (issue 5 point 8)."""

from __future__ import annotations

import pytest

from tests.exemption import BOB_ID, ENTERPRISE, USCC, accepted, confirmed, counter_code, exemption_world
from tests.factories import bearer, login_applicant, verified_applicant


@pytest.fixture
def app_settings(fake_wechat):
    return fake_wechat.app_settings()


@pytest.fixture
def world(client, session, clock, fake_wechat):
    return exemption_world(client, session, clock, fake_wechat)


def test_the_access_log_lists_each_use_by_staff_with_department_staff_time_purpose_and_fields(client, clock, world):
    done = accepted(client, world)
    clock.advance(hours=1)
    world.log_in_again()
    assert client.get(f"/api/counter/confirmations/{done['id']}", headers=world.counter).status_code == 200
    response = client.get("/api/mp/access-log", headers=world.alice)
    assert response.status_code == 200
    body = response.get_json()
    uses = [(e["use"], e["subject"]["type"]) for e in body["items"]]
    # Newest first; each use once per subject whose data it touched (the enterprise's and alice's own).
    assert uses == [("reopened", "person"), ("reopened", "enterprise"), ("accepted", "person"),
                    ("accepted", "enterprise"), ("viewed", "person"), ("viewed", "enterprise")]
    assert body["total"] == 6
    reopened = body["items"][1]
    assert reopened["at"] == "2026-03-02T11:00:00+08:00"
    assert reopened["department"] == {"code": "NH-SCJ", "name": "区市场监督管理局"}
    assert reopened["staff"] == "sc********r"
    assert reopened["service_item"] == {"code": ENTERPRISE, "name": "食品经营许可（新办）"}
    assert reopened["subject"] == {"type": "enterprise", "name": "示例有限公司"}
    assert reopened["confirmation_id"] == done["id"]
    assert reopened["materials"] == [{"material": "营业执照", "catalog_item": "business-license",
                                      "fields": ["名称", "法定代表人"]}]
    own = body["items"][0]
    assert own["subject"] == {"type": "person", "name": None}
    assert own["materials"] == [{"material": "法定代表人身份证", "catalog_item": "id-card", "fields": ["姓名", "性别"]}]


def test_the_access_log_shows_refused_attempts_and_nothing_of_other_people(client, fake_wechat, world):
    confirmation = confirmed(client, world, enterprise=False)
    token = counter_code(client, world, confirmation["id"])["token"]
    assert client.post("/api/counter/scan", headers=world.counter, json={"token": token}).status_code == 403
    (refused,) = client.get("/api/mp/access-log", headers=world.alice).get_json()["items"]
    assert refused["use"] == "refused" and refused["materials"] == []
    assert refused["department"]["code"] == "NH-MZJ"  # the department whose service item it is
    bob = verified_applicant(client, fake_wechat, openid="o-bob", name="李四", id_number=BOB_ID)
    assert client.get("/api/mp/access-log", headers=bob).get_json() == {"items": [], "total": 0, "page": 1,
                                                                           "per_page": 20}
    newcomer = bearer(login_applicant(client, fake_wechat, "o-newcomer"))
    assert client.get("/api/mp/access-log", headers=newcomer).status_code == 403


def test_an_agent_sees_uses_of_their_own_data_not_the_enterprises(client, fake_wechat, world):
    agent_id = "440304198506151237"
    granted = client.post("/api/mp/enterprise-authorizations", headers=world.alice, json={
        "uscc": USCC, "agent_name": "王五", "agent_id_number": agent_id})
    agent = verified_applicant(client, fake_wechat, openid="o-agent", name="王五", id_number=agent_id)
    assert client.post(f"/api/mp/enterprise-authorizations/{granted.get_json()['id']}/accept",
                       headers=agent).status_code == 200
    accepted(client, world)
    assert client.get("/api/mp/access-log", headers=agent).get_json()["total"] == 0
    assert client.get("/api/mp/access-log", headers=world.alice).get_json()["total"] == 4
