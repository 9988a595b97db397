"""Objections (数据异议, rule 7): filed by applicants, decided by the source department within 2 working days."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import ACTIVE_OBJECTION_STATUSES, Objection
from backend.protection import Protector

if TYPE_CHECKING:
    from backend.services.record_changes import RecordChange


def active_objections(session: Session, record_ids: Iterable[int]) -> dict[int, Objection]:
    """The open (or awaiting-correction) objection on each of these records that has one: they are on hold."""
    ids = list(set(record_ids))
    if not ids:
        return {}
    rows = session.scalars(
        select(Objection).where(Objection.record_id.in_(ids), Objection.status.in_(ACTIVE_OBJECTION_STATUSES))
        .order_by(Objection.filed_at)
    ).all()
    return {row.record_id: row for row in rows}


def on_record_changes(session: Session, protector: Protector, *, changes: Sequence[RecordChange],
                      now: datetime) -> None:
    """Objections awaiting a correction of these records become corrected (not built yet: issue 6)."""
