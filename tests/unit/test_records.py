"""Pushing records (rules 1 and 2): validation, versions, revocation, idempotency, lateness, the report."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select

from backend.db import db
from backend.errors import ValidationError
from backend.models import (
    AuditEvent,
    ChangeKind,
    Department,
    PushRequest,
    Record,
    RecordRejection,
    RecordStatus,
    RecordVersion,
)
from backend.services import catalog, records, workdays
from backend.services.audit import SYSTEM
from backend.services.records import (
    BatchTooLarge,
    ConcurrentPush,
    IdempotencyMismatch,
    NotSource,
    push_records,
    revoke_records,
)
from tests.factories import make_catalog_item, make_department, make_id_card_item

SHANGHAI_OFFSET = "+08:00"


@pytest.fixture
def world(session, clock):
    """Two source departments: 公安 (id cards, person) and 市场监管 (business licenses, enterprise)."""
    make_department(session, clock, code="NH-SCJ", name="区市场监督管理局")
    make_department(session, clock, code="NH-GAJ", name="公安分局", is_approval=False)
    make_id_card_item(session, clock)
    make_catalog_item(session, clock)
    return {code: session.scalar(select(Department).where(Department.code == code))
            for code in ("NH-SCJ", "NH-GAJ")}


def id_card(record_no: str = "GA-0001", **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "catalog_item": "id-card", "record_no": record_no, "subject_id": "11010519491231002X",
        "subject_name": "张三",
        "fields": {"sex": "男", "birth_date": "1949-12-31", "address": "北京市西城区", "height_cm": 172,
                   "long_term": True},
        "produced_at": "2026-03-02T09:00:00+08:00", "valid_from": "2020-01-01", "valid_until": "2040-01-01",
    }
    record.update(overrides)
    return record


def license_(record_no: str = "SC-0001", **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "catalog_item": "business-license", "record_no": record_no, "subject_id": "91350100M000100Y43",
        "subject_name": "南海示例有限公司",
        "fields": {"legal_rep_name": "李四", "legal_rep_id": "440304199003072638", "entity_type": "有限责任公司",
                   "established_on": "2019-05-20", "address": "佛山市南海区桂城街道"},
        "produced_at": "2026-03-02T08:00:00+08:00",
    }
    record.update(overrides)
    return record


_counter = iter(range(1_000_000))


def push(app, clock, department, batch, *, key: str | None = None, revoke: bool = False):
    digest = hashlib.sha256(json.dumps(batch, sort_keys=True).encode()).hexdigest()
    key = key or f"key-{next(_counter)}"
    if revoke:
        return revoke_records(db.session(), app.extensions["protector"], actor=SYSTEM, department=department,
                              records=batch, idempotency_key=key, request_digest=digest, now=clock())
    return push_records(db.session(), app.extensions["protector"], actor=SYSTEM, department=department,
                        records=batch, idempotency_key=key, request_digest=digest, now=clock())


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def decrypt_fields(app, version: RecordVersion) -> dict[str, Any]:
    return json.loads(app.extensions["protector"].decrypt(version.fields_enc, context="record_versions.fields_enc"))


# --- writing ------------------------------------------------------------------------------------------------

def test_a_new_record_is_stored_encrypted_and_indexed(app, session, clock, world):
    outcome = push(app, clock, world["NH-GAJ"], [id_card()])
    result = outcome.body["results"][0]
    assert result["status"] == "accepted" and result["change"] == "new" and result["version"] == 1
    assert result["on_time"] is True and result["due_at"] == "2026-03-03T23:59:59+08:00"
    record = session.get(Record, result["record_id"])
    protector = app.extensions["protector"]
    assert record.subject_index == protector.blind_index("id_number", "11010519491231002X")
    assert record.subject_masked == "110105********002X"
    assert "11010519491231002X" not in record.subject_id_enc
    assert protector.decrypt(record.subject_id_enc, context="records.subject_id_enc") == "11010519491231002X"
    assert (record.status, record.latest_version, record.valid_until) == (RecordStatus.VALID, 1, date(2040, 1, 1))
    (version,) = record.versions
    assert decrypt_fields(app, version) == {"name": "张三", "sex": "男", "birth_date": "1949-12-31",
                                            "address": "北京市西城区", "height_cm": 172, "long_term": True}
    assert "北京" not in version.fields_enc and "张三" not in version.subject_name_enc
    assert protector.decrypt(version.subject_name_enc, context="record_versions.subject_name_enc") == "张三"
    assert version.filled_fields == ["address", "birth_date", "height_cm", "long_term", "name", "sex"]
    assert version.catalog_version.version == 1
    assert version.produced_at == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    assert version.received_at == clock()


def test_an_enterprise_record_is_checked_as_a_credit_code(app, session, clock, world):
    outcome = push(app, clock, world["NH-SCJ"], [license_(), license_("SC-0002", subject_id="91350100M000100Y44")])
    assert [r["status"] for r in outcome.body["results"]] == ["accepted", "rejected"]
    assert "check digit" in outcome.body["results"][1]["errors"]["subject_id"]
    record = session.scalar(select(Record))
    assert record.subject_index == app.extensions["protector"].blind_index("uscc", "91350100M000100Y43")


def test_lower_case_check_letter_is_normalized(app, session, clock, world):
    push(app, clock, world["NH-GAJ"], [id_card(subject_id="11010519491231002x")])
    assert session.scalar(select(Record.subject_index)) == app.extensions["protector"].blind_index(
        "id_number", "11010519491231002X")


def test_a_change_adds_a_version_and_never_overwrites(app, session, clock, world):
    push(app, clock, world["NH-GAJ"], [id_card()])
    clock.advance(hours=1)
    moved = id_card(fields={**id_card()["fields"], "address": "佛山市南海区"}, produced_at="2026-03-02T10:30:00+08:00")
    result = push(app, clock, world["NH-GAJ"], [moved]).body["results"][0]
    assert (result["change"], result["version"]) == ("change", 2)
    record = session.get(Record, result["record_id"])
    assert record.latest_version == 2 and record.updated_at == clock()
    first, second = record.versions
    assert (first.change, second.change) == (ChangeKind.NEW, ChangeKind.CHANGE)
    assert decrypt_fields(app, first)["address"] == "北京市西城区"
    assert decrypt_fields(app, second)["address"] == "佛山市南海区"
    assert count(session, Record) == 1


def test_an_identical_push_adds_no_version(app, session, clock, world):
    first = push(app, clock, world["NH-GAJ"], [id_card()]).body["results"][0]
    clock.advance(minutes=10)
    again = push(app, clock, world["NH-GAJ"], [id_card(produced_at="2026-03-02T09:05:00+08:00")])
    result = again.body["results"][0]
    assert result["status"] == "accepted" and result["unchanged"] is True and result["change"] is None
    assert (result["record_id"], result["version"]) == (first["record_id"], 1)
    assert again.body["unchanged"] == 1
    assert count(session, RecordVersion) == 1


def test_a_record_never_changes_subject(app, session, clock, world):
    push(app, clock, world["NH-GAJ"], [id_card()])
    other = id_card(subject_id="440304199003072638")
    result = push(app, clock, world["NH-GAJ"], [other]).body["results"][0]
    assert result["status"] == "rejected" and "never changes subject" in result["errors"]["subject_id"]
    assert count(session, RecordVersion) == 1


def test_a_record_named_twice_in_a_batch_is_rejected_both_times(app, session, clock, world):
    outcome = push(app, clock, world["NH-GAJ"], [id_card(), id_card(), id_card("GA-0002")])
    assert [r["status"] for r in outcome.body["results"]] == ["rejected", "rejected", "accepted"]
    assert "more than once" in outcome.body["results"][0]["errors"]["record_no"]


def test_the_subject_name_field_may_carry_the_name(app, session, clock, world):
    record = id_card(fields={**id_card()["fields"], "name": "张三"})
    del record["subject_name"]
    assert push(app, clock, world["NH-GAJ"], [record]).body["accepted"] == 1
    clash = id_card("GA-0002", fields={**id_card()["fields"], "name": "李四"})
    result = push(app, clock, world["NH-GAJ"], [clash]).body["results"][0]
    assert result["errors"] == {"name": "must equal subject_name"}


def _set_field(key, value):
    def change(record):
        record["fields"][key] = value
    return change


def _drop_field(key):
    def change(record):
        del record["fields"][key]
    return change


def _set(key, value):
    def change(record):
        record[key] = value
    return change


def _drop(key):
    def change(record):
        del record[key]
    return change


INVALID = [
    ("no item", _drop("catalog_item"), "catalog_item", "is required"),
    ("unknown item", _set("catalog_item", "no-such-item"), "catalog_item", "no catalog item"),
    ("item not a string", _set("catalog_item", 7), "catalog_item", "must be a string"),
    ("no record_no", _set("record_no", " "), "record_no", "is required"),
    ("long record_no", _set("record_no", "x" * 101), "record_no", "at most 100"),
    ("no subject", _drop("subject_id"), "subject_id", "is required"),
    ("bad check digit", _set("subject_id", "11010519491231002Y"), "subject_id", "check digit"),
    ("short id", _set("subject_id", "1101051949123100"), "subject_id", "18 characters"),
    ("credit code for a person", _set("subject_id", "91350100M000100Y43"), "subject_id", "ID number"),
    ("no name", _drop("subject_name"), "subject_name", "is required"),
    ("fields not an object", _set("fields", ["男"]), "fields", "must be an object"),
    ("unknown field", _set_field("nickname", "三儿"), "nickname", "is not a field"),
    ("required field missing", _drop_field("sex"), "sex", "is required"),
    ("required field blank", _set_field("sex", " "), "sex", "is required"),
    ("string too long", _set_field("address", "路" * 101), "address", "at most 100 characters"),
    ("string of another type", _set_field("address", 5), "address", "must be a string"),
    ("impossible date", _set_field("birth_date", "1949-13-01"), "birth_date", "YYYY-MM-DD"),
    ("date in another format", _set_field("birth_date", "1949/12/31"), "birth_date", "YYYY-MM-DD"),
    ("number as text", _set_field("height_cm", "172cm"), "height_cm", "must be a number"),
    ("boolean as number", _set_field("height_cm", True), "height_cm", "must be a number"),
    ("boolean as text", _set_field("long_term", "yes"), "long_term", "true or false"),
    ("value not listed", _set_field("sex", "未知"), "sex", "must be one of: 男, 女"),
    ("no produced_at", _drop("produced_at"), "produced_at", "is required"),
    ("produced_at without offset", _set("produced_at", "2026-03-02T09:00:00"), "produced_at", "UTC offset"),
    ("produced_at not a date-time", _set("produced_at", "yesterday"), "produced_at", "ISO 8601"),
    ("produced in the future", _set("produced_at", "2026-03-02T10:06:00+08:00"), "produced_at", "future"),
    ("validity reversed", _set("valid_from", "2041-01-01"), "valid_until", "must not be before valid_from"),
    ("validity not a date", _set("valid_until", "2040-02-30"), "valid_until", "YYYY-MM-DD"),
    ("unknown top-level key", _set("colour", "red"), "colour", "is not a known field"),
    ("objection id not a number", _set("objection_id", "7"), "objection_id", "positive whole number"),
]


@pytest.mark.parametrize(("change", "key", "message"), [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_each_invalid_record_is_rejected_with_its_reason(app, session, clock, world, change, key, message):
    record = copy.deepcopy(id_card())
    change(record)
    result = push(app, clock, world["NH-GAJ"], [record]).body["results"][0]
    assert result["status"] == "rejected"
    assert message in result["errors"][key], result["errors"]
    assert "record_id" not in result
    assert count(session, Record) == 0 and count(session, RecordVersion) == 0
    rejection = session.scalar(select(RecordRejection))
    assert rejection.errors == result["errors"]


def test_draft_and_retired_items_take_no_records(app, session, clock, world):
    make_id_card_item(session, clock, code="id-card-draft", publish=False)
    make_id_card_item(session, clock, code="id-card-old")
    catalog.retire_item(session, actor=SYSTEM, code="id-card-old", now=clock())
    outcome = push(app, clock, world["NH-GAJ"], [id_card(catalog_item="id-card-draft"),
                                                 id_card(catalog_item="id-card-old")])
    assert outcome.body["results"][0]["errors"] == {"catalog_item": "is not published yet: it takes no records"}
    assert outcome.body["results"][1]["errors"] == {"catalog_item": "is retired: it takes no new records"}


def test_a_record_slightly_ahead_of_the_clock_is_accepted(app, session, clock, world):
    result = push(app, clock, world["NH-GAJ"], [id_card(produced_at="2026-03-02T10:04:00+08:00")])
    assert result.body["accepted"] == 1


def test_a_record_that_is_not_an_object_is_rejected(app, session, clock, world):
    outcome = push(app, clock, world["NH-GAJ"], ["not a record", id_card()])
    assert outcome.body["results"][0]["errors"] == {"record": "must be an object"}
    assert outcome.body["accepted"] == 1


def test_rejected_values_never_reach_the_reasons(app, session, clock, world):
    record = id_card(subject_id="11010519491231002Y", fields={**id_card()["fields"], "address": "秘" * 101})
    result = push(app, clock, world["NH-GAJ"], [record]).body["results"][0]
    assert "11010519491231002Y" not in json.dumps(result, ensure_ascii=False)
    assert "秘" not in json.dumps(result, ensure_ascii=False)


# --- one data, one source; atomicity; batch size --------------------------------------------------------------

def test_only_the_source_department_may_push_an_item(app, session, clock, world):
    with pytest.raises(NotSource) as refused:
        push(app, clock, world["NH-SCJ"], [license_(), id_card()])
    assert refused.value.status == 403 and refused.value.code == "not_source"
    assert refused.value.fields == {"records.1.catalog_item": "id-card is provided by another department"}
    session.rollback()
    assert count(session, Record) == count(session, PushRequest) == count(session, RecordRejection) == 0


def test_a_failing_batch_writes_nothing(app, session, clock, world, monkeypatch):
    push(app, clock, world["NH-GAJ"], [id_card("GA-0009")])

    def broken(*args, **kwargs):
        raise RuntimeError("the audit chain is unavailable")

    monkeypatch.setattr(records.audit, "record", broken)
    changed = id_card("GA-0009", fields={**id_card()["fields"], "address": "新地址"})
    with pytest.raises(RuntimeError):
        push(app, clock, world["NH-GAJ"], [id_card("GA-0001"), changed, id_card("GA-0002", subject_id="x")])
    session.rollback()
    assert count(session, Record) == 1 and count(session, RecordVersion) == 1
    assert count(session, PushRequest) == 1 and count(session, RecordRejection) == 0


def test_a_concurrent_write_of_the_same_record_is_a_conflict(app, session, clock, world, monkeypatch):
    push(app, clock, world["NH-GAJ"], [id_card()])
    # Another push took version 2 between our read and our write.
    original = records._load_existing

    def stale(session_, batch, keys):
        original(session_, batch, keys)
        for existing in batch.existing.values():
            existing.latest_version -= 1

    monkeypatch.setattr(records, "_load_existing", stale)
    with pytest.raises(ConcurrentPush):
        push(app, clock, world["NH-GAJ"], [id_card(fields={**id_card()["fields"], "address": "别处"})])
    assert count(session, RecordVersion) == 1 and count(session, PushRequest) == 1


def test_a_batch_holds_at_most_1000_records(app, session, clock, world):
    with pytest.raises(BatchTooLarge) as refused:
        push(app, clock, world["NH-GAJ"], [id_card(f"GA-{n}") for n in range(1001)])
    assert refused.value.status == 413
    with pytest.raises(ValidationError):
        push(app, clock, world["NH-GAJ"], [])
    outcome = push(app, clock, world["NH-GAJ"], [id_card(f"GA-{n:04d}") for n in range(1000)])
    assert outcome.body["accepted"] == 1000
    assert count(session, Record) == count(session, RecordVersion) == 1000
    assert len({r["record_id"] for r in outcome.body["results"]}) == 1000


def test_a_batch_costs_the_same_queries_whatever_its_size(app, session, clock, world):
    def statements(batch) -> int:
        seen: list[str] = []
        engine = db.engine
        assert world["NH-GAJ"].code  # loaded again after the last commit, outside the count

        def count_statement(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count_statement)
        try:
            push(app, clock, world["NH-GAJ"], batch)
        finally:
            event.remove(engine, "before_cursor_execute", count_statement)
        return len(seen)

    small = statements([id_card(f"A-{n}") for n in range(3)] + [id_card("A-bad", subject_id="1")])
    large = statements([id_card(f"B-{n}") for n in range(300)] + [id_card("B-bad", subject_id="1")])
    assert large == small
    changes = [id_card(f"B-{n}", fields={**id_card()["fields"], "address": "改"}) for n in range(300)]
    assert statements(changes) <= small


# --- revocation ----------------------------------------------------------------------------------------------

def test_revocation_adds_a_version_and_keeps_history(app, session, clock, world):
    created = push(app, clock, world["NH-GAJ"], [id_card()]).body["results"][0]
    clock.advance(hours=2)
    outcome = push(app, clock, world["NH-GAJ"], [
        {"catalog_item": "id-card", "record_no": "GA-0001", "reason": "证件注销",
         "revoked_at": "2026-03-02T11:00:00+08:00"},
        {"catalog_item": "id-card", "record_no": "GA-404", "reason": "证件注销"},
        {"catalog_item": "id-card", "record_no": "GA-0001"},
    ], revoke=True)
    accepted, unknown, no_reason = outcome.body["results"]
    assert (accepted["change"], accepted["version"], accepted["on_time"]) == ("revoke", 2, True)
    assert unknown["errors"] == {"record_no": "no record of this catalog item has this number"}
    assert no_reason["errors"] == {"reason": "is required"}
    record = session.get(Record, created["record_id"])
    assert record.status is RecordStatus.REVOKED and record.latest_version == 2
    first, second = record.versions
    assert first.status is RecordStatus.VALID and second.status is RecordStatus.REVOKED
    assert second.revoke_reason == "证件注销"
    assert second.produced_at == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert decrypt_fields(app, second) == decrypt_fields(app, first)

    again = push(app, clock, world["NH-GAJ"], [{"catalog_item": "id-card", "record_no": "GA-0001",
                                                "reason": "重复"}], revoke=True)
    assert again.body["results"][0]["unchanged"] is True and again.body["results"][0]["version"] == 2
    assert count(session, RecordVersion) == 2


def test_a_revoked_record_pushed_again_is_valid_again(app, session, clock, world):
    push(app, clock, world["NH-GAJ"], [id_card()])
    push(app, clock, world["NH-GAJ"], [{"catalog_item": "id-card", "record_no": "GA-0001", "reason": "误注销"}],
         revoke=True)
    result = push(app, clock, world["NH-GAJ"], [id_card()]).body["results"][0]
    assert (result["change"], result["version"]) == ("change", 3)
    assert session.scalar(select(Record.status)) is RecordStatus.VALID


def test_only_the_source_department_may_revoke(app, session, clock, world):
    push(app, clock, world["NH-GAJ"], [id_card()])
    with pytest.raises(NotSource):
        push(app, clock, world["NH-SCJ"], [{"catalog_item": "id-card", "record_no": "GA-0001", "reason": "x"}],
             revoke=True)


# --- idempotency ---------------------------------------------------------------------------------------------

def test_a_replay_returns_the_first_answer_and_writes_nothing(app, session, clock, world):
    batch = [id_card(), id_card("GA-0002", subject_id="bad")]
    first = push(app, clock, world["NH-GAJ"], batch, key="retry-1")
    assert first.replayed is False
    counts = [count(session, m) for m in (Record, RecordVersion, RecordRejection, PushRequest, AuditEvent)]
    clock.advance(minutes=3)
    second = push(app, clock, world["NH-GAJ"], batch, key="retry-1")
    assert second.replayed is True
    assert second.body == json.loads(json.dumps(first.body))
    assert [count(session, m) for m in (Record, RecordVersion, RecordRejection, PushRequest, AuditEvent)] == counts


def test_a_key_reused_with_another_body_is_refused(app, session, clock, world):
    push(app, clock, world["NH-GAJ"], [id_card()], key="once")
    with pytest.raises(IdempotencyMismatch) as refused:
        push(app, clock, world["NH-GAJ"], [id_card("GA-0002")], key="once")
    assert refused.value.status == 409 and refused.value.code == "idempotency_mismatch"
    with pytest.raises(IdempotencyMismatch):
        push(app, clock, world["NH-GAJ"], [id_card()], key="once", revoke=True)


def test_keys_belong_to_their_department(app, session, clock, world):
    push(app, clock, world["NH-GAJ"], [id_card()], key="same-key")
    outcome = push(app, clock, world["NH-SCJ"], [license_()], key="same-key")
    assert outcome.replayed is False and outcome.body["accepted"] == 1


def test_a_concurrent_retry_replays_the_stored_answer(app, session, clock, world, monkeypatch):
    # The retry checked before the first push committed; the key's unique constraint catches it.
    batch = [id_card()]
    first = push(app, clock, world["NH-GAJ"], batch, key="race")
    original = records._stored
    calls: list[str] = []

    def late(*args):
        calls.append("read")
        return None if len(calls) == 1 else original(*args)

    monkeypatch.setattr(records, "_stored", late)
    second = push(app, clock, world["NH-GAJ"], batch, key="race")
    assert second.replayed is True and second.body == json.loads(json.dumps(first.body))
    assert count(session, PushRequest) == 1 and count(session, RecordVersion) == 1


# --- lateness ------------------------------------------------------------------------------------------------

def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(("produced", "received", "due", "on_time"), [
    # an ordinary Monday → Tuesday
    ("2026-03-02T09:00:00+08:00", "2026-03-03T23:59:59+08:00", "2026-03-03T23:59:59+08:00", True),
    # Friday 25 September (中秋节, a holiday) → Monday, across the weekend
    ("2026-09-25T18:00:00+08:00", "2026-09-28T23:59:59+08:00", "2026-09-28T23:59:59+08:00", True),
    ("2026-09-25T18:00:00+08:00", "2026-09-29T00:00:00+08:00", "2026-09-28T23:59:59+08:00", False),
    # Thursday 24 September: its next day is the holiday, so Monday again
    ("2026-09-24T23:30:00+08:00", "2026-09-28T20:00:00+08:00", "2026-09-28T23:59:59+08:00", True),
    # the eve of National Day (1–7 October, per the 2026 State Council schedule) → Thursday 8 October
    ("2026-09-30T10:00:00+08:00", "2026-10-08T12:00:00+08:00", "2026-10-08T23:59:59+08:00", True),
    ("2026-09-30T10:00:00+08:00", "2026-10-09T09:00:00+08:00", "2026-10-08T23:59:59+08:00", False),
    # Friday 9 October → Saturday 10 October, an adjusted working day (调休)
    ("2026-10-09T10:00:00+08:00", "2026-10-10T23:00:00+08:00", "2026-10-10T23:59:59+08:00", True),
])
def test_lateness_counts_working_days(app, session, clock, world, produced, received, due, on_time):
    clock.set(_at(received))
    result = push(app, clock, world["NH-GAJ"], [id_card(produced_at=produced)]).body["results"][0]
    assert (result["due_at"], result["on_time"]) == (due, on_time)
    version = session.scalar(select(RecordVersion))
    assert version.due_at == _at(due) and version.on_time is on_time


@pytest.mark.parametrize("produced", ["2027-01-04T10:00:00+08:00", "2026-12-31T10:00:00+08:00"])
def test_lateness_is_unknown_where_the_calendar_is(app, session, clock, world, produced):
    clock.set(_at("2027-01-05T10:00:00+08:00"))
    result = push(app, clock, world["NH-GAJ"], [id_card(produced_at=produced)]).body["results"][0]
    assert result["status"] == "accepted"
    assert (result["due_at"], result["on_time"]) == (None, None)
    version = session.scalar(select(RecordVersion))
    assert version.due_at is None and version.on_time is None


def test_revocation_lateness_counts_from_revoked_at(app, session, clock, world):
    clock.set(_at("2026-09-25T12:00:00+08:00"))
    push(app, clock, world["NH-GAJ"], [id_card(produced_at="2026-09-25T11:00:00+08:00")])
    clock.set(_at("2026-09-29T08:00:00+08:00"))
    revocation = {"catalog_item": "id-card", "record_no": "GA-0001", "reason": "注销",
                  "revoked_at": "2026-09-25T17:00:00+08:00"}
    result = push(app, clock, world["NH-GAJ"], [revocation], revoke=True).body["results"][0]
    assert (result["due_at"], result["on_time"]) == ("2026-09-28T23:59:59+08:00", False)
    push(app, clock, world["NH-GAJ"], [id_card("GA-0002", produced_at="2026-09-29T07:00:00+08:00")])
    now = push(app, clock, world["NH-GAJ"], [{"catalog_item": "id-card", "record_no": "GA-0002", "reason": "注销"}],
               revoke=True).body["results"][0]
    assert (now["due_at"], now["on_time"]) == ("2026-09-30T23:59:59+08:00", True)
    assert session.scalar(select(RecordVersion.produced_at).where(RecordVersion.change == ChangeKind.REVOKE,
                                                                  RecordVersion.revoke_reason == "注销")
                          .order_by(RecordVersion.id.desc()).limit(1)) == clock()


def test_deadlines_are_computed_once_per_produced_day(app, session, clock, world, monkeypatch):
    calls: list[datetime] = []
    original = workdays.working_deadline

    def counting(session_, *, after, working_days):
        calls.append(after)
        return original(session_, after=after, working_days=working_days)

    monkeypatch.setattr(records.workdays, "working_deadline", counting)
    batch = [id_card(f"GA-{n}", produced_at=f"2026-03-0{1 + n % 2}T0{n % 9}:00:00+08:00") for n in range(40)]
    assert push(app, clock, world["NH-GAJ"], batch).body["accepted"] == 40
    assert len(calls) == 2


# --- the department's report ---------------------------------------------------------------------------------

def test_the_report_counts_what_the_department_sent(app, session, clock, world):
    gaj = world["NH-GAJ"]
    clock.set(_at("2026-09-28T10:00:00+08:00"))
    push(app, clock, gaj, [id_card("A", produced_at="2026-09-25T09:00:00+08:00"),  # on time (Monday)
                           id_card("B", produced_at="2026-09-23T09:00:00+08:00"),  # late (due Thursday)
                           id_card("C", subject_id="11010519491231002Y"),
                           id_card("D", subject_id="11010519491231002Y"),
                           id_card("E", fields={"sex": "男"})])
    clock.set(_at("2026-09-29T10:00:00+08:00"))
    push(app, clock, gaj, [id_card("A", produced_at="2026-09-29T09:00:00+08:00",
                                   fields={**id_card()["fields"], "address": "改"})])
    push(app, clock, gaj, [{"catalog_item": "id-card", "record_no": "B", "reason": "注销"},
                           {"catalog_item": "no-such", "record_no": "Z", "reason": "x"}], revoke=True)
    clock.set(_at("2027-01-05T10:00:00+08:00"))
    push(app, clock, gaj, [id_card("F", produced_at="2027-01-04T10:00:00+08:00")])  # lateness unknown

    report = records.department_report(session, department=gaj, start=date(2026, 9, 28), end=date(2026, 9, 30),
                                       now=clock())
    by_code = {item.code: item for item in report.items}
    assert set(by_code) == {"id-card", "no-such"}  # the business license belongs to another department
    card = by_code["id-card"]
    assert (card.new, card.change, card.revoke, card.accepted) == (2, 1, 1, 4)
    assert (card.on_time, card.late, card.lateness_unknown) == (3, 1, 0)
    assert card.rejected == 3
    message = next(iter(card.reasons["subject_id"]))
    assert "check digit" in message and card.reasons["subject_id"][message] == 2
    assert card.reasons["birth_date"] == {"is required": 1}
    assert [e.record_no for e in card.examples] == ["C", "D", "E"][::-1]
    assert by_code["no-such"].name is None and by_code["no-such"].rejected == 1

    later = records.department_report(session, department=gaj, start=date(2026, 9, 29), end=date(2027, 1, 6),
                                      now=clock())
    card = next(item for item in later.items if item.code == "id-card")
    assert (card.new, card.change, card.revoke, card.rejected) == (1, 1, 1, 0)
    assert card.lateness_unknown == 1

    with pytest.raises(ValidationError):
        records.department_report(session, department=gaj, start=date(2026, 9, 30), end=date(2026, 9, 30),
                                  now=clock())


def test_the_report_period_is_half_open_in_shanghai_days(app, session, clock, world):
    gaj = world["NH-GAJ"]
    clock.set(_at("2026-03-03T00:00:00+08:00"))  # the first second of 3 March in Shanghai
    push(app, clock, gaj, [id_card(produced_at="2026-03-02T09:00:00+08:00")])
    march_2 = records.department_report(session, department=gaj, start=date(2026, 3, 2), end=date(2026, 3, 3),
                                        now=clock())
    march_3 = records.department_report(session, department=gaj, start=date(2026, 3, 3), end=date(2026, 3, 4),
                                        now=clock())
    assert [i.new for i in march_2.items if i.code == "id-card"] == [0]
    assert [i.new for i in march_3.items if i.code == "id-card"] == [1]


def test_each_push_is_audited_once_with_counts(app, session, clock, world):
    before = count(session, AuditEvent)
    push(app, clock, world["NH-GAJ"], [id_card(f"GA-{n}") for n in range(5)] + [id_card("bad", subject_id="1")])
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()[before:]
    assert len(events) == 1
    assert events[0].action == "records.push"
    assert events[0].details["new"] == 5 and events[0].details["rejected"] == 1
    assert "11010519491231002X" not in json.dumps(events[0].details)
