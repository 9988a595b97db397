"""Staff log in, rotate and revoke tokens; wrong passwords slow down, then lock."""

from __future__ import annotations

from backend.models import AuditEvent, Role
from tests.factories import PASSWORD, bearer, login_staff, make_department, make_staff


def test_login_returns_tokens_and_account(client, session, clock):
    make_department(session, clock)
    make_staff(session, clock, username="counter1", role=Role.COUNTER_STAFF, department="NH-SCJ")
    body = login_staff(client, "counter1")
    assert body["expires_in"] == 900
    assert body["account"]["role"] == "counter_staff"
    assert body["account"]["department"] == {"code": "NH-SCJ", "name": "区市场监督管理局"}
    # Stored in UTC, shown in Shanghai time: the frozen clock stands at 02:00Z = 10:00+08:00.
    assert body["account"]["last_login_at"] == "2026-03-02T10:00:00+08:00"
    me = client.get("/api/staff/me", headers=bearer(body))
    assert me.status_code == 200
    assert me.get_json()["username"] == "counter1"


def _login(client, username="admin", password=PASSWORD):
    return client.post("/api/staff/login", json={"username": username, "password": password})


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, session, clock):
    make_staff(session, clock)
    wrong = _login(client, password="not-the-password-1")
    unknown = _login(client, username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["error"]["code"] == unknown.get_json()["error"]["code"] == "invalid_credentials"
    assert wrong.get_json()["error"]["message"] == unknown.get_json()["error"]["message"]


def test_repeated_wrong_passwords_slow_down_then_lock_and_are_audited(client, session, clock):
    make_staff(session, clock)
    for _ in range(3):
        assert _login(client, password="wrong-password-9").status_code == 401
    throttled = _login(client)  # even the right password waits its turn
    assert throttled.status_code == 429
    assert throttled.get_json()["error"]["code"] == "login_throttled"
    assert throttled.headers["Retry-After"] == "1"
    delays = []
    for _ in range(6):  # failures 4..9: the wait doubles each time
        clock.advance(seconds=120)
        assert _login(client, password="wrong-password-9").status_code == 401
        delays.append(int(_login(client).headers["Retry-After"]))
    assert delays == [2, 4, 8, 16, 32, 60]
    clock.advance(seconds=120)
    assert _login(client, password="wrong-password-9").status_code == 401  # the 10th failure locks
    locked = _login(client)
    assert locked.status_code == 423
    assert locked.get_json()["error"]["code"] == "account_locked"
    assert int(locked.headers["Retry-After"]) == 900
    clock.advance(seconds=899)
    assert _login(client).status_code == 423
    clock.advance(seconds=1)
    assert _login(client).status_code == 200
    actions = [e.action for e in session.query(AuditEvent).order_by(AuditEvent.seq)]
    assert actions.count("staff.login_failed") == 9
    assert actions.count("staff.locked") == 1
    assert actions[-1] == "staff.login"


def test_a_successful_login_resets_the_failure_count(client, session, clock):
    make_staff(session, clock)
    for _ in range(2):
        _login(client, password="wrong-password-9")
    assert _login(client).status_code == 200
    for _ in range(2):
        _login(client, password="wrong-password-9")
    assert _login(client).status_code == 200


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_whole_login(client, session, clock):
    make_staff(session, clock)
    first = login_staff(client, "admin")
    second = client.post("/api/staff/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second = second.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["account"]["username"] == "admin"
    assert client.get("/api/staff/me", headers=bearer(second)).status_code == 200

    reused = client.post("/api/staff/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert reused.get_json()["error"]["code"] == "refresh_reused"
    # The thief's reuse ends the login for everyone holding its tokens.
    assert client.post("/api/staff/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401
    revoked = client.get("/api/staff/me", headers=bearer(second))
    assert revoked.status_code == 401
    assert revoked.get_json()["error"]["code"] == "token_revoked"


def test_refresh_token_expires(client, session, clock):
    make_staff(session, clock)
    tokens = login_staff(client, "admin")
    clock.advance(days=14)
    expired = client.post("/api/staff/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert expired.status_code == 401
    assert expired.get_json()["error"]["code"] == "token_expired"


def test_logout_revokes_access_and_refresh_tokens(client, session, clock):
    make_staff(session, clock)
    tokens = login_staff(client, "admin")
    assert client.post("/api/staff/logout", headers=bearer(tokens)).status_code == 204
    assert client.get("/api/staff/me", headers=bearer(tokens)).status_code == 401
    assert client.post("/api/staff/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_access_token_expires_by_the_app_clock(client, session, clock):
    make_staff(session, clock)
    tokens = login_staff(client, "admin")
    clock.advance(seconds=899)
    assert client.get("/api/staff/me", headers=bearer(tokens)).status_code == 200
    clock.advance(seconds=1)
    expired = client.get("/api/staff/me", headers=bearer(tokens))
    assert expired.status_code == 401
    assert expired.get_json()["error"]["code"] == "token_expired"


def test_role_decorator_refuses_other_roles(client, session, clock):
    make_department(session, clock)
    make_staff(session, clock, username="counter1", role=Role.COUNTER_STAFF, department="NH-SCJ")
    tokens = login_staff(client, "counter1")
    response = client.get("/api/admin/departments", headers=bearer(tokens))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/admin/departments").status_code == 401


def test_staff_roles_below_admin_need_a_department(client, session, clock):
    from tests.factories import admin_headers

    headers = admin_headers(client, session, clock)
    response = client.post("/api/admin/staff", headers=headers,
                           json={"username": "op1", "password": PASSWORD, "role": "dept_operator"})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"department": "is required"}
    weak = client.post("/api/admin/staff", headers=headers,
                       json={"username": "op1", "password": "short", "role": "data_admin"})
    assert weak.status_code == 422
    assert "password" in weak.get_json()["error"]["fields"]
    make_department(session, clock)
    created = client.post("/api/admin/staff", headers=headers, json={
        "username": "op1", "password": PASSWORD, "role": "dept_operator", "department": "NH-SCJ"})
    assert created.status_code == 201
    assert created.get_json()["department"]["code"] == "NH-SCJ"
    again = client.post("/api/admin/staff", headers=headers, json={
        "username": "op1", "password": PASSWORD, "role": "dept_operator", "department": "NH-SCJ"})
    assert again.status_code == 409


def test_a_deactivated_account_cannot_refresh_or_use_its_tokens(client, session, clock):
    account = make_staff(session, clock)
    tokens = login_staff(client, "admin")
    account.is_active = False
    session.commit()
    assert client.get("/api/staff/me", headers=bearer(tokens)).status_code == 401
    refused = client.post("/api/staff/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "account_inactive"
    assert _login(client).status_code == 401
