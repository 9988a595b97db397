"""The audit chain: every access to personal data and every state change, hash-linked."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum.cn import ric, uscc

from backend.clock import iso
from backend.db import Page, paginate
from backend.errors import ValidationError
from backend.models import SUBJECT_INDEX_KIND, AuditCheckpoint, AuditEvent, AuditHead, SubjectType
from backend.protection import Protector

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
        # Only a schema made without the migrations (the tests build theirs from the models) lacks the genesis head.
        try:
            with session.begin_nested():
                session.add(AuditHead(id=HEAD_ID, seq=0, hash=GENESIS))
        except IntegrityError:
            session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=AuditHead.seq))
    # A locking read: InnoDB's plain SELECT would answer from the transaction's older snapshot (taken at
    # its first read, maybe long before this append) and name a head another writer has since moved.
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
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


# --- search ------------------------------------------------------------------------------------------------

_ID_NUMBER = re.compile(r"^\d{17}[\dX]$")


def subject_indexes(protector: Protector, subject: str) -> list[str]:
    """The blind indexes a clear ID number or USCC is recorded under (422 when it is neither)."""
    value = subject.strip().upper()
    kinds = []
    if _ID_NUMBER.match(value) and ric.is_valid(value):
        kinds.append(SUBJECT_INDEX_KIND[SubjectType.PERSON])
    if uscc.is_valid(value):
        kinds.append(SUBJECT_INDEX_KIND[SubjectType.ENTERPRISE])
    if not kinds:
        raise ValidationError("the subject is not valid",
                              fields={"subject": "must be an ID number or a unified social credit code"})
    return [protector.blind_index(kind, value) for kind in kinds]


@dataclass(frozen=True)
class AuditFilters:
    """What an audit search matches; every given filter must hold. `action` may end in `*` (a prefix)."""

    subject_indexes: tuple[str, ...] = ()
    actor_type: str | None = None
    actor_id: str | None = None
    action: str | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive

    def described(self) -> dict[str, Any]:
        """The filters as the audit event of the search keeps them (the subject as its blind index only)."""
        described: dict[str, Any] = {"actor_type": self.actor_type, "actor_id": self.actor_id,
                                     "action": self.action,
                                     "from": self.start.astimezone(UTC).isoformat() if self.start else None,
                                     "to": self.end.astimezone(UTC).isoformat() if self.end else None}
        if len(self.subject_indexes) > 1:
            described["subject_indexes"] = list(self.subject_indexes)
        return {key: value for key, value in described.items() if value is not None}


def _search_query(filters: AuditFilters) -> Select[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq.desc())
    if filters.subject_indexes:
        query = query.where(AuditEvent.subject_index.in_(filters.subject_indexes))
    if filters.actor_type:
        query = query.where(AuditEvent.actor_type == filters.actor_type)
    if filters.actor_id:
        query = query.where(AuditEvent.actor_id == filters.actor_id)
    if filters.action:
        if filters.action.endswith("*"):
            query = query.where(AuditEvent.action.startswith(filters.action[:-1], autoescape=True))
        else:
            query = query.where(AuditEvent.action == filters.action)
    if filters.start is not None:
        query = query.where(AuditEvent.at >= filters.start)
    if filters.end is not None:
        query = query.where(AuditEvent.at < filters.end)
    return query


def search_events(session: Session, *, actor: Actor, filters: AuditFilters, page: int, per_page: int,
                  now: datetime) -> Page[AuditEvent]:
    """Events matching every filter, newest first. The search is itself an audit event (by blind index)."""
    if filters.start is not None and filters.end is not None and filters.start >= filters.end:
        raise ValidationError("the period is empty", fields={"from": "must be before `to`"})
    found = paginate(session, _search_query(filters), page=page, per_page=per_page)
    record(session, actor=actor, action="audit.searched", now=now,
           subject_index=filters.subject_indexes[0] if len(filters.subject_indexes) == 1 else None,
           details={**filters.described(), "page": page, "total": found.total})
    session.commit()
    return found


# --- signed checkpoints --------------------------------------------------------------------------------------

# Bound into what is signed, so that a checkpoint signature can never pass for a receipt's (same key).
CHECKPOINT_TYPE = "eshare.audit-checkpoint"


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short fingerprint of the public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def checkpoint_message(seq: int, hash_: str, at: str) -> bytes:
    """The bytes a checkpoint signs: canonical JSON of {type, seq, hash, at}."""
    return canonical_json({"type": CHECKPOINT_TYPE, "seq": seq, "hash": hash_, "at": at})


def checkpoint_to_json(checkpoint: AuditCheckpoint, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The export form of a checkpoint: what `verify_checkpoints` reads back, with the key that verifies it."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"seq": checkpoint.seq, "hash": checkpoint.hash, "at": iso(checkpoint.at),
            "signature": checkpoint.signature, "key_id": checkpoint.key_id,
            "public_key": base64.b64encode(raw).decode("ascii")}


def write_checkpoint(session: Session, signing_key: Ed25519PrivateKey, *, actor: Actor,
                     now: datetime) -> AuditCheckpoint:
    """Sign the chain head (after an event recording this checkpoint) and keep the checkpoint."""
    event = record(session, actor=actor, action="audit.checkpoint", now=now)
    at = now.replace(microsecond=0)
    signature = signing_key.sign(checkpoint_message(event.seq, event.hash, iso(at) or ""))
    checkpoint = AuditCheckpoint(seq=event.seq, hash=event.hash, at=at,
                                 signature=base64.b64encode(signature).decode("ascii"),
                                 key_id=key_id(signing_key.public_key()))
    session.add(checkpoint)
    session.commit()
    return checkpoint


def list_checkpoints(session: Session, *, page: int, per_page: int) -> Page[AuditCheckpoint]:
    """Every checkpoint written, oldest first (the order to export them in)."""
    return paginate(session, select(AuditCheckpoint).order_by(AuditCheckpoint.seq, AuditCheckpoint.id),
                    page=page, per_page=per_page)


@dataclass(frozen=True)
class CheckpointProblem:
    seq: int | None
    problem: str


@dataclass(frozen=True)
class CheckpointReport:
    ok: bool
    checked: int
    head_seq: int
    problems: list[CheckpointProblem]


def _checkpoint_fields(entry: Any) -> tuple[int, str, str, bytes, str]:
    if not isinstance(entry, Mapping):
        raise ValueError("is not an object")
    seq, hash_, at, signature, kid = (entry.get(k) for k in ("seq", "hash", "at", "signature", "key_id"))
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError("seq must be a positive whole number")
    if not isinstance(hash_, str) or not re.fullmatch(r"[0-9a-f]{64}", hash_):
        raise ValueError("hash must be 64 lower-case hex digits")
    if not isinstance(at, str) or not isinstance(kid, str) or not isinstance(signature, str):
        raise ValueError("at, key_id and signature must be strings")
    return seq, hash_, at, base64.b64decode(signature, validate=True), kid


def verify_checkpoints(session: Session, public_key: Ed25519PublicKey, checkpoints: Sequence[Any]
                       ) -> CheckpointReport:
    """Check exported checkpoints against the chain: each must be signed by `public_key`, lie within the
    chain, and name the hash the chain has at its seq. Truncation and wholesale replacement both fail here."""
    head = session.get(AuditHead, HEAD_ID)
    head_seq = head.seq if head else 0
    expected_key = key_id(public_key)
    problems: list[CheckpointProblem] = []
    valid: list[tuple[int, str]] = []
    for position, entry in enumerate(checkpoints):
        try:
            seq, hash_, at, signature, kid = _checkpoint_fields(entry)
        except ValueError as exc:
            problems.append(CheckpointProblem(None, f"checkpoint {position + 1} is malformed: {exc}"))
            continue
        if kid != expected_key:
            problems.append(CheckpointProblem(seq, f"checkpoint {seq} names key {kid}, not the configured key "
                                                   f"{expected_key}: it cannot be verified"))
            continue
        try:
            public_key.verify(signature, checkpoint_message(seq, hash_, at))
        except InvalidSignature:
            problems.append(CheckpointProblem(seq, f"checkpoint {seq}: the signature does not verify: forged or "
                                                   "altered"))
            continue
        if seq > head_seq:
            problems.append(CheckpointProblem(seq, f"checkpoint {seq} lies beyond the chain head {head_seq}: "
                                                   "the chain was truncated"))
            continue
        valid.append((seq, hash_))
    chain: dict[int, str] = {}
    if valid:
        rows = session.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_({s for s, _ in valid})))
        chain = {seq: hash_ for seq, hash_ in rows}
    for seq, hash_ in valid:
        if seq not in chain:
            problems.append(CheckpointProblem(seq, f"event {seq} of checkpoint {seq} is missing: deleted"))
        elif chain[seq] != hash_:
            problems.append(CheckpointProblem(seq, f"the chain's event {seq} differs from checkpoint {seq}: "
                                                   "the chain was replaced or rewritten"))
    return CheckpointReport(not problems, len(checkpoints), head_seq, problems)


@dataclass(frozen=True)
class Verification:
    chain: ChainReport
    checkpoints: CheckpointReport

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.checkpoints.ok


def verify(session: Session, public_key: Ed25519PublicKey) -> Verification:
    """The chain walked end to end, and checked against the checkpoints stored beside it.

    Stored checkpoints can be replaced along with the chain; only exported ones (`verify_checkpoints`)
    catch that. These still catch a truncation or rewrite that left the checkpoint table alone.
    """
    stored = [checkpoint_to_json(c, public_key)
              for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))]
    return Verification(verify_chain(session), verify_checkpoints(session, public_key, stored))
