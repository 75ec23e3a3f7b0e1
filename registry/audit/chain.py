"""The audit hash chain: pure functions, no database.

Each event's hash is SHA-256 over the previous event's hash and a canonical JSON of its own
content (time, actor, action, entity, before, after, reason). Changing, removing or inserting
an event anywhere breaks every link after it, which ``verify`` finds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

#: the prev_hash of the first event
GENESIS = "0" * 64


def canonical(*, occurred_at: datetime, actor_id: int | None, actor: str, action: str, entity_type: str, entity_key: str,
              before: Any, after: Any, reason: str) -> str:
    when = occurred_at.astimezone(timezone.utc).isoformat(timespec="microseconds")
    body = [when, actor_id, actor, action, entity_type, entity_key, before, after, reason]
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(prev_hash: str, content: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def of(event) -> str:
    """The content of an AuditEvent (or anything with its attributes), canonically."""
    return canonical(
        occurred_at=event.occurred_at, actor_id=event.actor_id, actor=event.actor, action=event.action,
        entity_type=event.entity_type, entity_key=event.entity_key, before=event.before, after=event.after, reason=event.reason,
    )


@dataclass(frozen=True)
class Break:
    event_id: int
    problem: str


def verify(events: Iterable) -> tuple[int, Break | None]:
    """Walk ``events`` in id order: how many were checked, and the first break (None: intact)."""
    expected_prev = GENESIS
    count = 0
    for event in events:
        count += 1
        if event.prev_hash != expected_prev:
            return count, Break(event.id, "its link to the previous event does not match: an event before it was removed, added or changed")
        if digest(event.prev_hash, of(event)) != event.hash:
            return count, Break(event.id, "its content does not match its hash: it was changed after it was recorded")
        expected_prev = event.hash
    return count, None
