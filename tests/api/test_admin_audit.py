"""Audit search (the subject by blind index, never in a query string), chain verification, checkpoints."""

from __future__ import annotations

import json

from flask import current_app
from sqlalchemy import select, update

from backend.models import AuditEvent
from backend.services import audit
from backend.services.audit import Actor
from tests.factories import admin_headers
from tests.oversight import ENTERPRISE, OTHER_PERSON, PERSON, shanghai

CLERK = Actor("staff", "7", "req-7")


def _index(kind, value):
    return current_app.extensions["protector"].blind_index(kind, value)


def _events(session, clock):
    """Views of two people's and one enterprise's data, by two actors, over three days."""
    clock.set(shanghai("2026-03-02 10:00"))
    audit.record(session, actor=CLERK, action="wallet.record_viewed", now=clock(), target_type="record",
                 target_id=1, subject_index=_index("id_number", PERSON), purpose="食品经营许可")
    clock.set(shanghai("2026-03-03 10:00"))
    audit.record(session, actor=CLERK, action="counter.scanned", now=clock(),
                 subject_index=_index("id_number", OTHER_PERSON))
    audit.record(session, actor=Actor("applicant", "3"), action="wallet.records_listed", now=clock(),
                 subject_index=_index("uscc", ENTERPRISE))
    clock.set(shanghai("2026-03-04 10:00"))
    audit.record(session, actor=CLERK, action="wallet.record_viewed", now=clock(), target_type="record",
                 target_id=2, subject_index=_index("id_number", PERSON))
    session.commit()


def _actions(body):
    return [item["action"] for item in body["items"]]


def test_search_by_subject_uses_the_blind_index_and_is_audited(client, session, clock):
    _events(session, clock)
    headers = admin_headers(client, session, clock)
    response = client.post("/api/admin/audit/search", json={"subject": PERSON}, headers=headers)
    body = response.get_json()
    assert response.status_code == 200 and body["total"] == 2
    assert [item["target"]["id"] for item in body["items"]] == ["2", "1"]  # newest first
    assert {item["subject_index"] for item in body["items"]} == {_index("id_number", PERSON)}
    assert body["items"][0]["actor"] == {"type": "staff", "id": "7"}
    enterprise = client.post("/api/admin/audit/search", json={"subject": ENTERPRISE.lower()}, headers=headers)
    assert _actions(enterprise.get_json()) == ["wallet.records_listed"]
    searched = session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.searched")
                               .order_by(AuditEvent.seq)).all()
    assert len(searched) == 2 and searched[0].subject_index == _index("id_number", PERSON)
    assert searched[0].actor_type == "staff" and searched[0].details["total"] == 2
    assert all(PERSON not in json.dumps(e.details) and ENTERPRISE not in json.dumps(e.details) for e in searched)


def test_a_subject_in_the_query_string_is_refused(client, session, clock, capsys):
    headers = admin_headers(client, session, clock)
    response = client.get(f"/api/admin/audit?subject={PERSON}", headers=headers)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "subject_in_query"
    assert PERSON not in capsys.readouterr().out  # nor in the access log


def test_search_by_subject_in_a_header(client, session, clock, capsys):
    _events(session, clock)
    headers = admin_headers(client, session, clock)
    body = client.get("/api/admin/audit", headers={**headers, "X-Audit-Subject": OTHER_PERSON}).get_json()
    assert _actions(body) == ["counter.scanned"]
    assert OTHER_PERSON not in capsys.readouterr().out


def test_search_filters_by_actor_action_and_period(client, session, clock):
    _events(session, clock)
    headers = admin_headers(client, session, clock)
    staff7 = client.get("/api/admin/audit?actor_type=staff&actor_id=7", headers=headers).get_json()
    assert _actions(staff7) == ["wallet.record_viewed", "counter.scanned", "wallet.record_viewed"]
    wallet = client.get("/api/admin/audit?action=wallet.*&actor_type=staff", headers=headers).get_json()
    assert wallet["total"] == 2
    exact = client.get("/api/admin/audit?action=counter.scanned", headers=headers).get_json()
    assert _actions(exact) == ["counter.scanned"]
    day = client.get("/api/admin/audit?from=2026-03-03&to=2026-03-04&actor_id=7", headers=headers).get_json()
    assert _actions(day) == ["counter.scanned"]
    since = client.get("/api/admin/audit?from=2026-03-04T09:00:00%2B08:00&actor_id=7", headers=headers).get_json()
    assert [item["target"]["id"] for item in since["items"]] == ["2"]
    by_index = client.get(f"/api/admin/audit?subject_index={_index('id_number', PERSON)}", headers=headers)
    assert by_index.get_json()["total"] == 2
    paged = client.get("/api/admin/audit?actor_id=7&per_page=2&page=2", headers=headers).get_json()
    assert (paged["total"], paged["page"], paged["per_page"], len(paged["items"])) == (3, 2, 2, 1)


def test_search_refuses_bad_subjects_and_periods(client, session, clock):
    headers = admin_headers(client, session, clock)
    bad = client.post("/api/admin/audit/search", json={"subject": "440304199003072639"}, headers=headers)
    assert bad.status_code == 422 and "subject" in bad.get_json()["error"]["fields"]
    naive = client.get("/api/admin/audit?from=2026-03-04T09:00:00", headers=headers)
    assert naive.status_code == 422
    empty = client.post("/api/admin/audit/search", json={"from": "2026-03-04", "to": "2026-03-04"}, headers=headers)
    assert empty.status_code == 422


def test_verify_reports_an_intact_chain_and_finds_an_edit(client, session, clock):
    _events(session, clock)
    headers = admin_headers(client, session, clock)
    body = client.get("/api/admin/audit/verify", headers=headers).get_json()
    assert body["ok"] is True and body["checked"] == body["head_seq"] and body["problem"] is None
    assert body["checkpoints"] == {"ok": True, "checked": 0, "problems": []}
    session.execute(update(AuditEvent).where(AuditEvent.action == "counter.scanned").values(purpose="别的用途"))
    session.commit()
    body = client.get("/api/admin/audit/verify", headers=headers).get_json()
    assert body["ok"] is False and "edited" in body["problem"]


def test_checkpoints_are_listed_for_export_and_checked_by_verify(client, session, clock):
    _events(session, clock)
    keys = current_app.extensions["keys"]
    first = audit.write_checkpoint(session, keys.receipt_key, actor=audit.SYSTEM, now=clock())
    clock.advance(days=1)
    audit.write_checkpoint(session, keys.receipt_key, actor=audit.SYSTEM, now=clock())
    headers = admin_headers(client, session, clock)
    body = client.get("/api/admin/audit/checkpoints", headers=headers).get_json()
    assert body["total"] == 2
    exported = body["items"][0]
    assert (exported["seq"], exported["hash"]) == (first.seq, first.hash)
    assert exported["at"] == "2026-03-04T10:00:00+08:00"
    assert exported["key_id"] == audit.key_id(keys.receipt_key.public_key())
    assert audit.verify_checkpoints(session, keys.receipt_key.public_key(), body["items"]).ok
    # A rewritten event at a checkpointed seq: the stored checkpoint catches it.
    session.execute(update(AuditEvent).where(AuditEvent.seq == first.seq).values(hash="0" * 64))
    session.commit()
    verdict = client.get("/api/admin/audit/verify", headers=headers).get_json()
    assert verdict["ok"] is False and verdict["checkpoints"]["ok"] is False
    assert "replaced" in verdict["checkpoints"]["problems"][0]["problem"]
