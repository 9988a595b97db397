"""Enterprises: the legal representative acts automatically and authorizes agents; authorizations end."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.clock import iso
from backend.models import Applicant, AuditEvent, AuthorizationStatus, EnterpriseAuthorization
from backend.services import enterprises
from tests.factories import (
    bearer,
    business_license_fields,
    login_applicant,
    make_service_item,
    mp_world,
    push_record,
    revoke_record,
    verified_applicant,
)

REP_ID = "440304199003072638"  # 张三丰, the legal representative
AGENT_ID = "11010519491231002X"  # 李四, the agent
OTHER_ID = "440304198506151237"  # 王五
USCC = "91350100M000100Y43"
COMPANY = "佛山市南海示例科技有限公司"


@pytest.fixture
def app_settings(fake_wechat):
    return fake_wechat.app_settings()


@pytest.fixture
def world(session, clock):
    mp_world(session, clock)
    make_service_item(session, clock, code="food-license-new")
    make_service_item(session, clock, code="outdoor-ad", name="户外广告设施设置")
    return _license(session, clock, rep_name="张三丰", rep_id=REP_ID)


def _license(session, clock, *, rep_name, rep_id, record_no="SC-1", **options):
    return push_record(session, clock, item="business-license", record_no=record_no, subject_id=USCC,
                       subject_name=COMPANY, fields=business_license_fields(name=COMPANY, rep_name=rep_name,
                                                                            rep_id=rep_id), **options)


@pytest.fixture
def rep(client, fake_wechat, world):
    return verified_applicant(client, fake_wechat, openid="o-rep", name="张三丰", id_number=REP_ID)


@pytest.fixture
def agent(client, fake_wechat, world):
    return verified_applicant(client, fake_wechat, openid="o-agent", name="李四", id_number=AGENT_ID)


def _authorize(client, headers, **overrides):
    body = {"uscc": USCC, "agent_name": "李四", "agent_id_number": AGENT_ID, **overrides}
    return client.post("/api/mp/enterprise-authorizations", headers=headers, json=body)


def _records(client, headers):
    return client.get(f"/api/mp/records?subject={USCC}", headers=headers)


def _accepted(client, rep, agent, **overrides):
    created = _authorize(client, rep, **overrides)
    assert created.status_code == 201, created.get_json()
    authorization = created.get_json()
    accepted = client.post(f"/api/mp/enterprise-authorizations/{authorization['id']}/accept", headers=agent)
    assert accepted.status_code == 200, accepted.get_json()
    return accepted.get_json()


def test_the_legal_representative_acts_for_the_enterprise_automatically(client, session, world, rep):
    response = _records(client, rep)
    assert response.status_code == 200
    (item,) = response.get_json()["items"]
    assert item["id"] == world.id
    assert item["subject"] == {"type": "enterprise", "id_masked": "913501********0Y43", "name": COMPANY}
    (enterprise,) = client.get("/api/mp/me/enterprises", headers=rep).get_json()["items"]
    assert enterprise == {"uscc_masked": "913501********0Y43", "name": COMPANY, "role": "legal_representative",
                          "license_record_id": world.id, "authorization_id": None, "service_items": None,
                          "expires_at": None}
    detail = client.get(f"/api/mp/records/{world.id}", headers=rep).get_json()
    assert detail["subject"]["id"] == USCC
    event = session.query(AuditEvent).filter_by(action="wallet.record_viewed").one()
    assert event.purpose == "applicant views enterprise record as legal_representative (wallet)"


def test_someone_else_cannot_see_the_enterprise_or_authorize(client, world, agent):
    assert _records(client, agent).status_code == 404
    assert client.get(f"/api/mp/records/{world.id}", headers=agent).status_code == 404
    assert client.get("/api/mp/me/enterprises", headers=agent).get_json() == {"items": []}
    refused = _authorize(client, agent, agent_name="王五", agent_id_number=OTHER_ID)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "not_legal_representative"


def test_authorize_accept_and_the_agent_sees_the_enterprise(client, session, clock, world, rep, agent):
    created = _authorize(client, rep)
    assert created.status_code == 201
    authorization = created.get_json()
    assert authorization["status"] == "pending"
    assert authorization["role"] == "grantor"
    assert authorization["enterprise"] == {"uscc_masked": "913501********0Y43", "name": COMPANY}
    assert authorization["agent"] == {"name_masked": "李*", "id_number_masked": "110105********002X"}
    assert authorization["expires_at"] == iso(clock() + timedelta(days=30))
    assert authorization["service_items"] is None
    assert _records(client, agent).status_code == 404  # not before accepting

    (seen,) = client.get("/api/mp/enterprise-authorizations", headers=agent).get_json()["items"]
    assert (seen["id"], seen["role"], seen["status"]) == (authorization["id"], "agent", "pending")
    accepted = client.post(f"/api/mp/enterprise-authorizations/{authorization['id']}/accept", headers=agent)
    assert accepted.status_code == 200
    assert accepted.get_json()["status"] == "active"
    assert accepted.get_json()["accepted_at"] == "2026-03-02T10:00:00+08:00"

    (item,) = _records(client, agent).get_json()["items"]
    assert item["id"] == world.id
    assert client.get(f"/api/mp/records/{world.id}", headers=agent).status_code == 200
    (enterprise,) = client.get("/api/mp/me/enterprises", headers=agent).get_json()["items"]
    assert (enterprise["role"], enterprise["authorization_id"]) == ("agent", authorization["id"])
    bound = client.post("/api/mp/bindings", headers=agent, json={"record_id": world.id})
    assert bound.status_code == 201
    actions = [e.action for e in session.query(AuditEvent).filter(
        AuditEvent.action.like("enterprise_authorization.%")).order_by(AuditEvent.seq)]
    assert actions == ["enterprise_authorization.granted", "enterprise_authorization.accepted"]
    viewed = session.query(AuditEvent).filter_by(action="wallet.record_viewed").one()
    assert viewed.purpose == "applicant views enterprise record as agent (wallet)"


def test_only_the_named_verified_agent_accepts(client, fake_wechat, world, rep):
    authorization = _authorize(client, rep).get_json()
    accept = f"/api/mp/enterprise-authorizations/{authorization['id']}/accept"
    unverified = bearer(login_applicant(client, fake_wechat, "o-unverified"))
    assert client.post(accept, headers=unverified).status_code == 404  # the agent is known by a verified ID only
    stranger = verified_applicant(client, fake_wechat, openid="o-stranger", name="王五", id_number=OTHER_ID)
    assert client.post(accept, headers=stranger).status_code == 404
    own = client.post(accept, headers=rep)
    assert own.status_code == 403
    assert own.get_json()["error"]["code"] == "not_the_agent"


def test_an_agent_who_verifies_later_can_accept(client, fake_wechat, world, rep):
    authorization = _authorize(client, rep).get_json()
    tokens = login_applicant(client, fake_wechat, "o-late")
    headers = bearer(tokens)
    assert client.get("/api/mp/enterprise-authorizations", headers=headers).get_json()["total"] == 0
    client.post("/api/mp/me/identity", headers=headers, json={"name": "李四", "id_number": AGENT_ID})
    assert client.get("/api/mp/enterprise-authorizations", headers=headers).get_json()["total"] == 1
    accepted = client.post(f"/api/mp/enterprise-authorizations/{authorization['id']}/accept", headers=headers)
    assert accepted.get_json()["status"] == "active"


def test_revocation_takes_effect_at_once(client, session, world, rep, agent):
    authorization = _accepted(client, rep, agent)
    assert client.post("/api/mp/bindings", headers=agent, json={"record_id": world.id}).status_code == 201
    revoke = f"/api/mp/enterprise-authorizations/{authorization['id']}/revoke"
    by_agent = client.post(revoke, headers=agent)
    assert by_agent.status_code == 403
    assert by_agent.get_json()["error"]["code"] == "not_the_grantor"
    revoked = client.post(revoke, headers=rep)
    assert revoked.status_code == 200
    assert (revoked.get_json()["status"], revoked.get_json()["revoked_at"]) == ("revoked", "2026-03-02T10:00:00+08:00")
    assert _records(client, agent).status_code == 404
    assert client.get(f"/api/mp/records/{world.id}", headers=agent).status_code == 404
    assert client.get("/api/mp/bindings", headers=agent).get_json()["total"] == 0  # hidden, not shown stale
    again = client.post(revoke, headers=rep)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "authorization_closed"
    assert client.post(f"/api/mp/enterprise-authorizations/{authorization['id']}/accept",
                       headers=agent).status_code == 409


def test_a_revoked_license_ends_the_authorization(client, session, clock, world, rep, agent):
    authorization = _accepted(client, rep, agent)
    clock.advance(minutes=5)
    revoke_record(session, clock, item="business-license", record_no="SC-1")
    assert _records(client, agent).status_code == 404
    assert _records(client, rep).status_code == 404  # no valid license: nobody is its legal representative
    row = session.get(EnterpriseAuthorization, authorization["id"])
    assert (row.status, row.end_reason, row.ended_at) == (AuthorizationStatus.ENDED, "license_not_valid", clock())
    shown = client.get(f"/api/mp/enterprise-authorizations/{authorization['id']}", headers=rep).get_json()
    assert (shown["status"], shown["end_reason"]) == ("ended", "license_not_valid")
    assert session.query(AuditEvent).filter_by(action="enterprise_authorization.ended").count() == 1


def test_a_license_naming_another_legal_representative_ends_it(client, session, clock, fake_wechat, world, rep,
                                                                agent):
    authorization = _accepted(client, rep, agent)
    clock.advance(minutes=5)
    _license(session, clock, rep_name="王五", rep_id=OTHER_ID)
    listed = client.get("/api/mp/enterprise-authorizations", headers=agent).get_json()["items"]
    assert [(a["id"], a["status"], a["end_reason"]) for a in listed] == [
        (authorization["id"], "ended", "legal_rep_changed")]
    assert _records(client, agent).status_code == 404
    assert _records(client, rep).status_code == 404
    new_rep = verified_applicant(client, fake_wechat, openid="o-new-rep", name="王五", id_number=OTHER_ID)
    assert _records(client, new_rep).status_code == 200
    (enterprise,) = client.get("/api/mp/me/enterprises", headers=new_rep).get_json()["items"]
    assert enterprise["role"] == "legal_representative"
    assert client.get("/api/mp/me/enterprises", headers=rep).get_json() == {"items": []}


def test_an_authorization_expires_exactly_at_expires_at(client, session, clock, world, rep, agent):
    expires_at = clock() + timedelta(minutes=10)
    authorization = _accepted(client, rep, agent, expires_at=iso(expires_at))
    clock.advance(minutes=9, seconds=59)
    assert _records(client, agent).status_code == 200
    clock.advance(seconds=1)
    assert _records(client, agent).status_code == 404
    row = session.get(EnterpriseAuthorization, authorization["id"])
    assert (row.status, row.ended_at) == (AuthorizationStatus.EXPIRED, expires_at)


def test_a_pending_authorization_past_its_expiry_cannot_be_accepted(client, clock, world, rep, agent):
    authorization = _authorize(client, rep, expires_at=iso(clock() + timedelta(minutes=10))).get_json()
    clock.advance(minutes=10)
    late = client.post(f"/api/mp/enterprise-authorizations/{authorization['id']}/accept", headers=agent)
    assert late.status_code == 409
    assert late.get_json()["error"]["code"] == "authorization_not_pending"


def test_expiry_is_at_most_one_year_and_in_the_future(client, clock, world, rep):
    too_long = _authorize(client, rep, expires_at=iso(clock() + timedelta(days=365, seconds=1)))
    assert too_long.status_code == 422
    assert set(too_long.get_json()["error"]["fields"]) == {"expires_at"}
    past = _authorize(client, rep, expires_at=iso(clock()))
    assert past.status_code == 422
    naive = _authorize(client, rep, expires_at="2026-04-01T00:00:00")
    assert naive.status_code == 422
    year = _authorize(client, rep, expires_at=iso(clock() + timedelta(days=365)))
    assert year.status_code == 201


def test_an_agent_holds_one_open_authorization_per_enterprise(client, world, rep):
    assert _authorize(client, rep).status_code == 201
    again = _authorize(client, rep)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "authorization_exists"


def test_the_agent_and_the_enterprise_must_be_valid(client, world, rep):
    bad_agent = _authorize(client, rep, agent_id_number="110105194912310021")
    assert bad_agent.status_code == 422
    assert set(bad_agent.get_json()["error"]["fields"]) == {"agent_id_number"}
    self_agent = _authorize(client, rep, agent_id_number=REP_ID)
    assert self_agent.status_code == 422
    bad_uscc = _authorize(client, rep, uscc="91350100M000100Y44")
    assert set(bad_uscc.get_json()["error"]["fields"]) == {"uscc"}
    unknown = _authorize(client, rep, uscc="91110000600037341L")
    assert unknown.status_code == 403


def test_a_service_item_limit_is_kept(client, session, clock, world, rep, agent):
    authorization = _accepted(client, rep, agent, service_items=["food-license-new", "food-license-new"])
    assert authorization["service_items"] == ["food-license-new"]
    protector = client.application.extensions["protector"]
    uscc_index = protector.blind_index("uscc", USCC)
    applicant = session.query(Applicant).filter_by(openid="o-agent").one()

    def may(service_item):
        return enterprises.may_act_for(session, protector, applicant=applicant, uscc_index=uscc_index, now=clock(),
                                       service_item=service_item)

    assert may("food-license-new") is True
    assert may("outdoor-ad") is False
    assert may(None) is True  # seeing the enterprise's records is needed to prepare any listed application
    legal_rep = session.query(Applicant).filter_by(openid="o-rep").one()
    assert enterprises.may_act_for(session, protector, applicant=legal_rep, uscc_index=uscc_index, now=clock(),
                                   service_item="outdoor-ad") is True
    unknown = _authorize(client, rep, agent_name="王五", agent_id_number=OTHER_ID, service_items=["nope"])
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["fields"] == {"service_items": "unknown: nope"}
    empty = _authorize(client, rep, agent_name="王五", agent_id_number=OTHER_ID, service_items=[])
    assert empty.status_code == 422


def test_acting_enterprises_lists_both_roles(client, session, clock, world, rep, agent):
    other_uscc = "91440605MA4ABCDE13"
    push_record(session, clock, item="business-license", record_no="SC-2", subject_id=other_uscc,
                subject_name="南海第二有限公司",
                fields=business_license_fields(name="南海第二有限公司", rep_name="李四", rep_id=AGENT_ID))
    _accepted(client, rep, agent)
    protector = client.application.extensions["protector"]
    applicant = session.query(Applicant).filter_by(openid="o-agent").one()
    found = enterprises.acting_enterprises(session, protector, applicant=applicant, now=clock())
    assert sorted((e.name, e.role) for e in found) == [(COMPANY, "agent"), ("南海第二有限公司", "legal_representative")]


def test_the_list_shows_what_i_granted_and_what_names_me_only(client, fake_wechat, world, rep, agent):
    _authorize(client, rep)
    stranger = verified_applicant(client, fake_wechat, openid="o-stranger", name="王五", id_number=OTHER_ID)
    assert client.get("/api/mp/enterprise-authorizations", headers=stranger).get_json()["total"] == 0
    mine = client.get("/api/mp/enterprise-authorizations", headers=rep).get_json()
    assert [a["role"] for a in mine["items"]] == ["grantor"]
    assert AGENT_ID not in client.get("/api/mp/enterprise-authorizations", headers=rep).get_data(as_text=True)
