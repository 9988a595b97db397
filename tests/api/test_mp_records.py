"""Applicants see their own records: masked in lists, in full (with provenance, audited) one at a time."""

from __future__ import annotations

import json

import pytest

from backend.models import AuditEvent
from tests.factories import (
    bearer,
    id_card_fields,
    login_applicant,
    mp_world,
    push_record,
    revoke_record,
    verified_applicant,
)

ALICE_ID = "440304199003072638"
BOB_ID = "11010519491231002X"


@pytest.fixture
def app_settings(fake_wechat):
    return fake_wechat.app_settings()


@pytest.fixture
def alice(client, session, clock, fake_wechat):
    mp_world(session, clock)
    return verified_applicant(client, fake_wechat, openid="o-alice", name="张三丰", id_number=ALICE_ID)


def _id_card(session, clock, *, record_no="GA-1", subject_id=ALICE_ID, name="张三丰", **options):
    fields = options.pop("fields", None) or id_card_fields(name=name)
    return push_record(session, clock, item="id-card", record_no=record_no, subject_id=subject_id,
                       subject_name=name, fields=fields, **options)


def test_the_list_shows_only_my_records_masked(client, session, clock, alice):
    mine = _id_card(session, clock, valid_until="2036-03-01")
    _id_card(session, clock, record_no="GA-2", subject_id=BOB_ID, name="李四")
    response = client.get("/api/mp/records", headers=alice)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["total"], body["page"], body["per_page"]) == (1, 1, 20)
    (item,) = body["items"]
    assert item == {
        "id": mine.id, "catalog_item": "id-card", "name": "居民身份证", "kind": "license",
        "subject": {"type": "person", "id_masked": "440304********2638", "name": "张*丰"},
        "source_department": {"code": "NH-GAJ", "name": "公安分局"}, "status": "valid",
        "valid_from": None, "valid_until": "2036-03-01", "version": 1, "updated_at": "2026-03-02T10:00:00+08:00",
    }
    text = response.get_data(as_text=True)
    assert ALICE_ID not in text and "张三丰" not in text
    event = session.query(AuditEvent).filter_by(action="wallet.records_listed").one()
    assert event.subject_index == client.application.extensions["protector"].blind_index("id_number", ALICE_ID)
    assert event.details["records"] == [mine.id]


def test_an_unverified_applicant_is_told_to_verify_first(client, session, clock, fake_wechat):
    headers = bearer(login_applicant(client, fake_wechat, "o-new"))
    response = client.get("/api/mp/records", headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "identity_required"


def test_the_detail_shows_full_values_with_provenance_per_field(client, session, clock, fake_wechat, alice):
    record = _id_card(session, clock, fields=id_card_fields(name="张三丰", address="旧址1号"))
    clock.advance(days=3)
    _id_card(session, clock, fields=id_card_fields(name="张三丰", address="新址2号"),
             produced_at=clock().replace(hour=1))
    alice = bearer(login_applicant(client, fake_wechat, "o-alice"))  # three days later: a new login
    response = client.get(f"/api/mp/records/{record.id}", headers=alice)
    assert response.status_code == 200
    detail = response.get_json()
    assert detail["subject"] == {"type": "person", "id": ALICE_ID, "name": "张三丰"}
    assert (detail["version"], detail["catalog_version"], detail["status"]) == (2, 1, "valid")
    fields = {f["key"]: f for f in detail["fields"]}
    assert [f["key"] for f in detail["fields"]][:3] == ["name", "sex", "birth_date"]
    assert fields["address"]["value"] == "新址2号"
    assert fields["address"]["label"] == "住址"
    assert fields["address"]["sensitive"] is True
    assert fields["address"]["provenance"] == {
        "source_department": {"code": "NH-GAJ", "name": "公安分局"}, "version": 2, "change": "change",
        "produced_at": "2026-03-05T09:00:00+08:00", "received_at": "2026-03-05T10:00:00+08:00",
        "catalog_version": 1}
    assert fields["name"]["value"] == "张三丰"
    assert fields["name"]["provenance"]["version"] == 1
    assert fields["name"]["provenance"]["received_at"] == "2026-03-02T10:00:00+08:00"
    assert fields["height_cm"]["value"] is None
    event = session.query(AuditEvent).filter_by(action="wallet.record_viewed").one()
    assert (event.target_type, event.target_id) == ("record", str(record.id))
    assert event.purpose == "applicant views own record (wallet)"
    assert event.subject_index == record.subject_index
    assert ALICE_ID not in json.dumps(event.details)


def test_another_persons_record_is_a_404(client, session, clock, alice):
    other = _id_card(session, clock, record_no="GA-2", subject_id=BOB_ID, name="李四")
    response = client.get(f"/api/mp/records/{other.id}", headers=alice)
    assert response.status_code == 404
    assert client.get("/api/mp/records/999999", headers=alice).status_code == 404
    assert session.query(AuditEvent).filter_by(action="wallet.record_viewed").count() == 0


def test_a_revoked_record_never_shows_as_valid(client, session, clock, alice):
    record = _id_card(session, clock)
    clock.advance(minutes=5)
    revoke_record(session, clock, item="id-card", record_no="GA-1")
    (item,) = client.get("/api/mp/records", headers=alice).get_json()["items"]
    assert item["status"] == "revoked"
    detail = client.get(f"/api/mp/records/{record.id}", headers=alice).get_json()
    assert (detail["status"], detail["revoke_reason"], detail["version"]) == ("revoked", "注销", 2)
    # The revocation repeats the content: every field still comes from the version that set it.
    assert {f["provenance"]["version"] for f in detail["fields"]} == {1}


def test_expiry_follows_the_shanghai_calendar_day(client, session, clock, fake_wechat, alice):
    _id_card(session, clock, valid_until="2026-03-02")
    assert client.get("/api/mp/records", headers=alice).get_json()["items"][0]["status"] == "valid"
    clock.advance(hours=13, minutes=59, seconds=59)  # 23:59:59 on 2026-03-02 in Shanghai
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))  # the first access token has expired
    assert client.get("/api/mp/records", headers=headers).get_json()["items"][0]["status"] == "valid"
    clock.advance(seconds=1)
    assert client.get("/api/mp/records", headers=headers).get_json()["items"][0]["status"] == "expired"


def test_a_record_valid_from_tomorrow_is_not_yet_valid(client, session, clock, alice):
    _id_card(session, clock, valid_from="2026-03-03")
    assert client.get("/api/mp/records", headers=alice).get_json()["items"][0]["status"] == "not_yet_valid"


def test_the_list_pages_newest_first(client, session, clock, alice):
    from tests.factories import make_catalog_item

    make_catalog_item(session, clock, code="household", name="户口簿", subject_type="person",
                      source_department="NH-GAJ", subject_name_field=None,
                      fields=[{"key": "household_no", "label": "户号", "type": "string", "required": True}])
    older = _id_card(session, clock)
    clock.advance(minutes=5)
    newer = push_record(session, clock, item="household", record_no="HH-1", subject_id=ALICE_ID,
                        subject_name="张三丰", fields={"household_no": "H001"})
    first = client.get("/api/mp/records?per_page=1", headers=alice).get_json()
    second = client.get("/api/mp/records?per_page=1&page=2", headers=alice).get_json()
    assert first["total"] == second["total"] == 2
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [newer.id, older.id]


def test_subject_must_be_an_enterprise_i_act_for(client, session, clock, alice):
    unknown = client.get("/api/mp/records?subject=91350100M000100Y43", headers=alice)
    assert unknown.status_code == 404
    invalid = client.get("/api/mp/records?subject=91350100M000100Y44", headers=alice)
    assert invalid.status_code == 422
    assert set(invalid.get_json()["error"]["fields"]) == {"subject"}
