"""Account services: creating users and checking passwords. No commits here."""

from __future__ import annotations

import secrets

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from registry.accounts.models import ROLES, User
from registry.audit.services import record as audit
from registry.errors import InputError
from registry.extensions import db

MIN_PASSWORD_LENGTH = 12


class AccountError(InputError):
    """An account change that cannot be made."""


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(f"'{email}' is not a valid email address: {exc}", field="email") from None


def find_user(email: str) -> User | None:
    return db.session.scalars(select(User).where(User.email == email.strip().lower())).first()


def create_user(email: str, role: str, password: str | None = None, *, actor_label: str) -> tuple[User, str]:
    """Create a user; generate a password when none is given. Returns (user, password)."""
    email = normalise_email(email)
    if role not in ROLES:
        raise AccountError(f"'{role}' is not a role; choose one of {', '.join(ROLES)}.", field="role")
    if find_user(email):
        raise AccountError(f"A user with email {email} already exists.", field="email")
    if password is None:
        password = secrets.token_urlsafe(12)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.", field="password")
    user = User(email=email, role=role, is_enabled=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit(actor_id=None, actor=actor_label, action="user.create", entity_type="user", entity_key=str(user.id), after={"email": email, "role": role})
    return user, password


def authenticate(email: str, password: str) -> User | None:
    user = find_user(email)
    if user is None or not user.is_enabled:
        # spend the same time as a real check so response time does not reveal accounts
        User(password_hash="scrypt:32768:8:1$x$" + "0" * 128).check_password(password)
        return None
    return user if user.check_password(password) else None


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0
