"""The counter and the receipt (issue 5 points 5-6, issue 6 point 3): scan, accept, paper, reopen, PDF, verify."""

from __future__ import annotations

import base64
import subprocess
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select

from backend.models import (
    Acceptance,
    Applicant,
    AuditEvent,
    Confirmation,
    Notification,
    ObjectionStatus,
    OutboxKind,
    OutboxMessage,
    Receipt,
)
from backend.services.notifications import outbox_payload
from tests.exemption import (
    ALICE_ID,
    ENTERPRISE,
    USCC,
    accepted,
    confirmed,
    counter_code,
    exemption_world,
    open_objection,
    scanned,
)


@pytest.fixture
def app_settings(fake_wechat):
    return {**fake_wechat.app_settings(), "PUBLIC_BASE_URL": "https://eshare.nanhai.example"}


@pytest.fixture
def world(client, session, clock, fake_wechat):
    return exemption_world(client, session, clock, fake_wechat)


def _alice(session) -> Applicant:
    return session.scalar(select(Applicant).where(Applicant.openid == "o-alice"))


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_the_whole_flow_from_readiness_to_public_verification(app, client, session, clock, world, tmp_path):
    ready = client.get(f"/api/mp/service-items/{ENTERPRISE}/readiness?subject={USCC}", headers=world.alice)
    record_ids = [m["record"]["id"] for m in ready.get_json()["materials"] if m["replaceable"]]
    draft = client.post("/api/mp/confirmations", headers=world.alice, json={
        "service_item": ENTERPRISE, "subject": USCC, "record_ids": record_ids}).get_json()
    confirmation = client.post(f"/api/mp/confirmations/{draft['id']}/confirm", headers=world.alice).get_json()
    code = counter_code(client, world, confirmation["id"])

    scan = client.post("/api/counter/scan", headers=world.counter, json={"token": code["token"]})
    assert scan.status_code == 200, scan.get_json()
    case = scan.get_json()
    assert case["id"] == confirmation["id"] and case["status"] == "confirmed" and case["values_shown"]
    assert case["applicant"] == {"name_masked": "张*丰", "id_number_masked": "440304********2638"}
    assert case["materials"][0]["fields"][0] == {**case["materials"][0]["fields"][0], "key": "enterprise_name",
                                                 "value": "示例有限公司"}
    assert case["acceptance"] is None

    accept = client.post(f"/api/counter/confirmations/{case['id']}/accept", headers=world.counter,
                         json={"window": "3号窗口"})
    assert accept.status_code == 200, accept.get_json()
    done = accept.get_json()
    assert done["status"] == "accepted" and done["receipt_no"].startswith("ES20260302")
    assert done["acceptance"]["window"] == "3号窗口" and done["acceptance"]["department"]["code"] == "NH-SCJ"
    assert done["acceptance"]["staff"] == "sc********r"
    assert done["acceptance"]["reopen_until"] == "2026-03-03T10:00:00+08:00"
    mine = client.get(f"/api/mp/confirmations/{case['id']}", headers=world.alice).get_json()
    assert mine["status"] == "accepted" and mine["receipt_no"] == done["receipt_no"]

    pdf = client.get(f"/api/counter/confirmations/{case['id']}/receipt.pdf", headers=world.counter)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = _pdf_text(pdf.data, tmp_path)
    receipt = session.scalars(select(Receipt)).one()
    for expected in ("政务数据共享互认确认回执", done["receipt_no"], "食品经营许可（新办）", "区市场监督管理局",
                     "张*丰", "440304********2638", "示例有限公司", "营业执照", "法定代表人身份证", "公安分局",
                     "经营场所平面图", "仅收纸质材料", "3号窗口", "2026年03月02日 10:00:00", "核验码", "Ed25519"):
        assert expected in text, expected
    for digest in (m["digest"] for m in confirmation["materials"] if m["digest"]):
        assert digest[:40] in text.replace("\n", "").replace(" ", "")
    assert ALICE_ID not in text and USCC not in text
    assert receipt.signature[:40] in text.replace(" ", "")

    # The QR code's link, as printed, verifies publicly.
    url = next(line.split("核验地址：")[1].strip() for line in text.splitlines() if "核验地址：" in line)
    assert url.startswith("https://eshare.nanhai.example/api/receipts/" + done["receipt_no"] + "/verify?code=")
    code_value = parse_qs(urlparse(url).query)["code"][0]
    assert f"核验码：{code_value}" in text
    verified = client.get(f"/api/receipts/{done['receipt_no']}/verify?code={code_value}")
    assert verified.status_code == 200
    answer = verified.get_json()
    assert answer["genuine"] is True and answer["status"] == "accepted"
    assert answer["certifies"]["service_item"]["code"] == ENTERPRISE
    assert [m["name"] for m in answer["certifies"]["materials"]] == ["营业执照", "法定代表人身份证", "经营场所平面图"]
    assert answer["holder"]["applicant"] == {"name_masked": "张*丰", "id_masked": "440304********2638"}
    assert ALICE_ID not in str(answer) and USCC not in str(answer) and "张三丰" not in str(answer)

    # Anyone can check the signature with the published key.
    key = client.get("/api/receipts/public-key").get_json()
    public = load_pem_public_key(key["pem"].encode())
    public.verify(base64.b64decode(receipt.signature), receipt.payload.encode())  # type: ignore[union-attr]
    assert base64.b64decode(key["raw_base64"]) == public.public_bytes_raw()  # type: ignore[union-attr]
    assert key["algorithm"] == "Ed25519" and key["key_id"] == receipt.key_id


def test_accepting_tells_the_applicant_and_queues_the_data_for_the_approval_system(client, session, world):
    done = accepted(client, world)
    (notice,) = session.scalars(select(Notification).where(Notification.event == "accepted")).all()
    assert notice.applicant_id == _alice(session).id and done["receipt_no"] in notice.body
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.WECHAT_SUBSCRIBE,
                                                       OutboxMessage.event == "accepted")).one()
    (webhook,) = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.WEBHOOK)).all()
    assert webhook.event == "confirmation.accepted"
    assert webhook.department_id == session.get(Confirmation, done["id"]).service_item.approval_department_id
    assert "示例有限公司" not in webhook.payload_enc
    payload = outbox_payload(_protector(), webhook)
    assert payload["confirmation_id"] == done["id"] and payload["receipt_no"] == done["receipt_no"]
    assert payload["applicant"] == {"name": "张三丰", "id_number": ALICE_ID}
    assert payload["subject"]["id"] == USCC
    license_ = payload["materials"][0]
    assert license_["values"] == {"enterprise_name": "示例有限公司", "legal_rep_name": "张三丰"}
    assert license_["source_department"] == "NH-SCJ" and license_["digest"] == done["materials"][0]["digest"]
    assert payload["materials"][2] == {"position": 2, "name": "经营场所平面图", "paper": "paper_only"}


def _protector():
    from flask import current_app

    return current_app.extensions["protector"]


def test_accepting_twice_accepts_once(client, session, world):
    done = accepted(client, world)
    again = client.post(f"/api/counter/confirmations/{done['id']}/accept", headers=world.counter, json={})
    assert again.status_code == 200 and again.get_json()["receipt_no"] == done["receipt_no"]
    assert len(session.scalars(select(Acceptance)).all()) == 1
    assert len(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.WEBHOOK)).all()) == 1


def test_accepting_needs_a_scan_first(client, world):
    confirmation = confirmed(client, world)
    response = client.post(f"/api/counter/confirmations/{confirmation['id']}/accept", headers=world.counter, json={})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "scan_required"


def test_another_departments_staff_get_403_and_the_attempt_is_audited(client, session, world):
    confirmation = confirmed(client, world)
    token = counter_code(client, world, confirmation["id"])["token"]
    response = client.post("/api/counter/scan", headers=world.outsider, json={"token": token})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "other_department"
    assert "示例有限公司" not in response.get_data(as_text=True)
    refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "counter.refused")).all()
    enterprise_index = session.get(Confirmation, confirmation["id"]).subject_index
    assert {e.subject_index for e in refused} == {enterprise_index, _alice(session).id_index}
    assert all(e.actor_type == "staff" and e.details["department"]["code"] == "NH-SCJ" for e in refused)
    assert all(e.details["attempted"] == "scan" and ENTERPRISE in e.purpose for e in refused)
    # The code was not used up: the right department still scans it.
    assert client.post("/api/counter/scan", headers=world.counter, json={"token": token}).status_code == 200
    for path in (f"/api/counter/confirmations/{confirmation['id']}/accept",
                 f"/api/counter/confirmations/{confirmation['id']}/paper-accepted"):
        assert client.post(path, headers=world.outsider, json={}).status_code == 403
    assert client.get(f"/api/counter/confirmations/{confirmation['id']}", headers=world.outsider).status_code == 403
    assert client.get(f"/api/counter/confirmations/{confirmation['id']}/receipt.pdf",
                      headers=world.outsider).status_code == 403


def test_only_counter_staff_use_the_counter(client, session, clock, world):
    from backend.models import Role
    from tests.factories import bearer, login_staff, make_staff

    make_staff(session, clock, username="scj.operator", role=Role.DEPT_OPERATOR, department="NH-SCJ")
    operator = bearer(login_staff(client, "scj.operator"))
    assert client.post("/api/counter/scan", headers=operator, json={"token": "x" * 43}).status_code == 403
    assert client.post("/api/counter/scan", headers=world.alice, json={"token": "x" * 43}).status_code == 401
    unknown = client.post("/api/counter/scan", headers=world.counter, json={"token": "x" * 43})
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "code_not_found"


def test_a_held_confirmation_is_on_hold_with_the_reason(client, session, world):
    confirmation = confirmed(client, world)
    token = counter_code(client, world, confirmation["id"])["token"]
    objection = open_objection(session, world.license, _alice(session).id, field="enterprise_name")
    shown = client.get(f"/api/mp/confirmations/{confirmation['id']}", headers=world.alice).get_json()
    assert shown["status"] == "on_hold"
    assert shown["holds"] == [{"record_id": world.license.id, "material": "营业执照", "field": "enterprise_name",
                               "filed_at": "2026-03-02T10:00:00+08:00"}]
    listed = client.get("/api/mp/confirmations", headers=world.alice).get_json()["items"][0]
    assert listed["status"] == "on_hold"
    scan = client.post("/api/counter/scan", headers=world.counter, json={"token": token})
    assert scan.status_code == 409
    error = scan.get_json()["error"]
    assert error["code"] == "on_hold" and "营业执照" in error["message"] and "enterprise_name" in error["message"]
    assert error["fields"]["confirmation_id"] == str(confirmation["id"])
    refused_code = client.post(f"/api/mp/confirmations/{confirmation['id']}/counter-code", headers=world.alice)
    assert refused_code.get_json()["error"]["code"] == "on_hold"
    # The objection is rejected: the confirmation is plainly confirmed again, and the code still works.
    objection.status = ObjectionStatus.REJECTED
    session.commit()
    assert client.post("/api/counter/scan", headers=world.counter, json={"token": token}).status_code == 200


def test_paper_accepted_voids_the_confirmation_and_tells_the_applicant(client, session, world):
    confirmation = confirmed(client, world)
    token = counter_code(client, world, confirmation["id"])["token"]
    open_objection(session, world.license, _alice(session).id)
    assert client.post("/api/counter/scan", headers=world.counter,
                       json={"token": token}).get_json()["error"]["code"] == "on_hold"
    response = client.post(f"/api/counter/confirmations/{confirmation['id']}/paper-accepted", headers=world.counter,
                           json={"window": "5号窗口"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "voided" and body["void_reason"] == "paper_accepted" and not body["values_shown"]
    (notice,) = session.scalars(select(Notification).where(Notification.event == "confirmation_voided")).all()
    assert notice.applicant_id == _alice(session).id and "作废" in notice.title
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.event == "confirmation_voided")).one()
    assert client.get(f"/api/mp/confirmations/{confirmation['id']}", headers=world.alice).get_json()[
        "status"] == "voided"
    scan = client.post("/api/counter/scan", headers=world.counter, json={"token": token})
    assert scan.status_code == 409 and scan.get_json()["error"]["code"] == "code_expired"
    again = client.post(f"/api/counter/confirmations/{confirmation['id']}/paper-accepted", headers=world.counter,
                        json={})
    assert again.status_code == 200
    assert len(session.scalars(select(Notification).where(Notification.event == "confirmation_voided")).all()) == 1
    code = client.post(f"/api/mp/confirmations/{confirmation['id']}/counter-code", headers=world.alice)
    assert code.status_code == 409 and code.get_json()["error"]["code"] == "confirmation_voided"


def test_an_accepted_confirmation_cannot_be_voided(client, world):
    done = accepted(client, world)
    response = client.post(f"/api/counter/confirmations/{done['id']}/paper-accepted", headers=world.counter, json={})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "already_accepted"


def test_the_case_reopens_for_24_hours_after_acceptance_then_403(client, session, clock, world):
    done = accepted(client, world)
    clock.advance(hours=24, seconds=-1)
    world.log_in_again()
    reopened = client.get(f"/api/counter/confirmations/{done['id']}", headers=world.counter)
    assert reopened.status_code == 200 and reopened.get_json()["materials"][0]["fields"][0]["value"] == "示例有限公司"
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "counter.reopened")).first() is not None
    clock.advance(seconds=1)
    closed = client.get(f"/api/counter/confirmations/{done['id']}", headers=world.counter)
    assert closed.status_code == 403 and closed.get_json()["error"]["code"] == "reopen_window_closed"
    assert "示例有限公司" not in closed.get_data(as_text=True)


def test_a_case_not_accepted_cannot_be_reopened(client, world):
    case = scanned(client, world)
    response = client.get(f"/api/counter/confirmations/{case['id']}", headers=world.counter)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "not_accepted"


def test_a_counter_code_works_299_seconds_and_is_expired_at_300(client, clock, world):
    confirmation = confirmed(client, world)
    first = counter_code(client, world, confirmation["id"])["token"]
    clock.advance(seconds=299)
    assert client.post("/api/counter/scan", headers=world.counter, json={"token": first}).status_code == 200
    second = counter_code(client, world, confirmation["id"])["token"]
    clock.advance(seconds=300)
    world.log_in_again()
    expired = client.post("/api/counter/scan", headers=world.counter, json={"token": second})
    assert expired.status_code == 409 and expired.get_json()["error"]["code"] == "code_expired"


def test_a_counter_code_is_used_once_and_a_newer_one_replaces_it(client, world):
    confirmation = confirmed(client, world)
    first = counter_code(client, world, confirmation["id"])["token"]
    second = counter_code(client, world, confirmation["id"])["token"]
    replaced = client.post("/api/counter/scan", headers=world.counter, json={"token": first})
    assert replaced.status_code == 409 and replaced.get_json()["error"]["code"] == "code_expired"
    assert client.post("/api/counter/scan", headers=world.counter, json={"token": second}).status_code == 200
    used = client.post("/api/counter/scan", headers=world.counter, json={"token": second})
    assert used.status_code == 409 and used.get_json()["error"]["code"] == "code_used"


def test_a_scan_is_audited_per_subject_with_purpose_and_fields(client, session, world):
    case = scanned(client, world)
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "counter.scanned")).all()
    confirmation = session.get(Confirmation, case["id"])
    by_subject = {e.subject_index: e for e in events}
    assert set(by_subject) == {confirmation.subject_index, _alice(session).id_index}
    enterprise = by_subject[confirmation.subject_index]
    assert enterprise.purpose == f"service item {ENTERPRISE} 食品经营许可（新办）"
    assert [m["material"] for m in enterprise.details["materials"]] == ["营业执照"]
    assert [f["key"] for f in enterprise.details["materials"][0]["fields"]] == ["enterprise_name", "legal_rep_name"]
    person = by_subject[_alice(session).id_index]
    assert [m["material"] for m in person.details["materials"]] == ["法定代表人身份证"]
    assert "张三丰" not in str([e.details for e in events]) and ALICE_ID not in str([e.details for e in events])


def test_the_receipt_needs_its_font_and_says_which_setting(app, client, world):
    from dataclasses import replace

    done = accepted(client, world)
    app.extensions["config"] = replace(app.extensions["config"], receipt_font="/nonexistent/font.ttc")
    response = client.get(f"/api/counter/confirmations/{done['id']}/receipt.pdf", headers=world.counter)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "receipt_font_missing"
    assert "RECEIPT_FONT" in response.get_json()["error"]["message"]


def test_a_receipt_is_only_for_an_accepted_confirmation(client, world):
    case = scanned(client, world)
    response = client.get(f"/api/counter/confirmations/{case['id']}/receipt.pdf", headers=world.counter)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "not_accepted"


def test_verification_refuses_malformed_input_and_says_not_genuine_for_a_wrong_code(client, session, world):
    done = accepted(client, world)
    malformed = client.get("/api/receipts/not-a-receipt/verify?code=abc")
    assert malformed.status_code == 422 and set(malformed.get_json()["error"]["fields"]) == {"receipt_no", "code"}
    assert client.get(f"/api/receipts/{done['receipt_no']}/verify").status_code == 422
    wrong = client.get(f"/api/receipts/{done['receipt_no']}/verify?code={'A' * 16}").get_json()
    unknown = client.get(f"/api/receipts/ES20260302AAAAAAAA/verify?code={'A' * 16}").get_json()
    assert wrong == {**unknown, "receipt_no": done["receipt_no"]}
    assert wrong["genuine"] is False and wrong["certifies"] is None and wrong["holder"] is None


def test_a_tampered_receipt_is_not_genuine(client, session, world):
    from backend.services.receipts import verification_code

    done = accepted(client, world)
    receipt = session.scalars(select(Receipt)).one()
    code = verification_code(receipt)
    receipt.payload = receipt.payload.replace("3号窗口", "9号窗口")
    session.commit()
    answer = client.get(f"/api/receipts/{done['receipt_no']}/verify?code={code}").get_json()
    assert answer["genuine"] is False


def test_verification_is_rate_limited_per_address(client, world):
    from backend.api.receipts import VERIFY_LIMIT

    for _ in range(VERIFY_LIMIT):
        assert client.get(f"/api/receipts/ES20260302AAAAAAAA/verify?code={'A' * 16}").status_code == 200
    limited = client.get(f"/api/receipts/ES20260302AAAAAAAA/verify?code={'A' * 16}")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"


def test_start_up_does_not_need_the_receipt_font(tmp_path):
    from backend import create_app
    from tests.conftest import settings_for

    app = create_app(settings_for(tmp_path, RECEIPT_FONT="/nonexistent/font.ttc"))
    assert app.extensions["config"].receipt_font == "/nonexistent/font.ttc"


def test_a_scan_refuses_an_agent_whose_authorization_ended_and_leaves_the_code_unused(client, session, fake_wechat,
                                                                                    world):
    from backend.models import CounterCode
    from tests.factories import verified_applicant

    agent_id = "440304198506151237"
    granted = client.post("/api/mp/enterprise-authorizations", headers=world.alice, json={
        "uscc": USCC, "agent_name": "王五", "agent_id_number": agent_id}).get_json()
    agent = verified_applicant(client, fake_wechat, openid="o-agent", name="王五", id_number=agent_id)
    client.post(f"/api/mp/enterprise-authorizations/{granted['id']}/accept", headers=agent)
    draft = client.post("/api/mp/confirmations", headers=agent, json={
        "service_item": ENTERPRISE, "subject": USCC, "record_ids": [world.license.id]}).get_json()
    client.post(f"/api/mp/confirmations/{draft['id']}/confirm", headers=agent)
    token = client.post(f"/api/mp/confirmations/{draft['id']}/counter-code", headers=agent).get_json()["token"]
    client.post(f"/api/mp/enterprise-authorizations/{granted['id']}/revoke", headers=world.alice)
    response = client.post("/api/counter/scan", headers=world.counter, json={"token": token})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "authorization_ended"
    assert "示例有限公司" not in response.get_data(as_text=True)
    session.expire_all()
    assert session.scalars(select(CounterCode)).one().used_at is None
    assert not session.scalars(select(AuditEvent).where(AuditEvent.action == "counter.scanned")).all()
