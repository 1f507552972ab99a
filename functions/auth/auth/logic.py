"""Auth rules as plain functions: handed a session, a cache and a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from auth.throttle import ThrottlePolicy, count_attempt, forget_attempts
from ticketmania import token_versions
from ticketmania.cache import Cache
from ticketmania.db import users
from ticketmania.db.models import User
from ticketmania.errors import Forbidden, InvalidCredentials
from ticketmania.security import (
    dummy_password_hash,
    hash_password,
    issue_access_token,
    verify_password,
)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    user: User


def sign_up(session: Session, *, name: str, email: str, password: str) -> User:
    # Always role "user": admins are made by `ticketmania create-admin`, never over HTTP.
    user = users.insert_user(
        session, name=name, email=email, password_hash=hash_password(password)
    )
    session.commit()
    return user


def log_in(
    session: Session,
    cache: Cache,
    *,
    email: str,
    password: str,
    client: str,
    policy: ThrottlePolicy,
    secret: str,
    lifetime: timedelta,
    now: datetime,
) -> IssuedToken:
    # Counted and looked up as signup stored it, however it was typed.
    email = users.canonical_email(email)
    count_attempt(cache, policy, email=email, client=client)
    user = users.find_user_by_email(session, email)
    # Unknown email still verifies a hash, so both failures take the same time.
    is_valid = verify_password(
        password, user.password_hash if user else dummy_password_hash()
    )
    if user is None or not is_valid:
        raise InvalidCredentials()
    forget_attempts(cache, email=email, client=client)
    # The booking path then finds the version in Redis, with no database read.
    token_versions.remember(cache, user.id, user.token_version)
    token = issue_access_token(
        user_id=user.id,
        role=user.role,
        token_version=user.token_version,
        secret=secret,
        lifetime=lifetime,
        now=now,
    )
    return IssuedToken(
        access_token=token, expires_in=int(lifetime.total_seconds()), user=user
    )


def change_password(
    session: Session,
    cache: Cache,
    *,
    user: User,
    current_password: str,
    new_password: str,
    client: str,
    policy: ThrottlePolicy,
) -> None:
    count_attempt(cache, policy, email=user.email, client=client)
    if not verify_password(current_password, user.password_hash):
        raise Forbidden("The current password is wrong")
    password_hash = hash_password(new_password)
    # Before the commit, so no booking trusts the old version from Redis once the
    # new one is the truth; after it, the new one, so the old tokens are refused
    # from Redis (ticketmania/token_versions.py).
    token_versions.forget_before_change(cache, user.id)
    users.change_password_hash(session, user, password_hash)
    session.commit()
    token_versions.remember_after_change(cache, user.id, user.token_version)
    forget_attempts(cache, email=user.email, client=client)
