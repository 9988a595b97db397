"""Retention (rule 9): confirmation records are kept at least 3 years, then anonymized; drafts go after 7 days.

Decisions:
- The period runs from the last thing that happened to the confirmation: its confirmation, acceptance or
  voiding (`Confirmation.retain_until`). Drafts were never confirmed and carry no period.
- Past the period, the retention run anonymizes rather than deletes: the confirmation keeps its service
  item, status and times (statistics), each material keeps its salted digest and source department, the
  acceptance keeps department, window and staff; the applicant, the subject, the record links, the values
  and the counter codes go. The receipt keeps its signed payload (which never held personal values) and
  signature, so it still verifies; its masked holder goes.
- `delete_confirmation` deletes a draft at any time and anything else only after its period (409
  `retention_period` before). The receipt survives it, anonymized, for verification.
- The audit chain is append-only and keeps its events (blind indexes only, never clear values).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from backend.clock import iso
from backend.errors import Conflict, NotFound
from backend.models import (
    Acceptance,
    Confirmation,
    ConfirmationItem,
    ConfirmationStatus,
    CounterCode,
    Receipt,
)
from backend.services import audit
from backend.services.audit import Actor

RETENTION_YEARS = 3
DRAFT_DAYS = 7
BATCH = 500


class RetentionPeriod(Conflict):
    code = "retention_period"


def retention_end(moment: datetime) -> datetime:
    """Three calendar years after `moment` (29 February runs to 1 March): kept at least until then."""
    try:
        return moment.replace(year=moment.year + RETENTION_YEARS)
    except ValueError:
        return moment.replace(year=moment.year + RETENTION_YEARS, month=3, day=1)


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i:i + BATCH]) for i in range(0, len(ids), BATCH)]


def _delete_drafts(session: Session, ids: Sequence[int]) -> None:
    for chunk in _chunks(ids):
        session.execute(delete(CounterCode).where(CounterCode.confirmation_id.in_(chunk)))
        session.execute(delete(ConfirmationItem).where(ConfirmationItem.confirmation_id.in_(chunk)))
        session.execute(delete(Confirmation).where(Confirmation.id.in_(chunk), Confirmation.status ==
                                                   ConfirmationStatus.DRAFT))


def _anonymize(session: Session, ids: Sequence[int], now: datetime) -> int:
    """Strip the personal parts of these confirmations and of their receipts; the number of receipts touched."""
    receipts = 0
    for chunk in _chunks(ids):
        session.execute(delete(CounterCode).where(CounterCode.confirmation_id.in_(chunk)))
        session.execute(update(ConfirmationItem).where(ConfirmationItem.confirmation_id.in_(chunk)).values(
            values_enc=None, record_id=None, record_subject_index=None))
        session.execute(update(Confirmation).where(Confirmation.id.in_(chunk)).values(
            applicant_id=None, subject_index=None, subject_id_enc=None, subject_masked=None, subject_name=None,
            anonymized_at=now))
        receipts += session.execute(update(Receipt).where(
            Receipt.confirmation_id.in_(chunk), Receipt.anonymized_at.is_(None)).values(
            holder=None, holder_salt=None, anonymized_at=now)).rowcount  # type: ignore[attr-defined]
    return receipts


def delete_confirmation(session: Session, *, actor: Actor, confirmation_id: int, now: datetime) -> None:
    """Delete a confirmation: a draft at any time, anything else only after its retention period (409 before)."""
    confirmation = session.get(Confirmation, confirmation_id)
    if confirmation is None:
        raise NotFound("no such confirmation")
    subject_index = confirmation.subject_index
    if confirmation.status is ConfirmationStatus.DRAFT:
        _delete_drafts(session, [confirmation.id])
    else:
        if confirmation.retain_until is None or now < confirmation.retain_until:
            raise RetentionPeriod(
                f"confirmation records are kept at least {RETENTION_YEARS} years: this one until "
                f"{iso(confirmation.retain_until)}")
        _anonymize(session, [confirmation.id], now)
        session.execute(update(Receipt).where(Receipt.confirmation_id == confirmation.id).values(confirmation_id=None))
        session.execute(delete(Acceptance).where(Acceptance.confirmation_id == confirmation.id))
        session.execute(delete(ConfirmationItem).where(ConfirmationItem.confirmation_id == confirmation.id))
        session.execute(delete(Confirmation).where(Confirmation.id == confirmation.id))
    session.expunge(confirmation)
    audit.record(session, actor=actor, action="confirmation.deleted", now=now, target_type="confirmation",
                 target_id=confirmation_id, subject_index=subject_index)
    session.commit()


@dataclass(frozen=True)
class RetentionReport:
    dry_run: bool
    drafts_deleted: int
    confirmations_expired: int
    confirmations_anonymized: int
    receipts_anonymized: int

    def lines(self) -> list[str]:
        verb = "would be" if self.dry_run else "were"
        return [
            f"{self.drafts_deleted} draft(s) older than {DRAFT_DAYS} days {verb} deleted",
            f"{self.confirmations_expired} confirmation(s) past their expiry {verb} marked expired",
            f"{self.confirmations_anonymized} confirmation record(s) older than {RETENTION_YEARS} years {verb} "
            "anonymized (values, applicant, subject and counter codes removed)",
            f"{self.receipts_anonymized} receipt(s) {verb} anonymized (signature and digests kept: still verifiable)",
        ]


def run_retention(session: Session, *, actor: Actor, now: datetime, dry_run: bool) -> RetentionReport:
    """Delete drafts older than 7 days, mark lapsed confirmations expired, anonymize records past 3 years."""
    drafts = list(session.scalars(select(Confirmation.id).where(
        Confirmation.status == ConfirmationStatus.DRAFT, Confirmation.created_at < now - timedelta(days=DRAFT_DAYS))))
    lapsed = list(session.scalars(select(Confirmation.id).where(
        Confirmation.status.in_([ConfirmationStatus.CONFIRMED, ConfirmationStatus.STALE]),
        Confirmation.expires_at <= now)))
    past = list(session.scalars(select(Confirmation.id).where(
        Confirmation.retain_until <= now, Confirmation.anonymized_at.is_(None))))
    receipts = 0
    if past:
        receipts = session.scalar(select(func.count(Receipt.id)).where(
            Receipt.confirmation_id.in_(past), Receipt.anonymized_at.is_(None))) or 0
    report = RetentionReport(dry_run, len(drafts), len(lapsed), len(past), receipts)
    if dry_run:
        session.rollback()
        return report
    _delete_drafts(session, drafts)
    for chunk in _chunks(lapsed):
        session.execute(update(Confirmation).where(
            Confirmation.id.in_(chunk), Confirmation.status.in_([ConfirmationStatus.CONFIRMED,
                                                                 ConfirmationStatus.STALE]))
            .values(status=ConfirmationStatus.EXPIRED))
    _anonymize(session, past, now)
    audit.record(session, actor=actor, action="retention.run", now=now,
                 details={k: v for k, v in asdict(report).items() if k != "dry_run"})
    session.commit()
    return report
