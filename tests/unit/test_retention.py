"""Retention (rule 9, issue 5 point 7): 3 years before anything goes; drafts after 7 days; the CLI run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from backend.errors import AppError
from backend.models import (
    Acceptance,
    AuditEvent,
    Confirmation,
    ConfirmationItem,
    ConfirmationStatus,
    CounterCode,
    Receipt,
)
from backend.services import retention
from backend.services.audit import SYSTEM
from backend.services.receipts import verification_code
from tests.exemption import accepted, confirmed, exemption_world, preview


@pytest.fixture
def app_settings(fake_wechat):
    return fake_wechat.app_settings()


@pytest.fixture
def world(client, session, clock, fake_wechat):
    return exemption_world(client, session, clock, fake_wechat)


def test_three_years_run_by_the_calendar():
    assert retention.retention_end(datetime(2026, 3, 2, 2, tzinfo=UTC)) == datetime(2029, 3, 2, 2, tzinfo=UTC)
    assert retention.retention_end(datetime(2028, 2, 29, 2, tzinfo=UTC)) == datetime(2031, 3, 1, 2, tzinfo=UTC)


def test_deleting_an_accepted_confirmation_within_three_years_is_refused(client, session, clock, world):
    done = accepted(client, world)
    clock.set(datetime(2029, 3, 2, 1, 59, 59, tzinfo=UTC))
    with pytest.raises(AppError) as refused:
        retention.delete_confirmation(session, actor=SYSTEM, confirmation_id=done["id"], now=clock())
    assert refused.value.status == 409 and refused.value.code == "retention_period"
    assert "2029-03-02T10:00:00+08:00" in refused.value.message
    assert session.get(Confirmation, done["id"]) is not None
    assert session.scalar(select(func.count(Acceptance.id))) == 1


def test_the_period_runs_from_acceptance_not_from_confirmation(client, session, clock, world):
    confirmation = confirmed(client, world)
    clock.advance(days=10)
    world.log_in_again()
    token = client.post(f"/api/mp/confirmations/{confirmation['id']}/counter-code", headers=world.alice).get_json()
    client.post("/api/counter/scan", headers=world.counter, json={"token": token["token"]})
    client.post(f"/api/counter/confirmations/{confirmation['id']}/accept", headers=world.counter, json={})
    assert session.get(Confirmation, confirmation["id"]).retain_until == datetime(2029, 3, 12, 2, tzinfo=UTC)


def test_after_three_years_deletion_keeps_an_anonymized_verifiable_receipt(client, session, clock, world):
    done = accepted(client, world)
    receipt = session.scalars(select(Receipt)).one()
    code = verification_code(receipt)
    clock.set(datetime(2029, 3, 2, 2, 0, tzinfo=UTC))
    retention.delete_confirmation(session, actor=SYSTEM, confirmation_id=done["id"], now=clock())
    assert session.get(Confirmation, done["id"]) is None
    assert session.scalar(select(func.count(ConfirmationItem.id))) == 0
    assert session.scalar(select(func.count(Acceptance.id))) == 0
    session.refresh(receipt)
    assert receipt.confirmation_id is None and receipt.holder is None
    answer = client.get(f"/api/receipts/{done['receipt_no']}/verify?code={code}").get_json()
    assert answer["genuine"] is True and answer["status"] == "archived" and answer["holder"] is None
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "confirmation.deleted")).one()


def test_a_draft_can_be_deleted_any_time(client, session, clock, world):
    draft = preview(client, world.alice, world)
    retention.delete_confirmation(session, actor=SYSTEM, confirmation_id=draft["id"], now=clock())
    assert session.get(Confirmation, draft["id"]) is None


def test_retention_run_dry_run_changes_nothing_then_the_real_run_does_what_it_said(app, client, session, clock,
                                                                                  world):
    done = accepted(client, world)
    lapsed = confirmed(client, world, enterprise=False)
    old_draft = preview(client, world.alice, world)
    receipt = session.scalars(select(Receipt)).one()
    code = verification_code(receipt)
    clock.set(datetime(2026, 3, 9, 3, tzinfo=UTC))  # a week and an hour later
    world.log_in_again()
    young_draft = preview(client, world.alice, world, enterprise=False)
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "nothing was changed" in dry.output and "1 draft(s) older than 7 days would be deleted" in dry.output
    assert "0 confirmation record(s) older than 3 years would be anonymized" in dry.output
    assert session.get(Confirmation, old_draft["id"]) is not None

    real = runner.invoke(args=["retention", "run"])
    assert real.exit_code == 0, real.output
    assert "1 draft(s) older than 7 days were deleted" in real.output
    session.expire_all()
    assert session.get(Confirmation, old_draft["id"]) is None
    assert session.get(Confirmation, young_draft["id"]) is not None
    assert session.get(Confirmation, done["id"]).status is ConfirmationStatus.ACCEPTED

    # Three years after: the lapsed confirmation (period from its confirmation) and the accepted one go anonymous.
    clock.set(datetime(2029, 3, 2, 2, 0, tzinfo=UTC))
    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert "2 confirmation record(s) older than 3 years would be anonymized" in dry.output
    assert "1 receipt(s) would be anonymized" in dry.output
    assert session.get(Confirmation, done["id"]).anonymized_at is None
    real = runner.invoke(args=["retention", "run"])
    assert real.exit_code == 0, real.output
    assert "2 confirmation record(s) older than 3 years were anonymized" in real.output
    session.expire_all()
    for confirmation_id in (done["id"], lapsed["id"]):
        kept = session.get(Confirmation, confirmation_id)
        assert kept.anonymized_at == clock() and kept.applicant_id is None and kept.subject_index is None
        assert kept.subject_id_enc is None and kept.subject_name is None
        assert all(i.values_enc is None and i.record_id is None for i in kept.items)
        assert all(i.digest for i in kept.items if not i.is_paper)
    assert session.get(Confirmation, lapsed["id"]).status is ConfirmationStatus.EXPIRED
    assert session.scalar(select(func.count(CounterCode.id))) == 0
    assert session.scalar(select(func.count(Acceptance.id))) == 1
    answer = client.get(f"/api/receipts/{done['receipt_no']}/verify?code={code}").get_json()
    assert answer["genuine"] is True and answer["holder"] is None
    assert answer["certifies"]["materials"][0]["digest"] == done["materials"][0]["digest"]
    again = runner.invoke(args=["retention", "run"])
    assert "0 confirmation record(s) older than 3 years were anonymized" in again.output
    assert len(session.scalars(select(AuditEvent).where(AuditEvent.action == "retention.run")).all()) == 3
