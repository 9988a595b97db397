"""Plain functions that make rows through the services, for tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from auth.staff import create_staff
from backend.models import (
    CatalogItem,
    Department,
    ItemKind,
    Record,
    RecordStatus,
    Role,
    ServiceItem,
    StaffAccount,
    SubjectType,
)
from backend.services import catalog, service_items
from backend.services.audit import SYSTEM
from backend.services.departments import create_department
from tests.conftest import FrozenClock

PASSWORD = "Correct-horse-42"


def make_department(session: Session, clock: FrozenClock, *, code: str = "NH-SCJ", name: str = "区市场监督管理局",
                    is_source: bool = True, is_approval: bool = True, **overrides: Any) -> Department:
    return create_department(session, actor=SYSTEM, code=code, name=name, is_source=is_source,
                             is_approval=is_approval, webhook_url=overrides.get("webhook_url"), now=clock())


def make_staff(session: Session, clock: FrozenClock, *, username: str = "admin", role: Role = Role.DATA_ADMIN,
               department: str | None = None, password: str = PASSWORD) -> StaffAccount:
    return create_staff(session, actor=SYSTEM, username=username, password=password, role=role,
                        display_name=None, department_code=department, now=clock())


def login_staff(client: FlaskClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/api/staff/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def admin_headers(client: FlaskClient, session: Session, clock: FrozenClock, username: str = "admin") -> dict[str, str]:
    """A data administrator, logged in: the headers to act as them."""
    make_staff(session, clock, username=username, role=Role.DATA_ADMIN)
    return bearer(login_staff(client, username))


def catalog_item_spec(**overrides: Any) -> dict[str, Any]:
    """The arguments of `catalog.create_item` for a small enterprise license (营业执照), overridable."""
    spec: dict[str, Any] = {
        "code": "business-license", "name": "营业执照", "kind": ItemKind.LICENSE,
        "subject_type": SubjectType.ENTERPRISE, "source_department": "NH-SCJ", "batch": "第一批",
        "subject_name_field": "enterprise_name",
        "fields": [
            {"key": "enterprise_name", "label": "名称", "type": "string", "required": True, "sensitive": False,
             "max_length": 200, "common": "name"},
            {"key": "legal_rep_name", "label": "法定代表人", "type": "string", "required": True, "sensitive": False},
            {"key": "legal_rep_id", "label": "法定代表人身份证件号码", "type": "string", "required": True,
             "sensitive": True, "max_length": 18},
            {"key": "entity_type", "label": "类型", "type": "enum", "required": True, "sensitive": False,
             "enum": ["有限责任公司", "股份有限公司", "其他"]},
            {"key": "established_on", "label": "成立日期", "type": "date", "required": False, "sensitive": False},
            {"key": "address", "label": "住所", "type": "string", "required": True, "sensitive": False,
             "common": "address"},
        ],
    }
    spec.update(overrides)
    return spec


def make_catalog_item(session: Session, clock: FrozenClock, *, publish: bool = True,
                      **overrides: Any) -> CatalogItem:
    """A catalog item (published unless `publish=False`); its source department must exist."""
    item = catalog.create_item(session, actor=SYSTEM, now=clock(), **catalog_item_spec(**overrides))
    if publish:
        item = catalog.publish_item(session, actor=SYSTEM, code=item.code, now=clock())
    return item


def make_service_item(session: Session, clock: FrozenClock, *, code: str = "food-license-new",
                      name: str = "食品经营许可（新办）", approval_department: str = "NH-SCJ",
                      subject_type: SubjectType = SubjectType.ENTERPRISE,
                      materials: list[dict[str, Any]] | None = None) -> ServiceItem:
    """A service item; by default one material maps to `business-license`, one is paper-only."""
    if materials is None:
        materials = [{"name": "营业执照", "catalog_item": "business-license",
                      "fields": ["enterprise_name", "legal_rep_name"]},
                     {"name": "经营场所平面图"}]
    return service_items.create_service_item(session, actor=SYSTEM, code=code, name=name,
                                             approval_department=approval_department, subject_type=subject_type,
                                             materials=materials, now=clock())


def insert_record_row(session: Session, clock: FrozenClock, item: CatalogItem, *, record_no: str,
                      status: RecordStatus = RecordStatus.VALID, updated_at: datetime | None = None) -> Record:
    """A bare `Record` row (no versions, placeholder ciphertext), for tests that only count records."""
    moment = updated_at or clock()
    record = Record(catalog_item_id=item.id, department_id=item.source_department_id, record_no=record_no,
                    subject_type=item.subject_type, subject_index=f"idx-{record_no}", subject_id_enc="-",
                    subject_masked="-", latest_version=1, status=status, created_at=moment, updated_at=moment)
    session.add(record)
    session.commit()
    return record


# --- department keys and signed requests (the push API) ---------------------------------------------------

ID_CARD_FIELDS: list[dict[str, Any]] = [
    {"key": "name", "label": "姓名", "type": "string", "required": True, "sensitive": False, "max_length": 50},
    {"key": "sex", "label": "性别", "type": "enum", "required": True, "sensitive": False, "enum": ["男", "女"]},
    {"key": "birth_date", "label": "出生日期", "type": "date", "required": True, "sensitive": True},
    {"key": "address", "label": "住址", "type": "string", "required": False, "sensitive": True, "max_length": 100},
    {"key": "height_cm", "label": "身高", "type": "number", "required": False, "sensitive": False},
    {"key": "long_term", "label": "长期有效", "type": "boolean", "required": False, "sensitive": False},
]


def make_id_card_item(session: Session, clock: FrozenClock, *, code: str = "id-card",
                      source_department: str = "NH-GAJ", **overrides: Any) -> CatalogItem:
    """A published person item (居民身份证) of every field type; its source department must exist."""
    return make_catalog_item(session, clock, code=code, name="居民身份证", kind=ItemKind.LICENSE,
                             subject_type=SubjectType.PERSON, source_department=source_department,
                             subject_name_field="name", fields=ID_CARD_FIELDS, **overrides)


@dataclass(frozen=True)
class DeptKey:
    key_id: str
    secret: str


def make_dept_key(session: Session, clock: FrozenClock, *, department: str = "NH-SCJ") -> DeptKey:
    """A department API key, with the secret as issued."""
    from flask import current_app

    from backend.services.dept_keys import issue_key

    issued = issue_key(session, current_app.extensions["protector"], actor=SYSTEM, department_code=department,
                       now=clock())
    return DeptKey(issued.key.key_id, issued.secret)


def signed(client: FlaskClient, key: DeptKey, clock: FrozenClock, method: str, path: str, *,
           json: Any = None, body: bytes | None = None, headers: dict[str, str] | None = None,
           idempotency_key: str | None = None, timestamp: int | None = None,
           nonce: str | None = None) -> TestResponse:
    """One request signed as SYSTEM.md says (fresh nonce unless given), at the clock's time."""
    import json as jsonlib

    from auth.signatures import sign_request

    raw = body if body is not None else (b"" if json is None else jsonlib.dumps(json).encode("utf-8"))
    stamp = int(clock().timestamp()) if timestamp is None else timestamp
    sent = sign_request(key.key_id, key.secret, method, path, raw, timestamp=stamp, nonce=nonce)
    if idempotency_key is not None:
        sent["Idempotency-Key"] = idempotency_key
    sent.update(headers or {})
    return client.open(path, method=method, data=raw, headers=sent,
                       content_type="application/json" if raw else None)


# --- applicants, records and enterprises (mini-program) ---------------------------------------------------

def login_applicant(client: FlaskClient, fake_wechat: Any, openid: str, *,
                    unionid: str | None = None) -> dict[str, Any]:
    """Log in through the fake WeChat server as `openid` (a fresh wx.login code each time): the token answer."""
    import secrets

    code = f"code-{secrets.token_hex(6)}"
    fake_wechat.add_login_code(code, openid=openid, unionid=unionid)
    response = client.post("/api/mp/auth/login", json={"code": code})
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def verified_applicant(client: FlaskClient, fake_wechat: Any, *, openid: str, name: str,
                       id_number: str) -> dict[str, str]:
    """A logged-in applicant, real-name verified (development verifier): the headers to act as them."""
    headers = bearer(login_applicant(client, fake_wechat, openid))
    response = client.post("/api/mp/me/identity", headers=headers, json={"name": name, "id_number": id_number})
    assert response.status_code == 200, response.get_json()
    return headers


def push_record(session: Session, clock: FrozenClock, *, item: str, record_no: str, subject_id: str,
                subject_name: str, fields: dict[str, Any], valid_from: str | None = None,
                valid_until: str | None = None, produced_at: datetime | None = None) -> Record:
    """A record pushed by its item's source department through `records.push_records`, as the push API does."""
    import uuid

    from flask import current_app
    from sqlalchemy import select

    from backend.clock import iso
    from backend.services import records

    catalog_item = catalog.get_item(session, item)
    entry: dict[str, Any] = {"catalog_item": item, "record_no": record_no, "subject_id": subject_id,
                             "subject_name": subject_name, "fields": fields,
                             "produced_at": iso(produced_at or clock())}
    if valid_from:
        entry["valid_from"] = valid_from
    if valid_until:
        entry["valid_until"] = valid_until
    outcome = records.push_records(session, current_app.extensions["protector"], actor=SYSTEM,
                                   department=catalog_item.source_department, records=[entry],
                                   idempotency_key=uuid.uuid4().hex, request_digest=uuid.uuid4().hex, now=clock())
    result = outcome.body["results"][0]
    assert result["status"] == "accepted", result
    return session.scalars(select(Record).where(Record.catalog_item_id == catalog_item.id,
                                                Record.record_no == record_no)).one()


def revoke_record(session: Session, clock: FrozenClock, *, item: str, record_no: str,
                  reason: str = "注销") -> None:
    """Revoke (注销) a record through `records.revoke_records`."""
    import uuid

    from flask import current_app

    from backend.services import records

    catalog_item = catalog.get_item(session, item)
    outcome = records.revoke_records(session, current_app.extensions["protector"], actor=SYSTEM,
                                     department=catalog_item.source_department,
                                     records=[{"catalog_item": item, "record_no": record_no, "reason": reason}],
                                     idempotency_key=uuid.uuid4().hex, request_digest=uuid.uuid4().hex, now=clock())
    assert outcome.body["results"][0]["status"] == "accepted", outcome.body


def business_license_fields(*, name: str, rep_name: str, rep_id: str, address: str = "佛山市南海区桂城街道1号",
                            **extra: Any) -> dict[str, Any]:
    """Field values of the `business-license` item of `catalog_item_spec`."""
    return {"enterprise_name": name, "legal_rep_name": rep_name, "legal_rep_id": rep_id,
            "entity_type": "有限责任公司", "address": address, **extra}


def id_card_fields(*, name: str, sex: str = "男", birth_date: str = "1990-03-07", **extra: Any) -> dict[str, Any]:
    """Field values of the `id-card` item of `make_id_card_item`."""
    return {"name": name, "sex": sex, "birth_date": birth_date, "address": "佛山市南海区桂城街道2号", **extra}


def mp_world(session: Session, clock: FrozenClock) -> None:
    """Departments and published items the mini-program tests use: `id-card` (NH-GAJ), `business-license` (NH-SCJ)."""
    make_department(session, clock, code="NH-SCJ", name="区市场监督管理局")
    make_department(session, clock, code="NH-GAJ", name="公安分局", is_approval=False)
    make_id_card_item(session, clock)
    make_catalog_item(session, clock)
