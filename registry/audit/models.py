"""The audit trail: who changed what, when, and what it was before and after.

Append-only: the database refuses UPDATE and DELETE on it (registry.audit.guard), and each
event carries a SHA-256 hash chained to the one before (registry.audit.chain), which
``flask audit verify`` walks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import UTCDateTime, utcnow
from registry.extensions import db


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity_type", "entity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the signed-in user, or None for a CLI command or job
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: readable actor: the user's email, or "cli:<command>"
    actor: Mapped[str] = mapped_column(String(254))
    #: e.g. "rule.revise", "rule.import.add", "user.create"
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    #: e.g. "WA/PT" for a rule pair, or a row id
    entity_key: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    #: the hash chain: this event's SHA-256 over its content and the previous event's hash
    #: (see registry.audit.chain); an edited, removed or inserted row breaks it
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.entity_type}:{self.entity_key}>"
