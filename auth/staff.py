"""Staff accounts: creation, and password login that slows down and then locks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auth import sessions
from auth.passwords import hash_password, verify_password
from backend.errors import (
    Conflict,
    Locked,
    TooManyRequests,
    Unauthorized,
    ValidationError,
)
from backend.models import Department, Principal, Role, StaffAccount
from backend.services import audit
from backend.services.audit import Actor

MAX_DELAY_SECONDS = 60


@dataclass(frozen=True)
class LoginPolicy:
    slowdown_after: int
    lock_after: int
    lock_seconds: int


def create_staff(session: Session, *, actor: Actor, username: str, password: str, role: Role,
                 display_name: str | None, department_code: str | None, now: datetime) -> StaffAccount:
    """A new staff account; operators and counter staff need a department, administrators none."""
    department = None
    if role is Role.DATA_ADMIN:
        if department_code:
            raise ValidationError("a data administrator belongs to no department",
                                  fields={"department": "must be empty for data_admin"})
    else:
        if not department_code:
            raise ValidationError("this role belongs to one department", fields={"department": "is required"})
        department = session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            raise ValidationError("no such department", fields={"department": "no department has this code"})
    if session.scalar(select(StaffAccount.id).where(StaffAccount.username == username)) is not None:
        raise Conflict("this username is taken", code="username_taken")
    account = StaffAccount(
        username=username, display_name=display_name or username, password_hash=hash_password(password),
        role=role, department=department, is_active=True, failed_logins=0, created_at=now,
    )
    session.add(account)
    session.flush()
    audit.record(session, actor=actor, action="staff.created", now=now, target_type="staff",
                 target_id=account.id, details={"role": role.value, "department": department_code})
    session.commit()
    return account


def login(session: Session, settings: sessions.TokenSettings, policy: LoginPolicy, *, username: str,
          password: str, request_id: str | None, now: datetime) -> tuple[StaffAccount, sessions.TokenPair]:
    """Username and password to a token pair; wrong passwords delay the next try, then lock."""
    account = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
    actor = Actor("staff" if account else "anonymous", str(account.id) if account else None, request_id)
    if account is not None and account.is_locked(now):
        assert account.locked_until is not None
        raise Locked("the account is locked after repeated wrong passwords",
                     headers={"Retry-After": str(_seconds(account.locked_until - now))})
    if account is not None and account.next_attempt_at is not None and now < account.next_attempt_at:
        raise TooManyRequests("wait before trying again", code="login_throttled",
                              headers={"Retry-After": str(_seconds(account.next_attempt_at - now))})
    if account is None or not verify_password(account.password_hash, password) or not account.is_active:
        if account is not None:
            _count_failure(session, account, policy, actor, now)
        else:
            audit.record(session, actor=actor, action="staff.login_failed", now=now,
                         details={"reason": "unknown_username"})
        session.commit()
        raise Unauthorized("wrong username or password", code="invalid_credentials")
    account.failed_logins, account.next_attempt_at, account.locked_until = 0, None, None
    account.last_login_at = now
    pair = sessions.open_family(session, settings, principal=Principal.STAFF, account_id=account.id, now=now)
    audit.record(session, actor=actor, action="staff.login", now=now, target_type="staff", target_id=account.id)
    session.commit()
    return account, pair


def _count_failure(session: Session, account: StaffAccount, policy: LoginPolicy, actor: Actor,
                   now: datetime) -> None:
    # Incremented in SQL so that parallel guesses are all counted.
    session.execute(update(StaffAccount).where(StaffAccount.id == account.id)
                    .values(failed_logins=StaffAccount.failed_logins + 1))
    session.refresh(account)
    failures = account.failed_logins
    if failures >= policy.lock_after:
        account.locked_until = now + timedelta(seconds=policy.lock_seconds)
        account.failed_logins, account.next_attempt_at = 0, None
        audit.record(session, actor=actor, action="staff.locked", now=now, target_type="staff",
                     target_id=account.id, details={"until": account.locked_until.isoformat()})
        return
    if failures >= policy.slowdown_after:
        delay = min(2 ** (failures - policy.slowdown_after), MAX_DELAY_SECONDS)
        account.next_attempt_at = now + timedelta(seconds=delay)
    audit.record(session, actor=actor, action="staff.login_failed", now=now, target_type="staff",
                 target_id=account.id, details={"failures": failures})


def _seconds(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


def logout(session: Session, *, account: StaffAccount, family_id: int, request_id: str | None,
           now: datetime) -> None:
    """End this login: its refresh and access tokens stop working at once."""
    sessions.revoke_family(session, family_id=family_id, now=now, reason="logout")
    audit.record(session, actor=Actor("staff", str(account.id), request_id), action="staff.logout", now=now,
                 target_type="staff", target_id=account.id)
    session.commit()


def refresh(session: Session, settings: sessions.TokenSettings, *, refresh_token: str,
            now: datetime) -> tuple[StaffAccount, sessions.TokenPair]:
    """Rotate a staff refresh token; a deactivated account's login ends instead."""
    pair = sessions.rotate(session, settings, refresh_token=refresh_token, principal=Principal.STAFF, now=now)
    account = session.get(StaffAccount, pair.account_id)
    if account is None or not account.is_active:
        family_id = sessions.family_of(session, refresh_token)
        if family_id is not None:
            sessions.revoke_family(session, family_id=family_id, now=now, reason="account_inactive")
            session.commit()
        raise Unauthorized("this staff account is not active", code="account_inactive")
    return account, pair
