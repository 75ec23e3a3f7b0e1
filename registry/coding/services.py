"""Coding checks over stored data: run the gate for one visit or many, record every decision,
release an allowed visit as billable lines, list and export them. Plain functions over the
session; none commits (the request, CLI command or job does).

A batch of visits costs a fixed number of queries, whatever its size: the eligibility batch
(``eligibility.services.evaluate_batch``: providers, rules, credentials), then one multi-row
INSERT for the records.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Iterable, Sequence

from sqlalchemy import JSON, Text, bindparam, cast, column, func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from registry.audit.services import record as audit
from registry.coding import gate
from registry.coding.models import BillableLine, CodingCheck
from registry.coding.tables import EditTables, default_tables
from registry.db import utcnow
from registry.eligibility.engine import Decision
from registry.eligibility.services import MAX_BATCH, BatchItem, collector_paused, evaluate_batch
from registry.errors import InputError
from registry.extensions import db
from registry.providers.npi import npi_problem
from registry.rules.services import Actor

MAX_VISITS = MAX_BATCH


class CodingError(InputError):
    """A request the coding services refuse; ``field`` names the input at fault."""


class AlreadyReleased(CodingError):
    """The visit's lines were released already (perhaps by someone else a moment ago)."""


@dataclass(frozen=True)
class CheckOutcome:
    """One visit checked and recorded."""

    check_id: int
    visit: gate.Visit
    result: gate.GateResult
    decision: Decision | None

    @property
    def rule(self):
        return self.decision.rule if self.decision else None


# --- plain-data shapes for the record ----------------------------------------------------------
def visit_to_json(visit: gate.Visit) -> dict[str, Any]:
    def muscles(items):
        return [{"name": m.name, "side": m.side} for m in items]

    return {
        "npi": visit.npi, "jurisdiction": visit.jurisdiction, "date": visit.day.isoformat(),
        "payer_type": visit.payer_type, "payer_name": visit.payer_name, "muscles": muscles(visit.muscles),
        "lines": [{"code": ln.code, "units": ln.units, "modifiers": list(ln.modifiers), "muscles": muscles(ln.muscles)} for ln in visit.lines],
        "diagnoses": list(visit.diagnoses), "consent_on_file": visit.consent_on_file,
        "plan_of_care_on_file": visit.plan_of_care_on_file, "reassessment_done": visit.reassessment_done,
        "abn_on_file": visit.abn_on_file, "referral_on_file": visit.referral_on_file,
    }


def visit_from_json(data: dict[str, Any]) -> gate.Visit:
    def muscles(items):
        return tuple(gate.Muscle(m["name"], m["side"]) for m in items)

    return gate.Visit(
        npi=data["npi"], jurisdiction=data["jurisdiction"], day=date.fromisoformat(data["date"]),
        payer_type=data["payer_type"], payer_name=data.get("payer_name", ""), muscles=muscles(data["muscles"]),
        lines=tuple(gate.Line(ln["code"], ln["units"], tuple(ln.get("modifiers", ())), muscles(ln.get("muscles", ()))) for ln in data["lines"]),
        diagnoses=tuple(data.get("diagnoses", ())), consent_on_file=data["consent_on_file"],
        plan_of_care_on_file=data["plan_of_care_on_file"], reassessment_done=data["reassessment_done"],
        abn_on_file=data["abn_on_file"], referral_on_file=data["referral_on_file"],
    )


def edit_to_json(edit: gate.Edit) -> dict[str, Any]:
    """An edit as plain JSON (field by field: ``dataclasses.asdict`` deep-copies every value,
    which a batch of 10,000 visits with ~4 edits each feels)."""
    return {
        "code": edit.code, "severity": edit.severity, "message": edit.message, "source": edit.source,
        "source_url": edit.source_url, "line_code": edit.line_code, "fix": edit.fix, "rule_id": edit.rule_id,
        "reason_code": edit.reason_code, "source_urls": list(edit.source_urls) or ([edit.source_url] if edit.source_url else []),
    }


def _row(visit: gate.Visit, result: gate.GateResult, decision: Decision | None, *, position: int) -> dict[str, Any]:
    """One visit's columns of its record (the columns every row of a batch shares are in
    ``_shared``)."""
    rule = decision.rule if decision else None
    return {
        "batch_position": position,
        "npi": visit.npi, "jurisdiction_code": visit.jurisdiction, "date_of_service": visit.day,
        "payer_type": visit.payer_type, "payer_name": visit.payer_name,
        "profession_code": decision.profession if decision else None,
        "outcome": result.outcome, "computed_code": result.computed_code, "distinct_muscles": result.distinct_muscles,
        "eligibility_outcome": decision.outcome if decision else None,
        "rule_version_id": rule.version_id if rule else None, "rule_status": rule.status if rule else None,
        "rule_citation": rule.citation if rule else "", "rule_source_url": rule.source_url if rule else "",
        "rule_effective_from": rule.effective_from if rule else None, "rule_effective_to": rule.effective_to if rule else None,
        "visit": visit_to_json(visit), "edits": [edit_to_json(e) for e in result.edits],
        "eligibility_reasons": [{"code": r.code, "message": r.message} for r in decision.reasons] if decision else [],
    }


def _shared(*, actor: Actor, channel: str, batch_key: str | None, now: datetime) -> dict[str, Any]:
    return {"checked_at": now, "actor_id": actor.id, "actor": actor.label, "channel": channel, "batch_key": batch_key}


# --- checking ----------------------------------------------------------------------------------
def run_gate(visits: Sequence[gate.Visit], *, tables: EditTables | None = None) -> list[tuple[gate.GateResult, Decision | None]]:
    """The gate's answer for each visit, without recording anything: the eligibility of every
    (NPI, state, date) in one batch, then the pure gate per visit. An NPI with a wrong check
    digit or not in the registry gets no decision (the gate blocks it as an unknown provider)."""
    tables = tables or default_tables()
    decisions = evaluate_batch([BatchItem(v.npi, v.jurisdiction, v.day) for v in visits])
    answers = []
    for visit, found in zip(visits, decisions, strict=True):
        decision = None if npi_problem(visit.npi) else found.decision
        answers.append((gate.check(visit, decision=decision, profession=decision.profession if decision else None, tables=tables), decision))
    return answers


def check_visits(visits: Iterable[gate.Visit], *, actor: Actor, channel: str, tables: EditTables | None = None) -> list[CheckOutcome]:
    """Check up to ``MAX_VISITS`` visits and record each decision (one multi-row INSERT).
    Results come in the order of the visits."""
    visits = list(visits)
    if not visits:
        return []
    if len(visits) > MAX_VISITS:
        raise CodingError(f"Send 1 to {MAX_VISITS:,} visits at a time (got {len(visits):,}).", field="visits")
    with collector_paused():  # acyclic rows by the thousand: see eligibility's batch
        answers = run_gate(visits, tables=tables)
        ids = _record(visits, answers, actor=actor, channel=channel)
    return [CheckOutcome(check_id, v, result, decision) for check_id, v, (result, decision) in zip(ids, visits, answers, strict=True)]


def _record(visits: list[gate.Visit], answers, *, actor: Actor, channel: str) -> list[int]:
    """INSERT one coding_check row per visit (one statement); their ids in order."""
    batch_key = str(uuid.uuid4()) if len(visits) > 1 or channel in ("api_batch", "csv") else None
    shared = _shared(actor=actor, channel=channel, batch_key=batch_key, now=utcnow())
    rows = [_row(v, result, decision, position=position) for position, (v, (result, decision)) in enumerate(zip(visits, answers, strict=True), start=1)]
    table = CodingCheck.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        # The rows go as one JSON document, which the server reads back into rows
        # (json_to_recordset); the columns every row shares go once. SQLAlchemy's multi-row
        # VALUES has 25 placeholders a row (ten statements of 1,000 rows for a batch of
        # 10,000), and psycopg rewrites every placeholder of such long statements in Python,
        # which took most of a PostgreSQL batch. One array parameter a column (as the alert
        # outbox sends) was tried and cost more still here: psycopg escapes each JSON document
        # of a text[] in Python. A visit's JSON documents are written inside the rows' document
        # by the same ``json.dumps``, and a ``json`` value read out of a ``json`` document is
        # its text as written, so the stored documents are the text SQLAlchemy would store.
        returned = db.session.execute(_json_insert(), shared | {"rows": json.dumps(rows, default=_iso_date)}).all()
    else:
        # RETURNING the position rather than asking for the rows back in order: SQLite cannot
        # promise that order, and SQLAlchemy would then fall back to one INSERT per visit.
        # (Core, not the ORM's bulk INSERT, which splits the rows into many statements.)
        returned = db.session.execute(insert(table).returning(table.c.id, table.c.batch_position), [shared | row for row in rows]).all()
    return [check_id for check_id, _position in sorted(returned, key=lambda r: r[1])]


def _iso_date(value):
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_SHARED_COLUMNS = ("checked_at", "actor_id", "actor", "channel", "batch_key")
_ROW_COLUMNS = (
    "batch_position", "npi", "jurisdiction_code", "date_of_service", "payer_type", "payer_name", "profession_code",
    "outcome", "computed_code", "distinct_muscles", "eligibility_outcome", "rule_version_id", "rule_status",
    "rule_citation", "rule_source_url", "rule_effective_from", "rule_effective_to", "visit", "edits", "eligibility_reasons",
)


@lru_cache(maxsize=1)
def _json_insert():
    """INSERT INTO coding_check (...) SELECT CAST(:checked_at AS ...), ..., given.npi, ...
    FROM json_to_recordset(CAST(:rows AS JSON)) AS given(batch_position INTEGER, npi
    VARCHAR(10), ...) ORDER BY given.batch_position RETURNING id, batch_position: the same
    statement for any number of rows, its ids drawn in the order of the batch."""
    table = CodingCheck.__table__
    shared = [cast(bindparam(name, type_=table.c[name].type), table.c[name].type).label(name) for name in _SHARED_COLUMNS]
    given = (
        func.json_to_recordset(cast(bindparam("rows", type_=Text), JSON))
        .table_valued(*(column(name, table.c[name].type) for name in _ROW_COLUMNS))
        .render_derived(name="given", with_types=True)
    )
    source = select(*shared, *(given.c[name] for name in _ROW_COLUMNS)).order_by(given.c.batch_position)
    return postgresql.insert(table).from_select([*_SHARED_COLUMNS, *_ROW_COLUMNS], source).returning(table.c.id, table.c.batch_position)


def check_visit(visit: gate.Visit, *, actor: Actor, channel: str, tables: EditTables | None = None) -> CheckOutcome:
    return check_visits([visit], actor=actor, channel=channel, tables=tables)[0]


def recheck(check: CodingCheck, *, tables: EditTables | None = None) -> tuple[gate.GateResult, Decision | None]:
    """What the gate would answer for the recorded visit today, under the rules and credentials
    on record now (nothing recorded): to compare with the decision made then."""
    return run_gate([visit_from_json(check.visit)], tables=tables)[0]


# --- releasing and exporting -------------------------------------------------------------------
def get_check(check_id: int) -> CodingCheck | None:
    return db.session.get(CodingCheck, check_id)


def release(check: CodingCheck, *, actor: Actor, acknowledgement: str = "") -> list[BillableLine]:
    """Turn an allowed visit into billable lines, once. A visit allowed with warnings needs
    ``acknowledgement``: why it goes out anyway. A blocked visit never does."""
    if check.outcome == "block":
        raise CodingError("This visit was blocked by the coding gate; it cannot become a billable line. Fix what the edits say and check it again.", field="check")
    acknowledgement = acknowledgement.strip()
    if check.outcome == "allow_with_warnings" and not acknowledgement:
        raise CodingError("This visit has warnings: say why it goes out anyway before releasing it.", field="acknowledgement")
    if db.session.scalar(select(func.count()).select_from(BillableLine).where(BillableLine.check_id == check.id)):
        raise AlreadyReleased(f"Check {check.id} was released already; its lines are in the billable list.", field="check")
    visit = visit_from_json(check.visit)
    result_lines = billable_json(check)
    lines = [
        BillableLine(
            check_id=check.id, line_number=number, npi=visit.npi, jurisdiction_code=visit.jurisdiction,
            date_of_service=visit.day, payer_type=visit.payer_type, payer_name=visit.payer_name,
            code=line["code"], units=line["units"], modifiers=" ".join(line["modifiers"]), diagnoses=" ".join(visit.diagnoses),
            released_by_id=actor.id, released_by=actor.label, acknowledgement=acknowledgement,
        )
        for number, line in enumerate(result_lines, start=1)
    ]
    try:
        with db.session.begin_nested():  # a concurrent release of the same check loses here
            db.session.add_all(lines)
    except IntegrityError as error:
        raise AlreadyReleased(f"Check {check.id} was released by someone else a moment ago; its lines are in the billable list.", field="check") from error
    audit(
        actor_id=actor.id, actor=actor.label, action="coding.release", entity_type="coding_check", entity_key=str(check.id),
        after={"lines": [f"{ln.code} x{ln.units} {ln.modifiers}".strip() for ln in lines], "outcome": check.outcome},
        reason=acknowledgement,
    )
    return lines


def billable_json(check: CodingCheck) -> list[dict[str, Any]]:
    """The lines a recorded check let out: the visit's lines as submitted (the gate lets them
    out unchanged), or none when it was blocked."""
    if check.outcome == "block":
        return []
    return [{"code": ln["code"].strip().upper(), "units": ln["units"], "modifiers": [m.strip().upper() for m in ln.get("modifiers", [])]} for ln in check.visit["lines"]]


def billable_lines(*, exported: bool | None = None, start: date | None = None, end: date | None = None, limit: int | None = None) -> list[BillableLine]:
    query = select(BillableLine).order_by(BillableLine.date_of_service, BillableLine.id)
    if exported is not None:
        query = query.where(BillableLine.exported_at.is_not(None) if exported else BillableLine.exported_at.is_(None))
    if start:
        query = query.where(BillableLine.date_of_service >= start)
    if end:
        query = query.where(BillableLine.date_of_service <= end)
    if limit:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def take_for_export(*, actor: Actor, start: date | None = None, end: date | None = None) -> list[BillableLine]:
    """The lines not yet exported (dates of service within ``start``..``end``), marked exported
    in the caller's transaction. Two exports at once never take the same line: on PostgreSQL
    the rows are locked (another export skips them), on SQLite the write lock queues the
    second export, which then finds them exported."""
    query = select(BillableLine).where(BillableLine.exported_at.is_(None)).order_by(BillableLine.date_of_service, BillableLine.id)
    if start:
        query = query.where(BillableLine.date_of_service >= start)
    if end:
        query = query.where(BillableLine.date_of_service <= end)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    lines = list(db.session.scalars(query))
    mark_exported(lines, actor=actor)
    return lines


def mark_exported(lines: list[BillableLine], *, actor: Actor) -> None:
    now = utcnow()
    for line in lines:
        line.exported_at = now
    if lines:
        audit(actor_id=actor.id, actor=actor.label, action="coding.export", entity_type="billable_line", entity_key=f"{len(lines)} lines", after={"ids": [ln.id for ln in lines]})


# --- the record, for auditors ------------------------------------------------------------------
@dataclass(frozen=True)
class CheckFilter:
    npi: str = ""
    jurisdiction: str = ""
    outcome: str = ""
    channel: str = ""
    start: date | None = None  # date of service from
    end: date | None = None  # date of service to
    edit_code: str = ""


def list_checks(filters: CheckFilter, *, page: int = 1, per_page: int = 50) -> tuple[list[CodingCheck], int]:
    """Recorded checks, newest first, and how many match in all."""
    query = _check_query(filters)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(CodingCheck.checked_at.desc(), CodingCheck.id.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total or 0


def all_checks(filters: CheckFilter) -> list[CodingCheck]:
    """Every recorded check matching ``filters``, newest first (for the CSV export)."""
    return list(db.session.scalars(_check_query(filters).order_by(CodingCheck.checked_at.desc(), CodingCheck.id.desc())))


def _check_query(filters: CheckFilter):
    query = select(CodingCheck)
    if filters.npi:
        query = query.where(CodingCheck.npi == filters.npi)
    if filters.jurisdiction:
        query = query.where(CodingCheck.jurisdiction_code == filters.jurisdiction)
    if filters.outcome:
        query = query.where(CodingCheck.outcome == filters.outcome)
    if filters.channel:
        query = query.where(CodingCheck.channel == filters.channel)
    if filters.start:
        query = query.where(CodingCheck.date_of_service >= filters.start)
    if filters.end:
        query = query.where(CodingCheck.date_of_service <= filters.end)
    if filters.edit_code:
        # edits are JSON; a text match on the stored code is portable across both databases
        query = query.where(cast(CodingCheck.edits, Text).contains(f'"code": "{filters.edit_code}"'))
    return query
