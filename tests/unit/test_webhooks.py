"""Approval-system webhooks: signed, delivered once to a fake approval system over real HTTP, retried until a
2xx; the URL rule of SYSTEM.md (no loopback, private or link-local hosts in production unless allowed)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import current_app
from sqlalchemy import select

from backend.models import AuditEvent, Department, DepartmentWebhook, OutboxMessage, OutboxStatus, Role
from backend.services import notifications
from notifications.webhooks import WebhookURLRefused, check_url
from notifications.worker import Worker
from tests.factories import admin_headers, bearer, login_staff, make_department, make_staff
from tests.fakes.approval import FakeApprovalSystem

PAYLOAD = {"confirmation_id": 7, "service_item": "food-license-new", "materials": [
    {"name": "营业执照", "values": {"enterprise_name": "示例有限公司", "legal_rep_name": "张三丰"}}]}


@pytest.fixture
def approval() -> Iterator[FakeApprovalSystem]:
    fake = FakeApprovalSystem().start()
    try:
        yield fake
    finally:
        fake.stop()


def _set_webhook(client, headers, url, **extra):
    return client.put("/api/admin/departments/NH-SCJ/webhook", headers=headers, json={"url": url, **extra})


def _enqueue(session, clock) -> OutboxMessage:
    department = session.scalars(select(Department).where(Department.code == "NH-SCJ")).one()
    message = notifications.enqueue_webhook(session, current_app.extensions["protector"], department_id=department.id,
                                            event="confirmation.accepted", payload=PAYLOAD, now=clock())
    session.commit()
    return message


def _row(session, message_id):
    session.expire_all()
    return session.get(OutboxMessage, message_id)


def test_a_webhook_is_signed_and_delivered_once(client, session, clock, approval, app):
    make_department(session, clock)
    admin = admin_headers(client, session, clock)
    response = _set_webhook(client, admin, approval.url)
    assert response.status_code == 200, response.get_json()
    setting = response.get_json()
    approval.secret = setting["secret"]
    assert setting["url"] == approval.url and len(setting["secret"]) >= 40
    again = _set_webhook(client, admin, approval.url)
    assert again.get_json()["secret"] is None  # shown once: not on a later change of the URL
    message = _enqueue(session, clock)
    assert Worker(app).drain().outcomes["sent"] == 1
    (received,) = approval.received
    assert received.signature_ok and received.status == 200
    assert json.loads(received.body) == PAYLOAD
    assert received.headers["X-Eshare-Delivery"] == str(message.id)
    assert received.headers["X-Eshare-Event"] == "confirmation.accepted"
    assert received.headers["X-Eshare-Timestamp"] == str(int(clock().timestamp()))
    assert _row(session, message.id).status is OutboxStatus.SENT
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "outbox.webhook_delivered")) is not None
    clock.advance(hours=1)
    Worker(app).drain()
    assert len(approval.received) == 1
    # The secret is stored encrypted, never in clear.
    assert setting["secret"] not in session.scalars(select(DepartmentWebhook)).one().secret_enc


def test_a_500_is_retried_until_a_2xx_and_delivered_once(client, session, clock, approval, app):
    make_department(session, clock)
    approval.secret = _set_webhook(client, admin_headers(client, session, clock), approval.url).get_json()["secret"]
    approval.answer_next(500)
    message = _enqueue(session, clock)
    assert Worker(app).drain().outcomes["retry"] == 1
    row = _row(session, message.id)
    assert (row.status, row.last_error) == (OutboxStatus.PENDING, "webhook answered HTTP 500")
    clock.advance(seconds=30)
    assert Worker(app).drain().outcomes["sent"] == 1
    assert [r.status for r in approval.received] == [500, 200]
    assert {r.headers["X-Eshare-Delivery"] for r in approval.received} == {str(message.id)}
    assert list(approval.accepted) == [str(message.id)]


def test_a_rotated_secret_signs_from_then_on(client, session, clock, approval, app):
    make_department(session, clock)
    admin = admin_headers(client, session, clock)
    _set_webhook(client, admin, approval.url)
    approval.secret = _set_webhook(client, admin, approval.url, rotate_secret=True).get_json()["secret"]
    _enqueue(session, clock)
    assert Worker(app).drain().outcomes["sent"] == 1
    assert approval.received[0].signature_ok


def test_without_a_webhook_url_the_message_is_skipped_and_visible(client, session, clock, app):
    make_department(session, clock)
    message = _enqueue(session, clock)
    assert Worker(app).drain().outcomes["skipped"] == 1
    body = client.get("/api/admin/outbox?status=skipped&department=NH-SCJ",
                      headers=admin_headers(client, session, clock)).get_json()
    assert [(m["id"], m["last_error"]) for m in body["items"]] == [
        (message.id, "department NH-SCJ has no webhook URL")]
    assert "payload" not in json.dumps(body)


def test_only_a_data_admin_sets_a_webhook(client, session, clock):
    make_department(session, clock)
    make_staff(session, clock, username="op", role=Role.DEPT_OPERATOR, department="NH-SCJ")
    response = _set_webhook(client, bearer(login_staff(client, "op")), "https://approval.example/hook")
    assert response.status_code == 403


# --- the URL rule ---------------------------------------------------------------------------------------------

PRODUCTION = {"ESHARE_ENV": "production", "SECRET_KEY": "s" * 32, "REALNAME_API_BASE": "http://127.0.0.1:9",
              "WECHAT_APPID": "wx-test-appid", "WECHAT_SECRET": "test-app-secret"}


@pytest.fixture
def app_settings(request):
    """Development by default; a test asks for production with `indirect` parametrization."""
    return getattr(request, "param", {})


def production(**overrides):
    return pytest.mark.parametrize("app_settings", [{**PRODUCTION, **overrides}], indirect=True)


@production()
@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook",
    "https://127.0.0.1/hook",
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://localhost/hook",
    "http://approval.example/hook",  # a public host, but not over https
])
def test_production_refuses_loopback_private_and_link_local_webhooks(client, session, clock, url):
    make_department(session, clock)
    response = _set_webhook(client, admin_headers(client, session, clock), url)
    assert response.status_code == 422, (url, response.get_json())
    assert response.get_json()["error"]["code"] == "webhook_url_refused"
    created = client.post("/api/admin/departments", headers=bearer(login_staff(client, "admin")), json={
        "code": "NH-NEW", "name": "新部门", "is_approval": True, "webhook_url": url})
    assert created.status_code == 422


def test_a_name_is_checked_by_every_address_it_resolves_to():
    public, private = ["93.184.216.34"], ["93.184.216.34", "10.0.0.8"]
    target = check_url("https://approval.example/hook", production=True, allowed_hosts=(),
                       resolver=lambda host, port: public)
    assert target.address == "93.184.216.34"
    with pytest.raises(WebhookURLRefused):
        check_url("https://approval.example/hook", production=True, allowed_hosts=(),
                  resolver=lambda host, port: private)
    assert check_url("http://127.0.0.1/hook", production=False, allowed_hosts=()).address is None
    with pytest.raises(WebhookURLRefused):
        check_url("ftp://approval.example/hook", production=False, allowed_hosts=())
    with pytest.raises(WebhookURLRefused):
        check_url("https://user:pw@approval.example/hook", production=False, allowed_hosts=())


@production(WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
def test_production_allows_a_listed_host_and_delivers_to_it(app, client, session, clock, approval):
    make_department(session, clock)
    response = _set_webhook(client, admin_headers(client, session, clock), approval.url)
    assert response.status_code == 200, response.get_json()
    approval.secret = response.get_json()["secret"]
    _enqueue(session, clock)
    assert Worker(app).drain().outcomes["sent"] == 1
    assert approval.received[0].signature_ok


@production()
def test_production_checks_the_url_again_at_delivery(app, client, session, clock, approval):
    make_department(session, clock)
    secret = _set_webhook(client, admin_headers(client, session, clock), "https://93.184.216.34/hook")
    assert secret.status_code == 200
    # Since then the URL points at a private host (changed behind the admin API's back, or by DNS).
    department = session.scalars(select(Department)).one()
    department.webhook_url = approval.url
    session.commit()
    message = _enqueue(session, clock)
    assert Worker(app).drain().outcomes["retry"] == 1
    assert approval.received == []
    assert "refused" in _row(session, message.id).last_error


def test_a_delivered_webhook_is_not_sent_again_when_what_follows_its_success_fails(client, session, clock, approval,
                                                                                   app, monkeypatch):
    make_department(session, clock)
    approval.secret = _set_webhook(client, admin_headers(client, session, clock), approval.url).get_json()["secret"]
    message = _enqueue(session, clock)

    def broken_audit(*args, **kwargs):
        raise RuntimeError("the audit chain is unavailable")

    monkeypatch.setattr("notifications.worker.audit.record", broken_audit)
    assert Worker(app).drain().outcomes["sent"] == 1
    monkeypatch.undo()
    assert _row(session, message.id).status is OutboxStatus.SENT
    clock.advance(hours=1)
    assert Worker(app).drain().claimed == 0
    assert len(approval.received) == 1
