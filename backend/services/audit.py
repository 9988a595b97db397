"""The audit chain: every access to personal data and every state change, hash-linked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.models import AuditEvent, AuditHead

GENESIS = "0" * 64
HEAD_ID = 1


@dataclass(frozen=True)
class Actor:
    """Who acts, and under which request; handed to every service that audits."""

    type: str  # staff, applicant, department, system, anonymous
    id: str | None = None
    request_id: str | None = None


SYSTEM = Actor("system", "cli")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes that get hashed and signed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _body(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "subject_index": event.subject_index,
        "purpose": event.purpose,
        "request_id": event.request_id,
        "details": event.details,
    }


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(event.prev_hash.encode("ascii") + canonical_json(_body(event))).hexdigest()


def _lock_head(session: Session) -> AuditHead:
    # Touching the head row first takes its write lock (row lock on MariaDB, the database write
    # lock on SQLite) before reading it, so concurrent appenders queue up instead of forking.
    touched = session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=AuditHead.seq))
    if touched.rowcount == 0:  # type: ignore[attr-defined]
        # Only a schema made without the migrations (tests' create_all) lacks the genesis head.
        try:
            with session.begin_nested():
                session.add(AuditHead(id=HEAD_ID, seq=0, hash=GENESIS))
        except IntegrityError:
            session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=AuditHead.seq))
    head = session.execute(select(AuditHead).where(AuditHead.id == HEAD_ID)).scalar_one()
    session.refresh(head)
    return head


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    now: datetime,
    target_type: str | None = None,
    target_id: str | int | None = None,
    subject_index: str | None = None,
    purpose: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction (flushes, never commits)."""
    head = _lock_head(session)
    event = AuditEvent(
        seq=head.seq + 1,
        at=now,
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        subject_index=subject_index,
        purpose=purpose,
        request_id=actor.request_id,
        details=details or {},
        prev_hash=head.hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    head.seq, head.hash = event.seq, event.hash
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    head_seq: int
    problem: str | None = None
    seq: int | None = None


def _events(session: Session) -> Iterator[AuditEvent]:
    last = 0
    while True:
        batch = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(2000)
        ).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].seq
        for event in batch:  # a long chain must not pile up in the identity map
            session.expunge(event)


def verify_chain(session: Session) -> ChainReport:
    """Walk the chain in order and name the first edited, deleted, inserted or reordered event."""
    head = session.get(AuditHead, HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    prev_hash, expected, checked = GENESIS, 1, 0

    def broken(problem: str, seq: int) -> ChainReport:
        return ChainReport(False, checked, head_seq, problem, seq)

    for event in _events(session):
        if event.seq > head_seq:
            return broken(f"event {event.seq} stands after the chain head {head_seq}: inserted", event.seq)
        if event.seq != expected:
            return broken(f"events {expected}..{event.seq - 1} are missing: deleted", expected)
        if event_hash(event) != event.hash:
            return broken(f"event {event.seq} does not match its hash: edited", event.seq)
        if event.prev_hash != prev_hash:
            return broken(f"event {event.seq} does not follow event {expected - 1}: inserted or reordered", event.seq)
        prev_hash, expected, checked = event.hash, expected + 1, checked + 1
    if checked != head_seq or prev_hash != head_hash:
        return broken(f"the chain ends at {checked} but its head names {head_seq}: truncated", checked + 1)
    return ChainReport(True, checked, head_seq)
