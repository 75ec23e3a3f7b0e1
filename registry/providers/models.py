"""Providers (clinicians) and the credentials a state can ask for before dry needling.

Credentials are never deleted: *ending* one records the day it stopped being held
(``ended_on``) and why. Every row carries a version counter for optimistic locking.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from registry.db import UTCDateTime, utcnow
from registry.extensions import db


class CredentialStatus(str, enum.Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


CREDENTIAL_STATUSES = tuple(s.value for s in CredentialStatus)
_STATUS_CHECK = "status IN ({})".format(", ".join(f"'{s}'" for s in CREDENTIAL_STATUSES))


class Provider(db.Model):
    __tablename__ = "provider"
    __table_args__ = (CheckConstraint("length(npi) = 10", name="npi_length"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: National Provider Identifier, 10 digits with a valid check digit
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    profession_code: Mapped[str] = mapped_column(ForeignKey("profession.code"))
    email: Mapped[str] = mapped_column(String(254), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the clinician's own account, so they can see this record
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version_id}

    profession = relationship("Profession", lazy="joined")
    user = relationship("User", lazy="joined")
    licenses: Mapped[list[License]] = relationship(back_populates="provider", order_by="License.jurisdiction_code")
    trainings: Mapped[list[TrainingRecord]] = relationship(back_populates="provider", order_by="TrainingRecord.completed_on")
    registrations: Mapped[list[BoardRegistration]] = relationship(back_populates="provider", order_by="BoardRegistration.jurisdiction_code")

    def __repr__(self) -> str:
        return f"<Provider {self.id} {self.npi}>"


class _Credential:
    """Columns every credential has."""

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"), index=True)
    #: the day the credential stopped being held (None = still held or simply expired)
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version_id}


class _IssuedCredential(_Credential):
    """A credential a board issues in one jurisdiction, under a number: a license or a
    board registration."""

    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("jurisdiction.code"))
    number: Mapped[str] = mapped_column(String(64))
    issued_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")

    @declared_attr.directive
    def __table_args__(cls):
        return (
            CheckConstraint(_STATUS_CHECK, name="status"),
            CheckConstraint("expires_on IS NULL OR issued_on IS NULL OR expires_on >= issued_on", name="dates"),
            UniqueConstraint("provider_id", "jurisdiction_code", "number"),
            Index(f"ix_{cls.__tablename__}_expires_on", "expires_on"),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.jurisdiction_code} {self.number}>"


class License(_IssuedCredential, db.Model):
    __tablename__ = "license"

    profession_code: Mapped[str] = mapped_column(ForeignKey("profession.code"))
    #: a PT Compact privilege to practise, not a home-state license
    is_compact_privilege: Mapped[bool] = mapped_column(Boolean, default=False)

    provider: Mapped[Provider] = relationship(back_populates="licenses")
    jurisdiction = relationship("Jurisdiction", lazy="joined")

    KIND = "license"


class TrainingRecord(_Credential, db.Model):
    __tablename__ = "training_record"
    __table_args__ = (
        CheckConstraint("total_hours >= 0", name="total_hours"),
        CheckConstraint("practical_hours >= 0 AND practical_hours <= total_hours", name="practical_hours"),
        CheckConstraint("supervised_sessions >= 0", name="supervised_sessions"),
        UniqueConstraint("provider_id", "course_title", "completed_on"),
        Index("ix_training_record_expires_on", "expires_on"),
    )

    course_title: Mapped[str] = mapped_column(String(300))
    sponsor: Mapped[str] = mapped_column(String(200), default="")
    #: e.g. APTA, FSBPT, a state chapter
    approving_body: Mapped[str] = mapped_column(String(200), default="")
    completed_on: Mapped[date] = mapped_column(Date)
    total_hours: Mapped[Decimal] = mapped_column(Numeric(7, 1))
    #: in-person / practical hours (part of the total)
    practical_hours: Mapped[Decimal] = mapped_column(Numeric(7, 1), default=Decimal("0"))
    #: supervised sessions or practicum count
    supervised_sessions: Mapped[int] = mapped_column(Integer, default=0)
    expires_on: Mapped[date | None] = mapped_column(Date)

    provider: Mapped[Provider] = relationship(back_populates="trainings")

    KIND = "training"

    def __repr__(self) -> str:
        return f"<TrainingRecord {self.id} {self.course_title!r}>"


class BoardRegistration(_IssuedCredential, db.Model):
    __tablename__ = "board_registration"

    provider: Mapped[Provider] = relationship(back_populates="registrations")
    jurisdiction = relationship("Jurisdiction", lazy="joined")

    KIND = "registration"


CREDENTIAL_MODELS = {"license": License, "training": TrainingRecord, "registration": BoardRegistration}
