"""Worlds for the oversight tests (quality, KPI): a small scenario whose figures are computed by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from backend.models import Applicant, Objection, ObjectionStatus, Record
from backend.services import catalog, records
from backend.services.audit import SYSTEM
from tests.conftest import FrozenClock
from tests.factories import (
    business_license_fields,
    id_card_fields,
    make_catalog_item,
    make_department,
    make_id_card_item,
    push_record,
    revoke_record,
)

PERSON = "440304199003072638"
OTHER_PERSON = "11010519491231002X"
ENTERPRISE = "91350100M000100Y43"


def shanghai(text: str) -> datetime:
    """A moment written in Shanghai time, e.g. `2026-03-06 10:00`."""
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def push_rejected(session: Session, clock: FrozenClock, *, item: str, record_no: str) -> None:
    """A push of one record the item's spec refuses (no `sex`): kept as a rejection."""
    catalog_item = catalog.get_item(session, item)
    outcome = records.push_records(
        session, current_app.extensions["protector"], actor=SYSTEM, department=catalog_item.source_department,
        records=[{"catalog_item": item, "record_no": record_no, "subject_id": PERSON, "subject_name": "张三",
                  "fields": {"name": "张三", "birth_date": "1990-03-07"}, "produced_at": clock().isoformat()}],
        idempotency_key=uuid.uuid4().hex, request_digest=uuid.uuid4().hex, now=clock())
    assert outcome.body["rejected"] == 1


def make_applicant(session: Session, clock: FrozenClock, openid: str = "o-objector") -> Applicant:
    applicant = Applicant(openid=openid, session_key_enc="-", created_at=clock())
    session.add(applicant)
    session.commit()
    return applicant


def make_objection(session: Session, record: Record, applicant: Applicant, **values: Any) -> Objection:
    """An objection row as the objections service leaves it (status, deadlines, decision...)."""
    objection = Objection(record_id=record.id, record_version=record.latest_version,
                          department_id=record.department_id, applicant_id=applicant.id, field="address",
                          reason_enc="-", **values)
    session.add(objection)
    session.commit()
    return objection


def quality_world(session: Session, clock: FrozenClock) -> dict[str, Record]:
    """公安 pushes id cards around a weekend, one late, one rejected, one revoked; 市场监管 one license.

    id-card (3 optional fields: address, height_cm, long_term):
      A  Fri 03-06 10:00, produced then        → on time; address only        (1/3)
      B  Mon 03-09 20:00, produced Fri 10:00   → on time (due Mon 23:59:59); all three (3/3)
      D  Mon 03-09 20:00, produced then        → on time; revoked Tue (on time) and no longer held
      C  Tue 03-10 09:00, produced Fri 10:00   → late; none                   (0/3)
      one rejected push on Tue 03-10 09:00
    business-license (1 optional field: established_on): E Fri 03-06 10:00 → on time; 0/1.
    Objections on A: upheld (decided in 24 h, corrected 6 h later), rejected (12 h), open past its deadline.
    """
    make_department(session, clock, code="NH-GAJ", name="公安分局", is_approval=False)
    make_department(session, clock, code="NH-SCJ", name="区市场监督管理局")
    make_id_card_item(session, clock)
    make_catalog_item(session, clock)
    friday = shanghai("2026-03-06 10:00")
    clock.set(friday)
    made: dict[str, Record] = {}
    made["A"] = push_record(session, clock, item="id-card", record_no="A", subject_id=PERSON, subject_name="张三",
                            fields=id_card_fields(name="张三"))
    made["E"] = push_record(session, clock, item="business-license", record_no="E", subject_id=ENTERPRISE,
                            subject_name="南海示例有限公司",
                            fields=business_license_fields(name="南海示例有限公司", rep_name="张三", rep_id=PERSON))
    clock.set(shanghai("2026-03-09 20:00"))
    made["B"] = push_record(session, clock, item="id-card", record_no="B", subject_id=PERSON, subject_name="张三",
                            fields=id_card_fields(name="张三", height_cm=170, long_term=True), produced_at=friday)
    made["D"] = push_record(session, clock, item="id-card", record_no="D", subject_id=PERSON, subject_name="张三",
                            fields=id_card_fields(name="张三", height_cm=170, long_term=True))
    clock.set(shanghai("2026-03-10 09:00"))
    no_address = {k: v for k, v in id_card_fields(name="张三").items() if k != "address"}
    made["C"] = push_record(session, clock, item="id-card", record_no="C", subject_id=PERSON, subject_name="张三",
                            fields=no_address, produced_at=friday)
    push_rejected(session, clock, item="id-card", record_no="X")
    revoke_record(session, clock, item="id-card", record_no="D")
    applicant = make_applicant(session, clock)
    filed = shanghai("2026-03-10 10:00")
    due = shanghai("2026-03-12 23:59:59")
    make_objection(session, made["A"], applicant, status=ObjectionStatus.CORRECTED, filed_at=filed,
                   decision_due_at=due, decision="correct", decided_at=shanghai("2026-03-11 10:00"),
                   decision_late=False, correction_due_at=shanghai("2026-03-12 23:59:59"),
                   corrected_at=shanghai("2026-03-11 16:00"), correction_late=False)
    make_objection(session, made["A"], applicant, status=ObjectionStatus.REJECTED, filed_at=filed,
                   decision_due_at=due, decision="reject", decided_at=shanghai("2026-03-10 22:00"),
                   decision_late=False)
    make_objection(session, made["A"], applicant, status=ObjectionStatus.OPEN, filed_at=filed, decision_due_at=due)
    clock.set(shanghai("2026-03-13 10:00"))
    return made
