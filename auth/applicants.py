"""Applicant login through WeChat, logout, and the phone number WeChat confirms.

WeChat is asked before anything is written, so no transaction waits on the network.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from auth import sessions
from auth.wechat import WeChat
from backend.models import Applicant, Principal
from backend.protection import Protector
from backend.services import applicants, audit
from backend.services.audit import Actor


def login(session: Session, wechat: WeChat, settings: sessions.TokenSettings, protector: Protector, *, code: str,
          request_id: str | None, now: datetime) -> tuple[Applicant, sessions.TokenPair]:
    """A `wx.login` code to the account of its openid (created at first login) and a new token pair."""
    identity = wechat.code_to_session(code)
    applicant = applicants.sign_in(session, protector, openid=identity.openid, unionid=identity.unionid,
                                   session_key=identity.session_key, request_id=request_id, now=now)
    pair = sessions.open_family(session, settings, principal=Principal.APPLICANT, account_id=applicant.id, now=now)
    session.commit()
    return applicant, pair


def logout(session: Session, *, applicant: Applicant, family_id: int, request_id: str | None,
           now: datetime) -> None:
    """End this login: its refresh and access tokens stop working at once."""
    sessions.revoke_family(session, family_id=family_id, now=now, reason="logout")
    audit.record(session, actor=applicants.applicant_actor(applicant, request_id), action="applicant.logout",
                 now=now, target_type="applicant", target_id=applicant.id)
    session.commit()


def bind_phone(session: Session, wechat: WeChat, protector: Protector, *, applicant: Applicant, actor: Actor,
               code: str, now: datetime) -> Applicant:
    """The phone number behind a `getPhoneNumber` code, kept encrypted on the account."""
    phone = wechat.phone_number(code)
    return applicants.set_phone(session, protector, applicant=applicant, actor=actor, phone=phone, now=now)
