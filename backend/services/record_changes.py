"""What a new version of a record sets off, in the push's own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from backend.models import ChangeKind
from backend.protection import Protector


@dataclass(frozen=True)
class RecordChange:
    record_id: int
    version: int
    change: ChangeKind
    objection_id: int | None  # the objection this version answers, when the department says so


def apply(session: Session, protector: Protector, *, changes: Sequence[RecordChange], now: datetime) -> None:
    """Confirmations using a changed or revoked record turn stale; objections awaiting it are corrected (flushes)."""
    if not changes:
        return
    from backend.services import confirmations, objections  # they import records' neighbours; keep the cycle lazy

    confirmations.on_record_changes(session, protector, changes=changes, now=now)
    objections.on_record_changes(session, protector, changes=changes, now=now)
