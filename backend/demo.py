"""The demo district (佛山市南海区), loaded through the same services as real data."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.staff import create_staff
from backend import demo_people
from backend.demo_catalog import CATALOG, SERVICE_ITEMS
from backend.models import CatalogItem, CatalogStatus, Department, PushRequest, Role, ServiceItem, StaffAccount
from backend.protection import Protector
from backend.services import catalog, records, service_items
from backend.services.audit import SYSTEM
from backend.services.departments import create_department, get_department

DEMO_PASSWORD = "Nanhai#2026demo"

# code, name, is_source, is_approval
DEPARTMENTS = [
    ("NH-ZSJ", "佛山市南海区政务服务数据管理局", False, False),
    ("NH-SCJ", "佛山市南海区市场监督管理局", True, True),
    ("NH-GAJ", "佛山市公安局南海分局", True, False),
    ("NH-MZJ", "佛山市南海区民政局", True, True),
    ("NH-ZRJ", "佛山市南海区自然资源局", True, True),
    ("NH-RSJ", "佛山市南海区人力资源和社会保障局", True, True),
    ("NH-WJJ", "佛山市南海区卫生健康局", True, True),
    ("NH-SWJ", "国家税务总局佛山市南海区税务局", True, False),
    ("NH-CLH", "佛山市南海区残疾人联合会", True, False),
]

# username, display name, role, department
STAFF = [
    ("admin", "区政务服务数据管理局 管理员", Role.DATA_ADMIN, None),
    ("scj.counter", "市场监管窗口 陈工", Role.COUNTER_STAFF, "NH-SCJ"),
    ("scj.operator", "市场监管数据专员 李工", Role.DEPT_OPERATOR, "NH-SCJ"),
    ("mzj.counter", "民政窗口 黄工", Role.COUNTER_STAFF, "NH-MZJ"),
    ("gaj.operator", "公安数据专员 梁工", Role.DEPT_OPERATOR, "NH-GAJ"),
    ("wjj.counter", "卫健窗口 何工", Role.COUNTER_STAFF, "NH-WJJ"),
    ("rsj.operator", "人社数据专员 冯工", Role.DEPT_OPERATOR, "NH-RSJ"),
]


def seed(session: Session, *, now: datetime, protector: Protector | None = None) -> list[str]:
    """Create what is missing of the demo district; what exists is left as it is.

    With the field protector, also the demo people's and enterprises' records, pushed by their source
    departments through `records.push_records` (without it, only departments, staff and the catalog).
    """
    created: list[str] = []
    for code, name, is_source, is_approval in DEPARTMENTS:
        if session.scalar(select(Department.id).where(Department.code == code)) is None:
            create_department(session, actor=SYSTEM, code=code, name=name, is_source=is_source,
                              is_approval=is_approval, webhook_url=None, now=now)
            created.append(f"department {code} {name}")
    for username, display_name, role, department in STAFF:
        if session.scalar(select(StaffAccount.id).where(StaffAccount.username == username)) is None:
            create_staff(session, actor=SYSTEM, username=username, password=DEMO_PASSWORD, role=role,
                         display_name=display_name, department_code=department, now=now)
            created.append(f"staff {username} ({role.value})")
    created += _seed_catalog(session, now=now)
    if protector is not None:
        created += _seed_records(session, protector, now=now)
    if not created:
        return ["demo district already loaded: nothing changed"]
    created.append(f"demo staff password: {DEMO_PASSWORD}")
    if protector is not None:
        created.append("demo applicants (log in through WeChat, then verify identity with this name and ID number):")
        created += [f"  {a.name} {a.id_number}: {a.about}" for a in demo_people.DEMO_APPLICANTS]
    return created


def _seed_catalog(session: Session, *, now: datetime) -> list[str]:
    """The demo catalog items, published, and the service items whose materials map to them."""
    created: list[str] = []
    for spec in CATALOG:
        status = session.scalar(select(CatalogItem.status).where(CatalogItem.code == spec["code"]))
        if status is None:
            catalog.create_item(session, actor=SYSTEM, now=now, **spec)
        if status in (None, CatalogStatus.DRAFT):  # a draft left by an interrupted run is published now
            catalog.publish_item(session, actor=SYSTEM, code=spec["code"], now=now)
            created.append(f"catalog item {spec['code']} {spec['name']} ({spec['source_department']})")
    for spec in SERVICE_ITEMS:
        if session.scalar(select(ServiceItem.id).where(ServiceItem.code == spec["code"])) is None:
            service_items.create_service_item(session, actor=SYSTEM, now=now, **spec)
            created.append(f"service item {spec['code']} {spec['name']} ({spec['approval_department']})")
    return created


def _anchor(session: Session, now: datetime) -> datetime:
    """The moment the demo records were first pushed (now, on the first run), to the minute.

    Every generated date counts from it, so a later run regenerates the same batches and replays them.
    """
    first = session.scalar(select(func.min(PushRequest.received_at)).where(
        PushRequest.idempotency_key.startswith(f"{demo_people.KEY_PREFIX}:")))
    return (first or now).replace(second=0, microsecond=0)


def _seed_records(session: Session, protector: Protector, *, now: datetime) -> list[str]:
    """The demo people's and enterprises' records, one request per catalog item; a pushed one is replayed."""
    world = demo_people.demo_world(_anchor(session, now))
    created: list[str] = []
    for batch in world.batches:
        push = records.push_records if batch.operation == "push" else records.revoke_records
        outcome = push(session, protector, actor=SYSTEM, department=get_department(session, batch.department),
                       records=batch.records, idempotency_key=batch.key, request_digest=batch.digest, now=now)
        if outcome.replayed:
            continue
        results = outcome.body["results"]
        refused = [r for r in results if r["status"] == "rejected"]
        if refused:  # the generator and the catalog disagree: a bug to fix, never demo data to keep quiet
            raise RuntimeError(f"demo batch {batch.key}: {len(refused)} rejected, e.g. {refused[0]}")
        counts = Counter(r.get("change") or "unchanged" for r in results)
        done = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        created.append(f"records {batch.item} ({batch.department}, {batch.operation}): {done}")
    if created:
        companies = sum(not e.individual for e in world.enterprises)
        created.append(f"demo subjects: {len(world.people)} people, {companies} companies, "
                       f"{len(world.enterprises) - companies} individual businesses")
    return created
