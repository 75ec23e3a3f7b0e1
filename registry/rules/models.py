"""Jurisdictions, professions and effective-dated rule versions.

A rule version says what one jurisdiction demands of one profession over a span of dates
``[effective_from, effective_to)``. Versions are never edited in place:

* a new rule closes the current version (sets its ``effective_to``) and opens a new one;
* a correction of a version from the same start date *supersedes* it (``superseded_at``,
  ``superseded_by_id``): the old row stays for the record but leaves the timeline.

The *live* versions of a (jurisdiction, profession) pair are those not superseded; they never
overlap, and at most one is open-ended (the current one).
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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.db import UTCDateTime, utcnow
from registry.extensions import db


class Status(str, enum.Enum):
    PERMITTED = "permitted"
    PROHIBITED = "prohibited"
    NOT_ADDRESSED = "not_addressed"
    UNCLEAR = "unclear"
    UNKNOWN = "unknown"


class AuthorityType(str, enum.Enum):
    STATUTE = "statute"
    REGULATION = "regulation"
    BOARD_POLICY = "board_policy"
    DECLARATORY_RULING = "declaratory_ruling"
    ATTORNEY_GENERAL_OPINION = "attorney_general_opinion"
    COURT_RULING = "court_ruling"
    UNKNOWN = "unknown"


class Confidence(str, enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    UNKNOWN = "unknown"


def _in(values: type[enum.Enum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Jurisdiction(db.Model):
    __tablename__ = "jurisdiction"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: state, district (DC) or territory (PR)
    kind: Mapped[str] = mapped_column(String(16))

    def __repr__(self) -> str:
        return f"<Jurisdiction {self.code}>"


class Profession(db.Model):
    __tablename__ = "profession"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)

    def __repr__(self) -> str:
        return f"<Profession {self.code}>"


class RuleVersion(db.Model):
    __tablename__ = "rule_version"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(Status)})", name="status"),
        CheckConstraint(f"authority_type IN ({_in(AuthorityType)})", name="authority_type"),
        CheckConstraint(f"confidence IN ({_in(Confidence)})", name="confidence"),
        CheckConstraint(
            "effective_to IS NULL OR effective_from IS NULL OR effective_to > effective_from",
            name="effective_range",
        ),
        CheckConstraint(
            "min_training_hours IS NULL OR min_training_hours >= 0", name="training_hours"
        ),
        CheckConstraint(
            "min_practical_hours IS NULL OR min_practical_hours >= 0", name="practical_hours"
        ),
        CheckConstraint(
            "supervised_sessions IS NULL OR supervised_sessions >= 0", name="supervised_sessions"
        ),
        CheckConstraint("years_licensed IS NULL OR years_licensed >= 0", name="years_licensed"),
        CheckConstraint(
            "completion_window_months IS NULL OR completion_window_months > 0",
            name="completion_window",
        ),
        # At most one current (open-ended, not superseded) version per pair.
        Index(
            "uq_rule_version_current",
            "jurisdiction_code",
            "profession_code",
            unique=True,
            sqlite_where=text("effective_to IS NULL AND superseded_at IS NULL"),
            postgresql_where=text("effective_to IS NULL AND superseded_at IS NULL"),
        ),
        Index("ix_rule_version_pair", "jurisdiction_code", "profession_code", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("jurisdiction.code"))
    profession_code: Mapped[str] = mapped_column(ForeignKey("profession.code"))

    status: Mapped[str] = mapped_column(String(16))
    #: the legal basis in a few words, e.g. "statute HB 25, rule eff. 2015-07-01"
    status_detail: Mapped[str] = mapped_column(Text, default="")
    #: None = the sources give no figure (not the same as "none required")
    min_training_hours: Mapped[Decimal | None] = mapped_column(Numeric(7, 1))
    #: in-person / practical / hands-on hours
    min_practical_hours: Mapped[Decimal | None] = mapped_column(Numeric(7, 1))
    supervised_sessions: Mapped[int | None] = mapped_column(Integer)
    #: years of licensed practice before dry needling
    years_licensed: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    #: months within which the course must be completed
    completion_window_months: Mapped[int | None] = mapped_column(Integer)
    #: "; "-separated list
    approved_course_bodies: Mapped[str] = mapped_column(Text, default="")
    #: tri-state: True = required, False = not required, None = unknown
    board_registration_required: Mapped[bool | None] = mapped_column(Boolean)
    written_consent_required: Mapped[bool | None] = mapped_column(Boolean)
    referral_required: Mapped[bool | None] = mapped_column(Boolean)
    delegation_allowed: Mapped[bool | None] = mapped_column(Boolean)
    authority_type: Mapped[str] = mapped_column(String(32))
    citation: Mapped[str] = mapped_column(Text, default="")
    #: one or more URLs separated by " ; "
    source_url: Mapped[str] = mapped_column(Text, default="")
    #: YYYY, YYYY-MM or YYYY-MM-DD; empty when the source is undated
    source_date: Mapped[str] = mapped_column(String(10), default="")
    #: None = start date not known
    effective_from: Mapped[date | None] = mapped_column(Date)
    #: exclusive end; None = still in force
    effective_to: Mapped[date | None] = mapped_column(Date)
    last_verified_on: Mapped[date | None] = mapped_column(Date)
    confidence: Mapped[str] = mapped_column(String(8))
    notes: Mapped[str] = mapped_column(Text, default="")

    #: why this version was recorded (the manager's reason, or the import that brought it)
    change_reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: None when recorded by a CLI import rather than a signed-in user
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("rule_version.id"))
    #: optimistic-lock counter: an UPDATE that finds another number fails
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version_id}

    jurisdiction: Mapped[Jurisdiction] = relationship(lazy="joined")
    profession: Mapped[Profession] = relationship(lazy="joined")
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])

    @property
    def is_live(self) -> bool:
        return self.superseded_at is None

    def in_force_on(self, day: date) -> bool:
        return (
            self.is_live
            and (self.effective_from is None or self.effective_from <= day)
            and (self.effective_to is None or day < self.effective_to)
        )

    def __repr__(self) -> str:
        return (
            f"<RuleVersion {self.id} {self.jurisdiction_code}/{self.profession_code} "
            f"{self.status} {self.effective_from}..{self.effective_to}>"
        )
