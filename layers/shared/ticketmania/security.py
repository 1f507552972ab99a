"""Password hashing (passlib, argon2id) and access tokens (PyJWT, HS256 only)."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import jwt

from ticketmania.errors import InvalidToken

if TYPE_CHECKING:
    from passlib.context import CryptContext

ALGORITHM = "HS256"  # pinned: a token naming any other algorithm (or "none") is refused


@functools.cache
def _password_context() -> CryptContext:
    # Imported here: only the auth routes hash passwords; every function reads tokens.
    from passlib.context import CryptContext

    # OWASP's argon2id floor (19 MiB, t=2, p=1): ~20 ms here, fits a 512 MB Lambda.
    return CryptContext(
        schemes=["argon2"],
        argon2__type="ID",
        argon2__memory_cost=19456,
        argon2__time_cost=2,
        argon2__parallelism=1,
    )


def hash_password(password: str) -> str:
    return str(_password_context().hash(password))


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bool(_password_context().verify(password, password_hash))
    except (ValueError, TypeError):  # a malformed stored hash never means "yes"
        return False


@functools.cache
def dummy_password_hash() -> str:
    """A hash to verify against when the email is unknown, so both failures cost the same."""
    return hash_password("timing-equaliser-not-a-real-password")


# Every token names who issued it and for whom: one signed with the right key
# for another service (another audience), or for none, is refused.
ISSUER = "ticketmania"
AUDIENCE = "ticketmania-api"


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    role: str
    token_version: int


def key_ring(secret: str) -> dict[str, str]:
    """The signing keys, by kid: SECRET_KEY holds one key, or several separated
    by commas; the first signs, all verify. To rotate, put the new key first,
    then remove the old one once the tokens it signed have expired. A key's kid
    is a digest of it: naming nothing, revealing nothing."""
    keys = [key.strip() for key in secret.split(",") if key.strip()]
    return {hashlib.sha256(key.encode()).hexdigest()[:16]: key for key in keys}


def issue_access_token(
    *,
    user_id: int,
    role: str,
    token_version: int,
    secret: str,
    lifetime: timedelta,
    now: datetime,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
) -> str:
    kid, key = next(iter(key_ring(secret).items()))
    payload = {
        "iss": issuer,
        "aud": audience,
        "sub": str(user_id),
        "role": role,
        "ver": token_version,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(payload, key, algorithm=ALGORITHM, headers={"kid": kid})


def _unverified_key_id(token: str) -> str:
    """The `kid` of the token's header, read without checking anything: jwt.decode
    then checks the whole token with the key it names. (PyJWT's get_unverified_header
    parses and vets every segment, as decode does again: a tenth of a warm booking.)"""
    header = token.split(".", 1)[0]
    fields = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    return str(fields["kid"])


def read_access_token(
    token: str, *, secret: str, issuer: str = ISSUER, audience: str = AUDIENCE
) -> TokenClaims:
    try:
        key = key_ring(secret)[_unverified_key_id(token)]
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
        return TokenClaims(
            user_id=int(payload["sub"]),
            role=str(payload.get("role", "user")),
            token_version=int(payload.get("ver", 0)),
        )
    # RecursionError: a header of JSON nested past the parser's depth.
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, RecursionError) as exc:
        raise InvalidToken() from exc
