"""Concurrency: double confirm, double accept and 20 scans of one code, raced in real threads against a real
database (MariaDB when DATABASE_URL points there, a SQLite file otherwise) whose commits are real."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from backend.db import db
from backend.models import (
    Acceptance,
    AuditEvent,
    Confirmation,
    ConfirmationStatus,
    Notification,
    OutboxKind,
    OutboxMessage,
    Receipt,
)
from backend.services import audit
from tests.exemption import confirmed, counter_code, exemption_world, preview, scanned


@pytest.fixture
def racing(committing_database, tmp_path, clock, fake_wechat):
    """The committing app, its world, and a way to race one request in many threads."""
    app = committing_database.app(tmp_path, clock, **fake_wechat.app_settings())
    # The main thread keeps one app context (its session holds the world's rows); each racing request
    # runs in a thread of its own, with its own app context and session.
    context = app.app_context()
    context.push()
    world = exemption_world(app.test_client(), db.session, clock, fake_wechat)

    def race(count: int, request: Callable[[Any], Any]) -> list[Any]:
        barrier = threading.Barrier(count)
        answers: list[Any] = [None] * count
        errors: list[BaseException] = []

        def run(index: int) -> None:
            try:
                client = app.test_client()
                barrier.wait(timeout=30)
                response = request(client)
                answers[index] = (response.status_code, response.get_json())
            except BaseException as exc:  # reported below; a thread's exception would vanish otherwise
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        return answers

    try:
        yield app, world, race
    finally:
        db.session.remove()
        db.engine.dispose()
        context.pop()


def test_concurrent_confirms_confirm_once(racing):
    app, world, race = racing
    draft = preview(world.client, world.alice, world)
    answers = race(4, lambda c: c.post(f"/api/mp/confirmations/{draft['id']}/confirm", headers=world.alice))
    assert [status for status, _ in answers] == [200] * 4, answers
    assert len({body["snapshot_digest"] for _, body in answers}) == 1
    assert {body["status"] for _, body in answers} == {"confirmed"}
    db.session.rollback()  # a fresh transaction: on MariaDB the old one still sees its snapshot
    assert db.session.get(Confirmation, draft["id"]).status is ConfirmationStatus.CONFIRMED
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "confirmation.confirmed")).all()
    assert len(events) == 1
    assert audit.verify_chain(db.session).ok


def test_concurrent_accepts_accept_once(racing):
    app, world, race = racing
    case = scanned(world.client, world)
    answers = race(4, lambda c: c.post(f"/api/counter/confirmations/{case['id']}/accept", headers=world.counter,
                                       json={"window": "1号窗口"}))
    assert [status for status, _ in answers] == [200] * 4, answers
    assert len({body["receipt_no"] for _, body in answers}) == 1
    session = db.session
    session.rollback()  # a fresh transaction: on MariaDB the old one still sees its snapshot
    assert len(session.scalars(select(Acceptance)).all()) == 1
    assert len(session.scalars(select(Receipt)).all()) == 1
    assert len(session.scalars(select(Notification).where(Notification.event == "accepted")).all()) == 1
    assert len(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.WEBHOOK)).all()) == 1
    # One acceptance, audited once per subject whose data went to the approval system.
    assert len(session.scalars(select(AuditEvent).where(AuditEvent.action == "counter.accepted")).all()) == 2
    assert audit.verify_chain(session).ok


def test_twenty_concurrent_scans_of_one_code_let_exactly_one_through(racing):
    app, world, race = racing
    confirmation = confirmed(world.client, world)
    token = counter_code(world.client, world, confirmation["id"])["token"]
    answers = race(20, lambda c: c.post("/api/counter/scan", headers=world.counter, json={"token": token}))
    statuses = Counter(status for status, _ in answers)
    assert statuses == {200: 1, 409: 19}, answers
    assert {body["error"]["code"] for status, body in answers if status == 409} == {"code_used"}
    (winner,) = [body for status, body in answers if status == 200]
    assert winner["materials"][0]["fields"][0]["value"] == "示例有限公司"
    db.session.rollback()  # a fresh transaction: on MariaDB the old one still sees its snapshot
    scans = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "counter.scanned")).all()
    assert len(scans) == 2  # one use, audited once per subject (the enterprise and the legal representative)
    assert audit.verify_chain(db.session).ok
