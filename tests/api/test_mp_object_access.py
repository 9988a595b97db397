"""Every /api/mp route that takes an id answers 404 for another user's object: never 403, never the object.

The routes are read from the app's URL map, so a route added later is walked too; it fails here until
`owned_by_alice` knows an object of its kind (or `NOT_USER_OBJECTS` says why its argument is not one).
"""

from __future__ import annotations

import re

import pytest

from backend.services import notifications
from tests.factories import (
    bearer,
    business_license_fields,
    id_card_fields,
    login_applicant,
    make_service_item,
    mp_world,
    push_record,
    verified_applicant,
)

ALICE_ID = "440304199003072638"
BOB_ID = "11010519491231002X"
AGENT_ID = "440304198506151237"
USCC = "91350100M000100Y43"
MISSING_ID = 987654

# First path segment after /api/mp/ → why its argument is not a user's object (e.g. a public code).
NOT_USER_OBJECTS: dict[str, str] = {
    "service-items": "a public service item code (GET /api/service-items), not a user's object",
}
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@pytest.fixture
def app_settings(fake_wechat):
    return fake_wechat.app_settings()


@pytest.fixture
def owned_by_alice(client, session, clock, fake_wechat):
    """Alice (legal representative of an enterprise) and one object of each kind of hers, by route segment."""
    mp_world(session, clock)
    alice = verified_applicant(client, fake_wechat, openid="o-alice", name="张三丰", id_number=ALICE_ID)
    own = push_record(session, clock, item="id-card", record_no="GA-1", subject_id=ALICE_ID, subject_name="张三丰",
                      fields=id_card_fields(name="张三丰"))
    enterprise = push_record(session, clock, item="business-license", record_no="SC-1", subject_id=USCC,
                             subject_name="示例有限公司",
                             fields=business_license_fields(name="示例有限公司", rep_name="张三丰", rep_id=ALICE_ID))
    binding = client.post("/api/mp/bindings", headers=alice, json={"record_id": own.id})
    authorization = client.post("/api/mp/enterprise-authorizations", headers=alice, json={
        "uscc": USCC, "agent_name": "王五", "agent_id_number": AGENT_ID})
    objection = client.post("/api/mp/objections", headers=alice, json={
        "record_id": own.id, "field": "address", "claimed_value": "新址", "reason": "已搬迁"})
    assert binding.status_code == authorization.status_code == objection.status_code == 201
    notification = notifications.notify_applicant(
        session, client.application.extensions["protector"], applicant_id=client.get("/api/mp/me", headers=alice)
        .get_json()["id"], event="accepted", title="已受理", body="您的申请已受理", data={}, now=clock())
    session.commit()
    make_service_item(session, clock)
    confirmation = client.post("/api/mp/confirmations", headers=alice, json={
        "service_item": "food-license-new", "subject": USCC, "record_ids": [enterprise.id]})
    assert confirmation.status_code == 201, confirmation.get_json()
    objects = {
        "records": [own.id, enterprise.id],
        "confirmations": [confirmation.get_json()["id"]],
        "bindings": [binding.get_json()["id"]],
        "enterprise-authorizations": [authorization.get_json()["id"]],
        "objections": [objection.get_json()["id"]],
        "notifications": [notification.id],
    }
    return alice, objects


def _routes_with_ids(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/mp/") or not rule.arguments:
            continue
        segment = rule.rule.split("/")[3]
        if segment in NOT_USER_OBJECTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, segment, method


def _url(rule, object_id):
    assert len(rule.arguments) == 1, f"{rule.rule}: teach this test which object each argument names"
    return _ARGUMENT.sub(str(object_id), rule.rule)


def test_every_id_route_hides_another_users_object(app, client, fake_wechat, owned_by_alice):
    alice, objects = owned_by_alice
    bob = verified_applicant(client, fake_wechat, openid="o-bob", name="李四", id_number=BOB_ID)
    newcomer = bearer(login_applicant(client, fake_wechat, "o-newcomer"))  # logged in, not verified
    walked = []
    for rule, segment, method in _routes_with_ids(app):
        assert segment in objects, f"{method} {rule.rule}: add an object of alice's to `owned_by_alice`"
        missing = client.open(_url(rule, MISSING_ID), method=method, headers=bob, json={})
        assert missing.status_code == 404, f"{method} {rule.rule} with an unknown id"
        for object_id in objects[segment]:
            url = _url(rule, object_id)
            for who, headers in (("bob", bob), ("newcomer", newcomer)):
                response = client.open(url, method=method, headers=headers, json={})
                assert response.status_code == 404, f"{method} {url} as {who}: {response.status_code}"
                # Nothing tells an existing object from a missing one.
                assert response.get_json() == missing.get_json(), f"{method} {url} as {who}"
            if method == "GET":
                assert client.get(url, headers=alice).status_code == 200, f"alice's own {url}"
            walked.append(f"{method} {url}")
    assert len(walked) >= 6
    # Nothing was changed by the attempts: alice's objects are as they were.
    assert client.get("/api/mp/bindings", headers=alice).get_json()["total"] == 1
    (authorization,) = client.get("/api/mp/enterprise-authorizations", headers=alice).get_json()["items"]
    assert authorization["status"] == "pending"
    (confirmation,) = client.get("/api/mp/confirmations", headers=alice).get_json()["items"]
    assert confirmation["status"] == "draft"
    (objection,) = client.get("/api/mp/objections", headers=alice).get_json()["items"]
    assert objection["status"] == "open"
    inbox = client.get("/api/mp/notifications", headers=alice).get_json()
    assert inbox["unread"] == 1


def test_the_walk_covers_the_known_id_routes(app):
    routes = {f"{method} {rule.rule}" for rule, _, method in _routes_with_ids(app)}
    assert {
        "GET /api/mp/records/<int:record_id>",
        "DELETE /api/mp/bindings/<int:binding_id>",
        "GET /api/mp/enterprise-authorizations/<int:authorization_id>",
        "POST /api/mp/enterprise-authorizations/<int:authorization_id>/accept",
        "POST /api/mp/enterprise-authorizations/<int:authorization_id>/revoke",
        "GET /api/mp/confirmations/<int:confirmation_id>",
        "POST /api/mp/confirmations/<int:confirmation_id>/confirm",
        "POST /api/mp/confirmations/<int:confirmation_id>/counter-code",
        "GET /api/mp/objections/<int:objection_id>",
        "POST /api/mp/objections/<int:objection_id>/withdraw",
        "POST /api/mp/notifications/<int:notification_id>/read",
    } <= routes
