"""The audit chain: appended in order, hash-linked, and any edit, deletion, insertion or reordering is found."""

from __future__ import annotations

import threading

from sqlalchemy import delete, select, update

from backend.db import db
from backend.models import AuditEvent, AuditHead
from backend.services import audit
from backend.services.audit import Actor

ACTOR = Actor("staff", "1", "req-1")


def _append(session, clock, n):
    for i in range(n):
        audit.record(session, actor=ACTOR, action="record.viewed", now=clock(), target_type="record",
                     target_id=i, subject_index="ab" * 32, purpose="食品经营许可(新办)", details={"i": i})
    session.commit()


def _events(session):
    return session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()


def test_appended_events_form_an_intact_chain(session, clock):
    _append(session, clock, 5)
    events = _events(session)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    report = audit.verify_chain(session)
    assert report.ok and report.checked == 5 and report.head_seq == 5


def test_an_edited_event_is_found(session, clock):
    _append(session, clock, 5)
    session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(purpose="别的用途"))
    report = audit.verify_chain(session)
    assert not report.ok and report.seq == 3 and "edited" in report.problem


def test_a_deleted_event_is_found(session, clock):
    _append(session, clock, 5)
    session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
    report = audit.verify_chain(session)
    assert not report.ok and report.seq == 2 and "deleted" in report.problem


def test_a_truncated_tail_is_found(session, clock):
    _append(session, clock, 5)
    session.execute(delete(AuditEvent).where(AuditEvent.seq >= 4))
    report = audit.verify_chain(session)
    assert not report.ok and "truncated" in report.problem


def test_reordered_events_are_found(session, clock):
    _append(session, clock, 5)
    session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(seq=-2))
    session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(seq=2))
    session.execute(update(AuditEvent).where(AuditEvent.seq == -2).values(seq=3))
    report = audit.verify_chain(session)
    assert not report.ok and report.seq == 2


def test_an_inserted_event_is_found(session, clock):
    _append(session, clock, 3)
    events = _events(session)
    # A forger rewrites event 2 and re-hashes it: its successor no longer follows it.
    forged = events[1]
    forged.purpose = "伪造"
    forged.hash = audit.event_hash(forged)
    session.flush()
    report = audit.verify_chain(session)
    assert not report.ok and report.seq == 3 and "inserted or reordered" in report.problem
    # An event appended behind the head's back is named too.
    session.rollback()
    last = _events(session)[-1]
    extra = AuditEvent(seq=last.seq + 1, at=clock(), actor_type="staff", actor_id="9", action="x", details={},
                       prev_hash=last.hash)
    extra.hash = audit.event_hash(extra)
    session.add(extra)
    session.flush()
    report = audit.verify_chain(session)
    assert not report.ok and "inserted" in report.problem


def test_audit_verify_command_exits_non_zero_on_a_broken_chain(app, session, clock):
    _append(session, clock, 3)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "intact: 3 events" in ok.output
    session.execute(update(AuditEvent).where(AuditEvent.seq == 1).values(action="tampered"))
    session.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert "BROKEN at event 1" in broken.output


def test_concurrent_writers_never_fork_the_chain(committing_database, tmp_path):
    app = committing_database.app(tmp_path)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with app.app_context():
                for i in range(15):
                    # Read first, as every real use case does: on InnoDB this fixes the transaction's
                    # snapshot before the append waits for the head's lock.
                    db.session.execute(select(AuditEvent.id).limit(1)).all()
                    audit.record(db.session, actor=Actor("staff", str(n)), action="concurrent.append",
                                 now=app.extensions["clock"](), details={"writer": n, "i": i})
                    db.session.commit()
        except BaseException as exc:  # reported below; a thread's exception would vanish otherwise
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert [e.seq for e in events] == list(range(1, 61))
        assert db.session.get(AuditHead, audit.HEAD_ID).seq == 60
        assert audit.verify_chain(db.session).ok
        db.engine.dispose()
