"""Multi-source verification (多源校核, rule 11): two source departments disagree on a subject's common attribute.

A catalog field may name a common attribute (`common`: `name`, `address`, `legal_rep`...); the subject name
of a record stands for `name` where its spec has no field for it. `flask --app backend conflicts scan`
compares, per subject (blind index), the latest values of each common attribute across the valid records of
DIFFERENT source departments; two items of one department never conflict with each other. A conflict
opens when two departments' values differ after normalization (NFKC, so full-width equals half-width;
whitespace removed; case folded), its departments' operators are told, and it resolves by itself at the
first scan that finds the sources agreeing again (or no longer two departments holding the attribute).

Values are decrypted in memory for the comparison only and never stored, listed or logged: the
administrator and the departments learn THAT the sources disagree, on which attribute, in which items;
each department can read its own record.

Incremental: a scan looks at the subjects whose records changed since the previous scan began (less an
hour, for pushes committing late; `records.updated_at` is indexed) and decrypts only the records of subjects
that more than one department holds; `--full` looks at every such subject.
"""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from backend.db import Page, paginate
from backend.errors import Forbidden, ValidationError
from backend.models import (
    CatalogItem,
    CatalogVersion,
    ConflictScan,
    ConflictStatus,
    Department,
    Record,
    RecordStatus,
    RecordVersion,
    Role,
    SourceConflict,
    SourceConflictDepartment,
    StaffAccount,
)
from backend.protection import Protector
from backend.services import audit, notifications
from backend.services.audit import SYSTEM, Actor
from backend.services.records import FIELDS_CONTEXT, SUBJECT_NAME_CONTEXT

NAME = "name"
CHUNK = 500
LATE_COMMIT_MARGIN = timedelta(hours=1)
ATTRIBUTE_LABELS = {"name": "名称/姓名", "address": "地址/住所", "legal_rep": "法定代表人", "gender": "性别",
                    "birth_date": "出生日期"}
EVENT = "source_conflict"


def normalize(value: Any) -> str:
    """The form values are compared in: NFKC (full-width → half-width), no whitespace, case folded."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value))
    return "".join(text.split()).casefold()


@dataclass(frozen=True)
class ScanReport:
    subjects: int  # subjects compared (held by more than one department)
    opened: int
    updated: int  # still open, but the sources involved changed
    resolved: int


@dataclass(frozen=True)
class _Held:
    """One valid record's view of one common attribute."""

    record_id: int
    department_id: int
    item_id: int
    value: str


@dataclass(frozen=True)
class _Subject:
    index: str
    type: Any
    masked: str


def _common_map(version: CatalogVersion) -> tuple[dict[str, str], bool]:
    """Attribute → field key of a spec, and whether the subject name stands for `name`."""
    mapping = {f["common"]: f["key"] for f in version.fields if f.get("common")}
    return mapping, NAME not in mapping


def _multi_department(session: Session, subjects: Sequence[str] | None) -> list[str]:
    query = (select(Record.subject_index).where(Record.status == RecordStatus.VALID)
             .group_by(Record.subject_index).having(func.count(func.distinct(Record.department_id)) > 1))
    if subjects is None:
        return list(session.scalars(query))
    found: list[str] = []
    for start in range(0, len(subjects), CHUNK):
        found += session.scalars(query.where(Record.subject_index.in_(subjects[start:start + CHUNK])))
    return found


def _held_values(session: Session, protector: Protector, subjects: Sequence[str],
                 specs: dict[int, tuple[dict[str, str], bool]]) -> Iterator[tuple[_Subject, list[tuple[str, _Held]]]]:
    """Per subject, every (attribute, value) its valid records hold, decrypted in memory."""
    latest = and_(RecordVersion.record_id == Record.id, RecordVersion.version == Record.latest_version)
    rows = session.execute(
        select(Record.id, Record.subject_index, Record.subject_type, Record.subject_masked, Record.department_id,
               Record.catalog_item_id, RecordVersion.catalog_version_id, RecordVersion.fields_enc,
               RecordVersion.subject_name_enc)
        .join(RecordVersion, latest)
        .where(Record.subject_index.in_(subjects), Record.status == RecordStatus.VALID)
        .order_by(Record.subject_index, Record.id)
    )
    by_subject: dict[str, tuple[_Subject, list[tuple[str, _Held]]]] = {}
    for record_id, index, subject_type, masked, department_id, item_id, version_id, fields_enc, name_enc in rows:
        mapping, name_from_subject = specs.get(version_id) or ({}, True)
        values = json.loads(protector.decrypt(fields_enc, context=FIELDS_CONTEXT)) if mapping else {}
        held = by_subject.setdefault(index, (_Subject(index, subject_type, masked), []))[1]
        for attribute, key in mapping.items():
            value = values.get(key)
            if value is not None and normalize(value):
                held.append((attribute, _Held(record_id, department_id, item_id, normalize(value))))
        if name_from_subject:
            name = normalize(protector.decrypt(name_enc, context=SUBJECT_NAME_CONTEXT))
            if name:
                held.append((NAME, _Held(record_id, department_id, item_id, name)))
    yield from by_subject.values()


def _disagreements(held: list[tuple[str, _Held]]) -> dict[str, list[_Held]]:
    """Attribute → all its holders, for each attribute that two or more departments hold with unequal values.

    Two items of one department differing is not a conflict by itself; with a second department holding
    the attribute, some value of one department then differs from a value of the other.
    """
    by_attribute: dict[str, list[_Held]] = defaultdict(list)
    for attribute, entry in held:
        by_attribute[attribute].append(entry)
    return {attribute: entries for attribute, entries in by_attribute.items()
            if len({e.department_id for e in entries}) > 1 and len({e.value for e in entries}) > 1}


def _sources(entries: list[_Held], items: dict[int, CatalogItem], departments: dict[int, Department]
             ) -> list[dict[str, Any]]:
    return sorted(({"department": departments[e.department_id].code, "catalog_item": items[e.item_id].code,
                    "record_id": e.record_id} for e in entries),
                  key=lambda s: (s["department"], s["catalog_item"], s["record_id"]))


def _open_key(subject_index: str, attribute: str) -> str:
    return f"{subject_index}:{attribute}"


def _tell_departments(session: Session, conflict: SourceConflict, department_ids: Sequence[int], now: datetime
                      ) -> None:
    """Each department involved hears of a new conflict in its operators' inbox: items and attribute, no values."""
    label = ATTRIBUTE_LABELS.get(conflict.attribute, conflict.attribute)
    items = "、".join(sorted({s["catalog_item"] for s in conflict.sources}))
    for department_id in department_ids:
        notifications.notify_staff(
            session, staff_ids=notifications.department_operators(session, department_id), event=EVENT,
            title="多源数据不一致",
            body=f"同一主体在多个部门的数据中「{label}」不一致（目录项：{items}），请核对本部门数据。",
            data={"conflict_id": conflict.id, "attribute": conflict.attribute}, now=now)


def _reconcile(session: Session, subject: _Subject, found: dict[str, list[_Held]], open_now: list[SourceConflict],
               items: dict[int, CatalogItem], departments: dict[int, Department], now: datetime,
               counts: dict[str, int]) -> None:
    existing = {c.attribute: c for c in open_now}
    for attribute, entries in sorted(found.items()):
        sources = _sources(entries, items, departments)
        department_ids = sorted({e.department_id for e in entries})
        conflict = existing.pop(attribute, None)
        if conflict is not None:
            conflict.last_seen_at = now
            if conflict.sources != sources:
                conflict.sources = sources
                known = set(session.scalars(select(SourceConflictDepartment.department_id)
                                            .where(SourceConflictDepartment.conflict_id == conflict.id)))
                joined = [d for d in department_ids if d not in known]
                session.add_all(SourceConflictDepartment(conflict_id=conflict.id, department_id=d) for d in joined)
                session.flush()
                _tell_departments(session, conflict, joined, now)
                counts["updated"] += 1
            continue
        conflict = SourceConflict(subject_index=subject.index, subject_type=subject.type,
                                  subject_masked=subject.masked, attribute=attribute, status=ConflictStatus.OPEN,
                                  open_key=_open_key(subject.index, attribute), sources=sources,
                                  first_seen_at=now, last_seen_at=now)
        session.add(conflict)
        session.flush()
        session.add_all(SourceConflictDepartment(conflict_id=conflict.id, department_id=d) for d in department_ids)
        audit.record(session, actor=SYSTEM, action="conflict.opened", now=now, target_type="source_conflict",
                     target_id=conflict.id, subject_index=subject.index,
                     details={"attribute": attribute, "sources": sources})
        _tell_departments(session, conflict, department_ids, now)
        counts["opened"] += 1
    for conflict in existing.values():
        _resolve(session, conflict, now)
        counts["resolved"] += 1


def _resolve(session: Session, conflict: SourceConflict, now: datetime) -> None:
    conflict.status, conflict.open_key, conflict.resolved_at = ConflictStatus.RESOLVED, None, now
    audit.record(session, actor=SYSTEM, action="conflict.resolved", now=now, target_type="source_conflict",
                 target_id=conflict.id, subject_index=conflict.subject_index,
                 details={"attribute": conflict.attribute})


def _subjects_to_check(session: Session, *, full: bool) -> list[str]:
    last = session.scalar(select(ConflictScan).order_by(ConflictScan.started_at.desc(), ConflictScan.id.desc())
                          .limit(1))
    if full or last is None:
        open_subjects = session.scalars(select(SourceConflict.subject_index).distinct()
                                        .where(SourceConflict.status == ConflictStatus.OPEN))
        return sorted(set(_multi_department(session, None)) | set(open_subjects))
    changed = set(session.scalars(select(Record.subject_index).distinct()
                                  .where(Record.updated_at >= last.started_at - LATE_COMMIT_MARGIN)))
    return sorted(changed)


def scan(session: Session, protector: Protector, *, now: datetime, full: bool = False) -> ScanReport:
    """Compare the common attributes of the subjects changed since the last scan (all with `full`); open,
    update and resolve conflicts; tell the departments of new ones. Commits once per chunk of subjects."""
    specs = {v.id: _common_map(v) for v in session.scalars(select(CatalogVersion))}
    items = {i.id: i for i in session.scalars(select(CatalogItem))}
    departments = {d.id: d for d in session.scalars(select(Department))}
    candidates = _subjects_to_check(session, full=full)
    counts = {"subjects": 0, "opened": 0, "updated": 0, "resolved": 0}
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start:start + CHUNK]
        compared = set(_multi_department(session, chunk))
        open_conflicts: dict[str, list[SourceConflict]] = defaultdict(list)
        for conflict in session.scalars(select(SourceConflict).where(SourceConflict.subject_index.in_(chunk),
                                                                     SourceConflict.status == ConflictStatus.OPEN)):
            open_conflicts[conflict.subject_index].append(conflict)
        seen: set[str] = set()
        if compared:
            for subject, held in _held_values(session, protector, sorted(compared), specs):
                seen.add(subject.index)
                counts["subjects"] += 1
                _reconcile(session, subject, _disagreements(held), open_conflicts.get(subject.index, []), items,
                           departments, now, counts)
        for index, conflicts in open_conflicts.items():
            if index not in seen:  # one department (or none) holds the subject now: nothing left to disagree
                for conflict in conflicts:
                    _resolve(session, conflict, now)
                    counts["resolved"] += 1
        session.commit()
    session.add(ConflictScan(started_at=now, full=full, **counts))
    audit.record(session, actor=SYSTEM, action="conflicts.scanned", now=now, details={"full": full, **counts})
    session.commit()
    return ScanReport(counts["subjects"], counts["opened"], counts["updated"], counts["resolved"])


# --- lists ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConflictEntry:
    conflict: SourceConflict
    departments: list[Department]
    own_record_nos: dict[int, str]  # record id → record_no, for the records of the department that lists


def _query(*, status: ConflictStatus | None, attribute: str | None, department: Department | None) -> Any:
    query = select(SourceConflict).order_by(SourceConflict.first_seen_at.desc(), SourceConflict.id.desc())
    if status is not None:
        query = query.where(SourceConflict.status == status)
    if attribute:
        query = query.where(SourceConflict.attribute == attribute)
    if department is not None:
        query = query.where(exists().where(SourceConflictDepartment.conflict_id == SourceConflict.id,
                                           SourceConflictDepartment.department_id == department.id))
    return query


def _entries(session: Session, conflicts: Sequence[SourceConflict], own: Department | None) -> list[ConflictEntry]:
    ids = [c.id for c in conflicts]
    involved: dict[int, list[Department]] = defaultdict(list)
    if ids:
        rows = session.execute(select(SourceConflictDepartment.conflict_id, Department)
                               .join(Department, Department.id == SourceConflictDepartment.department_id)
                               .where(SourceConflictDepartment.conflict_id.in_(ids)).order_by(Department.code))
        for conflict_id, department in rows:
            involved[conflict_id].append(department)
    record_nos: dict[int, str] = {}
    if own is not None:
        record_ids = {s["record_id"] for c in conflicts for s in c.sources if s["department"] == own.code}
        if record_ids:
            numbers = session.execute(select(Record.id, Record.record_no).where(Record.id.in_(record_ids),
                                                                                Record.department_id == own.id))
            record_nos = {record_id: record_no for record_id, record_no in numbers}
    return [ConflictEntry(c, involved[c.id], {s["record_id"]: record_nos[s["record_id"]] for s in c.sources
                                              if s["record_id"] in record_nos})
            for c in conflicts]


def _status(status: str | None) -> ConflictStatus | None:
    if status is None:
        return None
    try:
        return ConflictStatus(status)
    except ValueError:
        raise ValidationError("the query is not valid", fields={"status": "must be open or resolved"}) from None


def list_conflicts(session: Session, *, actor: Actor, status: str | None, attribute: str | None,
                   department_code: str | None, page: int, per_page: int, now: datetime) -> Page[ConflictEntry]:
    """All conflicts for the data administrator, newest first; subjects masked, values never shown; audited."""
    department = None
    if department_code:
        department = session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            raise ValidationError("the query is not valid", fields={"department": "no department has this code"})
    found = paginate(session, _query(status=_status(status), attribute=attribute, department=department),
                     page=page, per_page=per_page)
    audit.record(session, actor=actor, action="conflicts.listed", now=now,
                 details={"page": page, "conflicts": [c.id for c in found.items]})
    session.commit()
    return Page(_entries(session, found.items, None), found.total, found.page, found.per_page)


def list_department_conflicts(session: Session, *, staff: StaffAccount, actor: Actor, status: str | None,
                              page: int, per_page: int, now: datetime) -> Page[ConflictEntry]:
    """The conflicts the operator's department takes part in, with its own records' numbers; audited."""
    if staff.role is not Role.DEPT_OPERATOR or staff.department is None:
        raise Forbidden("only a source department's operators see its conflicts")
    found = paginate(session, _query(status=_status(status), attribute=None, department=staff.department),
                     page=page, per_page=per_page)
    audit.record(session, actor=actor, action="conflicts.listed", now=now,
                 details={"department": staff.department.code, "page": page,
                          "conflicts": [c.id for c in found.items]})
    session.commit()
    return Page(_entries(session, found.items, staff.department), found.total, found.page, found.per_page)
