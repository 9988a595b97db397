"""No kind of token stands in for another; the algorithm is pinned; claims are required."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from auth import tokens
from backend.errors import Unauthorized
from backend.models import Principal

KEY = b"k" * 64  # long enough for the HS512 forgery below too
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _claims(**overrides):
    claims = {"sub": "staff:1", "typ": "staff_access", "fam": 1, "iat": int(NOW.timestamp()),
              "exp": int((NOW + timedelta(minutes=15)).timestamp())}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_a_genuine_staff_token_verifies():
    token = tokens.issue_access(KEY, principal=Principal.STAFF, account_id=7, family_id=3, now=NOW, ttl=900)
    claims = tokens.verify_access(KEY, token, principal=Principal.STAFF, now=NOW)
    assert (claims.account_id, claims.family_id) == (7, 3)


def test_an_applicant_token_does_not_open_staff_routes():
    token = tokens.issue_access(KEY, principal=Principal.APPLICANT, account_id=7, family_id=3, now=NOW, ttl=900)
    with pytest.raises(Unauthorized):
        tokens.verify_access(KEY, token, principal=Principal.STAFF, now=NOW)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "typ"])
def test_each_required_claim_must_be_present(missing):
    token = jwt.encode(_claims(**{missing: None}), KEY, algorithm="HS256")
    with pytest.raises(Unauthorized):
        tokens.verify_access(KEY, token, principal=Principal.STAFF, now=NOW)


def test_typ_must_name_the_kind_of_token():
    token = jwt.encode(_claims(typ="refresh"), KEY, algorithm="HS256")
    with pytest.raises(Unauthorized):
        tokens.verify_access(KEY, token, principal=Principal.STAFF, now=NOW)


def test_other_algorithms_and_keys_are_refused():
    unsigned = jwt.encode(_claims(), None, algorithm="none")
    other_alg = jwt.encode(_claims(), KEY, algorithm="HS512")
    other_key = jwt.encode(_claims(), b"x" * 32, algorithm="HS256")
    for token in (unsigned, other_alg, other_key, "not-a-jwt"):
        with pytest.raises(Unauthorized):
            tokens.verify_access(KEY, token, principal=Principal.STAFF, now=NOW)


def test_expiry_boundary_is_half_open():
    token = tokens.issue_access(KEY, principal=Principal.STAFF, account_id=1, family_id=1, now=NOW, ttl=900)
    tokens.verify_access(KEY, token, principal=Principal.STAFF, now=NOW + timedelta(seconds=899))
    with pytest.raises(Unauthorized):
        tokens.verify_access(KEY, token, principal=Principal.STAFF, now=NOW + timedelta(seconds=900))
