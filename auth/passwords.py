"""Staff passwords: scrypt (werkzeug), salted per hash; unknown users cost the same time."""

from __future__ import annotations

from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

from backend.errors import ValidationError

MIN_LENGTH = 10


@cache
def _dummy_hash() -> str:
    # Checked when the username does not exist, so that timing does not reveal which usernames do.
    return generate_password_hash("not a real password", method="scrypt")


def hash_password(password: str) -> str:
    check_strength(password)
    return generate_password_hash(password, method="scrypt")


def check_strength(password: str) -> None:
    """At least 10 characters mixing at least two of letters, digits and symbols."""
    if len(password) < MIN_LENGTH:
        raise ValidationError("the password is too short",
                              fields={"password": f"needs at least {MIN_LENGTH} characters"})
    classes = sum([any(c.isalpha() for c in password), any(c.isdigit() for c in password),
                   any(not c.isalnum() for c in password)])
    if classes < 2:
        raise ValidationError("the password is too simple", fields={"password": "mix letters, digits or symbols"})


def verify_password(stored_hash: str | None, password: str) -> bool:
    if stored_hash is None:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(stored_hash, password)
