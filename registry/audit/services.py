"""Recording audit events, in the caller's transaction (never committed here), on a hash
chain; reading them back for auditors; verifying the chain.

The chain needs one writer at a time: on SQLite every write transaction already holds the
write lock (BEGIN IMMEDIATE); on PostgreSQL the first event of a transaction takes a
transaction-level advisory lock, so concurrent transactions chain one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Iterator

from sqlalchemy import event, func, insert, select, text
from sqlalchemy.orm import Session

from registry.audit import chain
from registry.audit.models import AuditEvent
from registry.db import utcnow
from registry.extensions import db

#: the PostgreSQL advisory lock that serialises writers of the chain
CHAIN_LOCK = 0x4E52_4155  # "NRAU"
_HEAD = "registry.audit.head"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget_head(session, *_args) -> None:
    """The chain's head is known only inside a transaction: read it again after any commit or
    rollback (a savepoint rolled back may have held events)."""
    session.info.pop(_HEAD, None)


def _head() -> str:
    session = db.session
    head = session.info.get(_HEAD)
    if head is None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
        head = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or chain.GENESIS
    return head


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
    prev = _head()
    event = AuditEvent(
        occurred_at=utcnow(), actor_id=actor_id, actor=actor, action=action, entity_type=entity_type,
        entity_key=entity_key, before=before, after=after, reason=reason, prev_hash=prev,
    )
    event.hash = chain.digest(prev, chain.of(event))
    db.session.add(event)
    db.session.info[_HEAD] = event.hash
    return event


#: the content of one event for ``record_many``: the keyword arguments of ``record``
EVENT_KEYS = ("actor_id", "actor", "action", "entity_type", "entity_key", "before", "after", "reason")


def record_many(items: Iterable[dict[str, Any]]) -> int:
    """Record events in the order given, as ``record`` would one by one (same content, the
    same chain), in one INSERT: each item holds ``record``'s keyword arguments (``before``,
    ``after`` and ``reason`` optional). Events ``record`` left pending in the session are
    flushed first, so ids stay in chain order. Returns how many were recorded."""
    session = db.session
    rows = []
    now = utcnow()
    prev = None
    for item in items:
        if prev is None:
            session.flush()
            prev = _head()
        unknown = set(item) - set(EVENT_KEYS)
        if unknown:
            raise TypeError(f"record_many() got unexpected keys {sorted(unknown)}")
        row = {"occurred_at": now, "before": None, "after": None, "reason": "", **item, "prev_hash": prev}
        row["hash"] = prev = chain.digest(prev, chain.canonical(**{k: row[k] for k in ("occurred_at", *EVENT_KEYS)}))
        rows.append(row)
    if not rows:
        return 0
    session.execute(insert(AuditEvent.__table__), rows)
    session.info[_HEAD] = prev
    return len(rows)


# --- reading ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""  # a prefix: "rule." matches rule.revise, rule.import.add ...
    entity_type: str = ""
    entity_key: str = ""
    start: date | None = None
    end: date | None = None


def _query(filters: AuditFilter):
    query = select(AuditEvent)
    if filters.actor:
        query = query.where(func.lower(AuditEvent.actor).contains(filters.actor.lower(), autoescape=True))
    if filters.action:
        query = query.where(AuditEvent.action.startswith(filters.action, autoescape=True))
    if filters.entity_type:
        query = query.where(AuditEvent.entity_type == filters.entity_type)
    if filters.entity_key:
        query = query.where(AuditEvent.entity_key == filters.entity_key)
    if filters.start:
        query = query.where(AuditEvent.occurred_at >= datetime.combine(filters.start, time.min, tzinfo=timezone.utc))
    if filters.end:
        query = query.where(AuditEvent.occurred_at < datetime.combine(filters.end + timedelta(days=1), time.min, tzinfo=timezone.utc))
    return query


def events(filters: AuditFilter, *, page: int = 1, per_page: int = 50) -> tuple[list[AuditEvent], int]:
    query = _query(filters)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(AuditEvent.id.desc()).limit(per_page).offset((page - 1) * per_page))
    return list(rows), total


def all_events(filters: AuditFilter) -> Iterator[AuditEvent]:
    """Every matching event, oldest first, read in chunks (for the CSV export)."""
    result = db.session.scalars(_query(filters).order_by(AuditEvent.id).execution_options(yield_per=1000))
    try:
        yield from result
    finally:
        result.close()  # a server-side cursor on PostgreSQL


def entity_types() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.entity_type).distinct().order_by(AuditEvent.entity_type)))


def verify_chain() -> tuple[int, chain.Break | None]:
    """Walk the whole chain in id order."""
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000))
    try:
        return chain.verify(rows)
    finally:
        rows.close()  # it may stop at a break, before the last row
