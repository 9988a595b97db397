"""Material exemption (材料免交): preview, confirm, counter code, acceptance (issue 5 builds this module out)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from backend.protection import Protector

if TYPE_CHECKING:
    from backend.services.record_changes import RecordChange


def on_record_changes(session: Session, protector: Protector, *, changes: Sequence[RecordChange],
                      now: datetime) -> None:
    """Confirmed, not yet accepted confirmations using these records turn stale (not built yet: no confirmations)."""
