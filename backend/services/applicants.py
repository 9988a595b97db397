"""Applicant accounts: found or created by WeChat openid; real-name verified once; a phone number.

Rules: one verified identity per account (a verified account never switches identity) and one account per
identity (an ID number held by another account is a 409 `identity_taken`, audited). Failed verifications
are limited per account and day, so the verifier cannot be used to probe who is registered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum.cn import ric

from backend.errors import Conflict, NotFound, TooManyRequests, ValidationError
from backend.models import SUBJECT_INDEX_KIND, Applicant, AuditEvent, SubjectType
from backend.protection import Protector, mask_identifier, mask_name, mask_phone
from backend.services import audit
from backend.services.audit import Actor
from backend.services.realname import RealNameVerifier

ID_KIND = SUBJECT_INDEX_KIND[SubjectType.PERSON]
SESSION_KEY_CONTEXT = "applicants.session_key_enc"
PHONE_CONTEXT = "applicants.phone_enc"
NAME_CONTEXT = "applicants.name_enc"
ID_NUMBER_CONTEXT = "applicants.id_number_enc"
MAX_FAILED_VERIFICATIONS = 5  # per account in 24 hours
FAILED_VERIFICATION_ACTIONS = ("applicant.identity_rejected", "applicant.identity_taken")


class IdentityTaken(Conflict):
    code = "identity_taken"


class IdentityLocked(Conflict):
    code = "identity_locked"


class IdentityMismatch(ValidationError):
    code = "identity_mismatch"


def applicant_actor(applicant: Applicant, request_id: str | None) -> Actor:
    return Actor("applicant", str(applicant.id), request_id)


def get_applicant(session: Session, applicant_id: int) -> Applicant:
    applicant = session.get(Applicant, applicant_id)
    if applicant is None:
        raise NotFound("no such account")
    return applicant


def sign_in(session: Session, protector: Protector, *, openid: str, unionid: str | None, session_key: str,
            request_id: str | None, now: datetime) -> Applicant:
    """Find the account of this openid or create it; keep the new session key (flushes; login commits)."""
    applicant = session.scalar(select(Applicant).where(Applicant.openid == openid))
    created = False
    if applicant is None:
        candidate = Applicant(openid=openid, unionid=unionid, created_at=now,
                              session_key_enc=protector.encrypt(session_key, context=SESSION_KEY_CONTEXT))
        try:
            # Two first logins of one user at the same moment: the second finds the first's row.
            with session.begin_nested():
                session.add(candidate)
            applicant, created = candidate, True
        except IntegrityError:
            applicant = session.scalar(select(Applicant).where(Applicant.openid == openid))
            if applicant is None:
                raise
    if not created:
        applicant.session_key_enc = protector.encrypt(session_key, context=SESSION_KEY_CONTEXT)
    if unionid:
        applicant.unionid = unionid
    applicant.last_login_at = now
    session.flush()
    actor = applicant_actor(applicant, request_id)
    if created:
        audit.record(session, actor=actor, action="applicant.created", now=now, target_type="applicant",
                     target_id=applicant.id)
    audit.record(session, actor=actor, action="applicant.login", now=now, target_type="applicant",
                 target_id=applicant.id)
    return applicant


def _failed_verifications(session: Session, applicant: Applicant, now: datetime) -> int:
    return session.scalar(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.actor_type == "applicant", AuditEvent.actor_id == str(applicant.id),
            AuditEvent.action.in_(FAILED_VERIFICATION_ACTIONS), AuditEvent.at > now - timedelta(hours=24))
    ) or 0


def verify_identity(session: Session, protector: Protector, verifier: RealNameVerifier, *, applicant: Applicant,
                    actor: Actor, name: str, id_number: str, now: datetime) -> Applicant:
    """Real-name verification: a valid ID number, held by no other account, that the verifier matches."""
    id_number = id_number.strip().upper()
    name = name.strip()
    if not ric.is_valid(id_number):
        raise ValidationError("the ID number is not valid",
                              fields={"id_number": "is not a valid resident ID number (check digit, date, area)"})
    index = protector.blind_index(ID_KIND, id_number)
    if applicant.is_verified:
        if applicant.id_index == index:
            return applicant
        raise IdentityLocked("this account is verified for another identity; it cannot switch")
    if _failed_verifications(session, applicant, now) >= MAX_FAILED_VERIFICATIONS:
        raise TooManyRequests("too many failed verifications; try again tomorrow", code="too_many_attempts")
    holder = session.scalar(select(Applicant.id).where(Applicant.id_index == index, Applicant.id != applicant.id))
    if holder is not None:
        _refuse(session, actor, "applicant.identity_taken", applicant, index, now)
        raise IdentityTaken("this identity belongs to another account")
    # The verifier is asked outside any write of ours: nothing is held open while it answers.
    if not verifier.verify(name, id_number):
        _refuse(session, actor, "applicant.identity_rejected", applicant, index, now)
        raise IdentityMismatch("the name and the ID number do not match",
                               fields={"name": "does not match the ID number"})
    applicant.name_enc = protector.encrypt(name, context=NAME_CONTEXT)
    applicant.name_masked = mask_name(name)
    applicant.id_number_enc = protector.encrypt(id_number, context=ID_NUMBER_CONTEXT)
    applicant.id_number_masked = mask_identifier(id_number)
    applicant.id_index = index
    applicant.verified_at = now
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another account took the identity a moment ago (the unique blind index decides).
        session.rollback()
        _refuse(session, actor, "applicant.identity_taken", applicant, index, now)
        raise IdentityTaken("this identity belongs to another account") from None
    audit.record(session, actor=actor, action="applicant.identity_verified", now=now, target_type="applicant",
                 target_id=applicant.id, subject_index=index)
    session.commit()
    return applicant


def _refuse(session: Session, actor: Actor, action: str, applicant: Applicant, index: str, now: datetime) -> None:
    # Committed before the error is raised: the refusal stays on record after the request's rollback.
    audit.record(session, actor=actor, action=action, now=now, target_type="applicant", target_id=applicant.id,
                 subject_index=index)
    session.commit()


def set_phone(session: Session, protector: Protector, *, applicant: Applicant, actor: Actor, phone: str,
              now: datetime) -> Applicant:
    """Keep the phone number WeChat confirmed for this user (encrypted; shown masked)."""
    applicant.phone_enc = protector.encrypt(phone, context=PHONE_CONTEXT)
    applicant.phone_masked = mask_phone(phone)
    audit.record(session, actor=actor, action="applicant.phone_set", now=now, target_type="applicant",
                 target_id=applicant.id)
    session.commit()
    return applicant
