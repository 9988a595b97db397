"""Data quality per source department and catalog item (rule 11), and the annual KPI sheet.

Figures, for a period of Asia/Shanghai days [from, to):
- pushes on time / late / unknown: the versions received in the period, judged by the next-working-day
  rule when they were pushed (`RecordVersion.on_time`; unknown where that year's calendar was missing);
- rejection rate: rejected records / (rejected records + accepted versions) in the period;
- objections filed in the period: upheld (decided `correct`), rejected, overdue (past the decision or the
  correction deadline, or decided/corrected late), per 10,000 records held, median hours from filing to
  decision and from decision to the corrected record;
and, as of the last refresh: records held (valid today: not revoked, within valid_from..valid_until) and
completeness (of the optional fields in the specs of the held records' latest versions, the share that
holds a value), plus the time of the last push.

How this stays fast on a million records (and more):
- `flask --app backend quality refresh` (cron, e.g. every 10 minutes) counts pushes into `quality_daily`,
  one row per (Shanghai day, department, item) built by grouped SQL: no Python loop over records. It is
  incremental: it remembers the last `record_versions.id` and `record_rejections.id` it counted
  (`quality_state`, locked while it runs) and rebuilds only the days those newer rows fall on, plus the
  day(s) of the previous refresh less an hour (a push that committed after that refresh, with an older id,
  is counted then). A rebuilt day reads its versions through the existing index on
  `record_versions.received_at` and its rejections through `(department_id, received_at)`.
- Records held and completeness cannot be summed per day (validity ends with time, a new version replaces
  the last one). The refresh keeps one narrow row per record in `quality_record_states` (valid, validity,
  optional fields of its latest version's spec and how many it fills) and per item a sum of them in
  `quality_item_snapshots`. Each refresh recomputes only the records changed since the previous one (less
  the same hour; `records.updated_at` is indexed), in SQL joined to the latest version (unique
  `(record_id, version)`), and moves the item sums by the difference between their old and new rows.
  Whether a version filled an optional field is a LIKE on its `filled_fields` JSON (keys are quoted
  tokens), so nothing is decrypted. The first refresh (and `--full`) builds every state with one
  INSERT ... SELECT per item (unique index `(catalog_item_id, record_no)`); on a new day the item sums are
  added up again from the narrow table, since records enter and leave their validity with the date.
- `GET /api/admin/quality` then reads a few thousand aggregate rows for the period, adds the versions and
  rejections newer than the refresh's watermark (a primary-key range: cheap), and counts objections
  (a far smaller table) live. Its cost does not grow with the number of records.
  `bench/quality.py` measures it.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Select,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Text

from backend.clock import SHANGHAI
from backend.errors import ValidationError
from backend.models import (
    CatalogItem,
    CatalogStatus,
    CatalogVersion,
    ChangeKind,
    Department,
    Objection,
    QualityDaily,
    QualityItemSnapshot,
    QualityRecordState,
    QualityState,
    Record,
    RecordRejection,
    RecordStatus,
    RecordVersion,
)
from backend.models.quality import held_on
from backend.services import objections

STATE_ID = 1
# A push commits within seconds of its `received_at`; an hour is a wide margin for one that commits
# after a refresh has already moved its watermark past the push's id.
LATE_COMMIT_MARGIN = timedelta(hours=1)
DEFAULT_DAYS = 30
MAX_DAYS = 731
PER = 10_000
FIRST_KPI_YEAR = 2000
STATE_CHUNK = 1000


# --- the Shanghai day of a stored UTC moment, in SQL ----------------------------------------------------

class shanghai_day(FunctionElement[date]):  # noqa: N801 (a SQL function)
    """The Asia/Shanghai date of a UTC datetime column (UTC+8 all year: China has no daylight saving)."""

    type = Date()
    inherit_cache = True


@compiles(shanghai_day)
def _shanghai_day_sqlite(element: shanghai_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(shanghai_day, "mysql")
@compiles(shanghai_day, "mariadb")
def _shanghai_day_mysql(element: shanghai_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"DATE(DATE_ADD({compiler.process(element.clauses, **kw)}, INTERVAL 8 HOUR))"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(UTC)


def _day_of(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


# --- refresh ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RefreshReport:
    """What one refresh counted: new versions and rejections, the days rebuilt, the item snapshots rebuilt."""

    versions: int  # versions counted (all of them when full)
    rejections: int
    first_day: date | None
    last_day: date | None
    days: int  # days with pushes among those rebuilt
    records: int  # record states recomputed
    items: int  # item snapshots changed


def _lock_state(session: Session) -> QualityState:
    # Same pattern as the audit head: touch the row first to take its write lock, create it if missing.
    touched = session.execute(update(QualityState).where(QualityState.id == STATE_ID)
                              .values(version_id=QualityState.version_id))
    if touched.rowcount == 0:  # type: ignore[attr-defined]
        try:
            with session.begin_nested():
                session.add(QualityState(id=STATE_ID, version_id=0, rejection_id=0))
        except IntegrityError:
            session.execute(update(QualityState).where(QualityState.id == STATE_ID)
                            .values(version_id=QualityState.version_id))
    state = session.execute(select(QualityState).where(QualityState.id == STATE_ID)).scalar_one()
    session.refresh(state)
    return state


def _span(session: Session, column: Any, id_column: Any, after: int, upto: int) -> tuple[Any, Any]:
    if upto <= after:
        return None, None
    row = session.execute(select(func.min(column), func.max(column)).where(id_column > after, id_column <= upto)).one()
    return row[0], row[1]


def _days_to_rebuild(session: Session, state: QualityState, max_version: int, max_rejection: int,
                     now: datetime) -> tuple[date, date] | None:
    """The first and last day whose rows change: those of the new rows, and those around the last refresh."""
    moments: list[datetime] = []
    for column, id_column, after, upto in (
            (RecordVersion.received_at, RecordVersion.id, state.version_id, max_version),
            (RecordRejection.received_at, RecordRejection.id, state.rejection_id, max_rejection)):
        moments.extend(m for m in _span(session, column, id_column, after, upto) if m is not None)
    if state.refreshed_at is not None:
        moments.extend([state.refreshed_at - LATE_COMMIT_MARGIN, min(state.refreshed_at, now)])
    if not moments:
        return None
    return _day_of(min(moments)), _day_of(max(moments))


def _version_counts(where: Iterable[Any], group: Iterable[Any]) -> Select[Any]:
    return (
        select(*group, func.count(),
               func.sum(case((RecordVersion.change == ChangeKind.NEW, 1), else_=0)),
               func.sum(case((RecordVersion.change == ChangeKind.CHANGE, 1), else_=0)),
               func.sum(case((RecordVersion.change == ChangeKind.REVOKE, 1), else_=0)),
               func.sum(case((RecordVersion.on_time == true(), 1), else_=0)),
               func.sum(case((RecordVersion.on_time == false(), 1), else_=0)),
               func.sum(case((RecordVersion.on_time.is_(None), 1), else_=0)),
               func.max(RecordVersion.received_at))
        .join(Record, Record.id == RecordVersion.record_id)
        .where(*where)
        .group_by(*group)
    )


def _daily_rows(session: Session, *, max_version: int, max_rejection: int, days: tuple[date, date] | None,
                department_ids: list[int]) -> list[dict[str, Any]]:
    rows: dict[tuple[date, int, int | None], dict[str, Any]] = {}

    def row(day: date, department_id: int, item_id: int | None) -> dict[str, Any]:
        key = (day, department_id, item_id)
        if key not in rows:
            rows[key] = {"day": day, "department_id": department_id, "catalog_item_id": item_id, "versions": 0,
                         "new": 0, "change": 0, "revoke": 0, "on_time": 0, "late": 0, "timeliness_unknown": 0,
                         "rejected": 0, "last_received_at": None}
        return rows[key]

    version_where: list[Any] = [RecordVersion.id <= max_version]
    rejection_where: list[Any] = [RecordRejection.id <= max_rejection]
    if days is not None:
        start, end = _midnight(days[0]), _midnight(days[1] + timedelta(days=1))
        version_where += [RecordVersion.received_at >= start, RecordVersion.received_at < end]
        # Through the (department_id, received_at) index: one range per department.
        rejection_where += [RecordRejection.department_id.in_(department_ids),
                            RecordRejection.received_at >= start, RecordRejection.received_at < end]
    day = shanghai_day(RecordVersion.received_at)
    for (when, department_id, item_id, versions, new, change, revoke, on_time, late, unknown,
         last) in session.execute(_version_counts(version_where, (day, Record.department_id,
                                                                  Record.catalog_item_id))):
        row(when, department_id, item_id).update(
            versions=versions, new=new, change=change, revoke=revoke, on_time=on_time, late=late,
            timeliness_unknown=unknown, last_received_at=last)
    rejected_day = shanghai_day(RecordRejection.received_at)
    rejections = (select(rejected_day, RecordRejection.department_id, RecordRejection.catalog_item_id, func.count())
                  .where(*rejection_where)
                  .group_by(rejected_day, RecordRejection.department_id, RecordRejection.catalog_item_id))
    for when, department_id, item_id, count in session.execute(rejections):
        row(when, department_id, item_id)["rejected"] = count
    return list(rows.values())


def _optional_keys(version: CatalogVersion) -> list[str]:
    return [f["key"] for f in version.fields if not f.get("required")]


STATE_COLUMNS = ("record_id", "catalog_item_id", "valid", "valid_from", "valid_until", "optional_total",
                 "optional_filled")


def _state_query(item: CatalogItem, *where: Any) -> Select[Any]:
    """Each record of `item` as a `quality_record_states` row, from its latest version, in SQL."""
    filled_fields = type_coerce(RecordVersion.filled_fields, Text)
    filled_when: list[Any] = []
    total_when: list[Any] = []
    for version in item.versions:
        keys = _optional_keys(version)
        if not keys:
            continue
        # `filled_fields` is a JSON list of keys: '"key"' (quotes included) matches that key and no other.
        filled: Any = literal(0)
        for key in keys:
            filled = filled + case((filled_fields.contains(f'"{key}"', autoescape=True), 1), else_=0)
        filled_when.append((RecordVersion.catalog_version_id == version.id, filled))
        total_when.append((RecordVersion.catalog_version_id == version.id, len(keys)))
    latest = and_(RecordVersion.record_id == Record.id, RecordVersion.version == Record.latest_version)
    return (
        select(Record.id, Record.catalog_item_id, case((Record.status == RecordStatus.VALID, True), else_=False),
               Record.valid_from, Record.valid_until,
               case(*total_when, else_=0) if total_when else literal(0),
               case(*filled_when, else_=0) if filled_when else literal(0))
        .join(RecordVersion, latest)
        .where(Record.catalog_item_id == item.id, *where)
    )


def _held_state(today: date) -> Any:
    return and_(QualityRecordState.valid == true(),
                or_(QualityRecordState.valid_from.is_(None), QualityRecordState.valid_from <= today),
                or_(QualityRecordState.valid_until.is_(None), QualityRecordState.valid_until >= today))


def _items(session: Session) -> dict[int, CatalogItem]:
    return {item.id: item for item in session.scalars(
        select(CatalogItem).where(CatalogItem.status != CatalogStatus.DRAFT).order_by(CatalogItem.id))}


def _rebuild_states(session: Session, items: dict[int, CatalogItem]) -> None:
    """Every record's state, one INSERT ... SELECT per item (through the unique (item, record_no) index)."""
    session.execute(delete(QualityRecordState))
    for item in items.values():
        session.execute(insert(QualityRecordState).from_select(list(STATE_COLUMNS), _state_query(item)))


def _update_states(session: Session, items: dict[int, CatalogItem], *, since: datetime,
                   today: date) -> tuple[int, dict[int, list[int]]]:
    """Recompute the states of the records changed since `since` (`records.updated_at` index); per item, what
    that adds to its snapshot: [records held, optional fields, of them filled]."""
    touched: dict[int, list[int]] = defaultdict(list)
    for record_id, item_id in session.execute(select(Record.id, Record.catalog_item_id)
                                              .where(Record.updated_at >= since)):
        touched[item_id].append(record_id)
    deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    columns = [getattr(QualityRecordState, c) for c in STATE_COLUMNS]
    for item_id, record_ids in touched.items():
        for start in range(0, len(record_ids), STATE_CHUNK):
            chunk = record_ids[start:start + STATE_CHUNK]
            old = session.execute(select(*columns).where(QualityRecordState.record_id.in_(chunk))).all()
            new = session.execute(_state_query(items[item_id], Record.id.in_(chunk))).all()
            for rows, sign in ((old, -1), (new, 1)):
                for _, row_item, valid, valid_from, valid_until, total, filled in rows:
                    if held_on(valid, valid_from, valid_until, today):
                        delta = deltas[row_item]
                        delta[0] += sign
                        delta[1] += sign * int(total)
                        delta[2] += sign * int(filled)
            session.execute(delete(QualityRecordState).where(QualityRecordState.record_id.in_(chunk)))
            if new:
                session.execute(insert(QualityRecordState), [dict(zip(STATE_COLUMNS, row, strict=True))
                                                             for row in new])
    return sum(len(ids) for ids in touched.values()), {k: v for k, v in deltas.items() if any(v)}


def _rebuild_snapshots(session: Session, items: dict[int, CatalogItem], today: date, now: datetime) -> int:
    """Every item's snapshot summed from the record states: one grouped pass over that narrow table."""
    sums = {item_id: (held, total, filled) for item_id, held, total, filled in session.execute(
        select(QualityRecordState.catalog_item_id, func.count(), func.sum(QualityRecordState.optional_total),
               func.sum(QualityRecordState.optional_filled))
        .where(_held_state(today)).group_by(QualityRecordState.catalog_item_id))}
    session.execute(delete(QualityItemSnapshot))
    rows = []
    for item in items.values():
        held, total, filled = sums.get(item.id, (0, 0, 0))
        rows.append({"catalog_item_id": item.id, "department_id": item.source_department_id, "records_held": held,
                     "optional_total": int(total or 0), "optional_filled": int(filled or 0), "computed_at": now})
    if rows:
        session.execute(insert(QualityItemSnapshot), rows)
    return len(rows)


def _apply_deltas(session: Session, items: dict[int, CatalogItem], deltas: dict[int, list[int]],
                  now: datetime) -> None:
    for item_id, (held, total, filled) in deltas.items():
        changed = session.execute(
            update(QualityItemSnapshot).where(QualityItemSnapshot.catalog_item_id == item_id)
            .values(records_held=QualityItemSnapshot.records_held + held,
                    optional_total=QualityItemSnapshot.optional_total + total,
                    optional_filled=QualityItemSnapshot.optional_filled + filled, computed_at=now))
        if changed.rowcount == 0:  # type: ignore[attr-defined]
            session.add(QualityItemSnapshot(catalog_item_id=item_id, department_id=items[item_id].source_department_id,
                                            records_held=held, optional_total=total, optional_filled=filled,
                                            computed_at=now))
    session.flush()


def refresh(session: Session, *, now: datetime, full: bool = False) -> RefreshReport:
    """Count the pushes since the last refresh into `quality_daily`; bring the records held and completeness of
    the items up to date by the records that changed (all of them with `full` or the first time).

    Safe to run often and from several hosts (they queue on the state row).
    """
    state = _lock_state(session)
    max_version = session.scalar(select(func.max(RecordVersion.id))) or 0
    max_rejection = session.scalar(select(func.max(RecordRejection.id))) or 0
    counted_versions = session.scalar(select(func.count()).select_from(RecordVersion).where(
        RecordVersion.id > (0 if full else state.version_id), RecordVersion.id <= max_version)) or 0
    counted_rejections = session.scalar(select(func.count()).select_from(RecordRejection).where(
        RecordRejection.id > (0 if full else state.rejection_id), RecordRejection.id <= max_rejection)) or 0
    days = None if full else _days_to_rebuild(session, state, max_version, max_rejection, now)
    rows: list[dict[str, Any]] = []
    if full or days is not None:
        rows = _daily_rows(session, max_version=max_version, max_rejection=max_rejection, days=days,
                           department_ids=list(session.scalars(select(Department.id))))
        stale = delete(QualityDaily)
        if days is not None:
            stale = stale.where(QualityDaily.day >= days[0], QualityDaily.day <= days[1])
        session.execute(stale)
        if rows:
            session.execute(insert(QualityDaily), rows)
    today = _day_of(now)
    items = _items(session)
    if full or state.refreshed_at is None or state.snapshot_day is None:
        _rebuild_states(session, items)
        records = session.scalar(select(func.count()).select_from(QualityRecordState)) or 0
        snapshots = _rebuild_snapshots(session, items, today, now)
    else:
        records, deltas = _update_states(session, items, since=state.refreshed_at - LATE_COMMIT_MARGIN, today=today)
        if state.snapshot_day != today:  # validity begins and ends with the date: sum every item again
            snapshots = _rebuild_snapshots(session, items, today, now)
        else:
            _apply_deltas(session, items, deltas, now)
            snapshots = len(deltas)
    state.snapshot_day = today
    state.version_id, state.rejection_id, state.refreshed_at = max_version, max_rejection, now
    session.commit()
    if days is None and rows:
        days = min(r["day"] for r in rows), max(r["day"] for r in rows)
    return RefreshReport(counted_versions, counted_rejections, days[0] if days else None,
                         days[1] if days else None, len({r["day"] for r in rows}), records, snapshots)


# --- the report ------------------------------------------------------------------------------------------

def _rate(part: int, whole: int, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


@dataclass
class Figures:
    """The quality figures of one item or one department in a period (see the module docstring)."""

    records_held: int = 0
    optional_total: int = 0
    optional_filled: int = 0
    new: int = 0
    change: int = 0
    revoke: int = 0
    on_time: int = 0
    late: int = 0
    timeliness_unknown: int = 0
    rejected: int = 0
    objections_filed: int = 0
    objections_upheld: int = 0
    objections_rejected: int = 0
    objections_overdue: int = 0
    decision_overdue: int = 0
    correction_overdue: int = 0
    hours_to_decide: list[float] = field(default_factory=list)
    hours_to_correct: list[float] = field(default_factory=list)
    last_push_at: datetime | None = None

    @property
    def pushes(self) -> int:
        """Accepted pushes that added a version."""
        return self.new + self.change + self.revoke

    @property
    def on_time_rate(self) -> float | None:
        """On time among the pushes whose deadline is known."""
        return _rate(self.on_time, self.on_time + self.late)

    @property
    def rejection_rate(self) -> float | None:
        return _rate(self.rejected, self.rejected + self.pushes)

    @property
    def completeness(self) -> float | None:
        return _rate(self.optional_filled, self.optional_total)

    @property
    def objections_per_10k(self) -> float | None:
        return round(self.objections_filed * PER / self.records_held, 2) if self.records_held else None

    @property
    def upheld_per_10k(self) -> float | None:
        return round(self.objections_upheld * PER / self.records_held, 2) if self.records_held else None

    @property
    def objection_rate(self) -> float | None:
        """数据异议率: objections filed / records held."""
        return _rate(self.objections_filed, self.records_held, 6)

    @property
    def upheld_rate(self) -> float | None:
        """Objections upheld (decided `correct`) / records held."""
        return _rate(self.objections_upheld, self.records_held, 6)

    @property
    def median_hours_to_decide(self) -> float | None:
        return _median(self.hours_to_decide)

    @property
    def median_hours_to_correct(self) -> float | None:
        return _median(self.hours_to_correct)

    def add(self, other: Figures) -> None:
        for name in ("records_held", "optional_total", "optional_filled", "new", "change", "revoke", "on_time",
                     "late", "timeliness_unknown", "rejected", "objections_filed", "objections_upheld",
                     "objections_rejected", "objections_overdue", "decision_overdue", "correction_overdue"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.hours_to_decide += other.hours_to_decide
        self.hours_to_correct += other.hours_to_correct
        self.last_push(other.last_push_at)

    def last_push(self, moment: datetime | None) -> None:
        if moment is not None and (self.last_push_at is None or moment > self.last_push_at):
            self.last_push_at = moment


@dataclass(frozen=True)
class ItemQuality:
    item: CatalogItem
    figures: Figures


@dataclass(frozen=True)
class DepartmentQuality:
    department: Department
    figures: Figures


@dataclass(frozen=True)
class QualityReport:
    first_day: date
    end_day: date  # the day after the last one
    start: datetime
    end: datetime
    now: datetime
    refreshed_at: datetime | None  # records held and completeness are as of then
    departments: list[DepartmentQuality]
    items: list[ItemQuality]


def period(start: date | None, end: date | None, now: datetime) -> tuple[date, date]:
    """[from, to) in Shanghai days: default the last 30 days up to today; at most two years."""
    end_day = end or _day_of(now) + timedelta(days=1)
    first_day = start or end_day - timedelta(days=DEFAULT_DAYS)
    if first_day >= end_day:
        raise ValidationError("the period is empty", fields={"from": "must be before `to`"})
    if (end_day - first_day).days > MAX_DAYS:
        raise ValidationError("the period is too long", fields={"to": f"at most {MAX_DAYS} days after `from`"})
    return first_day, end_day


Key = tuple[int, int | None]  # (department id, catalog item id or None)


def _pushes(session: Session, state: QualityState | None, first_day: date, end_day: date,
            figures: defaultdict[Key, Figures]) -> None:
    """Push counts: the aggregates of the period, plus what arrived after the last refresh."""
    counted = (select(QualityDaily.department_id, QualityDaily.catalog_item_id, func.sum(QualityDaily.new),
                      func.sum(QualityDaily.change), func.sum(QualityDaily.revoke), func.sum(QualityDaily.on_time),
                      func.sum(QualityDaily.late), func.sum(QualityDaily.timeliness_unknown),
                      func.sum(QualityDaily.rejected))
               .where(QualityDaily.day >= first_day, QualityDaily.day < end_day)
               .group_by(QualityDaily.department_id, QualityDaily.catalog_item_id))
    for department_id, item_id, *counts in session.execute(counted):
        _add_counts(figures[(department_id, item_id)], counts)
    last = (select(QualityDaily.department_id, QualityDaily.catalog_item_id, func.max(QualityDaily.last_received_at))
            .group_by(QualityDaily.department_id, QualityDaily.catalog_item_id))
    for department_id, item_id, moment in session.execute(last):
        figures[(department_id, item_id)].last_push(moment)
    after_version = state.version_id if state else 0
    after_rejection = state.rejection_id if state else 0
    # Newer than the watermark: a primary-key range, small between two refreshes. Only the id bounds the
    # query (a received_at bound would lead the planner to that index and a year of rows); days are picked here.
    day = shanghai_day(RecordVersion.received_at)
    fresh = _version_counts([RecordVersion.id > after_version], (Record.department_id, Record.catalog_item_id, day))
    for department_id, item_id, when, _, *counts, last_at in session.execute(fresh):
        figures[(department_id, item_id)].last_push(last_at)
        if first_day <= when < end_day:
            _add_counts(figures[(department_id, item_id)], [*counts, 0])
    rejected_day = shanghai_day(RecordRejection.received_at)
    rejected = (select(RecordRejection.department_id, RecordRejection.catalog_item_id, rejected_day, func.count())
                .where(RecordRejection.id > after_rejection)
                .group_by(RecordRejection.department_id, RecordRejection.catalog_item_id, rejected_day))
    for department_id, item_id, when, count in session.execute(rejected):
        if first_day <= when < end_day:
            figures[(department_id, item_id)].rejected += count


def _add_counts(target: Figures, counts: Iterable[Any]) -> None:
    new, change, revoke, on_time, late, unknown, rejected = (int(c or 0) for c in counts)
    target.new += new
    target.change += change
    target.revoke += revoke
    target.on_time += on_time
    target.late += late
    target.timeliness_unknown += unknown
    target.rejected += rejected


def _hours(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 3600


def _objections(session: Session, first_day: date, end_day: date, now: datetime,
                figures: defaultdict[Key, Figures]) -> None:
    """Objections filed in the period, counted live (the table is small next to the records).

    Computed here until the objections service offers per-department figures; the rules are rule 7's.
    """
    rows = session.execute(
        select(Objection.department_id, Record.catalog_item_id, Objection.status, Objection.decision,
               Objection.filed_at, Objection.decided_at, Objection.decision_due_at, Objection.decision_late,
               Objection.corrected_at, Objection.correction_due_at, Objection.correction_late)
        .join(Record, Record.id == Objection.record_id)
        .where(Objection.filed_at >= _midnight(first_day), Objection.filed_at < _midnight(end_day))
    )
    for (department_id, item_id, status, decision, filed_at, decided_at, decision_due_at, decision_late,
         corrected_at, correction_due_at, correction_late) in rows:
        target = figures[(department_id, item_id)]
        target.objections_filed += 1
        if decision == "correct":
            target.objections_upheld += 1
        elif decision == "reject":
            target.objections_rejected += 1
        decision_overdue, correction_overdue = objections.overdue_steps(
            status=status, decision_due_at=decision_due_at, decision_late=decision_late,
            correction_due_at=correction_due_at, correction_late=correction_late, now=now)
        target.decision_overdue += decision_overdue
        target.correction_overdue += correction_overdue
        target.objections_overdue += decision_overdue or correction_overdue
        if decided_at is not None:
            target.hours_to_decide.append(_hours(decided_at, filed_at))
        if corrected_at is not None and decided_at is not None:
            target.hours_to_correct.append(_hours(corrected_at, decided_at))


def quality_report(session: Session, *, start: date | None, end: date | None, now: datetime) -> QualityReport:
    """Quality figures per department and per catalog item for [start, end) (Shanghai days; default 30 days)."""
    first_day, end_day = period(start, end, now)
    state = session.get(QualityState, STATE_ID)
    figures: defaultdict[Key, Figures] = defaultdict(Figures)
    for snapshot in session.scalars(select(QualityItemSnapshot)):
        target = figures[(snapshot.department_id, snapshot.catalog_item_id)]
        target.records_held = snapshot.records_held
        target.optional_total, target.optional_filled = snapshot.optional_total, snapshot.optional_filled
    _pushes(session, state, first_day, end_day, figures)
    _objections(session, first_day, end_day, now, figures)

    items = {item.id: item for item in session.scalars(select(CatalogItem))}
    departments = {d.id: d for d in session.scalars(select(Department))}
    by_department: dict[int, Figures] = {d.id: Figures() for d in departments.values() if d.is_source}
    by_item: dict[int, Figures] = {i.id: Figures() for i in items.values() if i.status is not CatalogStatus.DRAFT}
    for (department_id, item_id), values in figures.items():
        by_department.setdefault(department_id, Figures()).add(values)
        if item_id is not None:
            by_item.setdefault(item_id, Figures()).add(values)
    item_rows = [ItemQuality(items[item_id], values) for item_id, values in by_item.items()]
    item_rows.sort(key=lambda row: (departments[row.item.source_department_id].code, row.item.code))
    department_rows = sorted((DepartmentQuality(departments[d], f) for d, f in by_department.items()),
                             key=lambda row: row.department.code)
    return QualityReport(first_day, end_day, _midnight(first_day), _midnight(end_day), now,
                         state.refreshed_at if state else None, department_rows, item_rows)


# --- the annual KPI sheet ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class KpiSheet:
    """Per source department, the year's 数据异议率 and timeliness, for the annual performance assessment."""

    year: int
    report: QualityReport

    @property
    def departments(self) -> list[DepartmentQuality]:
        return self.report.departments


def kpi_sheet(session: Session, *, year: int, now: datetime) -> KpiSheet:
    """The KPI sheet of a calendar year (Shanghai days); a year still running counts up to now."""
    this_year = _day_of(now).year
    if not FIRST_KPI_YEAR <= year <= this_year:
        raise ValidationError("no figures for this year", fields={"year": f"from {FIRST_KPI_YEAR} to {this_year}"})
    report = quality_report(session, start=date(year, 1, 1), end=date(year + 1, 1, 1), now=now)
    return KpiSheet(year, report)
