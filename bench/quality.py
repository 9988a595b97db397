"""Benchmark: the quality figures on about a million record versions (it prints figures; it is not a test).

Run by hand from the repository root:

    .venv/bin/python bench/quality.py                       # 800k records, ~1M versions, temporary SQLite file
    .venv/bin/python bench/quality.py --records 100000
    .venv/bin/python bench/quality.py --database-url mysql+pymysql://root@127.0.0.1/eshare_bench  # an EMPTY database

It builds the schema with `create_all` (the quality tables have no migration of their own yet), sets up
departments, published catalog items, an administrator through the services, then writes records,
versions (one per record, a second for a quarter of them), rejections and objections with bulk Core
inserts spread over the last year (never through the push API: values are placeholders, nothing is
decrypted by the quality figures). It times:
- the first `quality refresh` (everything), an incremental one after 1,000 new pushes, one with nothing new;
- `GET /api/admin/quality` over a year (JSON and CSV) and `GET /api/admin/kpi` through the test client;
- for comparison, the same push counts grouped live from `record_versions` (what the API would pay without
  the daily aggregates).
The temporary SQLite file is removed at the end.
"""

from __future__ import annotations

import argparse
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from auth.staff import create_staff  # noqa: E402
from backend import create_app  # noqa: E402
from backend.db import db  # noqa: E402
from backend.models import (  # noqa: E402
    Applicant,
    ChangeKind,
    Objection,
    ObjectionStatus,
    PushOperation,
    PushRequest,
    Record,
    RecordRejection,
    RecordStatus,
    RecordVersion,
    Role,
    SubjectType,
)
from backend.services import catalog, departments, quality  # noqa: E402
from backend.services.audit import SYSTEM  # noqa: E402

DEPARTMENTS = 5
ITEMS_PER_DEPARTMENT = 4
CHUNK = 20_000
PASSWORD = "Bench-password-42"
FIELDS = [
    {"key": "name", "label": "姓名", "type": "string", "required": True, "sensitive": False},
    {"key": "sex", "label": "性别", "type": "enum", "required": True, "sensitive": False, "enum": ["男", "女"]},
    {"key": "birth_date", "label": "出生日期", "type": "date", "required": True, "sensitive": True},
    {"key": "address", "label": "住址", "type": "string", "required": False, "sensitive": True},
    {"key": "phone", "label": "电话", "type": "string", "required": False, "sensitive": True},
    {"key": "employer", "label": "工作单位", "type": "string", "required": False, "sensitive": False},
    {"key": "height_cm", "label": "身高", "type": "number", "required": False, "sensitive": False},
]
REQUIRED = [f["key"] for f in FIELDS if f["required"]]
OPTIONAL = [f["key"] for f in FIELDS if not f["required"]]


@contextmanager
def timed(label: str, figures: dict[str, float]) -> Iterator[None]:
    started = time.perf_counter()
    yield
    figures[label] = time.perf_counter() - started
    print(f"  {label:<58} {figures[label]:8.2f} s", flush=True)


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _setup(session: Any, now: datetime) -> list[tuple[int, int, int]]:
    """Departments, published items and an administrator; (department id, item id, catalog version id) per item."""
    made = []
    for d in range(DEPARTMENTS):
        department = departments.create_department(session, actor=SYSTEM, code=f"BENCH-D{d}", name=f"基准部门{d}",
                                                   is_source=True, is_approval=False, webhook_url=None, now=now)
        for i in range(ITEMS_PER_DEPARTMENT):
            item = catalog.create_item(session, actor=SYSTEM, code=f"bench-{d}-{i}", name=f"基准目录项{d}-{i}",
                                       kind="data", subject_type=SubjectType.PERSON, source_department=department.code,
                                       batch="基准", subject_name_field="name", fields=FIELDS, now=now)
            item = catalog.publish_item(session, actor=SYSTEM, code=item.code, now=now)
            made.append((department.id, item.id, item.versions[-1].id))
    create_staff(session, actor=SYSTEM, username="bench-admin", password=PASSWORD, role=Role.DATA_ADMIN,
                 display_name=None, department_code=None, now=now)
    return made


def _fill(session: Any, items: list[tuple[int, int, int]], *, records: int, now: datetime,
          rng: random.Random) -> int:
    """Records, their versions, rejections and objections by bulk Core inserts; returns the versions written."""
    year = timedelta(days=365)
    plans = []
    for record_id in range(1, records + 1):
        department_id, item_id, version_id = items[record_id % len(items)]
        first = now - year + timedelta(seconds=rng.randrange(int(year.total_seconds()) - 86_400))
        second = first + timedelta(hours=rng.randrange(1, 2000)) if rng.random() < 0.25 else None
        if second is not None and second >= now:
            second = None
        revoked = second is not None and rng.random() < 0.2
        plans.append((record_id, department_id, item_id, version_id, first, second, revoked))

    def timeliness() -> bool | None:
        draw = rng.random()
        return None if draw < 0.02 else draw < 0.92

    def record_rows() -> Iterator[dict[str, Any]]:
        for record_id, department_id, item_id, _, first, second, revoked in plans:
            yield {"id": record_id, "catalog_item_id": item_id, "department_id": department_id,
                   "record_no": f"R{record_id}", "subject_type": SubjectType.PERSON,
                   "subject_index": secrets.token_hex(32), "subject_id_enc": "-", "subject_masked": "-",
                   "latest_version": 2 if second else 1,
                   "status": RecordStatus.REVOKED if revoked else RecordStatus.VALID, "valid_from": None,
                   "valid_until": None, "created_at": first, "updated_at": second or first}

    def version_rows() -> Iterator[dict[str, Any]]:
        for record_id, _, _, version_id, first, second, revoked in plans:
            moments = [first] + ([second] if second else [])
            for number, moment in enumerate(moments, start=1):
                filled = REQUIRED + [k for k in OPTIONAL if rng.random() < 0.6]
                change = ChangeKind.NEW if number == 1 else ChangeKind.REVOKE if revoked else ChangeKind.CHANGE
                yield {"record_id": record_id, "version": number, "change": change, "catalog_version_id": version_id,
                       "fields_enc": "-", "subject_name_enc": "-", "filled_fields": sorted(filled),
                       "status": RecordStatus.REVOKED if change is ChangeKind.REVOKE else RecordStatus.VALID,
                       "valid_from": None, "valid_until": None, "revoke_reason": None,
                       "produced_at": moment - timedelta(hours=rng.randrange(1, 72)), "received_at": moment,
                       "due_at": None, "on_time": timeliness(), "objection_id": None}

    for chunk in _chunks(record_rows()):
        session.execute(insert(Record), chunk)
    versions = 0
    for chunk in _chunks(version_rows()):
        session.execute(insert(RecordVersion), chunk)
        versions += len(chunk)
    claims = {}
    for department_id in sorted({d for d, _, _ in items}):
        claim = PushRequest(department_id=department_id, idempotency_key=f"bench-{department_id}",
                            operation=PushOperation.PUSH, request_digest="-", accepted=0, rejected=0, response={},
                            received_at=now)
        session.add(claim)
        session.flush()
        claims[department_id] = claim.id
    rejections = ({"department_id": d, "push_request_id": claims[d], "operation": PushOperation.PUSH,
                   "catalog_item_id": i, "catalog_item_code": None, "record_no": "X", "errors": {"sex": "is required"},
                   "received_at": now - timedelta(seconds=rng.randrange(365 * 86_400))}
                  for d, i, _ in (items[rng.randrange(len(items))] for _ in range(records // 40)))
    for chunk in _chunks(rejections):
        session.execute(insert(RecordRejection), chunk)
    session.execute(insert(Applicant), [{"id": 1, "openid": "bench", "session_key_enc": "-", "created_at": now}])
    objections = []
    for _ in range(records // 400):
        record_id, department_id, *_rest = plans[rng.randrange(len(plans))]
        filed = now - timedelta(seconds=rng.randrange(300 * 86_400))
        decided = filed + timedelta(hours=rng.randrange(1, 60))
        upheld = rng.random() < 0.4
        objections.append({"record_id": record_id, "record_version": 1, "department_id": department_id,
                           "applicant_id": 1, "field": "address", "reason_enc": "-",
                           "status": ObjectionStatus.CORRECTED if upheld else ObjectionStatus.REJECTED,
                           "filed_at": filed, "decision_due_at": filed + timedelta(days=3),
                           "decision": "correct" if upheld else "reject", "decided_at": decided,
                           "decision_late": decided > filed + timedelta(days=3),
                           "corrected_at": decided + timedelta(hours=5) if upheld else None})
    session.execute(insert(Objection), objections)
    session.commit()
    return versions


def _push_more(session: Any, items: list[tuple[int, int, int]], *, first_id: int, count: int, now: datetime) -> None:
    """`count` new records pushed just now: what a refresh between two cron runs typically finds."""
    records, versions = [], []
    for offset in range(count):
        department_id, item_id, version_id = items[offset % len(items)]
        record_id = first_id + offset
        records.append({"id": record_id, "catalog_item_id": item_id, "department_id": department_id,
                        "record_no": f"R{record_id}", "subject_type": SubjectType.PERSON,
                        "subject_index": secrets.token_hex(32), "subject_id_enc": "-", "subject_masked": "-",
                        "latest_version": 1, "status": RecordStatus.VALID, "valid_from": None, "valid_until": None,
                        "created_at": now, "updated_at": now})
        versions.append({"record_id": record_id, "version": 1, "change": ChangeKind.NEW,
                         "catalog_version_id": version_id, "fields_enc": "-", "subject_name_enc": "-",
                         "filled_fields": sorted(REQUIRED), "status": RecordStatus.VALID, "valid_from": None,
                         "valid_until": None, "revoke_reason": None, "produced_at": now, "received_at": now,
                         "due_at": None, "on_time": True, "objection_id": None})
    session.execute(insert(Record), records)
    session.execute(insert(RecordVersion), versions)
    session.commit()


def _median_of(runs: int, call: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=800_000, help="records to write (versions ≈ 1.25 ×)")
    parser.add_argument("--database-url", default=None, help="an empty database; default a temporary SQLite file")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="eshare-bench-quality-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    figures: dict[str, float] = {}
    try:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(workdir / "instance"), "LOG_LEVEL": "WARNING"})
        with app.app_context():
            db.create_all()
            session = db.session()
            now = datetime.now(UTC)
            print(f"database: {url.split('@')[-1]}")
            with timed("setup: departments, items, administrator", figures):
                items = _setup(session, now - timedelta(days=366))
            with timed(f"bulk insert {args.records:,} records and their versions", figures):
                versions = _fill(session, items, records=args.records, now=now, rng=random.Random(args.seed))
            rejections = session.scalar(select(func.count()).select_from(RecordRejection))
            print(f"  → {versions:,} versions, {rejections:,} rejections, "
                  f"{session.scalar(select(func.count()).select_from(Objection)):,} objections")
            with timed("quality refresh, first (everything)", figures):
                first = quality.refresh(session, now=now)
            print(f"  → {first.days} days with pushes, {first.records:,} record states, {first.items} item snapshots")
            later = now + timedelta(minutes=10)
            _push_more(session, items, first_id=args.records + 1, count=1000, now=later)
            with timed("quality refresh, incremental (1,000 new pushes)", figures):
                step = quality.refresh(session, now=later + timedelta(minutes=1))
            print(f"  → {step.records:,} record states recomputed, {step.items} item snapshots moved")
            with timed("quality refresh, nothing new", figures):
                quality.refresh(session, now=later + timedelta(minutes=2))
            with timed("quality refresh, a new day (every item summed again)", figures):
                quality.refresh(session, now=later + timedelta(days=1))
            _push_more(session, items, first_id=args.records + 1001, count=1000, now=later + timedelta(minutes=3))
            client = app.test_client()
            token = client.post("/api/staff/login", json={"username": "bench-admin", "password": PASSWORD}
                                ).get_json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            start, end = (now - timedelta(days=365)).date().isoformat(), (now + timedelta(days=1)).date().isoformat()
            path = f"/api/admin/quality?from={start}&to={end}"
            body = client.get(path, headers=headers).get_json()
            total = sum(d["figures"]["pushes"]["total"] for d in body["departments"])
            print(f"  → the API counts {total:,} pushes in the year (1,000 of them after the last refresh)")
            figures["GET /api/admin/quality (a year, JSON), median of 5"] = _median_of(
                5, lambda: client.get(path, headers=headers))
            figures["GET /api/admin/quality (a year, CSV), median of 5"] = _median_of(
                5, lambda: client.get(path + "&format=csv", headers=headers))
            figures["GET /api/admin/kpi (this year), median of 5"] = _median_of(
                5, lambda: client.get(f"/api/admin/kpi?year={now.year}", headers=headers))
            for label in list(figures)[-3:]:
                print(f"  {label:<58} {figures[label]:8.3f} s")
            live = (select(Record.department_id, Record.catalog_item_id, RecordVersion.on_time, func.count())
                    .join(Record, Record.id == RecordVersion.record_id)
                    .where(RecordVersion.received_at >= now - timedelta(days=365))
                    .group_by(Record.department_id, Record.catalog_item_id, RecordVersion.on_time))
            figures["for comparison: the same counts grouped live, median of 3"] = _median_of(
                3, lambda: session.execute(live).all())
            print(f"  {'for comparison: the same counts grouped live, median of 3':<58} "
                  f"{figures['for comparison: the same counts grouped live, median of 3']:8.3f} s")
            db.engine.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
