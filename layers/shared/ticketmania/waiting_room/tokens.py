"""Admission tokens: a JWT (EdDSA) signed with the ticket keys, so anyone can
verify one with the JWK Set at GET /tickets/keys.

Claims: `iss` "ticketmania", `aud` "event:{id}", `sub` the user's id, `pos`
the queue position, `jti` "{event}:{position}" (one admission, one id, however
many times its token is fetched: a second order with it is 409
`admission_used`), `iat`, and `exp` (admitted at + the room's
`admission_ttl_seconds`). The header's `typ` is "admission+jwt" and `kid` the
ticket key's id. `cryptography` is imported only when a token is signed or
verified: a booking function that never meets a room never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from ticketmania.errors import AdmissionInvalid

ISSUER = "ticketmania"
TYPE = "admission+jwt"
ALGORITHM = "EdDSA"


def audience(event_id: int) -> str:
    return f"event:{event_id}"


@dataclass(frozen=True)
class AdmissionClaims:
    event_id: int
    user_id: int
    position: int
    jti: str
    expires_at: datetime


def sign(
    *,
    event_id: int,
    user_id: int,
    position: int,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    from ticketmania import tickets

    ring = tickets.get_key_ring()
    payload = {
        "iss": ISSUER,
        "aud": audience(event_id),
        "sub": str(user_id),
        "pos": position,
        "jti": f"{event_id}:{position}",
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(
        payload,
        ring.signing,
        algorithm=ALGORITHM,
        headers={"kid": ring.signing_kid.hex(), "typ": TYPE},
    )


def verify(token: str, *, event_id: int, user_id: int) -> AdmissionClaims:
    """The claims of a token this deployment signed for this event and user,
    still before its `exp`; 403 `admission_invalid` otherwise (forged, of
    another key, event or user, expired, malformed)."""
    from ticketmania import tickets

    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != TYPE:
            raise AdmissionInvalid()
        key = tickets.get_key_ring().verifying.get(bytes.fromhex(str(header["kid"])))
        if key is None:
            raise AdmissionInvalid()
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience(event_id),
            issuer=ISSUER,
            options={"require": ["exp", "sub", "jti", "pos", "aud", "iss"]},
        )
        position = int(claims["pos"])
        jti = str(claims["jti"])
    except AdmissionInvalid:
        raise
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, RecursionError):
        raise AdmissionInvalid() from None
    if claims["sub"] != str(user_id) or jti != f"{event_id}:{position}":
        raise AdmissionInvalid()
    from datetime import UTC

    return AdmissionClaims(
        event_id=event_id,
        user_id=user_id,
        position=position,
        jti=jti,
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
    )
