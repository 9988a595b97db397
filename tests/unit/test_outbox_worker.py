"""The outbox worker delivers WeChat subscribe messages through the fake WeChat server over real HTTP:
once, also across an outage and a worker killed mid-delivery; skipped, retried or dead-lettered as it should."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from backend.db import db
from backend.models import Applicant, AuditEvent, OutboxMessage, OutboxStatus
from backend.services import notifications
from backend.services.audit import SYSTEM
from notifications import outbox
from notifications.wechat import build_message, fit, parse_templates
from notifications.worker import Worker
from tests.factories import admin_headers, login_applicant


@pytest.fixture
def app_settings(fake_wechat):
    return {**fake_wechat.app_settings(), "OUTBOX_MAX_ATTEMPTS": 4}


def _applicant(client, session, fake_wechat, openid="o-alice", *, subscribe=("objection_result",)) -> Applicant:
    login_applicant(client, fake_wechat, openid)
    applicant = session.scalars(select(Applicant).where(Applicant.openid == openid)).one()
    if subscribe:
        notifications.record_subscriptions(session, applicant=applicant, actor=SYSTEM, accepted=list(subscribe),
                                           rejected=[], templates=current_app.extensions["config"]
                                           .wechat_template_ids(), now=current_app.extensions["clock"]())
    return applicant


def _notify(session, clock, applicant: Applicant, title="数据异议处理结果", *, item="居民身份证") -> OutboxMessage:
    notifications.notify_applicant(session, current_app.extensions["protector"], applicant_id=applicant.id,
                                   event="objection_result", title=title, body="您提出的数据异议已处理。",
                                   data={"objection_id": 1, "item": item, "result": "予以更正", "note": "住址"},
                                   now=clock())
    session.commit()
    return session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()


def _status(session, message_id):
    session.expire_all()
    return session.get(OutboxMessage, message_id)


def test_a_subscribe_message_is_sent_once_within_wechat_limits(app, client, session, clock, fake_wechat):
    alice = _applicant(client, session, fake_wechat)
    message = _notify(session, clock, alice, title="关于您提交的居民身份证住址字段数据异议的处理结果通知")
    report = Worker(app).drain()
    assert (report.claimed, report.outcomes["sent"]) == (1, 1)
    (sent,) = fake_wechat.messages
    assert (sent["touser"], sent["template_id"]) == ("o-alice", "dev-objection_result")
    assert sent["data"] == {"thing1": {"value": "居民身份证"}, "phrase2": {"value": "予以更正"},
                            "thing3": {"value": "住址"}, "time4": {"value": "2026-03-02 10:00"}}
    row = _status(session, message.id)
    assert (row.status, row.attempts, row.sent_at) == (OutboxStatus.SENT, 1, clock())
    clock.advance(hours=1)
    assert Worker(app).drain().claimed == 0
    assert len(fake_wechat.messages) == 1


def test_values_are_cut_to_the_limits_of_their_keyword_type():
    assert fit("thing1", "一二三四五六七八九十一二三四五六七八九十一二") == "一二三四五六七八九十一二三四五六七八九…"
    assert fit("phrase2", "不予更正理由") == "不予更正理"
    assert fit("thing3", "  ") == "-"
    body = build_message(event="confirmation_voided", openid="o", template_id="t",
                         payload={"title": "作废" * 20, "body": "说明" * 20, "data": {}},
                         created_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    assert {k: len(v["value"]) for k, v in body["data"].items()} == {"thing1": 20, "thing2": 20, "time3": 16}
    assert parse_templates(" objection_result = T1 ,accepted=T2") == {"objection_result": "T1", "accepted": "T2"}
    with pytest.raises(ValueError):
        parse_templates("birthday=T3")


def test_no_acceptance_is_skipped_without_calling_wechat(app, client, session, clock, fake_wechat):
    alice = _applicant(client, session, fake_wechat, subscribe=())
    message = _notify(session, clock, alice)
    assert Worker(app).drain().outcomes["skipped"] == 1
    row = _status(session, message.id)
    assert row.status is OutboxStatus.SKIPPED and "not accepted" in row.last_error
    assert fake_wechat.calls("subscribe_send") == []


def test_43101_is_recorded_as_skipped_and_not_retried(app, client, session, clock, fake_wechat):
    alice = _applicant(client, session, fake_wechat)
    fake_wechat.unsubscribe("o-alice")
    message = _notify(session, clock, alice)
    assert Worker(app).drain().outcomes["skipped"] == 1
    row = _status(session, message.id)
    assert row.status is OutboxStatus.SKIPPED and "43101" in row.last_error
    clock.advance(days=1)
    assert Worker(app).drain().claimed == 0
    assert len(fake_wechat.calls("subscribe_send")) == 1


def test_a_stale_token_is_refreshed_and_the_message_sent_once(app, client, session, clock, fake_wechat):
    alice = _applicant(client, session, fake_wechat)
    _notify(session, clock, alice)
    Worker(app).drain()
    first_token = fake_wechat.calls("subscribe_send")[0].query["access_token"]
    fake_wechat.expire_tokens()  # WeChat now answers 40001 to the cached token
    second = _notify(session, clock, alice, title="第二条")
    assert Worker(app).drain().outcomes["sent"] == 1
    sends = fake_wechat.calls("subscribe_send")
    assert [s.query["access_token"] == first_token for s in sends] == [True, True, False]
    assert len(fake_wechat.messages) == 2 and _status(session, second.id).status is OutboxStatus.SENT


def test_an_outage_is_retried_with_backoff_and_delivered_once_when_wechat_is_back(app, client, session, clock,
                                                                                    fake_wechat):
    alice = _applicant(client, session, fake_wechat)
    message = _notify(session, clock, alice)
    start = clock()
    with fake_wechat.down():
        assert Worker(app).drain().outcomes["retry"] == 1
        row = _status(session, message.id)
        assert (row.status, row.attempts, row.next_attempt_at) == (OutboxStatus.PENDING, 1,
                                                                   start + timedelta(seconds=30))
        assert "unavailable" in row.last_error
        clock.advance(seconds=29)
        assert Worker(app).drain().claimed == 0  # not due before its backoff
        clock.advance(seconds=1)
        assert Worker(app).drain().outcomes["retry"] == 1
        assert _status(session, message.id).next_attempt_at == clock() + timedelta(seconds=60)
    clock.advance(seconds=60)
    assert Worker(app).drain().outcomes["sent"] == 1
    assert len(fake_wechat.messages) == 1
    row = _status(session, message.id)
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.SENT, 3, None)


def test_failures_end_in_the_dead_letter_after_the_last_attempt_and_the_admin_puts_it_back(
        app, client, session, clock, fake_wechat):
    alice = _applicant(client, session, fake_wechat)
    message = _notify(session, clock, alice)
    fake_wechat.http_error_next("subscribe_send", 500, times=4)
    outcomes = []
    for _ in range(4):  # OUTBOX_MAX_ATTEMPTS = 4 in this module
        outcomes += list(Worker(app).drain().outcomes.elements())
        clock.advance(hours=2)
    assert outcomes == ["retry", "retry", "retry", "dead"]
    row = _status(session, message.id)
    assert row.status is OutboxStatus.DEAD and "after 4 attempts" in row.last_error
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "outbox.dead")) is not None
    assert Worker(app).drain().claimed == 0
    admin = admin_headers(client, session, clock)
    dead = client.get("/api/admin/outbox?status=dead", headers=admin).get_json()
    assert [m["id"] for m in dead["items"]] == [message.id]
    assert client.post(f"/api/admin/outbox/{message.id}/requeue", headers=admin).status_code == 200
    assert Worker(app).drain().outcomes["sent"] == 1
    assert len(fake_wechat.messages) == 1


def test_a_worker_killed_mid_delivery_leaves_the_message_to_another_after_the_lease(
        app, client, session, clock, fake_wechat):
    alice = _applicant(client, session, fake_wechat)
    message = _notify(session, clock, alice)
    lease = timedelta(seconds=app.extensions["config"].outbox_lease_seconds)
    (claimed,) = outbox.claim(session, worker="killed-worker", now=clock(), lease=lease, limit=10)
    # ... and the process dies here: nothing sent, nothing recorded.
    assert Worker(app).drain().claimed == 0  # the lease still holds
    clock.advance(seconds=lease.total_seconds())
    survivor = Worker(app, name="survivor")
    assert survivor.drain().outcomes["sent"] == 1
    assert len(fake_wechat.messages) == 1
    row = _status(session, message.id)
    assert (row.status, row.attempts, row.locked_by) == (OutboxStatus.SENT, 2, "survivor")
    # Had the killed worker come back to life, its old claim no longer lets it send.
    assert Worker(app, name="killed-worker").deliver(claimed) == "lost"
    assert len(fake_wechat.messages) == 1


def test_a_slow_worker_whose_lease_ran_out_does_not_send_what_another_took(app, client, session, clock,
                                                                          fake_wechat):
    alice = _applicant(client, session, fake_wechat)
    _notify(session, clock, alice)
    lease = timedelta(seconds=app.extensions["config"].outbox_lease_seconds)
    (slow,) = outbox.claim(session, worker="slow", now=clock(), lease=lease, limit=10)
    clock.advance(seconds=lease.total_seconds() + 1)
    (fast,) = outbox.claim(session, worker="fast", now=clock(), lease=lease, limit=10)
    assert Worker(app, name="slow").deliver(slow) == "lost"
    assert Worker(app, name="fast").deliver(fast) == "sent"
    assert len(fake_wechat.messages) == 1


def test_two_workers_racing_on_the_same_rows_deliver_each_message_once(committing_database, tmp_path, fake_wechat,
                                                                        clock):
    app = committing_database.app(tmp_path, clock, **fake_wechat.app_settings(), OUTBOX_BATCH=3)
    client = app.test_client()
    with app.app_context():
        session = db.session
        alice = _applicant(client, session, fake_wechat)
        ids = [_notify(session, clock, alice, item=f"消息{i}").id for i in range(24)]
        db.session.remove()
    reports: list[object] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def work(name: str) -> None:
        with app.app_context():
            try:
                barrier.wait()
                reports.append(Worker(app, name=name).drain())
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    delivered = Counter(m["data"]["thing1"]["value"] for m in fake_wechat.messages)
    assert delivered == Counter(f"消息{i}" for i in range(24))  # each message once, none twice
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))).all()
        assert {r.status for r in rows} == {OutboxStatus.SENT} and {r.attempts for r in rows} == {1}
        by_worker = Counter(r.locked_by for r in rows)
        db.session.remove()
        db.engine.dispose()
    assert set(by_worker) <= {"w0", "w1", "w2"}
    assert sum(r.claimed for r in reports) == 24  # type: ignore[attr-defined]


def test_deliver_once_drains_what_is_due_and_says_what_came_of_it(app, client, session, clock, fake_wechat):
    alice = _applicant(client, session, fake_wechat)
    _notify(session, clock, alice)
    _notify(session, clock, alice, item="第二条")
    result = app.test_cli_runner().invoke(args=["notifications", "deliver", "--once"])
    assert result.exit_code == 0, result.output
    assert "2 claimed: sent 2" in result.output
    assert len(fake_wechat.messages) == 2


def test_the_worker_runs_until_stopped_and_gives_back_what_it_did_not_start(app, client, session, clock,
                                                                           fake_wechat):
    alice = _applicant(client, session, fake_wechat)
    ids = [_notify(session, clock, alice, item=f"消息{i}").id for i in range(3)]
    stop = threading.Event()
    stop.set()  # SIGTERM before the batch is worked through: the claimed rows go back untouched
    report = Worker(app).run_batch(stop)
    assert report.claimed == 3 and sum(report.outcomes.values()) == 0
    rows = [_status(session, i) for i in ids]
    assert {(r.status, r.attempts, r.locked_by, r.locked_until) for r in rows} == {(OutboxStatus.PENDING, 0, None,
                                                                                     None)}
    stop = threading.Event()
    worker = Worker(app)
    worker.settings = dataclasses.replace(worker.settings, poll_seconds=0.05)
    thread = threading.Thread(target=lambda: _run_in_context(app, worker, stop))
    thread.start()
    for _ in range(100):
        if len(fake_wechat.messages) == 3:
            break
        threading.Event().wait(0.05)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive() and len(fake_wechat.messages) == 3


def _run_in_context(app, worker, stop):
    with app.app_context():
        worker.run(stop)
