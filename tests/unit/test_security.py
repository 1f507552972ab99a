import base64
from datetime import UTC, datetime, timedelta
from importlib.metadata import version

import jwt
import passlib
import pytest

from ticketmania.errors import InvalidToken
from ticketmania.security import (
    AUDIENCE,
    dummy_password_hash,
    hash_password,
    issue_access_token,
    read_access_token,
    verify_password,
)

# 64 bytes: long enough that PyJWT does not warn when the tests forge HS512 with it.
SECRET = "unit-test-secret-key-long-enough-0123456789abcdef-0123456789abcd"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def token(**overrides):
    fields = dict(
        user_id=7,
        role="user",
        token_version=3,
        secret=SECRET,
        lifetime=timedelta(hours=1),
        now=datetime.now(UTC),
    )
    fields.update(overrides)
    return issue_access_token(**fields)


def test_pinned_passlib_and_argon2_hash_and_verify():
    # The versions layers/shared/requirements.txt pins: passlib is unmaintained, so this must keep working.
    assert passlib.__version__ == "1.7.4"
    assert version("argon2-cffi").startswith("25.")
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password("correct horse battery", hashed)
    assert not verify_password("wrong horse battery", hashed)


def test_malformed_stored_hash_never_verifies():
    assert not verify_password("anything", "not-a-hash")
    assert not verify_password("anything", "")


def test_dummy_hash_is_a_real_argon2_hash():
    assert dummy_password_hash().startswith("$argon2id$")


def test_token_round_trip_carries_user_role_and_version():
    claims = read_access_token(token(), secret=SECRET)
    assert (claims.user_id, claims.role, claims.token_version) == (7, "user", 3)


def test_token_has_standard_claims():
    payload = jwt.decode(
        token(now=NOW),
        SECRET,
        algorithms=["HS256"],
        audience=AUDIENCE,
        options={"verify_exp": False},
    )
    assert payload["sub"] == "7"
    assert payload["iat"] == int(NOW.timestamp())
    assert payload["exp"] == int((NOW + timedelta(hours=1)).timestamp())


def test_expired_token_is_refused():
    with pytest.raises(InvalidToken):
        read_access_token(token(now=NOW - timedelta(days=1)), secret=SECRET)


def test_forged_signature_is_refused():
    with pytest.raises(InvalidToken):
        read_access_token(
            token(secret="another-secret-key-also-long-enough-0123456789"),
            secret=SECRET,
        )


@pytest.mark.parametrize("algorithm", ["none", "HS512"])
def test_other_algorithms_are_refused(algorithm):
    payload = {
        "sub": "7",
        "role": "admin",
        "ver": 0,
        "iat": int(NOW.timestamp()),
        "exp": 4_000_000_000,
    }
    key = None if algorithm == "none" else SECRET
    forged = jwt.encode(payload, key, algorithm=algorithm)
    with pytest.raises(InvalidToken):
        read_access_token(forged, secret=SECRET)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
def test_tokens_missing_a_required_claim_are_refused(missing):
    payload = {"sub": "7", "iat": int(NOW.timestamp()), "exp": 4_000_000_000}
    del payload[missing]
    with pytest.raises(InvalidToken):
        read_access_token(jwt.encode(payload, SECRET, algorithm="HS256"), secret=SECRET)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "a.b.c",
        "Bearer x",
        "!!!!.e30.x",  # not base64url
        "WzFd.e30.x",  # a header that is a JSON list
        "MQ.e30.x",  # a header that is a number
        "_w.e30.x",  # a header that is not UTF-8
        "e30.e30.x",  # a header without a kid
        pytest.param(  # a header of absurdly nested JSON (RecursionError in the parser)
            base64.urlsafe_b64encode(b"[" * 5000).decode().rstrip("=") + ".e30.x",
            id="nested-header",
        ),
    ],
)
def test_garbage_is_refused(garbage):
    with pytest.raises(InvalidToken):
        read_access_token(garbage, secret=SECRET)


def test_non_numeric_subject_is_refused():
    forged = jwt.encode(
        {"sub": "admin", "iat": 1, "exp": 4_000_000_000}, SECRET, algorithm="HS256"
    )
    with pytest.raises(InvalidToken):
        read_access_token(forged, secret=SECRET)


def test_tokens_name_their_issuer_and_audience():
    payload = jwt.decode(token(), SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert (payload["iss"], payload["aud"]) == ("ticketmania", "ticketmania-api")


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-api"},
        {"iss": "someone-else"},
        {"aud": None},
        {"iss": None},
    ],
)
def test_a_token_for_another_audience_or_issuer_or_none_is_refused(claims):
    from ticketmania.security import key_ring

    ((kid, key),) = key_ring(SECRET).items()
    payload = {
        "iss": "ticketmania",
        "aud": "ticketmania-api",
        "sub": "7",
        "iat": int(NOW.timestamp()),
        "exp": 4_000_000_000,
        **claims,
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    forged = jwt.encode(payload, key, algorithm="HS256", headers={"kid": kid})
    with pytest.raises(InvalidToken):
        read_access_token(forged, secret=SECRET)


OLD_KEY = "old-signing-key-long-enough-for-hs256-0123456789abcdefghijklmnop"
NEW_KEY = "new-signing-key-long-enough-for-hs256-0123456789abcdefghijklmnop"


def test_keys_rotate_the_first_signs_and_all_verify_until_removed():
    before = token(secret=OLD_KEY)
    during = f"{NEW_KEY},{OLD_KEY}"
    assert read_access_token(before, secret=during).user_id == 7
    after_rotation = token(secret=during)
    assert read_access_token(after_rotation, secret=NEW_KEY).user_id == 7
    with pytest.raises(InvalidToken):
        read_access_token(after_rotation, secret=OLD_KEY)
    with pytest.raises(InvalidToken):
        read_access_token(before, secret=NEW_KEY)  # the old key removed


def test_a_token_without_a_known_kid_is_refused():
    payload = {
        "iss": "ticketmania",
        "aud": "ticketmania-api",
        "sub": "7",
        "iat": 1,
        "exp": 4_000_000_000,
    }
    with pytest.raises(InvalidToken):
        read_access_token(jwt.encode(payload, SECRET, algorithm="HS256"), secret=SECRET)


def test_a_header_that_names_a_known_kid_over_a_vetted_segment_is_still_checked_whole():
    """The kid is read without checks; the whole token is then checked with its key."""
    good = token()
    read_access_token(good, secret=SECRET)
    header, payload, signature = good.split(".")
    for forged in (
        f"{header}=.{payload}.{signature}",  # padding PyJWT refuses on this segment
        f"{header}.{payload}x.{signature}",
        f"{header}.{payload}.{signature[:-2]}AA",
    ):
        with pytest.raises(InvalidToken):
            read_access_token(forged, secret=SECRET)
