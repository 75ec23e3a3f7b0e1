"""Account services: creating users, signing in (with lockout and the second factor),
changing a password, ending sessions. Every sign-in attempt is audited; passwords and codes
never are. No commits here."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select

from registry.accounts import totp
from registry.accounts.models import ROLES, User
from registry.accounts.passwords import password_problem
from registry.audit.services import record as audit
from registry.db import utcnow
from registry.errors import InputError
from registry.extensions import db

#: a hash of nothing anyone can type, checked for unknown emails so that they cost the same work
_DUMMY_HASH = "scrypt:32768:8:1$x$" + "0" * 128


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
        password = secrets.token_urlsafe(18)
    check_new_password(password, field="password")
    user = User(email=email, role=role, is_enabled=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit(actor_id=None, actor=actor_label, action="user.create", entity_type="user", entity_key=str(user.id), after={"email": email, "role": role})
    return user, password


def check_new_password(password: str, *, field: str) -> None:
    problem = password_problem(password)
    if problem:
        raise AccountError(problem, field=field)


# --- signing in ------------------------------------------------------------------------------------
def _audit_user(user: User, action: str, **details) -> None:
    audit(actor_id=user.id, actor=user.email, action=action, entity_type="user", entity_key=str(user.id), after=details or None)


def is_locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _refuse(user: User, reason: str, now: datetime) -> None:
    """Count a failed attempt; at the limit, lock the account for a while."""
    audit(actor_id=None, actor=user.email, action="auth.login_failed", entity_type="user", entity_key=str(user.id), after={"reason": reason})
    if is_locked(user, now):
        return
    user.failed_logins += 1
    if user.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
        user.failed_logins = 0
        user.locked_until = now + timedelta(minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])
        audit(actor_id=None, actor=user.email, action="auth.locked", entity_type="user", entity_key=str(user.id), after={"until": user.locked_until.isoformat()})


def check_credentials(email: str, password: str) -> User | None:
    """The first step of signing in: the user when the password is right and the account is
    enabled and not locked, else None, whatever the reason (the caller says the same thing
    in every case, so nobody learns which accounts exist). The caller commits either way."""
    now = utcnow()
    user = find_user(email)
    if user is None or not user.is_enabled:
        User(password_hash=_DUMMY_HASH).check_password(password)  # the same work as a real check
        audit(actor_id=None, actor=email.strip().lower(), action="auth.login_failed", entity_type="user",
              entity_key=str(user.id) if user else "unknown", after={"reason": "disabled" if user else "unknown email"})
        return None
    if not user.check_password(password):
        _refuse(user, "wrong password", now)
        return None
    if is_locked(user, now):
        _refuse(user, "locked", now)
        return None
    return user


def check_login_code(user: User, code: str) -> bool:
    """The second step: a TOTP code not used before. A wrong code counts as a failed attempt."""
    now = utcnow()
    step = None if is_locked(user, now) else totp.matching_step(user.totp_secret, code, now=now, after=user.totp_last_step)
    if step is None:
        _refuse(user, "locked" if is_locked(user, now) else "wrong code", now)
        return False
    user.totp_last_step = step
    return True


def record_login(user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None
    _audit_user(user, "auth.login", second_factor=user.totp_secret is not None)


def end_sessions(user: User, action: str) -> None:
    """End every session of the user: sessions carry the version they were issued with."""
    user.session_version += 1
    _audit_user(user, action)


# --- the signed-in user's own account --------------------------------------------------------------
def change_password(user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise AccountError("The current password is not correct.", field="current_password")
    check_new_password(new, field="new_password")
    user.set_password(new)
    end_sessions(user, "auth.password_change")


def enable_totp(user: User, secret: str, code: str) -> None:
    """Turn the second factor on once ``code`` shows the authenticator app holds ``secret``."""
    step = totp.matching_step(secret, code, now=utcnow(), after=None)
    if step is None:
        raise AccountError("The code does not match; check the clock of your device and try the next code.", field="code")
    user.totp_secret = secret
    user.totp_last_step = step
    end_sessions(user, "auth.totp_enable")


def disable_totp(user: User, password: str) -> None:
    if not user.check_password(password):
        raise AccountError("The password is not correct.", field="password")
    user.totp_secret = None
    user.totp_last_step = None
    end_sessions(user, "auth.totp_disable")


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0
