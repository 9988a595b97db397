"""Enterprises: who is the legal representative, who may act for an enterprise, and agent authorizations.

The legal representative (法定代表人) is the person named by `legal_rep_name`/`legal_rep_id` of the
enterprise's latest valid record of a published enterprise license item that has those fields (the
营业执照). A verified citizen who is that person acts for the enterprise without any authorization and
may authorize agents. An authorization lasts until it expires (half-open at `expires_at`), the legal
representative revokes it, or it ends by itself because the license is no longer valid or names someone
else. Ends are decided when an authorization is used (no background job) and persisted then.

Other modules call `may_act_for`, `acting_role` and `acting_enterprises`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from stdnum.cn import ric, uscc

from backend.clock import SHANGHAI, iso
from backend.db import Page, paginate
from backend.errors import Conflict, Forbidden, NotFound, ValidationError
from backend.models import (
    SUBJECT_INDEX_KIND,
    Applicant,
    AuthorizationStatus,
    CatalogItem,
    CatalogStatus,
    EnterpriseAuthorization,
    ItemKind,
    LegalRepLink,
    Record,
    RecordStatus,
    RecordVersion,
    ServiceItem,
    SubjectType,
)
from backend.protection import Protector, mask_identifier, mask_name
from backend.services import audit
from backend.services.audit import Actor

USCC_KIND = SUBJECT_INDEX_KIND[SubjectType.ENTERPRISE]
ID_KIND = SUBJECT_INDEX_KIND[SubjectType.PERSON]
REP_NAME_FIELD = "legal_rep_name"
REP_ID_FIELD = "legal_rep_id"
FIELDS_CONTEXT = "record_versions.fields_enc"
SUBJECT_NAME_CONTEXT = "record_versions.subject_name_enc"
USCC_CONTEXT = "enterprise_authorizations.uscc_enc"
AGENT_NAME_CONTEXT = "enterprise_authorizations.agent_name_enc"
DEFAULT_TERM = timedelta(days=30)
MAX_TERM = timedelta(days=365)
MAX_SERVICE_ITEMS = 100
SYNC_BATCH = 500
# Ends noticed while an authorization is used are recorded by the system, not by whoever happened to ask.
CHECKER = Actor("system", "enterprise_authorizations")

ROLE_LEGAL_REP = "legal_representative"
ROLE_AGENT = "agent"


class IdentityRequired(Forbidden):
    code = "identity_required"


class NotLegalRepresentative(Forbidden):
    code = "not_legal_representative"


@dataclass(frozen=True)
class LegalRepresentative:
    """Who the enterprise's live business license names, and that license."""

    uscc_index: str
    id_index: str
    name: str
    enterprise_name: str
    uscc_masked: str
    license_record_id: int


@dataclass(frozen=True)
class Acting:
    """How an applicant may act for one enterprise: as its legal representative, or as an agent."""

    uscc_index: str
    role: str  # legal_representative | agent
    representative: LegalRepresentative
    authorization: EnterpriseAuthorization | None = None


@dataclass(frozen=True)
class AuthorizationEntry:
    """An authorization as one applicant sees it: as the grantor or as the agent."""

    authorization: EnterpriseAuthorization
    role: str  # grantor | agent


def today(now: datetime) -> date:
    """The calendar day in Shanghai: licenses are valid by local dates."""
    return now.astimezone(SHANGHAI).date()


def uscc_index(protector: Protector, code: str, *, field: str = "uscc") -> str:
    """The blind index of a unified social credit code, or a 422 naming `field` when the code is not valid."""
    normalized = code.strip().upper()
    if not uscc.is_valid(normalized):
        raise ValidationError("the unified social credit code is not valid",
                              fields={field: "is not a valid unified social credit code"})
    return protector.blind_index(USCC_KIND, normalized)


def _license_item_ids(session: Session) -> list[int]:
    items = session.scalars(select(CatalogItem).options(selectinload(CatalogItem.versions)).where(
        CatalogItem.kind == ItemKind.LICENSE, CatalogItem.subject_type == SubjectType.ENTERPRISE,
        CatalogItem.status == CatalogStatus.PUBLISHED)).all()
    ids = []
    for item in items:
        version = item.version_in_force()
        keys = {f.get("key") for f in version.fields} if version else set()
        if {REP_NAME_FIELD, REP_ID_FIELD} <= keys:
            ids.append(item.id)
    return ids


def _values(protector: Protector, fields_enc: str) -> dict[str, Any]:
    values = json.loads(protector.decrypt(fields_enc, context=FIELDS_CONTEXT))
    return values if isinstance(values, dict) else {}


def _rep_index(protector: Protector, values: dict[str, Any]) -> str | None:
    rep_id = values.get(REP_ID_FIELD)
    if not isinstance(rep_id, str) or not rep_id.strip():
        return None
    return protector.blind_index(ID_KIND, rep_id)


def legal_representative(session: Session, protector: Protector, *, uscc_index: str,
                         now: datetime) -> LegalRepresentative | None:
    """The person the enterprise's latest valid business license names; None when there is no such license."""
    item_ids = _license_item_ids(session)
    if not item_ids:
        return None
    rows = session.execute(
        select(Record, RecordVersion)
        .join(RecordVersion, and_(RecordVersion.record_id == Record.id, RecordVersion.version == Record.latest_version))
        .where(Record.subject_index == uscc_index, Record.catalog_item_id.in_(item_ids),
               Record.status == RecordStatus.VALID)
        .order_by(RecordVersion.produced_at.desc(), Record.id.desc())
    ).all()
    day = today(now)
    for record, version in rows:
        if not record.is_valid_on(day):
            continue
        # The latest valid license decides, even when it leaves the legal representative out.
        values = _values(protector, version.fields_enc)
        index = _rep_index(protector, values)
        name = values.get(REP_NAME_FIELD)
        if index is None or not isinstance(name, str):
            return None
        return LegalRepresentative(
            uscc_index=uscc_index, id_index=index, name=name,
            enterprise_name=protector.decrypt(version.subject_name_enc, context=SUBJECT_NAME_CONTEXT),
            uscc_masked=record.subject_masked, license_record_id=record.id)
    return None


def _settle(session: Session, authorization: EnterpriseAuthorization, rep: LegalRepresentative | None,
            now: datetime) -> None:
    """End an open authorization whose time is up or whose license no longer names its grantor (flushes)."""
    if not authorization.status.is_open:
        return
    if authorization.is_expired(now):
        authorization.status, authorization.ended_at = AuthorizationStatus.EXPIRED, authorization.expires_at
        authorization.end_reason = "expired"
    elif rep is None:
        authorization.status, authorization.ended_at = AuthorizationStatus.ENDED, now
        authorization.end_reason = "license_not_valid"
    elif rep.id_index != authorization.granted_by_index:
        authorization.status, authorization.ended_at = AuthorizationStatus.ENDED, now
        authorization.end_reason = "legal_rep_changed"
    else:
        return
    audit.record(session, actor=CHECKER, action=f"enterprise_authorization.{authorization.status.value}", now=now,
                 target_type="enterprise_authorization", target_id=authorization.id,
                 subject_index=authorization.uscc_index, details={"reason": authorization.end_reason})


class _Reps:
    """Legal representatives looked up once per enterprise within one use case."""

    def __init__(self, session: Session, protector: Protector, now: datetime) -> None:
        self.session, self.protector, self.now = session, protector, now
        self._found: dict[str, LegalRepresentative | None] = {}

    def of(self, uscc_index: str) -> LegalRepresentative | None:
        if uscc_index not in self._found:
            self._found[uscc_index] = legal_representative(self.session, self.protector, uscc_index=uscc_index,
                                                           now=self.now)
        return self._found[uscc_index]


def acting_role(session: Session, protector: Protector, *, applicant: Applicant, uscc_index: str, now: datetime,
                service_item: str | None = None) -> Acting | None:
    """How `applicant` may act for the enterprise (None: not at all); ends noticed on the way are flushed.

    The legal representative may do anything; an agent needs an active authorization that, when
    `service_item` is given, is unlimited or lists it. Without `service_item` any active authorization counts.
    """
    if not applicant.is_verified:
        return None
    rep = legal_representative(session, protector, uscc_index=uscc_index, now=now)
    if rep is not None and rep.id_index == applicant.id_index:
        return Acting(uscc_index, ROLE_LEGAL_REP, rep)
    found: Acting | None = None
    for authorization in session.scalars(select(EnterpriseAuthorization).where(
            EnterpriseAuthorization.uscc_index == uscc_index, EnterpriseAuthorization.agent_id == applicant.id,
            EnterpriseAuthorization.status == AuthorizationStatus.ACTIVE).order_by(EnterpriseAuthorization.id)):
        _settle(session, authorization, rep, now)
        if (found is None and rep is not None and authorization.status is AuthorizationStatus.ACTIVE
                and authorization.agent_id_index == applicant.id_index and authorization.covers(service_item)):
            found = Acting(uscc_index, ROLE_AGENT, rep, authorization)
    session.flush()
    return found


def may_act_for(session: Session, protector: Protector, *, applicant: Applicant, uscc_index: str, now: datetime,
                service_item: str | None = None) -> bool:
    """May `applicant` act for the enterprise with this USCC blind index (in `service_item`, when given)?

    Flushes the ends it notices; the caller's use case commits them (they are re-decided on every use anyway).
    """
    return acting_role(session, protector, applicant=applicant, uscc_index=uscc_index, now=now,
                       service_item=service_item) is not None


def _sync_links(session: Session, protector: Protector, now: datetime) -> None:
    """Bring `legal_rep_links` up to the latest version of every business license (flushes)."""
    item_ids = _license_item_ids(session)
    if not item_ids:
        return
    done: set[tuple[int, int]] = set()
    while True:
        rows = session.execute(
            select(Record.id, Record.subject_index, Record.latest_version, RecordVersion.fields_enc, LegalRepLink)
            .join(RecordVersion, and_(RecordVersion.record_id == Record.id,
                                      RecordVersion.version == Record.latest_version))
            .outerjoin(LegalRepLink, LegalRepLink.record_id == Record.id)
            .where(Record.catalog_item_id.in_(item_ids),
                   or_(LegalRepLink.id.is_(None), LegalRepLink.version != Record.latest_version))
            .order_by(Record.id).limit(SYNC_BATCH)
        ).all()
        fresh = [row for row in rows if (row[0], row[2]) not in done]
        if not fresh:
            return
        new: list[dict[str, Any]] = []
        for record_id, subject_index, version, fields_enc, link in fresh:
            done.add((record_id, version))
            rep_index = _rep_index(protector, _values(protector, fields_enc))
            if link is None:
                new.append({"record_id": record_id, "version": version, "uscc_index": subject_index,
                            "rep_index": rep_index, "updated_at": now})
            else:
                link.version, link.uscc_index, link.rep_index, link.updated_at = version, subject_index, rep_index, now
        session.flush()
        if new:
            _insert_links(session, new)


def _insert_links(session: Session, rows: list[dict[str, Any]]) -> None:
    try:
        with session.begin_nested():
            session.execute(insert(LegalRepLink), rows)
    except IntegrityError:
        # Another request is syncing the same licenses: keep what it wrote, add the rest one by one.
        for row in rows:
            try:
                with session.begin_nested():
                    session.execute(insert(LegalRepLink), [row])
            except IntegrityError:
                continue


@dataclass(frozen=True)
class Enterprise:
    """An enterprise an applicant may act for, and how."""

    uscc_index: str
    uscc_masked: str
    name: str
    role: str  # legal_representative | agent
    license_record_id: int
    authorization: EnterpriseAuthorization | None


def acting_enterprises(session: Session, protector: Protector, *, applicant: Applicant,
                       now: datetime) -> list[Enterprise]:
    """Every enterprise `applicant` may act for now: as its legal representative or as an agent (flushes)."""
    if not applicant.is_verified:
        return []
    _sync_links(session, protector, now)
    candidates = set(session.scalars(select(LegalRepLink.uscc_index).where(
        LegalRepLink.rep_index == applicant.id_index)))
    candidates |= set(session.scalars(select(EnterpriseAuthorization.uscc_index).where(
        EnterpriseAuthorization.agent_id == applicant.id,
        EnterpriseAuthorization.status == AuthorizationStatus.ACTIVE)))
    enterprises = []
    for index in sorted(candidates):
        acting = acting_role(session, protector, applicant=applicant, uscc_index=index, now=now)
        if acting is None:
            continue
        rep = acting.representative
        enterprises.append(Enterprise(index, rep.uscc_masked, rep.enterprise_name, acting.role,
                                      rep.license_record_id, acting.authorization))
    return sorted(enterprises, key=lambda e: (e.name, e.uscc_index))


def list_enterprises(session: Session, protector: Protector, *, applicant: Applicant,
                     now: datetime) -> list[Enterprise]:
    """The use case behind `GET /api/mp/me/enterprises`: `acting_enterprises`, its bookkeeping committed."""
    enterprises = acting_enterprises(session, protector, applicant=applicant, now=now)
    session.commit()
    return enterprises


# --- authorizations ---------------------------------------------------------------------------------------

def _require_verified(applicant: Applicant) -> str:
    if not applicant.is_verified or applicant.id_index is None:
        raise IdentityRequired("complete real-name verification first")
    return applicant.id_index


def _service_items(session: Session, codes: Sequence[str] | None) -> list[str] | None:
    if codes is None:
        return None
    unique = list(dict.fromkeys(code.strip() for code in codes))
    if not unique or any(not code for code in unique):
        raise ValidationError("name at least one service item, or leave the list out for all of them",
                              fields={"service_items": "must not be empty; omit it (or null) for all service items"})
    if len(unique) > MAX_SERVICE_ITEMS:
        raise ValidationError("too many service items", fields={"service_items": f"at most {MAX_SERVICE_ITEMS}"})
    known = set(session.scalars(select(ServiceItem.code).where(ServiceItem.code.in_(unique))))
    unknown = [code for code in unique if code not in known]
    if unknown:
        raise ValidationError("unknown service items", fields={"service_items": "unknown: " + ", ".join(unknown)})
    return unique


def authorize_agent(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor, uscc: str,
                    agent_name: str, agent_id_number: str, expires_at: datetime | None,
                    service_items: Sequence[str] | None, now: datetime) -> EnterpriseAuthorization:
    """The legal representative names an agent (name + ID number) for at most a year, 30 days by default."""
    own_index = _require_verified(applicant)
    enterprise_index = uscc_index(protector, uscc)
    rep = legal_representative(session, protector, uscc_index=enterprise_index, now=now)
    if rep is None or rep.id_index != own_index:
        raise NotLegalRepresentative("only the legal representative named by the enterprise's valid business "
                                     "license may authorize agents")
    agent_id_number = agent_id_number.strip().upper()
    agent_name = agent_name.strip()
    if not ric.is_valid(agent_id_number):
        raise ValidationError("the agent's ID number is not valid",
                              fields={"agent_id_number": "is not a valid resident ID number"})
    agent_index = protector.blind_index(ID_KIND, agent_id_number)
    if agent_index == own_index:
        raise ValidationError("the legal representative acts for the enterprise without an authorization",
                              fields={"agent_id_number": "is your own ID number"})
    expires_at = expires_at or now + DEFAULT_TERM
    if expires_at <= now:
        raise ValidationError("the expiry is in the past", fields={"expires_at": "must be in the future"})
    if expires_at > now + MAX_TERM:
        raise ValidationError("an authorization lasts at most one year",
                              fields={"expires_at": f"must be no later than {iso(now + MAX_TERM)}"})
    items = _service_items(session, service_items)
    for existing in session.scalars(select(EnterpriseAuthorization).where(
            EnterpriseAuthorization.uscc_index == enterprise_index,
            EnterpriseAuthorization.agent_id_index == agent_index,
            EnterpriseAuthorization.status.in_([AuthorizationStatus.PENDING, AuthorizationStatus.ACTIVE]))):
        _settle(session, existing, rep, now)
        if existing.status.is_open:
            session.commit()
            raise Conflict("this agent already holds an open authorization for the enterprise; revoke it first",
                           code="authorization_exists")
    authorization = EnterpriseAuthorization(
        uscc_index=enterprise_index, uscc_enc=protector.encrypt(uscc.strip().upper(), context=USCC_CONTEXT),
        uscc_masked=rep.uscc_masked, enterprise_name=rep.enterprise_name[:200], granted_by_id=applicant.id,
        granted_by_index=own_index, agent_name_enc=protector.encrypt(agent_name, context=AGENT_NAME_CONTEXT),
        agent_name_masked=mask_name(agent_name), agent_id_index=agent_index,
        agent_id_masked=mask_identifier(agent_id_number), status=AuthorizationStatus.PENDING,
        service_items=items, expires_at=expires_at, created_at=now)
    session.add(authorization)
    session.flush()
    audit.record(session, actor=actor, action="enterprise_authorization.granted", now=now,
                 target_type="enterprise_authorization", target_id=authorization.id, subject_index=enterprise_index,
                 details={"agent_index": agent_index, "expires_at": iso(expires_at), "service_items": items})
    session.commit()
    return authorization


def _role(authorization: EnterpriseAuthorization, applicant: Applicant) -> str | None:
    if authorization.granted_by_id == applicant.id:
        return "grantor"
    if applicant.is_verified and authorization.agent_id_index == applicant.id_index:
        return "agent"
    return None


def _visible(session: Session, applicant: Applicant, authorization_id: int) -> AuthorizationEntry:
    authorization = session.get(EnterpriseAuthorization, authorization_id)
    role = _role(authorization, applicant) if authorization is not None else None
    if authorization is None or role is None:
        raise NotFound("no such authorization")
    return AuthorizationEntry(authorization, role)


def get_authorization(session: Session, protector: Protector, *, applicant: Applicant, authorization_id: int,
                      now: datetime) -> AuthorizationEntry:
    """One authorization the applicant granted or is named in (404 otherwise), its end decided now."""
    entry = _visible(session, applicant, authorization_id)
    authorization = entry.authorization
    if authorization.status.is_open:
        _settle(session, authorization, _Reps(session, protector, now).of(authorization.uscc_index), now)
    session.commit()
    return entry


def list_authorizations(session: Session, protector: Protector, *, applicant: Applicant, page: int, per_page: int,
                        now: datetime) -> Page[AuthorizationEntry]:
    """The authorizations the applicant granted or is named in, newest first, their ends decided now."""
    mine = EnterpriseAuthorization.granted_by_id == applicant.id
    if applicant.is_verified:
        mine = or_(mine, EnterpriseAuthorization.agent_id_index == applicant.id_index)
    query = select(EnterpriseAuthorization).where(mine).order_by(EnterpriseAuthorization.created_at.desc(),
                                                                 EnterpriseAuthorization.id.desc())
    found = paginate(session, query, page=page, per_page=per_page)
    reps = _Reps(session, protector, now)
    entries = []
    for authorization in found.items:
        if authorization.status.is_open:
            _settle(session, authorization, reps.of(authorization.uscc_index), now)
        role = _role(authorization, applicant)
        assert role is not None
        entries.append(AuthorizationEntry(authorization, role))
    session.commit()
    return Page(entries, found.total, found.page, found.per_page)


def accept_authorization(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor,
                         authorization_id: int, now: datetime) -> AuthorizationEntry:
    """The named agent accepts with their verified identity; an ended or expired one cannot be accepted.

    Only the grantor and the verified agent can see an authorization: anyone else (unverified included) gets 404.
    """
    entry = _visible(session, applicant, authorization_id)
    authorization = entry.authorization
    if entry.role != "agent":
        raise Forbidden("only the agent named in the authorization may accept it", code="not_the_agent")
    _settle(session, authorization, _Reps(session, protector, now).of(authorization.uscc_index), now)
    if authorization.status is AuthorizationStatus.ACTIVE and authorization.agent_id == applicant.id:
        session.commit()
        return entry
    if authorization.status is not AuthorizationStatus.PENDING:
        session.commit()
        raise Conflict(f"this authorization is {authorization.status.value}; it can no longer be accepted",
                       code="authorization_not_pending")
    authorization.status, authorization.agent_id, authorization.accepted_at = (
        AuthorizationStatus.ACTIVE, applicant.id, now)
    audit.record(session, actor=actor, action="enterprise_authorization.accepted", now=now,
                 target_type="enterprise_authorization", target_id=authorization.id,
                 subject_index=authorization.uscc_index)
    session.commit()
    return entry


def revoke_authorization(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor,
                         authorization_id: int, now: datetime) -> AuthorizationEntry:
    """The legal representative who granted it revokes it, with immediate effect."""
    entry = _visible(session, applicant, authorization_id)
    authorization = entry.authorization
    if entry.role != "grantor":
        raise Forbidden("only the legal representative who granted the authorization may revoke it",
                        code="not_the_grantor")
    _settle(session, authorization, _Reps(session, protector, now).of(authorization.uscc_index), now)
    if not authorization.status.is_open:
        session.commit()
        raise Conflict(f"this authorization is already {authorization.status.value}", code="authorization_closed")
    authorization.status, authorization.revoked_at, authorization.end_reason = (
        AuthorizationStatus.REVOKED, now, "revoked")
    audit.record(session, actor=actor, action="enterprise_authorization.revoked", now=now,
                 target_type="enterprise_authorization", target_id=authorization.id,
                 subject_index=authorization.uscc_index)
    session.commit()
    return entry
