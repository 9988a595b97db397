"""Real-name verification: python-stdnum first, then the verifier over HTTP; one account per identity."""

from __future__ import annotations

import pytest

from backend import create_app
from backend.errors import ConfigError
from backend.models import Applicant, AuditEvent
from backend.services.realname import DevelopmentVerifier, HttpRealNameVerifier, RealNameUnavailable
from tests.conftest import settings_for
from tests.factories import bearer, login_applicant

ALICE_ID = "440304199003072638"
BOB_ID = "11010519491231002X"


@pytest.fixture
def app_settings(fake_wechat, fake_realname):
    return {**fake_wechat.app_settings(), "REALNAME_API_BASE": fake_realname.base_url}


def _verify(client, headers, name, id_number):
    return client.post("/api/mp/me/identity", headers=headers, json={"name": name, "id_number": id_number})


def test_a_matching_pair_verifies_the_account_and_shows_it_masked(client, session, fake_wechat, fake_realname):
    fake_realname.add("张三丰", ALICE_ID)
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))
    response = _verify(client, headers, "张三丰", ALICE_ID)
    assert response.status_code == 200
    account = response.get_json()
    assert account["verified"] is True
    assert account["name_masked"] == "张*丰"
    assert account["id_number_masked"] == "440304********2638"
    assert account["verified_at"] == "2026-03-02T10:00:00+08:00"
    assert ALICE_ID not in response.get_data(as_text=True)
    assert fake_realname.requests == [{"name": "张三丰", "id_number": ALICE_ID}]
    applicant = session.query(Applicant).one()
    protector = client.application.extensions["protector"]
    assert applicant.id_index == protector.blind_index("id_number", ALICE_ID)
    assert protector.decrypt(applicant.id_number_enc, context="applicants.id_number_enc") == ALICE_ID
    event = session.query(AuditEvent).filter_by(action="applicant.identity_verified").one()
    assert event.subject_index == applicant.id_index
    assert ALICE_ID not in str(event.details)
    assert client.get("/api/mp/me", headers=headers).get_json()["verified"] is True


def test_a_lower_case_check_letter_is_the_same_identity(client, session, fake_wechat, fake_realname):
    fake_realname.add("李四", BOB_ID)
    headers = bearer(login_applicant(client, fake_wechat, "o-bob"))
    assert _verify(client, headers, "李四", BOB_ID.lower()).status_code == 200
    assert fake_realname.requests == [{"name": "李四", "id_number": BOB_ID}]


@pytest.mark.parametrize("id_number", ["440304199003072639", "440304199013072638", "000000199003072638"])
def test_an_invalid_id_number_is_refused_before_the_verifier_is_asked(client, fake_wechat, fake_realname, id_number):
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))
    response = _verify(client, headers, "张三丰", id_number)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"id_number"}
    assert fake_realname.requests == []


def test_a_pair_the_verifier_does_not_match_is_refused_and_audited(client, session, fake_wechat, fake_realname):
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))
    response = _verify(client, headers, "王五", ALICE_ID)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "identity_mismatch"
    assert session.query(Applicant).one().verified_at is None
    assert session.query(AuditEvent).filter_by(action="applicant.identity_rejected").count() == 1


def test_an_identity_held_by_another_account_is_a_409_and_audited(client, session, fake_wechat, fake_realname):
    fake_realname.add("张三丰", ALICE_ID)
    first = bearer(login_applicant(client, fake_wechat, "o-alice"))
    assert _verify(client, first, "张三丰", ALICE_ID).status_code == 200
    second = login_applicant(client, fake_wechat, "o-other-phone")
    response = _verify(client, bearer(second), "张三丰", ALICE_ID)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "identity_taken"
    event = session.query(AuditEvent).filter_by(action="applicant.identity_taken").one()
    assert (event.actor_type, event.actor_id) == ("applicant", str(second["account"]["id"]))
    assert event.subject_index == client.application.extensions["protector"].blind_index("id_number", ALICE_ID)
    assert len(fake_realname.requests) == 1  # the verifier was not asked for the taken identity


def test_a_verified_account_cannot_switch_identity(client, fake_wechat, fake_realname):
    fake_realname.add("张三丰", ALICE_ID)
    fake_realname.add("李四", BOB_ID)
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))
    assert _verify(client, headers, "张三丰", ALICE_ID).status_code == 200
    switched = _verify(client, headers, "李四", BOB_ID)
    assert switched.status_code == 409
    assert switched.get_json()["error"]["code"] == "identity_locked"
    again = _verify(client, headers, "张三丰", ALICE_ID)
    assert again.status_code == 200
    assert again.get_json()["id_number_masked"] == "440304********2638"


def test_failed_verifications_are_limited_per_day(client, clock, fake_wechat, fake_realname):
    fake_realname.add("张三丰", ALICE_ID)
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))
    for _ in range(5):
        assert _verify(client, headers, "王五", ALICE_ID).status_code == 422
    limited = _verify(client, headers, "张三丰", ALICE_ID)
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "too_many_attempts"
    clock.advance(hours=24)
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))  # the access token has expired meanwhile
    assert _verify(client, headers, "张三丰", ALICE_ID).status_code == 200


def test_a_verifier_outage_is_a_503_and_changes_nothing(client, session, fake_wechat, fake_realname):
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))
    fake_realname.http_error_next(500)
    failed = _verify(client, headers, "张三丰", ALICE_ID)
    assert failed.status_code == 503
    assert failed.get_json()["error"]["code"] == "realname_unavailable"
    fake_realname.garbage_next()
    assert _verify(client, headers, "张三丰", ALICE_ID).status_code == 503
    fake_realname.outage()
    assert _verify(client, headers, "张三丰", ALICE_ID).status_code == 503
    assert session.query(Applicant).one().verified_at is None


def test_identity_needs_a_name_and_an_eighteen_character_id(client, fake_wechat):
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))
    response = client.post("/api/mp/me/identity", headers=headers, json={"id_number": "123"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"name", "id_number"}
    assert client.post("/api/mp/me/identity", json={"name": "a", "id_number": ALICE_ID}).status_code == 401


def test_the_http_verifier_speaks_the_contract(fake_realname):
    fake_realname.add("张三丰", ALICE_ID)
    verifier = HttpRealNameVerifier(fake_realname.base_url + "/")
    assert verifier.verify("张三丰", ALICE_ID) is True
    assert verifier.verify("张三", ALICE_ID) is False
    fake_realname.outage()
    with pytest.raises(RealNameUnavailable):
        verifier.verify("张三丰", ALICE_ID)


def test_the_development_verifier_accepts_any_check_digit_valid_pair():
    verifier = DevelopmentVerifier()
    assert verifier.verify("任何人", ALICE_ID) is True
    assert verifier.verify("任何人", "440304199003072639") is False
    assert verifier.verify(" ", ALICE_ID) is False


def test_create_app_picks_the_verifier_from_config(tmp_path, clock, fake_realname):
    plain = create_app(settings_for(tmp_path), clock=clock)
    assert isinstance(plain.extensions["realname"], DevelopmentVerifier)
    http = create_app(settings_for(tmp_path, REALNAME_API_BASE=fake_realname.base_url), clock=clock)
    assert isinstance(http.extensions["realname"], HttpRealNameVerifier)
    injected = DevelopmentVerifier()
    assert create_app(settings_for(tmp_path), clock=clock, realname=injected).extensions["realname"] is injected
    with pytest.raises(ConfigError, match="REALNAME_API_BASE"):
        create_app(settings_for(tmp_path, ESHARE_ENV="production", SECRET_KEY="s" * 32,
                                DATABASE_URL="sqlite://"), clock=clock)
