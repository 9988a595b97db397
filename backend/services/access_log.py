"""Who used my data (rule 6, `GET /api/mp/access-log`): every use by staff, read back from the audit chain.

The counter audits each use once per subject whose data it touched (`counter.scanned`, `.reopened`,
`.accepted`, and refused attempts as `counter.refused`), with the subject's blind index, the service item
as purpose and, in the details, the department, the masked staff account and the fields shown. An
applicant sees the uses of their own data and of the enterprises whose legal representative they are now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import Page, paginate
from backend.models import Applicant, AuditEvent
from backend.protection import Protector
from backend.services import enterprises
from backend.services.enterprises import IdentityRequired

# Audit action → what the applicant is told happened.
USES = {
    "counter.scanned": "viewed",  # counter staff saw the confirmed values after scanning the code
    "counter.reopened": "reopened",  # saw them again within 24 hours of acceptance
    "counter.accepted": "accepted",  # accepted them and sent them to the department's approval system
    "counter.refused": "refused",  # staff of another department tried, and saw nothing
}


@dataclass(frozen=True)
class AccessEntry:
    at: datetime
    use: str  # viewed | reopened | accepted | refused
    subject_type: str  # person | enterprise
    subject_name: str | None  # the enterprise's name; None for the caller's own data
    details: dict[str, Any]  # department, staff (masked), service item, materials and fields
    own_confirmation: bool  # the confirmation is the caller's (its id may be shown)


def list_access_log(session: Session, protector: Protector, *, applicant: Applicant, page: int, per_page: int,
                    now: datetime) -> Page[AccessEntry]:
    """Uses by staff of the caller's data and of the enterprises they represent, newest first."""
    if not applicant.is_verified or applicant.id_index is None:
        raise IdentityRequired("complete real-name verification to see who used your data")
    names: dict[str, str | None] = {applicant.id_index: None}
    for enterprise in enterprises.acting_enterprises(session, protector, applicant=applicant, now=now):
        if enterprise.role == enterprises.ROLE_LEGAL_REP:
            names[enterprise.uscc_index] = enterprise.name
    query = (select(AuditEvent).where(AuditEvent.subject_index.in_(names), AuditEvent.action.in_(USES),
                                      AuditEvent.actor_type == "staff")
             .order_by(AuditEvent.seq.desc()))
    found = paginate(session, query, page=page, per_page=per_page)
    entries = []
    for event in found.items:
        details = dict(event.details or {})
        entries.append(AccessEntry(
            at=event.at, use=USES[event.action],
            subject_type="person" if event.subject_index == applicant.id_index else "enterprise",
            subject_name=names.get(event.subject_index or ""), details=details,
            own_confirmation=details.get("applicant") == applicant.id))
    session.commit()  # acting_enterprises may have noticed authorizations that ended
    return Page(entries, found.total, found.page, found.per_page)
