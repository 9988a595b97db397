"""The demo district's people, enterprises and records (`backend.demo`, `backend.demo_people`)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import func, select
from stdnum.cn import ric, uscc

from backend.demo import seed
from backend.demo_people import DEMO_APPLICANTS, ZHIMING, demo_world, org_code_check
from backend.models import (
    SUBJECT_INDEX_KIND,
    AuditEvent,
    CatalogItem,
    PushRequest,
    Record,
    RecordRejection,
    RecordStatus,
    RecordVersion,
    SubjectType,
)
from backend.services import enterprises
from backend.services.records import SUBJECT_ID_CONTEXT

ANCHOR = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _counts(session):
    models = (Record, RecordVersion, RecordRejection, PushRequest, AuditEvent)
    return [session.scalar(select(func.count()).select_from(model)) for model in models]


def test_the_generator_is_deterministic_and_its_identifiers_are_valid():
    world = demo_world(ANCHOR)
    assert [b.digest for b in demo_world(ANCHOR).batches] == [b.digest for b in world.batches]
    assert len(world.people) == 300 and len(world.enterprises) == 80
    assert all(ric.is_valid(p.id_number) for p in world.people)
    assert all(uscc.is_valid(e.uscc) and org_code_check(e.uscc[8:16]) == e.uscc[16] for e in world.enterprises)
    assert len({p.id_number for p in world.people}) == len(world.people)
    assert len({e.name for e in world.enterprises}) == len(world.enterprises)
    people = {id(p) for p in world.people}
    assert all(id(e.legal_rep) in people for e in world.enterprises)
    # One request per catalog item, then a few changes and revocations, each under its own key.
    assert len({b.key for b in world.batches}) == len(world.batches)
    assert all(0 < len(b.records) <= 1000 for b in world.batches)


def test_seed_pushes_the_records_and_a_second_run_replays_them(session, clock):
    protector = current_app.extensions["protector"]
    lines = seed(session, now=clock(), protector=protector)
    assert any(line.startswith("records id-card (NH-GAJ, push): ") for line in lines)
    assert all(f"{a.name} {a.id_number}" in "\n".join(lines) for a in DEMO_APPLICANTS)
    assert session.scalar(select(func.count()).select_from(RecordRejection)) == 0

    world = demo_world(clock())
    pushed = {(b.item, r["record_no"]) for b in world.batches if b.operation == "push" for r in b.records}
    assert session.scalar(select(func.count()).select_from(Record)) == len(pushed) > 1000
    per_item = Counter(session.scalars(select(CatalogItem.code).join(Record, Record.catalog_item_id == CatalogItem.id)))
    assert per_item["id-card"] > 200 and per_item["business-license"] == 60 and len(per_item) == 14

    for record in session.scalars(select(Record)):
        subject = protector.decrypt(record.subject_id_enc, context=SUBJECT_ID_CONTEXT)
        assert (ric if record.subject_type is SubjectType.PERSON else uscc).is_valid(subject), subject
    revoked = session.scalar(select(func.count()).where(Record.status == RecordStatus.REVOKED))
    expired = session.scalar(select(func.count()).where(Record.valid_until < clock().date()))
    assert revoked == 4 and expired >= 3
    timeliness = Counter(session.scalars(select(RecordVersion.on_time)))
    assert timeliness[False] > 0 and timeliness[True] > 0.9 * sum(timeliness.values())

    counts = _counts(session)
    clock.advance(days=1)
    assert seed(session, now=clock(), protector=protector) == ["demo district already loaded: nothing changed"]
    assert _counts(session) == counts


def test_a_demo_applicant_is_the_legal_representative_of_a_demo_enterprise(session, clock):
    protector = current_app.extensions["protector"]
    seed(session, now=clock(), protector=protector)
    company = next(e for e in demo_world(clock()).enterprises if e.legal_rep.id_number == ZHIMING.id_number)
    index = protector.blind_index(SUBJECT_INDEX_KIND[SubjectType.ENTERPRISE], company.uscc)
    rep = enterprises.legal_representative(session, protector, uscc_index=index, now=clock())
    assert rep is not None and rep.name == ZHIMING.name
    assert rep.id_index == protector.blind_index(SUBJECT_INDEX_KIND[SubjectType.PERSON], ZHIMING.id_number)
    # ... and the same person has records of their own, found by the same blind index.
    own = set(session.scalars(select(CatalogItem.code).join(Record, Record.catalog_item_id == CatalogItem.id)
                              .where(Record.subject_index == rep.id_index)))
    assert {"id-card", "household-register", "marriage-cert", "real-estate-certificate"} <= own
    assert all(ric.is_valid(a.id_number) for a in DEMO_APPLICANTS)
