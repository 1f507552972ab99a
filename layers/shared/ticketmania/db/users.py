"""Data access for the users table."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ticketmania.db.models import User
from ticketmania.errors import EmailTaken


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.lower()))


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def insert_user(
    session: Session, *, name: str, email: str, password_hash: str, role: str = "user"
) -> User:
    user = User(name=name, email=email.lower(), password_hash=password_hash, role=role)
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
