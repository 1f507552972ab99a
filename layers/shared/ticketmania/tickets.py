"""Ticket codes: what a confirmed booking shows at the door, signed so that a
door device can check one with the public keys alone, and no network.

A code is 91 bytes, written in unpadded base64url (122 characters):

    byte  0       format (1)
    bytes 1-4     key id: the first 4 bytes of SHA-256 of the signing key's raw
                  public key (the JWK's `kid`, in hex)
    bytes 5-12    booking id   (unsigned, big-endian)
    bytes 13-20   event id     (unsigned, big-endian)
    bytes 21-22   seats        (unsigned, big-endian)
    bytes 23-26   issued at    (Unix seconds, unsigned, big-endian)
    bytes 27-90   Ed25519 signature of bytes 0-26

Format 2 (what is signed now) is format 1's first 27 bytes (format 2), then
the order's lines, then the signature of everything before it:

    byte  27      line count N (1 to 20)
    N x 10 bytes  ticket type id (unsigned 64-bit) and quantity (unsigned 16-bit)
    64 bytes      Ed25519 signature of bytes 0 to 27 + 10 N

(a one-line order's code is 102 bytes, 136 characters). Codes of format 1
still verify, with no lines.

It says which booking, of which event, for how many seats of which types, and
when it was issued: no name, no e-mail. Keys come from TICKET_SIGNING_KEYS (several,
comma-separated, each the 32-byte Ed25519 seed in base64url): the first signs,
all verify; in AWS the value is an SSM SecureString (TICKET_SIGNING_KEYS_PARAMETER).
They are never the JWT key. Signing and verifying are `cryptography`'s; the QR
images are `segno`'s. Whether a booking is still good (not cancelled, not
checked in) is the database's to say, at check-in.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ticketmania.errors import InvalidTicket
from ticketmania.settings import ConfigurationError, Settings, get_settings

FORMAT = 2
_PAYLOAD = struct.Struct(">B4sQQHI")
_LINE = struct.Struct(">QH")
_SIGNATURE_BYTES = 64
# A code of format 1: no lines.
CODE_BYTES = _PAYLOAD.size + _SIGNATURE_BYTES
MAX_LINES = 20
# Signs codes only in local mode when no key is given (sam local), so every
# container agrees; refused outside local mode, as the JWT's development key is.
LOCAL_DEVELOPMENT_SEED = hashlib.sha256(
    b"ticketmania local development ticket key"
).digest()


@dataclass(frozen=True)
class TicketClaims:
    booking_id: int
    event_id: int
    seats: int
    issued_at: datetime
    # (ticket type id, quantity) of each line of the order; none in format 1.
    lines: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class KeyRing:
    """The signing key (the first given) and every key that verifies, by id."""

    signing: Ed25519PrivateKey
    signing_kid: bytes
    verifying: dict[bytes, Ed25519PublicKey]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(raw_public(key)).digest()[:4]


def new_key() -> str:
    """A fresh signing key, as TICKET_SIGNING_KEYS takes it."""
    return _b64(Ed25519PrivateKey.generate().private_bytes_raw())


def key_ring(keys: str) -> KeyRing:
    """The ring of comma-separated base64url seeds; the first signs."""
    private = []
    for text in (part.strip() for part in keys.split(",")):
        if not text:
            continue
        try:
            seed = _unb64(text)
            private.append(Ed25519PrivateKey.from_private_bytes(seed))
        except (ValueError, binascii.Error):
            raise ConfigurationError(
                "TICKET_SIGNING_KEYS: each key must be a 32-byte Ed25519 seed in base64url"
            ) from None
    if not private:
        raise ConfigurationError("TICKET_SIGNING_KEYS names no key")
    signing = private[0]
    return KeyRing(
        signing=signing,
        signing_kid=key_id(signing.public_key()),
        verifying={key_id(key.public_key()): key.public_key() for key in private},
    )


def _keys_text(settings: Settings) -> str:
    given = settings.ticket_signing_keys.get_secret_value()
    if given:
        return given
    if settings.ticket_signing_keys_parameter:
        from aws_lambda_powertools.utilities import parameters

        return str(
            parameters.get_parameter(
                settings.ticket_signing_keys_parameter, decrypt=True
            )
        )
    if settings.app_env == "local":
        return _b64(LOCAL_DEVELOPMENT_SEED)
    raise ConfigurationError(
        "TICKET_SIGNING_KEYS must be set (or named with TICKET_SIGNING_KEYS_PARAMETER); "
        "make one with: ticketmania ticket-key"
    )


@functools.cache
def get_key_ring() -> KeyRing:
    """The container's ticket keys, read once (a bad or missing key fails here)."""
    settings = get_settings()
    ring = key_ring(_keys_text(settings))
    if settings.app_env != "local" and key_id(ring.signing.public_key()) == key_id(
        Ed25519PrivateKey.from_private_bytes(LOCAL_DEVELOPMENT_SEED).public_key()
    ):
        raise ConfigurationError(
            "TICKET_SIGNING_KEYS is the local development key: set a real one"
        )
    return ring


def sign(ring: KeyRing, claims: TicketClaims) -> str:
    if not 1 <= len(claims.lines) <= MAX_LINES:
        raise ValueError("a ticket names 1 to 20 lines")
    payload = _PAYLOAD.pack(
        FORMAT,
        ring.signing_kid,
        claims.booking_id,
        claims.event_id,
        claims.seats,
        int(claims.issued_at.timestamp()),
    )
    payload += bytes([len(claims.lines)]) + b"".join(
        _LINE.pack(type_id, quantity) for type_id, quantity in claims.lines
    )
    return _b64(payload + ring.signing.sign(payload))


def verify(ring: KeyRing, code: str) -> TicketClaims:
    """The claims of a code signed by a key of the ring; InvalidTicket otherwise
    (malformed, truncated, forged, or signed by a key the ring does not know)."""
    try:
        raw = _unb64(code.strip())
    except (ValueError, binascii.Error):
        raise InvalidTicket() from None
    if len(raw) < CODE_BYTES:
        raise InvalidTicket()
    version = raw[0]
    lines: tuple[tuple[int, int], ...] = ()
    if version == 1 and len(raw) == CODE_BYTES:
        signed_bytes = _PAYLOAD.size
    elif version == FORMAT and len(raw) > CODE_BYTES:
        count = raw[_PAYLOAD.size]
        signed_bytes = _PAYLOAD.size + 1 + count * _LINE.size
        if not 1 <= count <= MAX_LINES or len(raw) != signed_bytes + _SIGNATURE_BYTES:
            raise InvalidTicket()
        start = _PAYLOAD.size + 1
        lines = tuple(
            _LINE.unpack_from(raw, start + index * _LINE.size) for index in range(count)
        )
    else:
        raise InvalidTicket()
    payload, signature = raw[:signed_bytes], raw[signed_bytes:]
    _, kid, booking_id, event_id, seats, issued = _PAYLOAD.unpack_from(payload)
    public = ring.verifying.get(kid)
    if public is None:
        raise InvalidTicket()
    try:
        public.verify(signature, payload)
    except InvalidSignature:
        raise InvalidTicket() from None
    return TicketClaims(
        booking_id=booking_id,
        event_id=event_id,
        seats=seats,
        issued_at=datetime.fromtimestamp(issued, UTC),
        lines=lines,
    )


def key_set(ring: KeyRing) -> dict[str, Any]:
    """The public keys as a JWK Set (RFC 8037: OKP, Ed25519)."""
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "kid": kid.hex(),
                "x": _b64(raw_public(key)),
                "use": "sig",
                "alg": "EdDSA",
            }
            for kid, key in ring.verifying.items()
        ]
    }


def qr_svg(code: str) -> str:
    """The code as a QR image, SVG markup to put in a page as is."""
    import segno

    return str(segno.make(code, error="m", micro=False).svg_inline(scale=4))


def qr_png(code: str) -> bytes:
    """The code as a QR image, PNG (large enough to print, or to read from a phone)."""
    import segno

    buffer = io.BytesIO()
    segno.make(code, error="m", micro=False).save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()
