"""Department API keys: issued to a source department's system, rotated by issuing anew, then disabled.

The secret is shown once, when issued; the server keeps it encrypted because it must recompute each
request's HMAC. Every signed request spends a nonce: seen once per key within ten minutes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db import Page, paginate
from backend.errors import NotFound, Unauthorized
from backend.models import DepartmentKey, DeptNonce
from backend.protection import Protector
from backend.services import audit
from backend.services.audit import Actor
from backend.services.departments import get_department

SECRET_CONTEXT = "department_keys.secret_enc"
NONCE_TTL = timedelta(minutes=10)
# Purging is opportunistic: about one signed request in this many sweeps the expired nonces.
PURGE_ONE_IN = 50


class UnknownKey(Unauthorized):
    code = "unknown_key"


class KeyDisabled(Unauthorized):
    code = "key_disabled"


class NonceReused(Unauthorized):
    code = "nonce_reused"


@dataclass(frozen=True)
class IssuedKey:
    """A key as issued: the only moment its secret is in clear outside the database."""

    key: DepartmentKey
    secret: str


def issue_key(session: Session, protector: Protector, *, actor: Actor, department_code: str,
              now: datetime) -> IssuedKey:
    """A new key for the department; its secret is returned here and never again."""
    department = get_department(session, department_code)
    secret = secrets.token_urlsafe(32)
    key = DepartmentKey(key_id=f"dk_{secrets.token_hex(12)}", department=department,
                        secret_enc=protector.encrypt(secret, context=SECRET_CONTEXT), created_at=now)
    session.add(key)
    session.flush()
    audit.record(session, actor=actor, action="dept_key.issued", now=now, target_type="department_key",
                 target_id=key.key_id, details={"department": department.code})
    session.commit()
    return IssuedKey(key, secret)


def list_keys(session: Session, *, department_code: str, page: int, per_page: int) -> Page[DepartmentKey]:
    """The department's keys, newest first (never their secrets)."""
    department = get_department(session, department_code)
    query = (select(DepartmentKey).where(DepartmentKey.department_id == department.id)
             .order_by(DepartmentKey.created_at.desc(), DepartmentKey.id.desc()))
    return paginate(session, query, page=page, per_page=per_page)


def disable_key(session: Session, *, actor: Actor, department_code: str, key_id: str,
                now: datetime) -> DepartmentKey:
    """Stop a key for good; disabling a disabled key changes nothing."""
    department = get_department(session, department_code)
    key = session.scalar(select(DepartmentKey).where(DepartmentKey.key_id == key_id,
                                                     DepartmentKey.department_id == department.id))
    if key is None:
        raise NotFound(f"department {department.code} has no key {key_id}")
    if key.disabled_at is None:
        key.disabled_at = now
        session.flush()
        audit.record(session, actor=actor, action="dept_key.disabled", now=now, target_type="department_key",
                     target_id=key.key_id, details={"department": department.code})
    session.commit()
    return key


def active_key(session: Session, key_id: str) -> DepartmentKey:
    """The key a request names, if it exists and is not disabled."""
    key = session.scalar(select(DepartmentKey).where(DepartmentKey.key_id == key_id))
    if key is None:
        raise UnknownKey("no department key has this id")
    if key.disabled_at is not None:
        raise KeyDisabled("this department key is disabled; use the department's current key")
    return key


def key_secret(protector: Protector, key: DepartmentKey) -> str:
    """The key's secret, decrypted to recompute a request's signature."""
    return protector.decrypt(key.secret_enc, context=SECRET_CONTEXT)


def spend_nonce(session: Session, *, key: DepartmentKey, nonce: str, now: datetime) -> None:
    """Record a verified request's nonce (a second use within ten minutes is a replay) and the key's use."""
    session.add(DeptNonce(key_id=key.key_id, nonce=nonce, seen_at=now))
    key.last_used_at = now
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise NonceReused("this nonce was already used with this key; sign each request with a fresh one") from exc
    if secrets.randbelow(PURGE_ONE_IN) == 0:
        _purge(session, now)
    session.commit()


def purge_nonces(session: Session, *, now: datetime) -> int:
    """Forget nonces older than ten minutes (their timestamps are refused anyway)."""
    count = _purge(session, now)
    session.commit()
    return count


def _purge(session: Session, now: datetime) -> int:
    result = session.execute(delete(DeptNonce).where(DeptNonce.seen_at < now - NONCE_TTL))
    return int(result.rowcount)  # type: ignore[attr-defined]
