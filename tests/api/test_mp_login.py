"""Applicants log in with a WeChat code, through a fake WeChat server over real HTTP."""

from __future__ import annotations

import json
import logging

import pytest

from backend.models import Applicant, AuditEvent
from tests.factories import bearer, login_applicant


@pytest.fixture
def app_settings(fake_wechat):
    return fake_wechat.app_settings()


def _login(client, code):
    return client.post("/api/mp/auth/login", json={"code": code})


def test_login_creates_the_account_and_returns_tokens(client, session, fake_wechat):
    user = fake_wechat.add_login_code("code-1", openid="o-alice", unionid="u-alice")
    response = _login(client, "code-1")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= {"access_token", "refresh_token", "expires_in", "account"}
    assert body["expires_in"] == 900
    assert body["account"]["verified"] is False
    (sent,) = fake_wechat.calls("jscode2session")
    assert sent.query == {"appid": fake_wechat.appid, "secret": fake_wechat.secret, "js_code": "code-1",
                          "grant_type": "authorization_code"}
    applicant = session.query(Applicant).one()
    assert (applicant.openid, applicant.unionid) == ("o-alice", "u-alice")
    assert user.session_key not in applicant.session_key_enc  # stored encrypted
    protector = client.application.extensions["protector"]
    assert protector.decrypt(applicant.session_key_enc, context="applicants.session_key_enc") == user.session_key
    me = client.get("/api/mp/me", headers=bearer(body))
    assert me.status_code == 200
    assert me.get_json()["id"] == applicant.id


def test_a_second_login_finds_the_same_account_and_keeps_the_new_session_key(client, session, clock, fake_wechat):
    first = login_applicant(client, fake_wechat, "o-alice")
    clock.advance(hours=1)
    second = fake_wechat.add_login_code("code-2", openid="o-alice")
    body = _login(client, "code-2").get_json()
    assert body["account"]["id"] == first["account"]["id"]
    assert session.query(Applicant).count() == 1
    applicant = session.query(Applicant).one()
    protector = client.application.extensions["protector"]
    assert protector.decrypt(applicant.session_key_enc, context="applicants.session_key_enc") == second.session_key
    assert body["account"]["last_login_at"] == "2026-03-02T11:00:00+08:00"
    actions = [e.action for e in session.query(AuditEvent).order_by(AuditEvent.seq)]
    assert actions == ["applicant.created", "applicant.login", "applicant.login"]


@pytest.mark.parametrize("errcode, status, code", [
    (40029, 401, "invalid_code"),
    (40163, 401, "invalid_code"),
    (45011, 429, "wechat_rate_limited"),
    (40226, 403, "wechat_refused"),
    (40013, 503, "wechat_unavailable"),
])
def test_each_wechat_error_is_a_clear_error(client, session, fake_wechat, errcode, status, code):
    fake_wechat.add_login_code("code-1", openid="o-alice")
    fake_wechat.fail_next("jscode2session", errcode)
    response = _login(client, "code-1")
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert session.query(Applicant).count() == 0
    assert len(fake_wechat.calls("jscode2session")) == 1  # only -1 (busy) is retried


def test_an_unknown_code_and_a_used_code_are_invalid(client, fake_wechat):
    assert _login(client, "never-issued").get_json()["error"]["code"] == "invalid_code"
    fake_wechat.add_login_code("code-1", openid="o-alice")
    assert _login(client, "code-1").status_code == 200
    again = _login(client, "code-1")
    assert again.status_code == 401
    assert again.get_json()["error"]["code"] == "invalid_code"


def test_rate_limit_says_when_to_retry(client, fake_wechat):
    fake_wechat.fail_next("jscode2session", 45011)
    response = _login(client, "code-1")
    assert response.headers["Retry-After"] == "60"


def test_busy_wechat_is_asked_once_more(client, session, fake_wechat):
    fake_wechat.add_login_code("code-1", openid="o-alice")
    fake_wechat.fail_next("jscode2session", -1)
    response = _login(client, "code-1")
    assert response.status_code == 200
    assert len(fake_wechat.calls("jscode2session")) == 2
    assert session.query(Applicant).count() == 1


def test_busy_twice_is_unavailable(client, fake_wechat):
    fake_wechat.add_login_code("code-1", openid="o-alice")
    fake_wechat.fail_next("jscode2session", -1, -1)
    response = _login(client, "code-1")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "wechat_unavailable"
    assert len(fake_wechat.calls("jscode2session")) == 2


def test_wechat_outage_is_a_503(client, session, fake_wechat):
    fake_wechat.add_login_code("code-1", openid="o-alice")
    with fake_wechat.down():
        refused = _login(client, "code-1")
    assert refused.status_code == 503
    assert refused.get_json()["error"]["code"] == "wechat_unavailable"
    fake_wechat.http_error_next("jscode2session", 502)
    server_error = _login(client, "code-1")
    assert server_error.status_code == 503
    assert server_error.get_json()["error"]["code"] == "wechat_unavailable"
    assert session.query(Applicant).count() == 0
    assert _login(client, "code-1").status_code == 200  # back up: the code was never spent


def test_session_key_never_reaches_a_response_or_a_log(client, fake_wechat, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    user = fake_wechat.add_login_code("code-1", openid="o-alice", unionid="u-alice")
    answers = [_login(client, "code-1")]
    tokens = answers[0].get_json()
    headers = bearer(tokens)
    answers.append(client.get("/api/mp/me", headers=headers))
    answers.append(client.post("/api/mp/auth/refresh", json={"refresh_token": tokens["refresh_token"]}))
    fake_wechat.fail_next("jscode2session", 40163)
    answers.append(_login(client, "code-1"))
    for response in answers:
        text = response.get_data(as_text=True)
        assert user.session_key not in text
        assert "session_key" not in text
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert logged, "the requests were logged"
    assert user.session_key not in logged
    assert "u-alice" not in logged


def test_refresh_rotates_and_reuse_revokes_the_login(client, fake_wechat):
    first = login_applicant(client, fake_wechat, "o-alice")
    rotated = client.post("/api/mp/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["account"]["id"] == first["account"]["id"]
    assert client.get("/api/mp/me", headers=bearer(second)).status_code == 200
    reused = client.post("/api/mp/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert reused.get_json()["error"]["code"] == "refresh_reused"
    assert client.post("/api/mp/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401
    revoked = client.get("/api/mp/me", headers=bearer(second))
    assert revoked.status_code == 401
    assert revoked.get_json()["error"]["code"] == "token_revoked"


def test_logout_ends_access_and_refresh_tokens(client, session, fake_wechat):
    tokens = login_applicant(client, fake_wechat, "o-alice")
    assert client.post("/api/mp/auth/logout", headers=bearer(tokens)).status_code == 204
    assert client.get("/api/mp/me", headers=bearer(tokens)).status_code == 401
    assert client.post("/api/mp/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    assert session.query(AuditEvent).order_by(AuditEvent.seq.desc()).first().action == "applicant.logout"


def test_staff_and_applicant_tokens_do_not_stand_in_for_each_other(client, session, clock, fake_wechat):
    from tests.factories import login_staff, make_staff

    make_staff(session, clock)
    staff = login_staff(client, "admin")
    applicant = login_applicant(client, fake_wechat, "o-alice")
    assert client.get("/api/mp/me", headers=bearer(staff)).status_code == 401
    assert client.get("/api/staff/me", headers=bearer(applicant)).status_code == 401
    staff_refresh = client.post("/api/mp/auth/refresh", json={"refresh_token": staff["refresh_token"]})
    assert staff_refresh.status_code == 401


def test_login_needs_a_code(client, fake_wechat):
    response = client.post("/api/mp/auth/login", json={})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"code": "is required"}
    assert fake_wechat.requests == []


def test_phone_number_is_kept_encrypted_and_shown_masked(client, session, fake_wechat):
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))
    fake_wechat.add_phone_code("phone-1", phone="13800138000")
    response = client.post("/api/mp/me/phone", headers=headers, json={"code": "phone-1"})
    assert response.status_code == 200
    assert response.get_json()["phone_masked"] == "138****8000"
    assert "13800138000" not in response.get_data(as_text=True)
    applicant = session.query(Applicant).one()
    assert "13800138000" not in applicant.phone_enc
    (token_call,) = fake_wechat.calls("stable_token")
    assert token_call.body == {"grant_type": "client_credential", "appid": fake_wechat.appid,
                               "secret": fake_wechat.secret, "force_refresh": False}
    (phone_call,) = fake_wechat.calls("getuserphonenumber")
    assert phone_call.query["access_token"] in fake_wechat.issued_tokens
    assert phone_call.body == {"code": "phone-1"}


def test_the_access_token_is_cached_and_refreshed_when_wechat_calls_it_stale(client, fake_wechat):
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))
    for code in ("p1", "p2"):
        fake_wechat.add_phone_code(code)
        assert client.post("/api/mp/me/phone", headers=headers, json={"code": code}).status_code == 200
    assert len(fake_wechat.calls("stable_token")) == 1  # fetched once, then cached
    fake_wechat.expire_tokens()
    fake_wechat.add_phone_code("p3")
    assert client.post("/api/mp/me/phone", headers=headers, json={"code": "p3"}).status_code == 200
    calls = fake_wechat.calls("getuserphonenumber")
    assert len(calls) == 4  # the stale try, then the retry with a fresh token
    assert calls[2].query["access_token"] != calls[3].query["access_token"]
    assert len(fake_wechat.calls("stable_token")) == 2


def test_a_bad_phone_code_is_a_422_not_a_logout(client, fake_wechat):
    headers = bearer(login_applicant(client, fake_wechat, "o-alice"))
    response = client.post("/api/mp/me/phone", headers=headers, json={"code": "nope"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_code"
    with fake_wechat.down():
        down = client.post("/api/mp/me/phone", headers=headers, json={"code": "nope"})
    assert down.status_code == 503


def test_logs_name_errcodes_but_never_codes(client, fake_wechat, capsys):
    fake_wechat.fail_next("jscode2session", 40226)
    _login(client, "secret-code-xyz")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    text = json.dumps(lines, ensure_ascii=False)
    assert "40226" in text
    assert "secret-code-xyz" not in text


def test_create_app_builds_the_wechat_client_from_config_or_takes_one(tmp_path, clock, fake_wechat):
    from auth.wechat import HttpWeChat, WeChatSession
    from backend import create_app
    from tests.conftest import settings_for

    built = create_app(settings_for(tmp_path, **fake_wechat.app_settings()), clock=clock).extensions["wechat"]
    assert isinstance(built, HttpWeChat)
    assert built.api.base_url == fake_wechat.base_url

    class StubWeChat:
        def code_to_session(self, code):
            return WeChatSession("o-stub", "stub-key")

        def phone_number(self, code):
            return "13900000000"

    stub = StubWeChat()
    app = create_app(settings_for(tmp_path), clock=clock, wechat=stub)
    assert app.extensions["wechat"] is stub
    assert app.extensions["collaborators"] == {"wechat": stub}
