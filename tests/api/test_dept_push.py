"""The signed push API: PUT /api/dept/records, POST /api/dept/records/revoke, GET /api/dept/records/report."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from backend.models import PushRequest, Record, RecordRejection, RecordVersion
from tests.factories import make_catalog_item, make_department, make_dept_key, make_id_card_item, signed
from tests.unit.test_records import id_card, license_

PUSH = "/api/dept/records"
REVOKE = "/api/dept/records/revoke"
REPORT = "/api/dept/records/report"


@pytest.fixture
def gaj(session, clock):
    """公安 pushes id cards; 市场监管 pushes business licenses. Returns 公安's key."""
    make_department(session, clock, code="NH-SCJ", name="区市场监督管理局")
    make_department(session, clock, code="NH-GAJ", name="公安分局", is_approval=False)
    make_id_card_item(session, clock)
    make_catalog_item(session, clock)
    return make_dept_key(session, clock, department="NH-GAJ")


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"]["code"] == code
    return body["error"]


def test_a_batch_answers_per_record(client, session, clock, gaj):
    batch = {"records": [id_card(), id_card("GA-0002", subject_id="11010519491231002Y")]}
    response = signed(client, gaj, clock, "PUT", PUSH, json=batch, idempotency_key="b-1")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["accepted"], body["rejected"], body["unchanged"]) == (1, 1, 0)
    ok, bad = body["results"]
    assert ok["index"] == 0 and ok["record_no"] == "GA-0001" and ok["status"] == "accepted"
    assert isinstance(ok["record_id"], int) and ok["version"] == 1 and ok["change"] == "new"
    assert ok["due_at"] == "2026-03-03T23:59:59+08:00" and ok["on_time"] is True
    assert bad["index"] == 1 and bad["status"] == "rejected" and set(bad["errors"]) == {"subject_id"}
    assert body["received_at"] == "2026-03-02T10:00:00+08:00"


def test_a_record_of_another_source_is_refused_for_the_whole_request(client, session, clock, gaj):
    batch = {"records": [id_card(), license_()]}
    error = _error(signed(client, gaj, clock, "PUT", PUSH, json=batch, idempotency_key="b-2"), 403, "not_source")
    assert error["fields"] == {"records.1.catalog_item": "business-license is provided by another department"}
    assert count(session, Record) == count(session, PushRequest) == 0


def test_the_idempotency_key_is_required(client, session, clock, gaj):
    error = _error(signed(client, gaj, clock, "PUT", PUSH, json={"records": [id_card()]}), 400,
                   "idempotency_key_required")
    assert error["fields"] == {"Idempotency-Key": "is required"}
    _error(signed(client, gaj, clock, "POST", REVOKE, json={"records": []}), 400, "idempotency_key_required")
    _error(signed(client, gaj, clock, "PUT", PUSH, json={"records": [id_card()]}, idempotency_key="bad key!"),
           400, "idempotency_key_invalid")


def test_a_retry_signed_anew_gets_the_first_answer(client, session, clock, gaj):
    batch = {"records": [id_card(), id_card("GA-0002", subject_id="x")]}
    first = signed(client, gaj, clock, "PUT", PUSH, json=batch, idempotency_key="retry-7")
    clock.advance(seconds=30)
    second = signed(client, gaj, clock, "PUT", PUSH, json=batch, idempotency_key="retry-7")
    assert second.status_code == 200
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert count(session, RecordVersion) == 1 and count(session, RecordRejection) == 1


def test_a_key_reused_for_another_body_is_a_409(client, session, clock, gaj):
    signed(client, gaj, clock, "PUT", PUSH, json={"records": [id_card()]}, idempotency_key="k")
    _error(signed(client, gaj, clock, "PUT", PUSH, json={"records": [id_card("GA-9")]}, idempotency_key="k"),
           409, "idempotency_mismatch")


def test_a_batch_over_1000_is_a_413(client, session, clock, gaj):
    batch = {"records": [id_card(f"GA-{n}") for n in range(1001)]}
    error = _error(signed(client, gaj, clock, "PUT", PUSH, json=batch, idempotency_key="big"), 413,
                   "batch_too_large")
    assert "1000" in error["message"]
    assert count(session, PushRequest) == 0


def test_malformed_bodies_are_refused(client, session, clock, gaj):
    _error(signed(client, gaj, clock, "PUT", PUSH, body=b"{not json", idempotency_key="m1"), 400, "malformed_json")
    error = _error(signed(client, gaj, clock, "PUT", PUSH, json={"records": "x"}, idempotency_key="m2"), 422,
                   "validation_failed")
    assert "records" in error["fields"]
    _error(signed(client, gaj, clock, "PUT", PUSH, json={"records": [], "extra": 1}, idempotency_key="m3"), 422,
           "validation_failed")
    _error(signed(client, gaj, clock, "PUT", PUSH, json={"records": []}, idempotency_key="m4"), 422,
           "validation_failed")


def test_pushing_needs_a_signature(client, session, clock, gaj):
    response = client.put(PUSH, json={"records": [id_card()]}, headers={"Idempotency-Key": "x"})
    _error(response, 401, "signature_required")


def test_revoke_keeps_history(client, session, clock, gaj):
    created = signed(client, gaj, clock, "PUT", PUSH, json={"records": [id_card()]}, idempotency_key="c")
    record_id = created.get_json()["results"][0]["record_id"]
    clock.advance(hours=1)
    revocation = {"records": [{"catalog_item": "id-card", "record_no": "GA-0001", "reason": "死亡注销"}]}
    response = signed(client, gaj, clock, "POST", REVOKE, json=revocation, idempotency_key="r")
    assert response.status_code == 200
    result = response.get_json()["results"][0]
    assert (result["record_id"], result["version"], result["change"]) == (record_id, 2, "revoke")
    assert [v.change.value for v in session.get(Record, record_id).versions] == ["new", "revoke"]


def test_the_report_shows_accepted_rejected_and_late(client, session, clock, gaj):
    batch = {"records": [id_card(), id_card("GA-2", produced_at="2026-02-26T09:00:00+08:00"),
                         id_card("GA-3", fields={"sex": "X"})]}
    signed(client, gaj, clock, "PUT", PUSH, json=batch, idempotency_key="day-1")
    response = signed(client, gaj, clock, "GET", REPORT + "?from=2026-03-02&to=2026-03-03")
    assert response.status_code == 200
    body = response.get_json()
    assert body["department"] == "NH-GAJ"
    assert body["period"] == {"from": "2026-03-02", "to": "2026-03-03", "start": "2026-03-02T00:00:00+08:00",
                              "end": "2026-03-03T00:00:00+08:00"}
    (card,) = body["items"]
    assert card["catalog_item"] == "id-card" and card["name"] == "居民身份证"
    assert card["accepted"] == {"total": 2, "new": 2, "change": 0, "revoke": 0}
    assert card["timeliness"] == {"on_time": 1, "late": 1, "unknown": 0}
    assert card["rejected"]["total"] == 1
    assert card["rejected"]["reasons"] == {"sex": {"must be one of: 男, 女": 1},
                                           "birth_date": {"is required": 1}}
    (example,) = card["rejected"]["examples"]
    assert example["record_no"] == "GA-3" and example["operation"] == "push"
    assert example["received_at"] == "2026-03-02T10:00:00+08:00"
    assert "11010519491231002X" not in json.dumps(body)

    default = signed(client, gaj, clock, "GET", REPORT).get_json()
    assert default["period"]["to"] == "2026-03-03" and default["period"]["from"] == "2026-02-01"
    _error(signed(client, gaj, clock, "GET", REPORT + "?from=2026-03-03&to=2026-03-02"), 422, "validation_failed")
    _error(signed(client, gaj, clock, "GET", REPORT + "?from=yesterday"), 422, "validation_failed")


def test_the_dept_routes_are_documented_as_signed(client):
    document = client.get("/api/openapi.json").get_json()
    for path, method in ((PUSH, "put"), (REVOKE, "post"), (REPORT, "get")):
        assert document["paths"][path][method]["security"] == [{"departmentSignature": []}]
