"""Objections (rule 7): filed by the applicant, decided by the source department's operator within 2 working
days, corrected by a push within 1 more; deadlines on the real holiday schedule, never guessed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import select

from backend.clock import iso
from backend.models import AuditEvent, Notification, Objection, OutboxMessage, Role, StaffNotification
from backend.services import catalog, records
from backend.services.audit import SYSTEM
from tests.factories import (
    bearer,
    id_card_fields,
    login_applicant,
    login_staff,
    make_staff,
    mp_world,
    push_record,
    verified_applicant,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
ALICE_ID = "440304199003072638"
BOB_ID = "11010519491231002X"
SCHEDULE_2027 = {"holidays": ["2027-01-01"], "workdays": []}  # test data, not the real 2027 schedule


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
def app_settings(fake_wechat):
    return fake_wechat.app_settings()


class World:
    """Alice with her ID card record (source NH-GAJ), operators of NH-GAJ and NH-SCJ, an administrator."""

    def __init__(self, client, session, clock, fake_wechat):
        self.client, self.session, self.clock, self.fake_wechat = client, session, clock, fake_wechat
        mp_world(session, clock)
        make_staff(session, clock, username="gaj.op", role=Role.DEPT_OPERATOR, department="NH-GAJ")
        make_staff(session, clock, username="scj.op", role=Role.DEPT_OPERATOR, department="NH-SCJ")
        make_staff(session, clock, username="scj.counter", role=Role.COUNTER_STAFF, department="NH-SCJ")
        make_staff(session, clock, username="admin", role=Role.DATA_ADMIN)
        verified_applicant(client, fake_wechat, openid="o-alice", name="张三丰", id_number=ALICE_ID)
        self.record = self.push(address="旧址1号")

    def push(self, *, address: str, objection_id: int | None = None):
        fields = id_card_fields(name="张三丰", address=address)
        if objection_id is None:
            return push_record(self.session, self.clock, item="id-card", record_no="GA-1", subject_id=ALICE_ID,
                               subject_name="张三丰", fields=fields)
        item = catalog.get_item(self.session, "id-card")
        outcome = records.push_records(
            self.session, current_app.extensions["protector"], actor=SYSTEM, department=item.source_department,
            records=[{"catalog_item": "id-card", "record_no": "GA-1", "subject_id": ALICE_ID,
                      "subject_name": "张三丰", "fields": fields, "produced_at": iso(self.clock()),
                      "objection_id": objection_id}],
            idempotency_key=uuid.uuid4().hex, request_digest=uuid.uuid4().hex, now=self.clock())
        assert outcome.body["results"][0]["status"] == "accepted", outcome.body

    def alice(self):
        return bearer(login_applicant(self.client, self.fake_wechat, "o-alice"))

    def staff(self, username: str):
        return bearer(login_staff(self.client, username))

    def file(self, field: str = "address", **body):
        return self.client.post("/api/mp/objections", headers=self.alice(), json={
            "record_id": self.record.id, "field": field, "claimed_value": "新址2号", "reason": "已搬迁",
            **body})

    def decide(self, objection_id: int, decision: str = "correct", reason: str | None = "核实无误",
               username: str = "gaj.op"):
        return self.client.post(f"/api/dept/objections/{objection_id}/decision", headers=self.staff(username),
                                json={"decision": decision, "reason": reason})


@pytest.fixture
def world(client, session, clock, fake_wechat):
    return World(client, session, clock, fake_wechat)


def test_filed_before_national_day_the_decision_is_due_after_the_holiday_and_the_correction_on_a_working_saturday(
        client, session, clock, fake_wechat):
    clock.set(shanghai(2026, 9, 30, 10, 0))
    world = World(client, session, clock, fake_wechat)
    response = world.file()
    assert response.status_code == 201, response.get_json()
    objection = response.get_json()
    # 10-01..10-07 are the National Day holidays: the 2 working days after 09-30 are 10-08 and 10-09.
    assert objection["decision_due_at"] == "2026-10-09T23:59:59+08:00"
    assert (objection["status"], objection["deadline_unknown"], objection["overdue"]) == ("open", False, False)
    assert (objection["claimed_value"], objection["reason"], objection["field_label"]) == ("新址2号", "已搬迁", "住址")
    clock.set(shanghai(2026, 10, 9, 23, 59, 59))
    decided = world.decide(objection["id"])
    assert decided.status_code == 200, decided.get_json()
    body = decided.get_json()
    assert (body["status"], body["decision"], body["decision_late"]) == ("correcting", "correct", False)
    # 2026-10-10 is an adjusted working Saturday (调休): the 1st working day after the decision.
    assert body["correction_due_at"] == "2026-10-10T23:59:59+08:00"


def test_the_last_second_of_the_due_day_is_on_time_and_the_next_is_late(client, session, clock, fake_wechat):
    clock.set(shanghai(2026, 9, 30, 10, 0))
    world = World(client, session, clock, fake_wechat)
    first = world.file().get_json()
    second = world.file(field="name").get_json()
    clock.set(shanghai(2026, 10, 9, 23, 59, 59))
    assert client.get("/api/dept/objections?overdue=true", headers=world.staff("gaj.op")).get_json()["total"] == 0
    assert world.decide(first["id"]).get_json()["decision_late"] is False
    clock.set(shanghai(2026, 10, 10, 0, 0, 0))
    overdue = client.get("/api/dept/objections?overdue=true", headers=world.staff("gaj.op")).get_json()
    assert [o["id"] for o in overdue["items"]] == [second["id"]] and overdue["items"][0]["overdue"] is True
    late = world.decide(second["id"], decision="reject", reason="登记信息与户籍一致")
    assert late.status_code == 200
    assert (late.get_json()["status"], late.get_json()["decision_late"]) == ("rejected", True)


def test_a_deadline_in_a_year_not_loaded_is_unknown_visible_and_computed_once_the_year_is_loaded(
        client, session, clock, fake_wechat, app):
    clock.set(shanghai(2026, 12, 30, 10, 0))  # the 2nd working day after falls in 2027
    world = World(client, session, clock, fake_wechat)
    objection = world.file().get_json()
    assert (objection["decision_due_at"], objection["deadline_unknown"]) == (None, True)
    admin = world.staff("admin")
    unknown = client.get("/api/admin/objections?deadline_unknown=true", headers=admin).get_json()
    assert [(o["id"], o["calendar_unknown_year"]) for o in unknown["items"]] == [(objection["id"], 2027)]
    operator = world.staff("gaj.op")
    assert client.get("/api/dept/objections?overdue=false", headers=operator).get_json()["total"] == 1
    assert client.get("/api/dept/objections?overdue=true", headers=operator).get_json()["total"] == 0
    runner = app.test_cli_runner()
    for _ in range(2):
        assert runner.invoke(args=["objections", "sweep"]).exit_code == 0
    inbox = client.get("/api/staff/notifications", headers=admin).get_json()
    assert [n["event"] for n in inbox["items"]] == ["calendar_unknown"]
    assert "2027" in inbox["items"][0]["title"] and inbox["unread"] == 1
    # A decision while the deadline is unknown is not called late or on time: that would be a guess.
    clock.set(shanghai(2027, 1, 5, 10, 0))
    decided = world.decide(objection["id"], decision="reject", reason="信息无误").get_json()
    assert (decided["decision_due_at"], decided["decision_late"]) == (None, None)
    assert client.put("/api/admin/calendar/2027", json=SCHEDULE_2027, headers=world.staff("admin")).status_code == 200
    result = runner.invoke(args=["objections", "sweep"])
    assert "1 deadline(s) computed" in result.output
    session.expire_all()
    stored = session.get(Objection, objection["id"])
    # 12-31 (Thu) is the 1st working day; 01-01 is a holiday, 01-02/03 the weekend; Monday 01-04 the 2nd.
    assert iso(stored.decision_due_at) == "2027-01-04T23:59:59+08:00"
    assert stored.decision_late is True and stored.calendar_unknown_year is None


def test_one_open_objection_per_record_and_field(world):
    first = world.file()
    assert first.status_code == 201
    again = world.file(reason="再提一次")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "objection_exists"
    assert world.file(field="birth_date").status_code == 201
    assert world.client.post(f"/api/mp/objections/{first.get_json()['id']}/withdraw",
                             headers=world.alice()).status_code == 200
    assert world.file().status_code == 201


def test_the_field_must_be_in_the_record_and_the_record_visible_to_the_applicant(world, client, session, clock):
    unknown = world.file(field="shoe_size")
    assert unknown.status_code == 422 and "field" in unknown.get_json()["error"]["fields"]
    bobs = push_record(session, clock, item="id-card", record_no="GA-2", subject_id=BOB_ID, subject_name="李四",
                       fields=id_card_fields(name="李四"))
    response = client.post("/api/mp/objections", headers=world.alice(), json={
        "record_id": bobs.id, "field": "address", "reason": "不是我的"})
    assert response.status_code == 404
    no_reason = client.post("/api/mp/objections", headers=world.alice(), json={
        "record_id": world.record.id, "field": "address", "reason": "  "})
    assert no_reason.status_code == 422


def test_the_operator_of_another_department_gets_403_and_other_roles_too(world, client):
    objection = world.file().get_json()
    other = world.staff("scj.op")
    assert client.get(f"/api/dept/objections/{objection['id']}", headers=other).status_code == 403
    refused = client.post(f"/api/dept/objections/{objection['id']}/decision", headers=other,
                          json={"decision": "correct", "reason": "x"})
    assert refused.status_code == 403
    assert client.get("/api/dept/objections", headers=other).get_json()["total"] == 0
    assert client.get("/api/dept/objections", headers=world.staff("scj.counter")).status_code == 403
    assert client.get("/api/dept/objections/987654", headers=world.staff("gaj.op")).status_code == 404
    assert world.session.get(Objection, objection["id"]).status.value == "open"


def test_the_operator_sees_the_claim_decrypted_and_the_view_is_audited(world, client, session):
    objection = world.file().get_json()
    response = client.get(f"/api/dept/objections/{objection['id']}", headers=world.staff("gaj.op"))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["claimed_value"], body["reason"], body["objected_value"]) == ("新址2号", "已搬迁", "旧址1号")
    assert body["record"]["subject_masked"] == "440304********2638"
    listed = client.get("/api/dept/objections?status=open", headers=world.staff("gaj.op")).get_json()["items"]
    assert [o["id"] for o in listed] == [objection["id"]] and "claimed_value" not in listed[0]
    stored = session.get(Objection, objection["id"])
    assert "新址" not in stored.claimed_value_enc and "搬迁" not in stored.reason_enc
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "objection.viewed")).one()
    protector = current_app.extensions["protector"]
    assert event.subject_index == protector.blind_index("id_number", ALICE_ID)
    assert event.actor_type == "staff" and ALICE_ID not in str(event.details)
    # The department's operators were told of the new objection, in their inbox.
    inbox = client.get("/api/staff/notifications", headers=world.staff("gaj.op")).get_json()
    assert [n["event"] for n in inbox["items"]] == ["objection_filed"]


def test_a_decision_tells_the_applicant_in_the_inbox_and_through_the_outbox(world, client, session):
    objection = world.file().get_json()
    assert world.decide(objection["id"], decision="reject", reason="与登记一致").status_code == 200
    inbox = client.get("/api/mp/notifications", headers=world.alice()).get_json()
    assert [n["event"] for n in inbox["items"]] == ["objection_result"]
    assert inbox["items"][0]["data"]["objection_id"] == objection["id"] and inbox["unread"] == 1
    (message,) = session.scalars(select(OutboxMessage)).all()
    assert (message.event, message.kind.value, message.status.value) == ("objection_result", "wechat_subscribe",
                                                                         "pending")
    detail = client.get(f"/api/mp/objections/{objection['id']}", headers=world.alice()).get_json()
    assert (detail["status"], detail["decision_reason"]) == ("rejected", "与登记一致")


def test_a_rejection_needs_a_reason_and_a_decision_is_made_once(world, client):
    objection = world.file().get_json()
    missing = world.decide(objection["id"], decision="reject", reason=None)
    assert missing.status_code == 422 and "reason" in missing.get_json()["error"]["fields"]
    assert world.decide(objection["id"]).status_code == 200
    twice = world.decide(objection["id"], decision="reject", reason="改主意")
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "objection_not_open"


def test_a_push_of_the_record_corrects_it_and_tells_the_applicant(world, client, session, clock):
    objection = world.file().get_json()
    world.decide(objection["id"])
    clock.advance(hours=2)
    world.push(address="新址2号")
    detail = client.get(f"/api/mp/objections/{objection['id']}", headers=world.alice()).get_json()
    assert (detail["status"], detail["correction_version"], detail["correction_late"]) == ("corrected", 2, False)
    assert detail["corrected_at"] == iso(clock())
    events = [n["event"] for n in client.get("/api/mp/notifications", headers=world.alice()).get_json()["items"]]
    assert events == ["correction_done", "objection_result"]
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "objection.corrected")) is not None
    record = client.get("/api/mp/records", headers=world.alice()).get_json()["items"][0]
    assert record["status"] == "valid"


def test_a_late_correction_is_recorded_as_late(world, client, clock):
    objection = world.file().get_json()
    decided = world.decide(objection["id"]).get_json()
    assert decided["correction_due_at"] == "2026-03-03T23:59:59+08:00"  # Monday's decision: due Tuesday
    clock.set(shanghai(2026, 3, 4, 9, 0))
    world.push(address="新址2号")
    detail = client.get(f"/api/mp/objections/{objection['id']}", headers=world.alice()).get_json()
    assert (detail["status"], detail["correction_late"]) == ("corrected", True)


def test_a_push_naming_an_open_objection_is_its_decision_and_its_correction(world, client):
    objection = world.file().get_json()
    world.push(address="新址2号", objection_id=objection["id"])
    detail = client.get(f"/api/mp/objections/{objection['id']}", headers=world.alice()).get_json()
    assert (detail["status"], detail["decision"], detail["decision_late"]) == ("corrected", "correct", False)
    events = [n["event"] for n in client.get("/api/mp/notifications", headers=world.alice()).get_json()["items"]]
    assert sorted(events) == ["correction_done", "objection_result"]


def test_the_record_shows_under_objection_while_open_or_correcting(world, client):
    objection = world.file().get_json()
    listed = client.get("/api/mp/records", headers=world.alice()).get_json()["items"]
    assert [r["status"] for r in listed] == ["under_objection"]
    assert client.get(f"/api/mp/records/{world.record.id}", headers=world.alice()).get_json()["status"] == \
        "under_objection"
    world.decide(objection["id"])
    assert client.get("/api/mp/records", headers=world.alice()).get_json()["items"][0]["status"] == "under_objection"
    world.push(address="新址2号")
    assert client.get("/api/mp/records", headers=world.alice()).get_json()["items"][0]["status"] == "valid"


def test_withdraw_only_while_open(world, client):
    first = world.file().get_json()
    withdrawn = client.post(f"/api/mp/objections/{first['id']}/withdraw", headers=world.alice())
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    again = client.post(f"/api/mp/objections/{first['id']}/withdraw", headers=world.alice())
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "objection_not_open"
    second = world.file().get_json()
    world.decide(second["id"])
    assert client.post(f"/api/mp/objections/{second['id']}/withdraw", headers=world.alice()).status_code == 409
    assert client.get("/api/mp/records", headers=world.alice()).get_json()["items"][0]["status"] == "under_objection"


def test_my_objections_are_listed_with_their_deadlines(world, client):
    first = world.file().get_json()
    world.file(field="birth_date")
    body = client.get("/api/mp/objections", headers=world.alice()).get_json()
    assert body["total"] == 2 and {o["field"] for o in body["items"]} == {"address", "birth_date"}
    assert all(o["decision_due_at"] == "2026-03-04T23:59:59+08:00" for o in body["items"])
    assert "reason" not in body["items"][0]
    world.decide(first["id"])
    only = client.get("/api/mp/objections?status=correcting", headers=world.alice()).get_json()["items"]
    assert [o["id"] for o in only] == [first["id"]]


def test_sweep_flags_overdue_once_and_tells_operators_and_administrators_once(world, client, session, clock, app):
    objection = world.file().get_json()  # Monday 2026-03-02: decision due Wednesday 03-04 23:59:59
    runner = app.test_cli_runner()
    clock.set(shanghai(2026, 3, 4, 11, 59))
    runner.invoke(args=["objections", "sweep"])
    assert session.scalar(select(StaffNotification).where(StaffNotification.event.like("objection_decision%"))) \
        is None
    clock.set(shanghai(2026, 3, 4, 12, 0))  # half a working day before the deadline
    for _ in range(2):
        result = runner.invoke(args=["objections", "sweep"])
        assert result.exit_code == 0, result.output
    reminders = session.scalars(select(StaffNotification).where(
        StaffNotification.event == "objection_decision_reminder")).all()
    assert len(reminders) == 1  # the operator only
    clock.set(shanghai(2026, 3, 5, 0, 0))
    first = runner.invoke(args=["objections", "sweep"])
    second = runner.invoke(args=["objections", "sweep"])
    assert "1 decision(s)" in first.output and "0 decision(s)" in second.output
    session.expire_all()
    stored = session.get(Objection, objection["id"])
    assert stored.decision_overdue_at == clock()
    alerts = session.scalars(select(StaffNotification).where(
        StaffNotification.event == "objection_decision_overdue")).all()
    assert len(alerts) == 2  # gaj.op and admin, each once
    admin_inbox = client.get("/api/staff/notifications", headers=world.staff("admin")).get_json()
    assert [n["event"] for n in admin_inbox["items"]] == ["objection_decision_overdue"]
    # Overdue corrections too, once.
    world.decide(objection["id"])
    clock.set(shanghai(2026, 3, 7, 0, 0))  # due Friday 03-06 23:59:59
    runner.invoke(args=["objections", "sweep"])
    runner.invoke(args=["objections", "sweep"])
    assert len(session.scalars(select(StaffNotification).where(
        StaffNotification.event == "objection_correction_overdue")).all()) == 2
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "objection.correction_overdue")).all()


def test_the_inbox_is_mine_only(world, client, session):
    objection = world.file().get_json()
    world.decide(objection["id"], decision="reject", reason="一致")
    notification = session.scalars(select(Notification)).one()
    bob = verified_applicant(client, world.fake_wechat, openid="o-bob", name="李四", id_number=BOB_ID)
    assert client.get("/api/mp/notifications", headers=bob).get_json() == {
        "items": [], "total": 0, "page": 1, "per_page": 20, "unread": 0}
    assert client.post(f"/api/mp/notifications/{notification.id}/read", headers=bob).status_code == 404
    alice = world.alice()
    read = client.post(f"/api/mp/notifications/{notification.id}/read", headers=alice)
    assert read.status_code == 200 and read.get_json()["read"] is True
    body = client.get("/api/mp/notifications", headers=alice).get_json()
    assert body["unread"] == 0 and body["total"] == 1
    assert client.get("/api/mp/notifications?unread=true", headers=alice).get_json()["total"] == 0
    operator = world.staff("gaj.op")
    staff_message = client.get("/api/staff/notifications", headers=operator).get_json()["items"][0]
    assert client.post(f"/api/staff/notifications/{staff_message['id']}/read",
                       headers=world.staff("admin")).status_code == 404
    assert client.post(f"/api/staff/notifications/{staff_message['id']}/read", headers=operator).get_json()["read"]


def test_department_figures_count_filed_upheld_rejected_overdue_medians_and_rates(world, client, session, clock):
    from datetime import date, timedelta

    from backend.services.objections import department_figures

    push_record(session, clock, item="id-card", record_no="GA-2", subject_id=BOB_ID, subject_name="李四",
                fields=id_card_fields(name="李四"))
    upheld = world.file(field="address").get_json()
    rejected = world.file(field="birth_date").get_json()
    world.file(field="sex")  # left open: overdue by Thursday
    clock.advance(hours=4)
    world.decide(upheld["id"])
    clock.advance(hours=6)
    world.push(address="新址2号")
    clock.advance(hours=14)
    world.decide(rejected["id"], decision="reject", reason="一致")
    now = shanghai(2026, 3, 5, 9, 0)
    figures = {f.department_code: f for f in department_figures(session, start=date(2026, 3, 1),
                                                                   end=date(2026, 3, 8), now=now)}
    gaj = figures["NH-GAJ"]
    assert (gaj.filed, gaj.upheld, gaj.rejected, gaj.pending, gaj.overdue) == (3, 1, 1, 1, 1)
    assert gaj.median_time_to_decide == timedelta(hours=(4 + 24) / 2)
    assert gaj.median_time_to_correct == timedelta(hours=6)
    assert (gaj.records, gaj.objections_per_10k_records, gaj.upheld_per_10k_records) == (2, 15000.0, 5000.0)
    scj = figures["NH-SCJ"]
    assert (scj.filed, scj.records, scj.objections_per_10k_records, scj.median_time_to_decide) == (0, 0, None, None)
    before = {f.department_code: f.filed for f in department_figures(session, start=date(2026, 2, 1),
                                                                       end=date(2026, 3, 2), now=now)}
    assert before["NH-GAJ"] == 0


def test_subscriptions_record_the_accepted_templates(world, client):
    alice = world.alice()
    response = client.post("/api/mp/subscriptions", headers=alice,
                           json={"templates": ["objection_result", "correction_done"]})
    assert response.status_code == 200, response.get_json()
    assert [(s["event"], s["template_id"]) for s in response.get_json()["items"]] == [
        ("correction_done", "dev-correction_done"), ("objection_result", "dev-objection_result")]
    dropped = client.post("/api/mp/subscriptions", headers=alice,
                          json={"templates": [], "rejected": ["correction_done"]})
    assert [s["event"] for s in dropped.get_json()["items"]] == ["objection_result"]
    unknown = client.post("/api/mp/subscriptions", headers=alice, json={"templates": ["birthday"]})
    assert unknown.status_code == 422 and "templates.0" in unknown.get_json()["error"]["fields"]
