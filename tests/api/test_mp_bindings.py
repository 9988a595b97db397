"""The card wallet (卡包): bind my valid licenses; a later revoked one shows revoked; unbind."""

from __future__ import annotations

import pytest

from backend.models import AuditEvent, Binding
from tests.factories import (
    bearer,
    id_card_fields,
    login_applicant,
    make_catalog_item,
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
    return push_record(session, clock, item="id-card", record_no=record_no, subject_id=subject_id,
                       subject_name=name, fields=id_card_fields(name=name), **options)


def _bind(client, headers, record_id):
    return client.post("/api/mp/bindings", headers=headers, json={"record_id": record_id})


def test_binding_my_license_puts_it_in_the_wallet(client, session, clock, alice):
    record = _id_card(session, clock)
    response = _bind(client, alice, record.id)
    assert response.status_code == 201
    binding = response.get_json()
    assert binding["record"]["id"] == record.id
    assert binding["record"]["status"] == "valid"
    assert binding["record"]["subject"]["id_masked"] == "440304********2638"
    assert binding["created_at"] == "2026-03-02T10:00:00+08:00"
    wallet = client.get("/api/mp/bindings", headers=alice).get_json()
    assert wallet["total"] == 1
    assert wallet["items"] == [binding]
    assert ALICE_ID not in client.get("/api/mp/bindings", headers=alice).get_data(as_text=True)
    event = session.query(AuditEvent).filter_by(action="wallet.binding_added").one()
    assert event.subject_index == record.subject_index


def test_a_license_is_bound_once(client, session, clock, alice):
    record = _id_card(session, clock)
    assert _bind(client, alice, record.id).status_code == 201
    again = _bind(client, alice, record.id)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_bound"


def test_only_licenses_go_into_the_wallet(client, session, clock, alice):
    make_catalog_item(session, clock, code="social-insurance", name="社保参保证明", kind="data", subject_type="person",
                      source_department="NH-GAJ", subject_name_field=None,
                      fields=[{"key": "months", "label": "缴费月数", "type": "number", "required": True}])
    data = push_record(session, clock, item="social-insurance", record_no="SI-1", subject_id=ALICE_ID,
                       subject_name="张三丰", fields={"months": 120})
    response = _bind(client, alice, data.id)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "not_a_license"


def test_someone_elses_license_cannot_be_bound(client, session, clock, alice):
    other = _id_card(session, clock, record_no="GA-2", subject_id=BOB_ID, name="李四")
    assert _bind(client, alice, other.id).status_code == 404
    assert _bind(client, alice, 424242).status_code == 404
    assert session.query(Binding).count() == 0


def test_a_revoked_or_expired_license_cannot_be_bound(client, session, clock, alice):
    revoked = _id_card(session, clock)
    revoke_record(session, clock, item="id-card", record_no="GA-1")
    response = _bind(client, alice, revoked.id)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "record_not_valid"
    expired = _id_card(session, clock, record_no="GA-3", valid_until="2026-03-01")
    assert _bind(client, alice, expired.id).get_json()["error"]["code"] == "record_not_valid"


def test_a_binding_of_a_license_revoked_later_shows_it_revoked(client, session, clock, alice):
    record = _id_card(session, clock)
    assert _bind(client, alice, record.id).status_code == 201
    clock.advance(minutes=5)
    revoke_record(session, clock, item="id-card", record_no="GA-1")
    (binding,) = client.get("/api/mp/bindings", headers=alice).get_json()["items"]
    assert binding["record"]["status"] == "revoked"


def test_a_binding_of_a_license_that_expires_later_shows_it_expired(client, session, clock, fake_wechat, alice):
    record = _id_card(session, clock, valid_until="2026-03-02")
    assert _bind(client, alice, record.id).status_code == 201
    clock.advance(days=1)
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))
    (binding,) = client.get("/api/mp/bindings", headers=headers).get_json()["items"]
    assert binding["record"]["status"] == "expired"


def test_unbinding_removes_it_from_my_wallet_only(client, session, clock, alice):
    record = _id_card(session, clock)
    binding = _bind(client, alice, record.id).get_json()
    assert client.delete(f"/api/mp/bindings/{binding['id']}", headers=alice).status_code == 204
    assert client.get("/api/mp/bindings", headers=alice).get_json()["total"] == 0
    assert client.delete(f"/api/mp/bindings/{binding['id']}", headers=alice).status_code == 404
    assert client.get(f"/api/mp/records/{record.id}", headers=alice).status_code == 200  # the record stays
    assert session.query(AuditEvent).filter_by(action="wallet.binding_removed").count() == 1


def test_an_unverified_applicant_has_an_empty_wallet(client, fake_wechat, alice):
    headers = bearer(login_applicant(client, fake_wechat, "o-new"))
    assert client.get("/api/mp/bindings", headers=headers).get_json() == {"items": [], "total": 0, "page": 1,
                                                                          "per_page": 20}
    assert _bind(client, headers, 1).status_code == 404


def test_binding_needs_a_record_id(client, alice):
    response = client.post("/api/mp/bindings", headers=alice, json={"record_id": "x"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"record_id"}
