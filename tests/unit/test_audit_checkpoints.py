"""Signed checkpoints of the audit chain: written by the CLI, exported, and catching truncation and replacement."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update

from backend.models import AuditCheckpoint, AuditEvent, AuditHead
from backend.services import audit
from backend.services.audit import Actor

CLERK = Actor("staff", "1", "req-1")


def _append(session, clock, n, *, purpose="食品经营许可"):
    for i in range(n):
        clock.advance(minutes=1)
        audit.record(session, actor=CLERK, action="record.viewed", now=clock(), target_type="record", target_id=i,
                     subject_index="ab" * 32, purpose=purpose)
    session.commit()


def _checkpoint(app):
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _verify(app, path):
    return app.test_cli_runner().invoke(args=["audit", "verify", "--checkpoints", str(path)])


def _export(tmp_path, checkpoints):
    path = tmp_path / "checkpoints.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in checkpoints), encoding="utf-8")
    return path


def test_a_checkpoint_signs_the_head_and_is_kept(app, session, clock):
    _append(session, clock, 3)
    printed = _checkpoint(app)
    head = session.get(AuditHead, 1)
    assert (printed["seq"], printed["hash"]) == (head.seq, head.hash) == (4, head.hash)  # after its own event
    last = session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    assert last.action == "audit.checkpoint"
    public_key = app.extensions["keys"].receipt_key.public_key()
    public_key.verify(base64.b64decode(printed["signature"]),
                      audit.checkpoint_message(printed["seq"], printed["hash"], printed["at"]))
    assert base64.b64decode(printed["public_key"]) == public_key.public_bytes_raw()
    stored = session.scalar(select(AuditCheckpoint))
    assert (stored.seq, stored.hash, stored.key_id) == (printed["seq"], printed["hash"], printed["key_id"])


def test_exported_checkpoints_verify_against_an_intact_chain(app, session, clock, tmp_path):
    _append(session, clock, 3)
    first = _checkpoint(app)
    _append(session, clock, 2)
    second = _checkpoint(app)
    _append(session, clock, 2)
    result = _verify(app, _export(tmp_path, [first, second]))
    assert result.exit_code == 0, result.output
    assert "audit chain intact: 9 events" in result.output and "checkpoints agree: 2 checked" in result.output
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"items": [first, second], "total": 2, "page": 1, "per_page": 20}))
    assert _verify(app, page).exit_code == 0


def test_truncation_is_detected(app, session, clock, tmp_path):
    _append(session, clock, 3)
    early = _checkpoint(app)
    _append(session, clock, 3)
    late = _checkpoint(app)
    # Cut the chain back to event 5 and make the head agree: the chain alone still looks intact.
    kept = session.scalar(select(AuditEvent).where(AuditEvent.seq == 5))
    session.execute(delete(AuditEvent).where(AuditEvent.seq > 5))
    session.execute(update(AuditHead).values(seq=5, hash=kept.hash))
    session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > 5))
    session.commit()
    assert audit.verify_chain(session).ok
    result = _verify(app, _export(tmp_path, [early, late]))
    assert result.exit_code == 1
    assert "checkpoint 8 lies beyond the chain head 5: the chain was truncated" in result.output


def test_wholesale_replacement_is_detected(app, session, clock, tmp_path):
    _append(session, clock, 4)
    exported = _checkpoint(app)
    # Throw the chain away and build a new, internally consistent one of the same length.
    session.execute(delete(AuditEvent))
    session.execute(update(AuditHead).values(seq=0, hash=audit.GENESIS))
    session.execute(delete(AuditCheckpoint))
    session.commit()
    _append(session, clock, 5, purpose="别的用途")
    assert audit.verify_chain(session).ok
    result = _verify(app, _export(tmp_path, [exported]))
    assert result.exit_code == 1
    assert "the chain's event 5 differs from checkpoint 5: the chain was replaced" in result.output


def test_a_forged_or_foreign_checkpoint_fails(app, session, clock, tmp_path):
    _append(session, clock, 2)
    genuine = _checkpoint(app)
    forged = {**genuine, "seq": 2, "hash": session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == 2))}
    result = _verify(app, _export(tmp_path, [forged]))
    assert result.exit_code == 1 and "signature does not verify" in result.output
    other = Ed25519PrivateKey.generate()
    foreign = {**genuine, "key_id": audit.key_id(other.public_key()), "signature": base64.b64encode(
        other.sign(audit.checkpoint_message(genuine["seq"], genuine["hash"], genuine["at"]))).decode()}
    result = _verify(app, _export(tmp_path, [foreign]))
    assert result.exit_code == 1 and "not the configured key" in result.output
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json at all\n")
    assert _verify(app, garbage).exit_code != 0


def test_verify_without_checkpoints_walks_the_chain_only(app, session, clock):
    _append(session, clock, 2)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "audit chain intact: 2 events" in result.output
