"""The outbox queue: claim due rows under a lease, record what their delivery came to.

Claiming. A worker selects due rows (`pending`, `next_attempt_at` reached, no live lease), on MariaDB/MySQL
with `SELECT ... FOR UPDATE SKIP LOCKED` so that workers claiming at once take different rows without
waiting, on SQLite plainly (it has one writer at a time). Each row is then taken by a conditional update
(still pending, lease free), which is what makes a claim exclusive on every database: the update sets
`locked_by`, `locked_until` (now + lease) and counts the attempt. A claim is named by (`locked_by`,
`attempts`): a later claim of the same row, also by the same worker, is another claim.

A worker that dies mid-delivery leaves its rows leased; when the lease runs out another worker claims them.
Before sending, the worker renews its lease with a conditional update and sends only if the row is still its
own, so a worker that fell behind never sends a row someone else has claimed since.

Results: `sent` is recorded first, by itself, right after the other side took the message, and whoever holds
the lease; `skipped`, a retry (`pending` again at `now + backoff(attempts)`) and `dead` only by the claim's
holder. After `max_attempts` attempts a failure is `dead` (dead letter), to be retried by the administrator.

What is left of at-least-once. Exactly once holds except in one window: a worker killed (or its database
connection lost) after WeChat or the approval system took a message and before `mark_sent` commits. Then the
row stays pending; after the lease another worker sends it again. The window is one round trip to the
database, and the lease (`OUTBOX_LEASE_SECONDS`, ≥ 30 s, default 120 s) is longer than any one delivery's
timeouts, so a slow but live worker does not open it. Webhooks carry `X-Eshare-Delivery` (the row id) so the
approval system can drop such a repeat; WeChat has no such key, so a subscribe message can, in that window
only, arrive twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from backend.models import OutboxKind, OutboxMessage, OutboxStatus

MAX_ERROR = 500


@dataclass(frozen=True)
class Claim:
    """One row taken by one worker for one attempt."""

    id: int
    kind: OutboxKind
    event: str
    attempts: int
    worker: str


@dataclass(frozen=True)
class Backoff:
    """Deterministic exponential backoff: base, 2 × base, 4 × base ... capped; dead after `max_attempts`."""

    max_attempts: int = 8
    base_seconds: int = 30
    max_seconds: int = 3600

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt."""
        return timedelta(seconds=min(self.base_seconds * 2 ** max(attempts - 1, 0), self.max_seconds))


def _due(now: datetime) -> list[object]:
    return [OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now)]


def claim(session: Session, *, worker: str, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
    """Take up to `limit` due rows for `worker` until `now + lease`; commits."""
    skip_locked = session.get_bind().dialect.name in ("mysql", "mariadb")
    claims: list[Claim] = []
    lost: set[int] = set()
    while len(claims) < limit:
        query = select(OutboxMessage.id).where(*_due(now)).order_by(  # type: ignore[arg-type]
            OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit - len(claims))
        if lost:
            query = query.where(OutboxMessage.id.not_in(lost))
        if skip_locked:
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if not ids:
            break
        for message_id in ids:
            taken = session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message_id, *_due(now))  # type: ignore[arg-type]
                .values(locked_by=worker, locked_until=now + lease, attempts=OutboxMessage.attempts + 1)
                .execution_options(synchronize_session=False))
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                lost.add(message_id)  # another worker took it between our read and our update
                continue
            row = session.execute(select(OutboxMessage.kind, OutboxMessage.event, OutboxMessage.attempts).where(
                OutboxMessage.id == message_id)).one()
            claims.append(Claim(message_id, row.kind, row.event, row.attempts, worker))
    session.commit()
    return claims


def _mine(claimed: Claim) -> list[object]:
    return [OutboxMessage.id == claimed.id, OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.locked_by == claimed.worker, OutboxMessage.attempts == claimed.attempts]


def renew(session: Session, claimed: Claim, *, now: datetime, lease: timedelta) -> bool:
    """Extend the lease just before sending; False when the row is no longer this claim's (do not send)."""
    result = session.execute(update(OutboxMessage).where(*_mine(claimed))  # type: ignore[arg-type]
                             .values(locked_until=now + lease).execution_options(synchronize_session=False))
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def mark_sent(session: Session, claimed: Claim, *, now: datetime) -> bool:
    """Record that the other side took it (whoever holds the lease now); False if it was recorded before."""
    result = session.execute(
        update(OutboxMessage).where(OutboxMessage.id == claimed.id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SENT, sent_at=now, locked_until=None, last_error=None)
        .execution_options(synchronize_session=False))
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def _finish(session: Session, claimed: Claim, **values: object) -> bool:
    result = session.execute(update(OutboxMessage).where(*_mine(claimed))  # type: ignore[arg-type]
                             .values(locked_until=None, **values).execution_options(synchronize_session=False))
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def mark_skipped(session: Session, claimed: Claim, *, reason: str, now: datetime) -> bool:
    """Nothing to send to: recorded with its reason, never retried."""
    return _finish(session, claimed, status=OutboxStatus.SKIPPED, last_error=reason[:MAX_ERROR], sent_at=None)


def mark_dead(session: Session, claimed: Claim, *, reason: str, now: datetime) -> bool:
    """Given up: recorded with its reason; only the administrator puts it back (`requeue`)."""
    return _finish(session, claimed, status=OutboxStatus.DEAD, last_error=reason[:MAX_ERROR])


def mark_failed(session: Session, claimed: Claim, *, reason: str, now: datetime, backoff: Backoff) -> OutboxStatus:
    """A failed attempt: pending again after the backoff, or dead after the last attempt."""
    if claimed.attempts >= backoff.max_attempts:
        mark_dead(session, claimed, reason=f"{reason} (after {claimed.attempts} attempts)", now=now)
        return OutboxStatus.DEAD
    _finish(session, claimed, last_error=reason[:MAX_ERROR], next_attempt_at=now + backoff.delay(claimed.attempts))
    return OutboxStatus.PENDING


def release(session: Session, claimed: Claim) -> None:
    """Give a claimed, unsent row back at once (the worker is stopping); the attempt does not count."""
    _finish(session, claimed, locked_by=None, attempts=claimed.attempts - 1)
