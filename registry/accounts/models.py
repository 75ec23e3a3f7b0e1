"""User accounts and roles."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from registry.db import UTCDateTime, utcnow
from registry.extensions import db


class Role(str, enum.Enum):
    MANAGER = "manager"  # keeps state rules and credentials
    CLINICIAN = "clinician"  # checks own eligibility, codes visits
    BILLER = "biller"  # runs the coding check
    AUDITOR = "auditor"  # reads everything, changes nothing


ROLES = tuple(r.value for r in Role)


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("role IN ({})".format(", ".join(f"'{r}'" for r in ROLES)), name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: stored lower-cased
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: werkzeug scrypt hash
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: failed sign-ins since the last success; reaching the limit locks the account a while
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: base32 TOTP secret once a second factor is set up (None: none)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    #: the last TOTP time step accepted: a code is never accepted twice
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    #: part of the session's identity: bumped on sign-out, password change or disabling, so
    #: every session issued before stops working
    session_version: Mapped[int] = mapped_column(Integer, default=1)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.is_enabled

    def get_id(self) -> str:
        """The identity a session carries: "id:session_version" (see registry.accounts.views)."""
        return f"{self.id}:{self.session_version}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


#: what an API token may be allowed to do
TOKEN_SCOPES = {
    "eligibility:read": "ask the eligibility API (single, matrix, batch)",
    "coding:check": "run the coding gate (one visit or a batch)",
    "coding:read": "read the record of coding decisions",
    "providers:read": "read providers and their credentials",
    "providers:write": "add and change providers and credentials",
    "rules:read": "read the state rules",
    "rules:write": "record new rule versions",
}


class ApiToken(db.Model):
    """A named token for an integration (an EHR, a billing system). Only a SHA-256 of the
    token is stored; the token itself is shown once, when it is created."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    #: hex SHA-256 of the whole token
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the token's first characters, to recognise it in lists and logs
    prefix: Mapped[str] = mapped_column(String(16))
    #: space-separated, from TOKEN_SCOPES
    scopes: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.name} {self.prefix}>"
