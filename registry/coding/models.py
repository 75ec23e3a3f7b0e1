"""What the coding gate decided, and the claim lines it let out.

A ``CodingCheck`` is written for every visit checked (page, API, batch or CSV upload) and never
changed afterwards: the visit as submitted, the outcome, every edit with its source, and a copy
of the rule version the eligibility decision was made under (its id, citation, sources and
dates), so the decision can be explained later even after the rule has changed.

A ``BillableLine`` exists only for a visit the gate allowed: one per claim line, made when a
clinician or biller releases the visit (acknowledging any warning), exported for the billing
system.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.db import UTCDateTime, utcnow
from registry.extensions import db

OUTCOMES = ("allow", "allow_with_warnings", "block")
CHANNELS = ("page", "api", "api_batch", "csv")


class CodingCheck(db.Model):
    __tablename__ = "coding_check"
    __table_args__ = (
        CheckConstraint("outcome IN ('allow', 'allow_with_warnings', 'block')", name="outcome"),
        CheckConstraint("channel IN ('page', 'api', 'api_batch', 'csv')", name="channel"),
        Index("ix_coding_check_npi_date", "npi", "date_of_service"),
        Index("ix_coding_check_outcome_checked_at", "outcome", "checked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: the signed-in user who ran the check (None for a CLI command or job)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: readable: the user's email, or the integration's name
    actor: Mapped[str] = mapped_column(String(254))
    #: page | api | api_batch | csv
    channel: Mapped[str] = mapped_column(String(16))
    #: the same for every visit of one batch request or CSV upload
    batch_key: Mapped[str | None] = mapped_column(String(36), index=True)
    #: the visit's place in its request or upload, from 1 (a CSV upload's row, a batch's item)
    batch_position: Mapped[int] = mapped_column(Integer, default=1)

    npi: Mapped[str] = mapped_column(String(10))
    jurisdiction_code: Mapped[str] = mapped_column(String(2))
    date_of_service: Mapped[date] = mapped_column(Date)
    payer_type: Mapped[str] = mapped_column(String(16))
    payer_name: Mapped[str] = mapped_column(String(200), default="")
    #: the provider's profession on record (None: NPI unknown)
    profession_code: Mapped[str | None] = mapped_column(String(8))

    outcome: Mapped[str] = mapped_column(String(24))
    #: the code the distinct muscles call for (None: no muscle documented)
    computed_code: Mapped[str | None] = mapped_column(String(5))
    distinct_muscles: Mapped[int] = mapped_column(Integer)
    #: eligible | not_eligible | needs_review (None: NPI unknown)
    eligibility_outcome: Mapped[str | None] = mapped_column(String(16))

    #: the rule version the eligibility decision used, and a copy of what it said then
    rule_version_id: Mapped[int | None] = mapped_column(ForeignKey("rule_version.id"))
    rule_status: Mapped[str | None] = mapped_column(String(16))
    rule_citation: Mapped[str] = mapped_column(Text, default="")
    rule_source_url: Mapped[str] = mapped_column(Text, default="")
    rule_effective_from: Mapped[date | None] = mapped_column(Date)
    rule_effective_to: Mapped[date | None] = mapped_column(Date)

    #: the visit as checked (see services.visit_to_json)
    visit: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: every edit: code, severity, message, source, source_urls, line_code, fix, rule_id, reason_code
    edits: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: the engine's reasons: code, message
    eligibility_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    lines: Mapped[list[BillableLine]] = relationship(back_populates="check", order_by="BillableLine.line_number")

    @property
    def allowed(self) -> bool:
        return self.outcome != "block"

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [e for e in self.edits if e["severity"] == "warn"]

    def __repr__(self) -> str:
        return f"<CodingCheck {self.id} {self.npi} {self.jurisdiction_code} {self.date_of_service} {self.outcome}>"


class BillableLine(db.Model):
    """One claim line of a released visit. Released once: (check, line number) is unique."""

    __tablename__ = "billable_line"
    __table_args__ = (
        UniqueConstraint("check_id", "line_number", name="uq_billable_line_check_line"),
        Index("ix_billable_line_exported_at", "exported_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("coding_check.id"))
    line_number: Mapped[int] = mapped_column(Integer)
    npi: Mapped[str] = mapped_column(String(10))
    jurisdiction_code: Mapped[str] = mapped_column(String(2))
    date_of_service: Mapped[date] = mapped_column(Date)
    payer_type: Mapped[str] = mapped_column(String(16))
    payer_name: Mapped[str] = mapped_column(String(200), default="")
    code: Mapped[str] = mapped_column(String(5))
    units: Mapped[int] = mapped_column(Integer)
    #: space-separated, e.g. "GX"
    modifiers: Mapped[str] = mapped_column(String(64), default="")
    #: space-separated ICD-10-CM codes of the visit
    diagnoses: Mapped[str] = mapped_column(Text, default="")
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    released_by: Mapped[str] = mapped_column(String(254))
    #: for a visit allowed with warnings: why it goes out anyway (required then)
    acknowledgement: Mapped[str] = mapped_column(Text, default="")
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    check: Mapped[CodingCheck] = relationship(back_populates="lines")

    def __repr__(self) -> str:
        return f"<BillableLine {self.id} {self.code} x{self.units} check {self.check_id}>"
