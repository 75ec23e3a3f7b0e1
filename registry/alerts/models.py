"""The email outbox and the record of alert-job runs.

Every alert is first written to ``email_outbox`` under a unique ``dedupe_key`` (the item, the
window and the recipient), in the same transaction as whatever made it due; a sender then
claims queued rows, sends them and marks each sent. A message is therefore never lost (SMTP
down leaves it queued) and never queued twice (the key is unique); two senders never claim
the same row (a lease, taken under the database's row or write lock).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import UTCDateTime, utcnow
from registry.extensions import db

QUEUED, SENT, FAILED = "queued", "sent", "failed"
STATUSES = (QUEUED, SENT, FAILED)
#: credential_expiry: to a clinician; digest: to a manager, one per run; rule_change: to a
#: clinician who loses eligibility when a new rule version is saved
KINDS = ("credential_expiry", "digest", "rule_change")


class OutboxMessage(db.Model):
    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status"),
        CheckConstraint("kind IN ('credential_expiry', 'digest', 'rule_change')", name="kind"),
        # what a sender looks for: queued rows whose next attempt is due
        Index("ix_email_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: e.g. expiry:license:42:2026-12-31:before-30:dana@example.org
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    #: stable across retries, so a receiving server can spot a repeat
    message_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(8), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: a sender's lease: while it runs, no other sender takes the row
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the run that queued it (None: queued by a rule change or a manager)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("alert_run.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("provider.id"), index=True)
    #: what it is about, for the outbox page: kind, credential, expiry, window, states...
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status} {self.recipient}>"


class AlertRun(db.Model):
    """One run of the alert job (scheduled, from the command line or a manager's button)."""

    __tablename__ = "alert_run"
    __table_args__ = (CheckConstraint("status IN ('running', 'ok', 'failed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    as_of: Mapped[date] = mapped_column(Date)
    #: scheduler | cli | page
    trigger: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(8), default="running")
    #: due, queued, already_queued, sent, retry, failed
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")

    def __repr__(self) -> str:
        return f"<AlertRun {self.id} {self.as_of} {self.status}>"
