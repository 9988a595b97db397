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
    me = client.get("/api/staff/me", headers=bearer(body))
    assert me.status_code == 200
    assert me.get_json()["username"] == "counter1"
