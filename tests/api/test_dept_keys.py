"""Department API keys (issue once, list, disable, rotate) and the HMAC request signature."""

from __future__ import annotations

import hashlib
import hmac
import json

from sqlalchemy import func, select

from auth.signatures import compute_signature, sign_request
from backend.models import AuditEvent, DepartmentKey, DeptNonce, Role
from backend.services.dept_keys import purge_nonces
from tests.factories import (
    DeptKey,
    admin_headers,
    bearer,
    login_staff,
    make_department,
    make_dept_key,
    make_staff,
    signed,
)

REPORT = "/api/dept/records/report"


def _error(response, status, code):
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    return response.get_json()["error"]


def test_admin_issues_a_key_whose_secret_is_shown_once(client, session, clock, app):
    make_department(session, clock)
    headers = admin_headers(client, session, clock)
    response = client.post("/api/admin/departments/NH-SCJ/keys", json={}, headers=headers)
    assert response.status_code == 201
    body = response.get_json()
    assert body["key_id"].startswith("dk_") and len(body["secret"]) >= 40
    assert body["department"] == "NH-SCJ" and body["status"] == "active"

    listed = client.get("/api/admin/departments/NH-SCJ/keys", headers=headers).get_json()
    assert listed["total"] == 1
    assert listed["items"][0]["key_id"] == body["key_id"]
    assert "secret" not in listed["items"][0]
    assert body["secret"] not in json.dumps(listed)

    stored = session.scalar(select(DepartmentKey))
    assert body["secret"] not in stored.secret_enc
    protector = app.extensions["protector"]
    assert protector.decrypt(stored.secret_enc, context="department_keys.secret_enc") == body["secret"]
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "dept_key.issued")).all()
    assert len(events) == 1 and body["secret"] not in json.dumps(events[0].details)


def test_issuing_takes_an_empty_body_and_a_known_department(client, session, clock):
    make_department(session, clock)
    headers = admin_headers(client, session, clock)
    assert client.post("/api/admin/departments/NH-SCJ/keys", json={"secret": "mine"},
                       headers=headers).status_code == 422
    _error(client.post("/api/admin/departments/NOPE/keys", json={}, headers=headers), 404, "not_found")


def test_only_the_data_administrator_manages_keys(client, session, clock):
    make_department(session, clock)
    make_staff(session, clock, username="op", role=Role.DEPT_OPERATOR, department="NH-SCJ")
    operator = bearer(login_staff(client, "op"))
    _error(client.post("/api/admin/departments/NH-SCJ/keys", json={}, headers=operator), 403, "forbidden")
    _error(client.get("/api/admin/departments/NH-SCJ/keys"), 401, "unauthorized")


def test_rotation_issues_a_new_key_then_disables_the_old(client, session, clock):
    make_department(session, clock)
    headers = admin_headers(client, session, clock)
    old = DeptKey(**{k: v for k, v in client.post("/api/admin/departments/NH-SCJ/keys", json={},
                                                   headers=headers).get_json().items()
                     if k in ("key_id", "secret")})
    new = DeptKey(**{k: v for k, v in client.post("/api/admin/departments/NH-SCJ/keys", json={},
                                                   headers=headers).get_json().items()
                     if k in ("key_id", "secret")})
    assert signed(client, old, clock, "GET", REPORT).status_code == 200

    disabled = client.post(f"/api/admin/departments/NH-SCJ/keys/{old.key_id}/disable", headers=headers)
    assert disabled.status_code == 200
    assert disabled.get_json()["status"] == "disabled" and disabled.get_json()["disabled_at"]
    _error(signed(client, old, clock, "GET", REPORT), 401, "key_disabled")
    assert signed(client, new, clock, "GET", REPORT).status_code == 200

    again = client.post(f"/api/admin/departments/NH-SCJ/keys/{old.key_id}/disable", headers=headers)
    assert again.get_json()["disabled_at"] == disabled.get_json()["disabled_at"]
    listed = client.get("/api/admin/departments/NH-SCJ/keys", headers=headers).get_json()["items"]
    assert {k["key_id"]: k["status"] for k in listed} == {old.key_id: "disabled", new.key_id: "active"}
    assert next(k for k in listed if k["key_id"] == new.key_id)["last_used_at"] is not None


def test_a_key_is_disabled_only_under_its_own_department(client, session, clock):
    make_department(session, clock)
    make_department(session, clock, code="NH-GAJ", name="公安分局")
    key = make_dept_key(session, clock, department="NH-SCJ")
    headers = admin_headers(client, session, clock)
    _error(client.post(f"/api/admin/departments/NH-GAJ/keys/{key.key_id}/disable", headers=headers),
           404, "not_found")


def test_a_signed_request_names_its_department(client, session, clock):
    make_department(session, clock)
    key = make_dept_key(session, clock)
    response = signed(client, key, clock, "GET", REPORT + "?from=2026-02-01&to=2026-03-01")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["department"] == "NH-SCJ"


def test_the_signature_follows_the_contract_byte_for_byte():
    body = b'{"records": []}'
    message = "PUT\n/api/dept/records?x=1\n1772416800\nnonce-0001\n" + hashlib.sha256(body).hexdigest()
    manual = hmac.new("s3cret-密钥".encode(), message.encode(), hashlib.sha256).hexdigest()
    assert compute_signature("s3cret-密钥", "put", "/api/dept/records?x=1", "1772416800", "nonce-0001", body) == manual
    headers = sign_request("dk_1", "s3cret-密钥", "PUT", "/api/dept/records?x=1", body, timestamp=1772416800,
                           nonce="nonce-0001")
    assert headers == {"X-Dept-Key": "dk_1", "X-Timestamp": "1772416800", "X-Nonce": "nonce-0001",
                       "X-Signature": manual}


def test_a_wrong_signature_is_refused(client, session, clock):
    make_department(session, clock)
    key = make_dept_key(session, clock)
    wrong = DeptKey(key.key_id, key.secret + "x")
    _error(signed(client, wrong, clock, "GET", REPORT), 401, "signature_invalid")


def test_a_tampered_body_is_refused(client, session, clock):
    make_department(session, clock)
    key = make_dept_key(session, clock)
    original = json.dumps({"records": [{"record_no": "A1"}]}).encode()
    headers = sign_request(key.key_id, key.secret, "PUT", "/api/dept/records", original,
                           timestamp=int(clock().timestamp()))
    headers["Idempotency-Key"] = "k1"
    tampered = original.replace(b"A1", b"A2")
    response = client.put("/api/dept/records", data=tampered, headers=headers, content_type="application/json")
    _error(response, 401, "signature_invalid")


def test_the_query_string_is_signed(client, session, clock):
    make_department(session, clock)
    key = make_dept_key(session, clock)
    headers = sign_request(key.key_id, key.secret, "GET", REPORT + "?from=2026-02-01",
                           timestamp=int(clock().timestamp()))
    _error(client.get(REPORT + "?from=2026-01-01", headers=headers), 401, "signature_invalid")


def test_the_timestamp_may_be_300_seconds_off_but_not_301(client, session, clock):
    make_department(session, clock)
    key = make_dept_key(session, clock)
    now = int(clock().timestamp())
    assert signed(client, key, clock, "GET", REPORT, timestamp=now - 300).status_code == 200
    assert signed(client, key, clock, "GET", REPORT, timestamp=now + 300).status_code == 200
    _error(signed(client, key, clock, "GET", REPORT, timestamp=now - 301), 401, "timestamp_skew")
    _error(signed(client, key, clock, "GET", REPORT, timestamp=now + 301), 401, "timestamp_skew")


def test_a_reused_nonce_is_refused(client, session, clock):
    make_department(session, clock)
    key = make_dept_key(session, clock)
    assert signed(client, key, clock, "GET", REPORT, nonce="n-123456789").status_code == 200
    clock.advance(seconds=5)
    _error(signed(client, key, clock, "GET", REPORT, nonce="n-123456789"), 401, "nonce_reused")
    assert signed(client, key, clock, "GET", REPORT, nonce="n-987654321").status_code == 200


def test_nonces_are_per_key(client, session, clock):
    make_department(session, clock)
    first, second = make_dept_key(session, clock), make_dept_key(session, clock)
    assert signed(client, first, clock, "GET", REPORT, nonce="shared-nonce").status_code == 200
    assert signed(client, second, clock, "GET", REPORT, nonce="shared-nonce").status_code == 200


def test_nonces_older_than_ten_minutes_are_purged(client, session, clock):
    make_department(session, clock)
    key = make_dept_key(session, clock)
    assert signed(client, key, clock, "GET", REPORT, nonce="old-nonce-1").status_code == 200
    clock.advance(minutes=5)
    assert signed(client, key, clock, "GET", REPORT, nonce="new-nonce-1").status_code == 200
    clock.advance(minutes=5, seconds=1)
    assert purge_nonces(session, now=clock()) == 1
    assert session.scalars(select(DeptNonce.nonce)).all() == ["new-nonce-1"]


def test_an_unknown_key_is_refused(client, session, clock):
    make_department(session, clock)
    _error(signed(client, DeptKey("dk_nosuchkey", "secret"), clock, "GET", REPORT), 401, "unknown_key")


def test_missing_headers_are_named(client, session, clock):
    make_department(session, clock)
    error = _error(client.get(REPORT, headers={"X-Dept-Key": "dk_x"}), 401, "signature_required")
    assert set(error["fields"]) == {"X-Timestamp", "X-Nonce", "X-Signature"}


def test_a_refused_signature_spends_no_nonce(client, session, clock):
    make_department(session, clock)
    key = make_dept_key(session, clock)
    wrong = DeptKey(key.key_id, "not-the-secret")
    _error(signed(client, wrong, clock, "GET", REPORT, nonce="the-nonce-1"), 401, "signature_invalid")
    assert session.scalar(select(func.count()).select_from(DeptNonce)) == 0
    assert signed(client, key, clock, "GET", REPORT, nonce="the-nonce-1").status_code == 200
