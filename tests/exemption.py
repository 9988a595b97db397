"""The material-exemption world: an enterprise applying at the market regulator, a person at civil affairs.

`exemption_world` builds it through the services and the API: departments, items, service items, alice
(verified, legal representative of 示例有限公司) with her ID card and the enterprise's business license,
counter staff of the approval department and of another one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.models import Objection, ObjectionStatus, Record, Role, SubjectType
from tests.conftest import FrozenClock
from tests.factories import (
    bearer,
    business_license_fields,
    id_card_fields,
    login_applicant,
    login_staff,
    make_department,
    make_service_item,
    make_staff,
    mp_world,
    push_record,
    verified_applicant,
)

ALICE_ID = "440304199003072638"
BOB_ID = "11010519491231002X"
USCC = "91350100M000100Y43"
ENTERPRISE = "food-license-new"  # at NH-SCJ: business license, legal representative's ID card, a floor plan
PERSON = "marriage-registration"  # at NH-MZJ: the applicant's ID card, and the household register on paper


@dataclass
class World:
    alice: dict[str, str]
    id_card: Record
    license: Record
    counter: dict[str, str]  # NH-SCJ counter staff: the enterprise service item is theirs
    mzj_counter: dict[str, str]  # NH-MZJ counter staff: the person service item is theirs
    outsider: dict[str, str]  # counter staff of a department handling neither
    client: FlaskClient
    fake_wechat: Any

    def log_in_again(self) -> None:
        """Fresh access tokens for everyone, after the test moved the clock past their 15 minutes."""
        self.alice = bearer(login_applicant(self.client, self.fake_wechat, "o-alice"))
        self.counter = bearer(login_staff(self.client, "scj.counter"))
        self.mzj_counter = bearer(login_staff(self.client, "mzj.counter"))
        self.outsider = bearer(login_staff(self.client, "rsj.counter"))


def exemption_world(client: FlaskClient, session: Session, clock: FrozenClock, fake_wechat: Any) -> World:
    mp_world(session, clock)
    make_department(session, clock, code="NH-MZJ", name="区民政局", is_source=False)
    make_department(session, clock, code="NH-RSJ", name="区人力资源和社会保障局", is_source=False)
    make_service_item(session, clock, code=ENTERPRISE, materials=[
        {"name": "营业执照", "catalog_item": "business-license", "fields": ["enterprise_name", "legal_rep_name"]},
        {"name": "法定代表人身份证", "catalog_item": "id-card", "fields": ["name", "sex"]},
        {"name": "经营场所平面图"},
    ])
    make_service_item(session, clock, code=PERSON, name="婚姻登记", approval_department="NH-MZJ",
                      subject_type=SubjectType.PERSON, materials=[
                          {"name": "居民身份证", "catalog_item": "id-card", "fields": ["name", "birth_date"]},
                          {"name": "户口簿"},
                      ])
    alice = verified_applicant(client, fake_wechat, openid="o-alice", name="张三丰", id_number=ALICE_ID)
    id_card = push_record(session, clock, item="id-card", record_no="GA-1", subject_id=ALICE_ID,
                          subject_name="张三丰", fields=id_card_fields(name="张三丰"))
    license_ = push_record(session, clock, item="business-license", record_no="SC-1", subject_id=USCC,
                           subject_name="示例有限公司",
                           fields=business_license_fields(name="示例有限公司", rep_name="张三丰", rep_id=ALICE_ID))
    for username, department in (("scj.counter", "NH-SCJ"), ("mzj.counter", "NH-MZJ"), ("rsj.counter", "NH-RSJ")):
        make_staff(session, clock, username=username, role=Role.COUNTER_STAFF, department=department)
    return World(alice, id_card, license_, bearer(login_staff(client, "scj.counter")),
                 bearer(login_staff(client, "mzj.counter")), bearer(login_staff(client, "rsj.counter")), client,
                 fake_wechat)


def preview(client: FlaskClient, headers: dict[str, str], world: World, *, enterprise: bool = True) -> dict[str, Any]:
    """A draft of the enterprise service item (license + own ID card) or of the person one (ID card)."""
    body: dict[str, Any] = (
        {"service_item": ENTERPRISE, "subject": USCC, "record_ids": [world.license.id, world.id_card.id]}
        if enterprise else {"service_item": PERSON, "record_ids": [world.id_card.id]})
    response = client.post("/api/mp/confirmations", headers=headers, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def confirmed(client: FlaskClient, world: World, *, enterprise: bool = True) -> dict[str, Any]:
    draft = preview(client, world.alice, world, enterprise=enterprise)
    response = client.post(f"/api/mp/confirmations/{draft['id']}/confirm", headers=world.alice)
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def counter_code(client: FlaskClient, world: World, confirmation_id: int) -> dict[str, Any]:
    response = client.post(f"/api/mp/confirmations/{confirmation_id}/counter-code", headers=world.alice)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def scanned(client: FlaskClient, world: World, *, enterprise: bool = True) -> dict[str, Any]:
    """A confirmation whose counter code its department's staff scanned."""
    confirmation = confirmed(client, world, enterprise=enterprise)
    token = counter_code(client, world, confirmation["id"])["token"]
    staff = world.counter if enterprise else world.mzj_counter
    response = client.post("/api/counter/scan", headers=staff, json={"token": token})
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def accepted(client: FlaskClient, world: World, *, enterprise: bool = True) -> dict[str, Any]:
    case = scanned(client, world, enterprise=enterprise)
    staff = world.counter if enterprise else world.mzj_counter
    response = client.post(f"/api/counter/confirmations/{case['id']}/accept", headers=staff,
                           json={"window": "3号窗口"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def open_objection(session: Session, record: Record, applicant_id: int, *, field: str = "enterprise_name",
                   filed_at: datetime | None = None) -> Objection:
    """An open objection row on `record` (the objection service is built elsewhere; the row is what counts)."""
    from flask import current_app

    protector = current_app.extensions["protector"]
    objection = Objection(record_id=record.id, record_version=record.latest_version,
                          department_id=record.department_id, applicant_id=applicant_id, field=field,
                          reason_enc=protector.encrypt("名称有误", context="objections.reason_enc"),
                          status=ObjectionStatus.OPEN, filed_at=filed_at or datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    session.add(objection)
    session.commit()
    return objection
