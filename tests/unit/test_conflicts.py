"""Multi-source verification (多源校核): common attributes compared across departments, conflicts open and close."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.models import AuditEvent, ConflictStatus, ItemKind, Role, SourceConflict, StaffNotification, SubjectType
from backend.services import conflicts
from tests.factories import (
    id_card_fields,
    make_catalog_item,
    make_department,
    make_id_card_item,
    make_staff,
    push_record,
    revoke_record,
)
from tests.oversight import OTHER_PERSON, PERSON

SOCIAL_SECURITY_FIELDS = [
    {"key": "name", "label": "姓名", "type": "string", "required": True, "sensitive": False, "common": "name"},
    {"key": "card_no", "label": "社会保障号码", "type": "string", "required": True, "sensitive": True},
    {"key": "home", "label": "居住地址", "type": "string", "required": False, "sensitive": True,
     "common": "address"},
]


@pytest.fixture
def world(session, clock):
    """公安 (id-card, residence-permit) and 人社 (social-security-card, name and address as common attributes)."""
    make_department(session, clock, code="NH-GAJ", name="公安分局", is_approval=False)
    make_department(session, clock, code="NH-RSJ", name="人社局", is_approval=False)
    make_id_card_item(session, clock)
    make_id_card_item(session, clock, code="residence-permit")
    make_catalog_item(session, clock, code="social-security-card", name="社会保障卡", kind=ItemKind.LICENSE,
                      subject_type=SubjectType.PERSON, source_department="NH-RSJ", subject_name_field="name",
                      fields=SOCIAL_SECURITY_FIELDS)
    make_staff(session, clock, username="gaj-op", role=Role.DEPT_OPERATOR, department="NH-GAJ")
    make_staff(session, clock, username="rsj-op", role=Role.DEPT_OPERATOR, department="NH-RSJ")


def id_card(session, clock, name, *, item="id-card", record_no="GA-1", subject=PERSON):
    return push_record(session, clock, item=item, record_no=record_no, subject_id=subject, subject_name=name,
                       fields=id_card_fields(name=name))


def social_card(session, clock, name, *, home=None, record_no="RS-1", subject=PERSON):
    fields = {"name": name, "card_no": "C0001"}
    if home is not None:
        fields["home"] = home
    return push_record(session, clock, item="social-security-card", record_no=record_no, subject_id=subject,
                       subject_name=name, fields=fields)


def scan(app, session, clock, **options):
    clock.advance(minutes=10)
    return conflicts.scan(session, app.extensions["protector"], now=clock(), **options)


def open_conflicts(session):
    return session.scalars(select(SourceConflict).where(SourceConflict.status == ConflictStatus.OPEN)).all()


def test_values_are_compared_after_normalization():
    assert conflicts.normalize(" 张　三 ") == conflicts.normalize("张三")
    assert conflicts.normalize("ＺＨＡＮＧ San") == conflicts.normalize("zhang  san") == "zhangsan"
    assert conflicts.normalize("佛山市南海区桂城街道１号") == conflicts.normalize("佛山市南海区桂城街道1号")
    assert conflicts.normalize("张三") != conflicts.normalize("张三丰")


def test_a_conflict_across_departments_is_found_told_and_closed_when_they_agree(app, session, clock, world):
    id_card(session, clock, "张三")
    social_card(session, clock, "张　三")  # full-width space: the same name
    assert scan(app, session, clock, full=True).opened == 0

    social_card(session, clock, "李四")
    report = scan(app, session, clock)
    assert (report.subjects, report.opened) == (1, 1)
    (conflict,) = open_conflicts(session)
    assert (conflict.attribute, conflict.subject_type, conflict.subject_masked) == (
        "name", SubjectType.PERSON, "440304********2638")
    assert [(s["department"], s["catalog_item"]) for s in conflict.sources] == [
        ("NH-GAJ", "id-card"), ("NH-RSJ", "social-security-card")]
    told = session.scalars(select(StaffNotification).where(StaffNotification.event == "source_conflict")).all()
    assert len(told) == 2 and all(n.data == {"conflict_id": conflict.id, "attribute": "name"} for n in told)
    assert all("李四" not in n.body and "张三" not in n.body for n in told)
    opened = session.scalar(select(AuditEvent).where(AuditEvent.action == "conflict.opened"))
    assert opened.subject_index == conflict.subject_index and "李四" not in str(opened.details)

    assert scan(app, session, clock).opened == 0  # still open, not opened again, nobody told twice
    assert len(open_conflicts(session)) == 1

    social_card(session, clock, "张三")
    assert scan(app, session, clock).resolved == 1
    assert open_conflicts(session) == []
    resolved = session.get(SourceConflict, conflict.id)
    assert resolved.status is ConflictStatus.RESOLVED and resolved.resolved_at == clock()
    assert resolved.first_seen_at < resolved.resolved_at


def test_items_of_one_department_never_conflict(app, session, clock, world):
    id_card(session, clock, "张三")
    id_card(session, clock, "张三丰", item="residence-permit", record_no="GA-2")
    assert scan(app, session, clock, full=True).opened == 0
    social_card(session, clock, "张三", record_no="RS-2", subject=OTHER_PERSON)
    id_card(session, clock, "张三", subject=OTHER_PERSON, record_no="GA-3")
    assert scan(app, session, clock).opened == 0
    assert open_conflicts(session) == []


def test_a_conflict_closes_when_one_side_is_revoked(app, session, clock, world):
    id_card(session, clock, "张三")
    social_card(session, clock, "李四")
    assert scan(app, session, clock).opened == 1
    revoke_record(session, clock, item="social-security-card", record_no="RS-1")
    assert scan(app, session, clock).resolved == 1
    assert open_conflicts(session) == []


def test_a_scan_looks_only_at_subjects_changed_since_the_last(app, session, clock, world):
    id_card(session, clock, "张三")
    social_card(session, clock, "张三")
    assert scan(app, session, clock).subjects == 1
    clock.advance(hours=2)
    # The hour before the last scan began is looked at again (a push may commit late), then no more.
    assert scan(app, session, clock).subjects == 1
    assert scan(app, session, clock).subjects == 0
    assert scan(app, session, clock, full=True).subjects == 1


def test_the_scan_command_reports_what_it_found(app, session, clock, world):
    id_card(session, clock, "张三")
    social_card(session, clock, "李四")
    result = app.test_cli_runner().invoke(args=["conflicts", "scan"])
    assert result.exit_code == 0, result.output
    assert "1 subjects compared; 1 opened, 0 updated, 0 resolved" in result.output


def test_a_department_joining_an_open_conflict_is_told(app, session, clock, world):
    make_department(session, clock, code="NH-MZJ", name="民政局", is_approval=False)
    make_id_card_item(session, clock, code="marriage-certificate", source_department="NH-MZJ")
    joiner = make_staff(session, clock, username="mzj-op", role=Role.DEPT_OPERATOR, department="NH-MZJ")
    id_card(session, clock, "张三")
    social_card(session, clock, "李四")
    assert scan(app, session, clock).opened == 1
    id_card(session, clock, "王五", item="marriage-certificate", record_no="MZ-1")
    assert scan(app, session, clock).updated == 1
    (conflict,) = open_conflicts(session)
    assert {s["department"] for s in conflict.sources} == {"NH-GAJ", "NH-RSJ", "NH-MZJ"}
    told = session.scalars(select(StaffNotification).where(StaffNotification.event == "source_conflict")).all()
    assert sorted(n.staff_id for n in told).count(joiner.id) == 1 and len(told) == 3
