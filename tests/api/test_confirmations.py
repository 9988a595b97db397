"""Readiness, preview, confirm, counter codes and staleness, through the mini-program API (issue 5)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.config import Config
from backend.errors import ConfigError
from backend.models import (
    Applicant,
    AuditEvent,
    Confirmation,
    ConfirmationItem,
    CounterCode,
    Notification,
    OutboxKind,
    OutboxMessage,
)
from tests.exemption import (
    ALICE_ID,
    BOB_ID,
    ENTERPRISE,
    PERSON,
    USCC,
    confirmed,
    counter_code,
    exemption_world,
    open_objection,
    preview,
)
from tests.factories import (
    business_license_fields,
    id_card_fields,
    push_record,
    revoke_record,
    verified_applicant,
)


@pytest.fixture
def app_settings(fake_wechat):
    return fake_wechat.app_settings()


@pytest.fixture
def world(client, session, clock, fake_wechat):
    return exemption_world(client, session, clock, fake_wechat)


def _alice(session) -> Applicant:
    return session.scalar(select(Applicant).where(Applicant.openid == "o-alice"))


# --- readiness --------------------------------------------------------------------------------------------

def test_readiness_names_the_record_for_each_material_or_why_paper(client, world):
    response = client.get(f"/api/mp/service-items/{ENTERPRISE}/readiness?subject={USCC}", headers=world.alice)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["subject"] == {"type": "enterprise", "id_masked": "913501********0Y43", "name": "示例有限公司"}
    assert body["acting_as"] == "legal_representative" and body["ready"] is False
    license_, id_card, plan = body["materials"]
    assert license_["replaceable"] and license_["record"]["id"] == world.license.id
    assert license_["record"]["source_department"]["code"] == "NH-SCJ"
    assert [f["key"] for f in license_["fields"]] == ["enterprise_name", "legal_rep_name"]
    # In an enterprise's application, a person's material is the applicant's own record.
    assert id_card["replaceable"] and id_card["record"]["id"] == world.id_card.id
    assert plan == {"position": 2, "name": "经营场所平面图", "catalog_item": None, "fields": [], "replaceable": False,
                    "paper_reason": "paper_only", "record": None}


def test_readiness_says_why_paper_none_expired_revoked_or_under_objection(client, session, clock, fake_wechat,
                                                                           world):
    bob = verified_applicant(client, fake_wechat, openid="o-bob", name="李四", id_number=BOB_ID)

    def reason() -> tuple[str | None, int | None]:
        body = client.get(f"/api/mp/service-items/{PERSON}/readiness", headers=bob).get_json()
        material = body["materials"][0]
        return material["paper_reason"], (material["record"] or {}).get("id")

    assert reason() == ("none", None)
    card = push_record(session, clock, item="id-card", record_no="GA-2", subject_id=BOB_ID, subject_name="李四",
                       fields=id_card_fields(name="李四"), valid_until="2026-03-01")
    assert reason() == ("expired", card.id)
    push_record(session, clock, item="id-card", record_no="GA-2", subject_id=BOB_ID, subject_name="李四",
                fields=id_card_fields(name="李四"), valid_until="2036-03-01")
    assert reason() == (None, card.id)
    objection = open_objection(session, card, _alice(session).id, field="name")
    assert reason() == ("under_objection", card.id)
    session.delete(objection)
    session.commit()
    revoke_record(session, clock, item="id-card", record_no="GA-2")
    assert reason() == ("revoked", card.id)
    # The person service item needs no subject; the second material is paper-only.
    assert client.get(f"/api/mp/service-items/{PERSON}/readiness", headers=bob).get_json()["materials"][1][
        "paper_reason"] == "paper_only"


def test_readiness_is_for_those_who_may_act_and_is_audited(client, session, fake_wechat, world):
    bob = verified_applicant(client, fake_wechat, openid="o-bob", name="李四", id_number=BOB_ID)
    # Bob may not act for the enterprise: it answers as if there were none.
    assert client.get(f"/api/mp/service-items/{ENTERPRISE}/readiness?subject={USCC}",
                      headers=bob).status_code == 404
    missing = client.get(f"/api/mp/service-items/{ENTERPRISE}/readiness", headers=world.alice)
    assert missing.status_code == 422 and "subject" in missing.get_json()["error"]["fields"]
    assert client.get("/api/mp/service-items/no-such-item/readiness", headers=world.alice).status_code == 404
    client.get(f"/api/mp/service-items/{PERSON}/readiness", headers=world.alice)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "confirmation.readiness_viewed")).all()[-1]
    assert event.subject_index == _alice(session).id_index and PERSON in event.purpose


# --- preview ----------------------------------------------------------------------------------------------

def test_preview_shows_only_the_fields_each_material_needs_with_provenance(client, world):
    draft = preview(client, world.alice, world)
    assert draft["status"] == "draft" and draft["values_shown"] is True
    license_, id_card, plan = draft["materials"]
    assert [(f["key"], f["value"]) for f in license_["fields"]] == [
        ("enterprise_name", "示例有限公司"), ("legal_rep_name", "张三丰")]
    assert [(f["key"], f["value"]) for f in id_card["fields"]] == [("name", "张三丰"), ("sex", "男")]
    shown = str(draft)
    # Minimum necessary: the legal representative's ID number, address and birth date are not shared.
    assert ALICE_ID not in shown and "桂城街道" not in shown and "1990-03-07" not in shown
    provenance = license_["fields"][0]["provenance"]
    assert provenance["source_department"]["code"] == "NH-SCJ" and provenance["version"] == 1
    assert provenance["change"] == "new" and provenance["received_at"].endswith("+08:00")
    assert license_["record_id"] == world.license.id and license_["record_version"] == 1
    assert len(license_["digest"]) == 64
    assert plan["paper"] is True and plan["paper_reason"] == "paper_only" and plan["fields"] == []


def test_preview_values_are_stored_encrypted(client, session, world):
    draft = preview(client, world.alice, world)
    item = session.scalars(select(ConfirmationItem).where(ConfirmationItem.confirmation_id == draft["id"])).first()
    assert item.values_enc and "示例有限公司" not in item.values_enc
    confirmation = session.get(Confirmation, draft["id"])
    assert USCC not in (confirmation.subject_id_enc or "") and confirmation.subject_masked == "913501********0Y43"


def test_a_material_left_out_is_paper_with_the_reason(client, world):
    response = client.post("/api/mp/confirmations", headers=world.alice, json={
        "service_item": ENTERPRISE, "subject": USCC, "record_ids": [world.license.id]})
    assert response.status_code == 201
    assert response.get_json()["materials"][1]["paper_reason"] == "not_chosen"


def test_preview_refuses_records_that_are_not_the_callers_or_replace_nothing(client, session, clock, fake_wechat,
                                                                            world):
    bob = verified_applicant(client, fake_wechat, openid="o-bob", name="李四", id_number=BOB_ID)
    bobs = push_record(session, clock, item="id-card", record_no="GA-2", subject_id=BOB_ID, subject_name="李四",
                       fields=id_card_fields(name="李四"))
    others = client.post("/api/mp/confirmations", headers=world.alice, json={
        "service_item": PERSON, "record_ids": [bobs.id]})
    assert others.status_code == 404
    nothing = client.post("/api/mp/confirmations", headers=world.alice, json={
        "service_item": PERSON, "record_ids": [world.license.id]})
    assert nothing.status_code == 422 and "record_ids.0" in nothing.get_json()["error"]["fields"]
    twice = client.post("/api/mp/confirmations", headers=bob, json={
        "service_item": PERSON, "record_ids": [bobs.id, bobs.id]})
    assert twice.status_code == 422
    unknown = client.post("/api/mp/confirmations", headers=bob, json={"service_item": "nope", "record_ids": [bobs.id]})
    assert unknown.status_code == 422 and "service_item" in unknown.get_json()["error"]["fields"]


def test_preview_refuses_revoked_expired_or_objected_records(client, session, clock, world):
    open_objection(session, world.license, _alice(session).id)
    held = client.post("/api/mp/confirmations", headers=world.alice, json={
        "service_item": ENTERPRISE, "subject": USCC, "record_ids": [world.id_card.id, world.license.id]})
    assert held.status_code == 409 and held.get_json()["error"]["code"] == "record_under_objection"
    push_record(session, clock, item="id-card", record_no="GA-1", subject_id=ALICE_ID, subject_name="张三丰",
                fields=id_card_fields(name="张三丰"), valid_until="2026-03-01")
    expired = client.post("/api/mp/confirmations", headers=world.alice, json={
        "service_item": PERSON, "record_ids": [world.id_card.id]})
    assert expired.status_code == 409 and expired.get_json()["error"]["code"] == "record_not_valid"
    revoke_record(session, clock, item="id-card", record_no="GA-1")
    revoked = client.post("/api/mp/confirmations", headers=world.alice, json={
        "service_item": PERSON, "record_ids": [world.id_card.id]})
    assert revoked.status_code == 409 and revoked.get_json()["error"]["code"] == "record_not_valid"


def test_preview_needs_a_verified_identity(client, fake_wechat, world):
    from tests.factories import bearer, login_applicant

    newcomer = bearer(login_applicant(client, fake_wechat, "o-newcomer"))
    response = client.post("/api/mp/confirmations", headers=newcomer, json={
        "service_item": PERSON, "record_ids": [world.id_card.id]})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "identity_required"


# --- confirm ----------------------------------------------------------------------------------------------

def test_confirm_freezes_the_snapshot_for_thirty_days(client, session, clock, world):
    draft = preview(client, world.alice, world)
    response = client.post(f"/api/mp/confirmations/{draft['id']}/confirm", headers=world.alice)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "confirmed" and len(body["snapshot_digest"]) == 64
    assert body["confirmed_at"] == "2026-03-02T10:00:00+08:00"
    assert body["expires_at"] == "2026-04-01T10:00:00+08:00"
    assert [m["digest"] for m in body["materials"]] == [m["digest"] for m in draft["materials"]]
    again = client.post(f"/api/mp/confirmations/{draft['id']}/confirm", headers=world.alice)
    assert again.status_code == 200 and again.get_json()["snapshot_digest"] == body["snapshot_digest"]
    assert len(session.scalars(select(AuditEvent).where(AuditEvent.action == "confirmation.confirmed")).all()) == 1
    clock.advance(days=30)
    world.log_in_again()
    lapsed = client.get(f"/api/mp/confirmations/{draft['id']}", headers=world.alice).get_json()
    assert lapsed["status"] == "expired"
    refused = client.post(f"/api/mp/confirmations/{draft['id']}/counter-code", headers=world.alice)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "confirmation_expired"


def test_confirmation_lifetime_is_the_configured_one(app, client, world):
    app.extensions["config"] = replace(app.extensions["config"], confirmation_ttl_days=10)
    assert confirmed(client, world)["expires_at"] == "2026-03-12T10:00:00+08:00"


def test_confirm_after_the_record_changed_requires_a_new_preview(client, session, clock, world):
    draft = preview(client, world.alice, world)
    push_record(session, clock, item="business-license", record_no="SC-1", subject_id=USCC,
                subject_name="示例有限公司",
                fields=business_license_fields(name="示例有限公司", rep_name="张三丰", rep_id=ALICE_ID,
                                               address="佛山市南海区新地址8号"))
    response = client.post(f"/api/mp/confirmations/{draft['id']}/confirm", headers=world.alice)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "preview_required"
    fresh = preview(client, world.alice, world)
    assert fresh["materials"][0]["record_version"] == 2
    assert client.post(f"/api/mp/confirmations/{fresh['id']}/confirm", headers=world.alice).status_code == 200


def test_confirm_refuses_records_objected_or_revoked_after_the_preview(client, session, clock, world):
    draft = preview(client, world.alice, world)
    card_draft = preview(client, world.alice, world, enterprise=False)
    open_objection(session, world.license, _alice(session).id)
    held = client.post(f"/api/mp/confirmations/{draft['id']}/confirm", headers=world.alice)
    assert held.status_code == 409 and held.get_json()["error"]["code"] == "record_under_objection"
    revoke_record(session, clock, item="id-card", record_no="GA-1")
    revoked = client.post(f"/api/mp/confirmations/{card_draft['id']}/confirm", headers=world.alice)
    assert revoked.status_code == 409 and revoked.get_json()["error"]["code"] == "record_not_valid"
    assert {c.status.value for c in session.scalars(select(Confirmation))} == {"draft"}


def test_an_agent_needs_the_authorization_still_to_confirm(client, fake_wechat, world):
    agent_id = "440304198506151237"
    granted = client.post("/api/mp/enterprise-authorizations", headers=world.alice, json={
        "uscc": USCC, "agent_name": "王五", "agent_id_number": agent_id, "service_items": [ENTERPRISE]}).get_json()
    agent = verified_applicant(client, fake_wechat, openid="o-agent", name="王五", id_number=agent_id)
    assert client.post(f"/api/mp/enterprise-authorizations/{granted['id']}/accept", headers=agent).status_code == 200
    draft = client.post("/api/mp/confirmations", headers=agent, json={
        "service_item": ENTERPRISE, "subject": USCC, "record_ids": [world.license.id]})
    assert draft.status_code == 201 and draft.get_json()["acting_as"] == "agent"
    # The agent has no ID card record here: that material is paper.
    assert draft.get_json()["materials"][1]["paper_reason"] == "none"
    client.post(f"/api/mp/enterprise-authorizations/{granted['id']}/revoke", headers=world.alice)
    response = client.post(f"/api/mp/confirmations/{draft.get_json()['id']}/confirm", headers=agent)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "authorization_ended"
    assert client.get(f"/api/mp/confirmations/{draft.get_json()['id']}", headers=agent).get_json()[
        "status"] == "draft"


def test_a_draft_older_than_seven_days_cannot_be_confirmed(client, clock, world):
    draft = preview(client, world.alice, world, enterprise=False)
    clock.advance(days=7)
    world.log_in_again()
    response = client.post(f"/api/mp/confirmations/{draft['id']}/confirm", headers=world.alice)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "confirmation_expired"


def test_confirmations_list_and_detail_are_the_callers_own(client, session, fake_wechat, world):
    first = confirmed(client, world)
    draft = preview(client, world.alice, world, enterprise=False)
    listed = client.get("/api/mp/confirmations", headers=world.alice).get_json()
    assert listed["total"] == 2 and [c["id"] for c in listed["items"]] == [draft["id"], first["id"]]
    assert listed["items"][1]["values_shown"] is False
    assert all("value" not in f for m in listed["items"][1]["materials"] for f in m["fields"])
    detail = client.get(f"/api/mp/confirmations/{first['id']}", headers=world.alice).get_json()
    assert detail["materials"][0]["fields"][0]["value"] == "示例有限公司"
    bob = verified_applicant(client, fake_wechat, openid="o-bob", name="李四", id_number=BOB_ID)
    assert client.get("/api/mp/confirmations", headers=bob).get_json()["total"] == 0
    assert client.get(f"/api/mp/confirmations/{first['id']}", headers=bob).status_code == 404


# --- the counter code -------------------------------------------------------------------------------------

def test_counter_code_is_random_short_lived_single_stored_hashed_and_impersonal(client, session, world):
    confirmation = confirmed(client, world)
    code = counter_code(client, world, confirmation["id"])
    token = code["token"]
    assert len(base64.urlsafe_b64decode(token + "=")) == 32  # 256 random bits
    assert code["expires_at"] == "2026-03-02T10:05:00+08:00"
    assert base64.b64decode(code["png_base64"]).startswith(b"\x89PNG\r\n\x1a\n")
    for personal in (ALICE_ID, USCC, "张三丰", "示例有限公司"):
        assert personal not in token
    stored = session.scalars(select(CounterCode)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str([stored.token_hash])
    second = counter_code(client, world, confirmation["id"])
    assert second["token"] != token
    # Only the newest code of a confirmation works.
    old = session.scalars(select(CounterCode).where(CounterCode.token_hash == stored.token_hash)).one()
    session.refresh(old)
    assert old.superseded_at is not None


def test_counter_code_needs_a_confirmed_confirmation(client, world):
    draft = preview(client, world.alice, world)
    response = client.post(f"/api/mp/confirmations/{draft['id']}/counter-code", headers=world.alice)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "not_confirmed"


def test_counter_code_lifetime_is_configurable_but_never_above_300_seconds():
    assert Config.from_env({"COUNTER_CODE_TTL_SECONDS": "120"}).counter_code_ttl_seconds == 120
    assert Config.from_env({"CONFIRMATION_TTL_DAYS": "10"}).confirmation_ttl_days == 10
    with pytest.raises(ConfigError, match="COUNTER_CODE_TTL_SECONDS"):
        Config.from_env({"COUNTER_CODE_TTL_SECONDS": "301"})
    with pytest.raises(ConfigError, match="COUNTER_CODE_TTL_SECONDS"):
        Config.from_env({"COUNTER_CODE_TTL_SECONDS": "0"})


# --- staleness --------------------------------------------------------------------------------------------

def test_a_change_makes_the_confirmation_stale_and_tells_the_applicant(client, session, clock, world):
    confirmation = confirmed(client, world)
    token = counter_code(client, world, confirmation["id"])["token"]
    push_record(session, clock, item="business-license", record_no="SC-1", subject_id=USCC,
                subject_name="示例有限公司",
                fields=business_license_fields(name="示例有限公司", rep_name="张三丰", rep_id=ALICE_ID,
                                               address="佛山市南海区新地址8号"))
    shown = client.get(f"/api/mp/confirmations/{confirmation['id']}", headers=world.alice).get_json()
    assert shown["status"] == "stale" and shown["stale_at"] == "2026-03-02T10:00:00+08:00"
    (notice,) = session.scalars(select(Notification).where(Notification.event == "confirmation_stale")).all()
    assert notice.applicant_id == _alice(session).id and "营业执照" in notice.body
    assert notice.data["confirmation_id"] == confirmation["id"]
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.WECHAT_SUBSCRIBE,
                                                       OutboxMessage.event == "confirmation_stale")).one()
    scan = client.post("/api/counter/scan", headers=world.counter, json={"token": token})
    assert scan.status_code == 409 and scan.get_json()["error"]["code"] == "preview_required"
    code = client.post(f"/api/mp/confirmations/{confirmation['id']}/counter-code", headers=world.alice)
    assert code.status_code == 409 and code.get_json()["error"]["code"] == "preview_required"


def test_a_revocation_makes_the_confirmation_stale(client, session, clock, world):
    confirmation = confirmed(client, world, enterprise=False)
    token = counter_code(client, world, confirmation["id"])["token"]
    revoke_record(session, clock, item="id-card", record_no="GA-1")
    assert session.get(Confirmation, confirmation["id"]).status.value == "stale"
    scan = client.post("/api/counter/scan", headers=world.mzj_counter, json={"token": token})
    assert scan.status_code == 409 and scan.get_json()["error"]["code"] == "preview_required"


def test_one_push_stales_each_confirmation_once_and_leaves_drafts_and_others_alone(client, session, clock, world):
    both = confirmed(client, world)  # uses the license and the ID card
    card_only = confirmed(client, world, enterprise=False)
    draft = preview(client, world.alice, world, enterprise=False)
    from flask import current_app

    from backend.services import records
    from backend.services.audit import SYSTEM
    from backend.services.catalog import get_item

    entries = [
        {"catalog_item": "business-license", "record_no": "SC-1", "subject_id": USCC, "subject_name": "示例有限公司",
         "fields": business_license_fields(name="示例有限公司", rep_name="张三丰", rep_id=ALICE_ID, address="新址")},
    ]
    records.push_records(session, current_app.extensions["protector"], actor=SYSTEM,
                         department=get_item(session, "business-license").source_department,
                         records=[{**e, "produced_at": "2026-03-02T10:00:00+08:00"} for e in entries],
                         idempotency_key="k-1", request_digest="d-1", now=clock())
    push_record(session, clock, item="id-card", record_no="GA-1", subject_id=ALICE_ID, subject_name="张三丰",
                fields=id_card_fields(name="张三丰", sex="男", birth_date="1990-03-08"))
    statuses = {c.id: c.status.value for c in session.scalars(select(Confirmation))}
    assert statuses == {both["id"]: "stale", card_only["id"]: "stale", draft["id"]: "draft"}
    notices = session.scalars(select(Notification).where(Notification.event == "confirmation_stale")).all()
    assert sorted(n.data["confirmation_id"] for n in notices) == sorted([both["id"], card_only["id"]])
    clock.advance(minutes=1)
    assert client.post(f"/api/mp/confirmations/{draft['id']}/confirm", headers=world.alice).get_json()["error"][
        "code"] == "preview_required"


def test_expiry_is_decided_by_the_app_clock(client, session, clock, world):
    confirmation = confirmed(client, world, enterprise=False)
    clock.advance(days=30, seconds=-1)
    world.log_in_again()
    assert client.get(f"/api/mp/confirmations/{confirmation['id']}", headers=world.alice).get_json()[
        "status"] == "confirmed"
    code = counter_code(client, world, confirmation["id"])
    # A code never outlives its confirmation.
    assert code["expires_at"] == "2026-04-01T10:00:00+08:00"
    assert session.get(Confirmation, confirmation["id"]).expires_at - clock() == timedelta(seconds=1)
