"""Recording audit events, in the caller's transaction (never committed here)."""

from __future__ import annotations

from typing import Any

from registry.audit.models import AuditEvent
from registry.extensions import db


def record(
    *,
    actor_id: int | None,
    actor: str,
    action: str,
    entity_type: str,
    entity_key: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor_id,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_key=entity_key,
        before=before,
        after=after,
        reason=reason,
    )
    db.session.add(event)
    return event
