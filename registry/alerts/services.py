"""The alert job's steps over the database. Plain functions; none commits (``jobs.py`` does,
between the steps, and so do the views and the rule editor that queue messages).

1. ``find_due``: the credentials with an alert window due on a day, read through the
   ``expires_on`` indexes for the few weeks around it (never a loop over every row).
2. ``queue_due``: one message per due item and recipient, plus one digest per manager listing
   every item this run queued, inserted into the outbox with ``ON CONFLICT DO NOTHING`` on the
   unique key (item, window, recipient), so a repeat or concurrent run queues nothing twice.
3. ``claim`` / ``mark_sent`` / ``mark_failure``: the sender's lease and bookkeeping.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Iterable

from flask import current_app, render_template
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from registry.accounts.models import User
from registry.alerts.models import FAILED, QUEUED, SENT, AlertRun, OutboxMessage
from registry.alerts.windows import Windows, describe, label, urgency
from registry.db import among, listed, utcnow
from registry.eligibility.engine import CredentialFacts, decide
from registry.eligibility.services import rule_timeline, silence_is_permission
from registry.extensions import db
from registry.providers.models import (
    CREDENTIAL_MODELS,
    BoardRegistration,
    License,
    Provider,
    TrainingRecord,
)

#: at most this many messages claimed by one sender at a time
CLAIM_BATCH = 50
#: how long a sender's claim keeps other senders off a message
LEASE = timedelta(minutes=10)


def windows_from_config() -> Windows:
    config = current_app.config
    return Windows(before=config["ALERT_WINDOWS_BEFORE"], after=config["ALERT_WINDOWS_AFTER"], catch_up_days=config["ALERT_CATCH_UP_DAYS"])


# --- what is due ---------------------------------------------------------------------------------
@dataclass
class DueItem:
    kind: str  # license | registration | training
    credential_id: int
    provider_id: int
    provider_name: str
    npi: str
    email: str  # the clinician's address ("" when none is on file)
    what: str  # "WA PT license 12345", "Dry needling course (2023-09-01)"
    expires_on: date
    offset: int  # the window: days from expiry (-30: 30 days before)
    as_of: date
    #: jurisdictions where dry-needling eligibility ends with this expiry
    states: list[str] = field(default_factory=list)

    @property
    def days_left(self) -> int:
        return (self.expires_on - self.as_of).days

    @property
    def window(self) -> str:
        return label(self.offset)

    @property
    def urgency(self) -> str:
        return urgency(self.days_left)

    def key(self, recipient: str) -> str:
        return f"expiry:{self.kind}:{self.credential_id}:{self.expires_on.isoformat()}:{self.window}:{recipient.lower()}"


def _what(kind: str, row) -> str:
    if kind == "training":
        return f"dry-needling training '{row.course_title}' (completed {row.completed_on.isoformat()})"
    if kind == "license":
        privilege = "PT Compact privilege" if row.is_compact_privilege else "license"
        return f"{row.jurisdiction_code} {row.profession_code} {privilege} {row.number}"
    return f"{row.jurisdiction_code} board registration {row.number}"


#: the columns ``_what`` reads, by kind
_WHAT_COLUMNS = {
    "license": ("jurisdiction_code", "profession_code", "is_compact_privilege", "number"),
    "training": ("course_title", "completed_on"),
    "registration": ("jurisdiction_code", "number"),
}
_PROVIDER = Provider.__table__.c


def _flush_first() -> None:
    """What an ORM query would do first: these read plain rows (Core), which do not."""
    if db.session.autoflush:
        db.session.flush()


def find_due(as_of: date, windows: Windows) -> list[DueItem]:
    """Every held credential of an active provider with a window due on ``as_of``. Reads only
    the expiry days ``windows.scan_range`` allows, through the ``expires_on`` index of each
    credential table, as plain rows of the columns an item needs (no ORM objects: a first
    run, or one after an outage, finds tens of thousands)."""
    first, last = windows.scan_range(as_of)
    _flush_first()
    p = _PROVIDER
    items: list[DueItem] = []
    for kind, model in CREDENTIAL_MODELS.items():
        c = model.__table__.c
        query = (
            select(c.id, c.provider_id, c.expires_on, *(c[name] for name in _WHAT_COLUMNS[kind]),
                   p.name.label("provider_name"), p.npi.label("provider_npi"), p.email.label("provider_email"))
            .join_from(model.__table__, Provider.__table__, p.id == c.provider_id)
            .where(c.expires_on.between(first, last), c.ended_on.is_(None), p.is_active.is_(True))
        )
        if "status" in c:
            query = query.where(c.status == "active")
        for row in db.session.execute(query):
            offset = windows.due(row.expires_on, as_of)
            if offset is None:
                continue
            items.append(DueItem(kind, row.id, row.provider_id, row.provider_name, row.provider_npi, row.provider_email or "", _what(kind, row), row.expires_on, offset, as_of))
    _linked_emails(items)
    items.sort(key=lambda i: (i.expires_on, i.provider_name, i.kind, i.credential_id))
    return items


def _linked_emails(items: list[DueItem]) -> None:
    """A provider without an email of their own is written to at their account's address."""
    missing = {i.provider_id for i in items if not i.email}
    if not missing:
        return
    dialect = db.session.get_bind().dialect.name
    query = select(Provider.id, User.email).join(User, User.id == Provider.user_id).where(among(Provider.id, "ids", dialect))
    found = dict(db.session.execute(query, {"ids": listed(sorted(missing), dialect)}).all())
    for item in items:
        if not item.email:
            item.email = found.get(item.provider_id, "")


#: credential rows as the engine's facts, exactly as ``eligibility.services.credential_facts``
#: makes them from ORM objects: (query columns, row -> facts)
_LICENSE, _TRAINING, _REGISTRATION = (m.__table__.c for m in (License, TrainingRecord, BoardRegistration))
_FACTS = {
    "license": (
        (_LICENSE.jurisdiction_code, _LICENSE.profession_code, _LICENSE.status, _LICENSE.issued_on, _LICENSE.expires_on, _LICENSE.ended_on),
        lambda r: CredentialFacts("license", jurisdiction=r.jurisdiction_code, profession=r.profession_code, status=r.status, starts_on=r.issued_on, expires_on=r.expires_on, ended_on=r.ended_on),
    ),
    "training": (
        (_TRAINING.completed_on, _TRAINING.expires_on, _TRAINING.ended_on, _TRAINING.total_hours, _TRAINING.practical_hours, _TRAINING.supervised_sessions),
        lambda r: CredentialFacts("training", starts_on=r.completed_on, expires_on=r.expires_on, ended_on=r.ended_on, total_hours=r.total_hours, practical_hours=r.practical_hours, supervised_sessions=r.supervised_sessions),
    ),
    "registration": (
        (_REGISTRATION.jurisdiction_code, _REGISTRATION.status, _REGISTRATION.issued_on, _REGISTRATION.expires_on, _REGISTRATION.ended_on),
        lambda r: CredentialFacts("registration", jurisdiction=r.jurisdiction_code, profession=None, status=r.status, starts_on=r.issued_on, expires_on=r.expires_on, ended_on=r.ended_on),
    ),
}


def affected_states(items: list[DueItem]) -> None:
    """Name, on each item, the jurisdictions where the provider's dry-needling eligibility ends
    *because of this expiry*: on the day after it, the provider would be eligible there if
    this credential were still held, and is not as things stand. (Two credentials lapsing the
    same day are each named only for the states they themselves decide.) The providers and
    their credentials are read as plain rows, one query each, every list of ids bound as one
    parameter; the rules come from the cached timeline."""
    if not items:
        return
    _flush_first()
    dialect = db.session.get_bind().dialect.name
    ids = {"ids": listed(sorted({i.provider_id for i in items}), dialect)}
    p = _PROVIDER
    profession_of = dict(db.session.execute(select(p.id, p.profession_code).where(among(p.id, "ids", dialect)), ids).all())
    #: provider id -> [((kind, credential id), facts)]
    held: dict[int, list[tuple[tuple[str, int], CredentialFacts]]] = {pid: [] for pid in profession_of}
    #: provider id -> the jurisdictions where they hold a license of their profession, not ended
    licensed: dict[int, set[str]] = {pid: set() for pid in profession_of}
    for kind, model in CREDENTIAL_MODELS.items():
        c = model.__table__.c
        columns, facts = _FACTS[kind]
        for row in db.session.execute(select(c.id, c.provider_id, *columns).where(among(c.provider_id, "ids", dialect)), ids):
            held[row.provider_id].append(((kind, row.id), facts(row)))
            if kind == "license" and row.profession_code == profession_of[row.provider_id] and row.ended_on is None:
                licensed[row.provider_id].add(row.jurisdiction_code)
    timeline = rule_timeline()
    policy = silence_is_permission()
    for item in items:
        profession = profession_of[item.provider_id]
        credentials = held[item.provider_id]
        day = item.expires_on + timedelta(days=1)
        this = (item.kind, item.credential_id)
        as_is = [facts for _, facts in credentials]
        still_held = [facts._replace(expires_on=None) if key == this else facts for key, facts in credentials]
        for code in sorted(licensed[item.provider_id]):
            rule = timeline.in_force(code, profession, day)
            ask = {"jurisdiction": code, "profession": profession, "not_addressed_is_permitted": policy}
            if decide(rule, still_held, day, **ask).eligible and not decide(rule, as_is, day, **ask).eligible:
                item.states.append(code)


# --- rendering -----------------------------------------------------------------------------------
def _absolute(endpoint: str, **values) -> str:
    """A link for an email: BASE_URL plus the page's path (a job has no request to take the
    host from)."""
    path = current_app.url_map.bind("registry.invalid").build(endpoint, values)
    return current_app.config["BASE_URL"].rstrip("/") + path


def _message_id(key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@needle-registry>"


def _render(name: str, **context) -> tuple[str, str]:
    return render_template(f"alerts/email/{name}.txt", **context), render_template(f"alerts/email/{name}.html", **context)


def expiry_message(item: DueItem) -> dict:
    link = _absolute("providers.provider_page", provider_id=item.provider_id)
    text, html = _render("expiry", item=item, link=link, when=describe(item.offset))
    if item.days_left > 0:
        subject = f"Your {item.what} expires on {item.expires_on.isoformat()} ({item.days_left} days)"
    elif item.days_left == 0:
        subject = f"Your {item.what} expires today"
    else:
        subject = f"Your {item.what} expired on {item.expires_on.isoformat()}"
    if item.states:
        subject += f": dry needling in {', '.join(item.states)}"
    return {"kind": "credential_expiry", "recipient": item.email, "subject": subject[:300], "body_text": text, "body_html": html}


# --- queueing ------------------------------------------------------------------------------------
#: outbox rows per INSERT on PostgreSQL (a message is a few kilobytes)
_ROWS_PER_INSERT = 2000


def _insert_ignoring_duplicates(rows: list[dict]) -> set[str]:
    """INSERT rows into the outbox, skipping any whose dedupe_key is there already (queued by
    an earlier or a concurrent run); returns the keys this call inserted.

    On PostgreSQL each column goes as one array parameter, unnested into rows by the server
    (see ``_unnest_insert``): the multi-row VALUES that SQLAlchemy would otherwise send has
    fifteen placeholders a row, and psycopg parses that statement text in Python, which took
    most of the time (bench/alerts.py, 28,500 messages: 7.3-7.9 s that way, 2.7-2.8 s this)."""
    if not rows:
        return set()
    dialect = db.session.get_bind().dialect.name
    table = OutboxMessage.__table__
    if dialect == "postgresql":
        columns = list(rows[0])
        statement = _unnest_insert(tuple(columns))
        inserted: set[str] = set()
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start:start + _ROWS_PER_INSERT]
            inserted.update(db.session.scalars(statement, {name: [row[name] for row in chunk] for name in columns}))
        return inserted
    statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.dedupe_key)
    return set(db.session.scalars(statement, rows).all())


@lru_cache(maxsize=8)
def _unnest_insert(columns: tuple[str, ...]):
    """INSERT INTO email_outbox (columns) SELECT ... FROM unnest(:dedupe_key, ...) AS
    given(dedupe_key, ...) ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key: one
    array parameter a column, the same statement for any number of rows."""
    table = OutboxMessage.__table__
    arrays = [bindparam(name, type_=postgresql.ARRAY(table.c[name].type)) for name in columns]
    source = func.unnest(*arrays).table_valued(*columns).render_derived(name="given")
    return (
        postgresql.insert(table).from_select(columns, select(*(source.c[name] for name in columns)))
        .on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.dedupe_key)
    )


def _row(key: str, message: dict, *, run_id: int | None, provider_id: int | None, details: dict, now: datetime) -> dict:
    return {
        "dedupe_key": key, "message_id": _message_id(key), "status": QUEUED, "attempts": 0, "next_attempt_at": now,
        "created_at": now, "run_id": run_id, "provider_id": provider_id, "details": details, "last_error": "", **message,
    }


def managers() -> list[str]:
    return list(db.session.scalars(select(User.email).where(User.role == "manager", User.is_enabled.is_(True)).order_by(User.email)))


@dataclass
class QueueResult:
    due: int = 0
    queued: int = 0  # clinician messages this run added
    already: int = 0  # due but queued before (by an earlier or a concurrent run)
    no_email: int = 0  # due, but the provider has no address: listed for managers only
    digests: int = 0
    items: list[DueItem] = field(default_factory=list)


def queue_due(as_of: date, *, run_id: int | None, windows: Windows | None = None) -> QueueResult:
    """Queue the messages due on ``as_of``: one per due item to its clinician, and a digest to
    each manager listing the items this run queued (an item queued by another run is in that
    run's digest, so each appears in exactly one). Nothing already in the outbox is queued
    again."""
    windows = windows or windows_from_config()
    items = find_due(as_of, windows)
    result = QueueResult(due=len(items))
    if not items:
        return result
    keys = {item.key(item.email or "-"): item for item in items}
    dialect = db.session.get_bind().dialect.name
    queued = select(OutboxMessage.dedupe_key).where(among(OutboxMessage.dedupe_key, "keys", dialect))
    existing = set(db.session.scalars(queued, {"keys": listed(list(keys), dialect)}))
    fresh = [item for key, item in keys.items() if key not in existing]
    result.already = len(items) - len(fresh)
    affected_states(fresh)
    now = utcnow()
    rows = []
    for item in fresh:
        details = {"credential": item.kind, "credential_id": item.credential_id, "what": item.what, "expires_on": item.expires_on.isoformat(), "window": item.window, "states": item.states, "npi": item.npi, "provider": item.provider_name}
        if item.email:
            rows.append(_row(item.key(item.email), expiry_message(item), run_id=run_id, provider_id=item.provider_id, details=details, now=now))
        else:  # no address: a marker row, so the item is listed once and not again tomorrow
            rows.append(_row(item.key("-"), {"kind": "credential_expiry", "recipient": "", "subject": f"(no email on file) {item.what}", "body_text": "", "body_html": ""}, run_id=run_id, provider_id=item.provider_id, details=details, now=now) | {"status": FAILED, "last_error": "No email address on file for this provider."})
    inserted = _insert_ignoring_duplicates(rows)
    mine = [item for item in fresh if item.key(item.email or "-") in inserted]
    result.queued = sum(1 for item in mine if item.email)
    result.no_email = sum(1 for item in mine if not item.email)
    result.already += len(fresh) - len(mine)
    result.items = mine
    if mine:
        result.digests = len(_insert_ignoring_duplicates(_digests(mine, as_of, run_id=run_id, now=now)))
    return result


def _digests(items: list[DueItem], as_of: date, *, run_id: int | None, now: datetime) -> list[dict]:
    groups = {name: [i for i in items if i.urgency == name] for name in ("expired", "within 7 days", "within 30 days", "within 90 days")}
    groups = {name: found for name, found in groups.items() if found}
    outbox = _absolute("alerts.outbox")
    text, html = _render("digest", groups=groups, as_of=as_of, outbox=outbox, count=len(items))
    subject = f"Credential alerts {as_of.isoformat()}: {len(items)} item{'s' if len(items) != 1 else ''}"
    batch = run_id if run_id is not None else uuid.uuid4().hex
    return [
        _row(f"digest:{batch}:{email.lower()}", {"kind": "digest", "recipient": email, "subject": subject, "body_text": text, "body_html": html}, run_id=run_id, provider_id=None, details={"items": len(items), "as_of": as_of.isoformat()}, now=now)
        for email in managers()
    ]


def queue_rule_change(version, impact) -> int:
    """After a manager saved ``version``, one message to each provider who loses eligibility
    under it (``impact`` from ``eligibility.services.rule_change_impact``). In the saving
    transaction: saved together or not at all. Returns how many were queued."""
    now = utcnow()
    rows = []
    for provider, _before, after in impact.lose:
        email = provider.email or (provider.user.email if provider.user else "")
        if not email:
            continue
        key = f"rule:{version.id}:{provider.id}:{email.lower()}"
        text, html = _render("rule_change", provider=provider, version=version, day=impact.day, after=after, link=_absolute("providers.provider_page", provider_id=provider.id))
        subject = f"Dry needling in {version.jurisdiction_code}: the {version.profession_code} rule changes on {impact.day.isoformat()} and you are no longer eligible"
        details = {"rule_version_id": version.id, "jurisdiction": version.jurisdiction_code, "day": impact.day.isoformat(), "provider": provider.name, "npi": provider.npi, "reasons": [r.code for r in after.reasons]}
        rows.append(_row(key, {"kind": "rule_change", "recipient": email, "subject": subject[:300], "body_text": text, "body_html": html}, run_id=None, provider_id=provider.id, details=details, now=now))
    return len(_insert_ignoring_duplicates(rows))


# --- sending -------------------------------------------------------------------------------------
def claim(worker: str, now: datetime, *, limit: int = CLAIM_BATCH) -> list[OutboxMessage]:
    """Take a lease on up to ``limit`` queued messages that are due: rows another sender
    holds (a live lease, or a row lock on PostgreSQL) are skipped, never taken twice."""
    free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)
    query = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == QUEUED, OutboxMessage.next_attempt_at <= now, free)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # SQLite: BEGIN IMMEDIATE serialises
    ids = list(db.session.scalars(query))
    if not ids:
        return []
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.status == QUEUED, free)
        .values(claimed_by=worker, claimed_until=now + LEASE).execution_options(synchronize_session=False)
    )
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == worker).order_by(OutboxMessage.id)))


def _mine(message_id: int, worker: str):
    return and_(OutboxMessage.id == message_id, OutboxMessage.claimed_by == worker)


def mark_sent(message_id: int, worker: str, now: datetime) -> None:
    db.session.execute(
        update(OutboxMessage).where(_mine(message_id, worker))
        .values(status=SENT, sent_at=now, attempts=OutboxMessage.attempts + 1, claimed_by=None, claimed_until=None, last_error="")
        .execution_options(synchronize_session=False)
    )


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 ... minutes after the attempts so far, at most 6 hours."""
    return min(timedelta(minutes=2 ** max(attempts, 1)), timedelta(hours=6))


def mark_failure(message: OutboxMessage, worker: str, now: datetime, *, error: str, transient: bool, max_attempts: int) -> str:
    """Record a failed attempt: try again later (transient, attempts left) or give up."""
    attempts = message.attempts + 1
    status = QUEUED if transient and attempts < max_attempts else FAILED
    reason = error if transient or status == QUEUED else f"permanent: {error}"
    if transient and status == FAILED:
        reason = f"gave up after {attempts} attempts: {error}"
    db.session.execute(
        update(OutboxMessage).where(_mine(message.id, worker))
        .values(status=status, attempts=attempts, last_error=reason[:2000], claimed_by=None, claimed_until=None, next_attempt_at=now + backoff(attempts))
        .execution_options(synchronize_session=False)
    )
    return status


def resend(message: OutboxMessage) -> None:
    """A manager sends a failed message again: queued, due now, attempts counted afresh."""
    message.status = QUEUED
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.claimed_by = message.claimed_until = None
    message.last_error = ""


# --- the record of runs --------------------------------------------------------------------------
def last_successful_run() -> AlertRun | None:
    return db.session.scalars(
        select(AlertRun).where(AlertRun.status == "ok", AlertRun.dry_run.is_(False)).order_by(AlertRun.finished_at.desc()).limit(1)
    ).first()


def outbox_counts() -> dict[str, int]:
    return dict(db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def outbox(status: str = "", *, page: int = 1, per_page: int = 50) -> tuple[list[OutboxMessage], int]:
    query = select(OutboxMessage)
    if status:
        query = query.where(OutboxMessage.status == status)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(per_page).offset((page - 1) * per_page))
    return list(rows), total


def recent_runs(limit: int = 10) -> Iterable[AlertRun]:
    return db.session.scalars(select(AlertRun).order_by(AlertRun.started_at.desc(), AlertRun.id.desc()).limit(limit))
