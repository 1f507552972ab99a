"""Data access for the users table."""

from __future__ import annotations

import unicodedata

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ticketmania.db.models import User
from ticketmania.db.statements import run_alone
from ticketmania.errors import EmailTaken


def canonical_email(address: str) -> str:
    """An address as it is stored and looked up: email-validator's normal form
    (Unicode NFC, the domain as IDNA reads it), lower-cased. What signup stores,
    login and create-admin find, however the address was typed (NFD, capitals)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        normal = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:  # no account has it; still compared as typed
        normal = unicodedata.normalize("NFC", address)
    return normal.lower()


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == canonical_email(email)))


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


_TOKEN_VERSION = "SELECT token_version FROM users WHERE id = :user_id"


def read_token_version(session: Session, user_id: int) -> int | None:
    """The user's current token version (None: no such user), read as a statement
    of its own (`run_alone`): the session must hold no connection."""
    rows = run_alone(session, _TOKEN_VERSION, {"user_id": user_id})
    return int(rows[0][0]) if rows else None


def insert_user(
    session: Session, *, name: str, email: str, password_hash: str, role: str = "user"
) -> User:
    user = User(
        name=name, email=canonical_email(email), password_hash=password_hash, role=role
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        # The failed flush leaves the transaction for its owner to roll back.
        raise EmailTaken() from exc
    return user


def change_password_hash(session: Session, user: User, password_hash: str) -> None:
    """Store the new hash and bump the token version, so every older token dies."""
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(
            password_hash=password_hash,
            token_version=User.token_version + 1,
            updated_at=func.now(),
        )
    )
    session.refresh(user)


def set_role(session: Session, user: User, role: str) -> None:
    user.role = role
    user.updated_at = func.now()
    session.flush()
    session.refresh(user)
