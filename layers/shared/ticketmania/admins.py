"""Making admins and door staff: the only way a user gets role "admin" or
"staff" (signup never does).

Run by `ticketmania create-admin` (`--role staff` for staff) against any
database it can reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from ticketmania.db import users
from ticketmania.security import hash_password


@dataclass(frozen=True)
class AdminResult:
    user_id: int
    outcome: Literal["created", "promoted", "promoted_with_new_password"]


def create_or_promote_admin(
    session: Session,
    *,
    email: str,
    password: str,
    name: str | None,
    reset_password: bool,
    role: Literal["admin", "staff"] = "admin",
) -> AdminResult:
    """Create an admin (or door staff: `role`), or give the user with this
    email that role (keeping their password unless `reset_password`). Commits."""
    user = users.find_user_by_email(session, email)
    if user is None:
        user = users.insert_user(
            session,
            name=name or email.split("@")[0],
            email=email,
            password_hash=hash_password(password),
            role=role,
        )
        outcome: Literal["created", "promoted", "promoted_with_new_password"] = (
            "created"
        )
    else:
        users.set_role(session, user, role)
        outcome = "promoted"
        if reset_password:
            users.change_password_hash(session, user, hash_password(password))
            outcome = "promoted_with_new_password"
    session.commit()
    return AdminResult(user_id=user.id, outcome=outcome)
