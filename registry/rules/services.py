"""Rule services: reading the register, revising a rule, importing and exporting the CSV.

Plain functions over the session; none of them commits. The caller (a view, a CLI command or
a job) owns the transaction.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import IO, Any, Callable, Iterable

from marshmallow import ValidationError
from sqlalchemy import and_, or_, select

from registry import csvkit
from registry.audit.services import record as audit
from registry.csvkit import RowError
from registry.db import utcnow
from registry.errors import InputError
from registry.extensions import db
from registry.rules import csvio
from registry.rules.models import Jurisdiction, Profession, RuleVersion
from registry.rules.reference import JURISDICTIONS, PROFESSIONS


@dataclass(frozen=True)
class Actor:
    """Who is making a change: a signed-in user, or a CLI command / job."""

    id: int | None
    label: str


class RuleError(InputError):
    """A rule change that cannot be made; ``field`` names the input at fault."""


class StaleRuleError(RuleError):
    """Someone else changed the rule after the editor loaded it."""


# --- reference data -----------------------------------------------------------------------
def seed_reference_data() -> int:
    """Insert missing jurisdictions and professions; return how many were added."""
    added = 0
    have_j = set(db.session.scalars(select(Jurisdiction.code)))
    for code, name, kind in JURISDICTIONS:
        if code not in have_j:
            db.session.add(Jurisdiction(code=code, name=name, kind=kind))
            added += 1
    have_p = set(db.session.scalars(select(Profession.code)))
    for code, name in PROFESSIONS:
        if code not in have_p:
            db.session.add(Profession(code=code, name=name))
            added += 1
    db.session.flush()
    return added


def known_codes() -> tuple[set[str], set[str]]:
    """The jurisdiction and profession codes in the database (the built-in lists if empty)."""
    jurisdictions = set(db.session.scalars(select(Jurisdiction.code))) or {c for c, _, _ in JURISDICTIONS}
    professions = set(db.session.scalars(select(Profession.code))) or {c for c, _ in PROFESSIONS}
    return jurisdictions, professions


def list_jurisdictions() -> list[Jurisdiction]:
    return list(db.session.scalars(select(Jurisdiction).order_by(Jurisdiction.name)))


def list_professions() -> list[Profession]:
    return list(db.session.scalars(select(Profession).order_by(Profession.code)))


def get_jurisdiction(code: str) -> Jurisdiction | None:
    return db.session.get(Jurisdiction, code.upper()) if code else None


def get_profession(code: str) -> Profession | None:
    return db.session.get(Profession, code.upper()) if code else None


# --- reading the register -----------------------------------------------------------------
def _in_force(day: date):
    return and_(
        RuleVersion.superseded_at.is_(None),
        or_(RuleVersion.effective_from.is_(None), RuleVersion.effective_from <= day),
        or_(RuleVersion.effective_to.is_(None), RuleVersion.effective_to > day),
    )


def rules_in_force(
    day: date, *, jurisdiction: str | None = None, profession: str | None = None
) -> list[RuleVersion]:
    """The version in force on ``day`` for every pair (filtered), ordered by pair."""
    query = select(RuleVersion).where(_in_force(day))
    if jurisdiction:
        query = query.where(RuleVersion.jurisdiction_code == jurisdiction)
    if profession:
        query = query.where(RuleVersion.profession_code == profession)
    query = query.order_by(RuleVersion.jurisdiction_code, RuleVersion.profession_code)
    return list(db.session.scalars(query))


def rule_in_force(jurisdiction: str, profession: str, day: date) -> RuleVersion | None:
    found = rules_in_force(day, jurisdiction=jurisdiction, profession=profession)
    return found[0] if found else None


def current_rule(jurisdiction: str, profession: str) -> RuleVersion | None:
    """The open-ended live version (may start in the future)."""
    return db.session.scalars(
        select(RuleVersion).where(
            RuleVersion.jurisdiction_code == jurisdiction,
            RuleVersion.profession_code == profession,
            RuleVersion.superseded_at.is_(None),
            RuleVersion.effective_to.is_(None),
        )
    ).first()


def history(jurisdiction: str, profession: str) -> list[RuleVersion]:
    """Every version ever recorded for the pair: the live timeline in date order, each
    superseded version after the ones it was recorded before."""
    versions = db.session.scalars(
        select(RuleVersion).where(
            RuleVersion.jurisdiction_code == jurisdiction,
            RuleVersion.profession_code == profession,
        )
    ).all()
    return sorted(versions, key=_history_order)


def _history_order(version: RuleVersion):
    return (version.effective_from or date.min, version.superseded_at is None, version.recorded_at, version.id)


@dataclass(frozen=True)
class PairRegister:
    """One pair's rule as a jurisdiction page shows it: in force on a day, the current
    (open-ended) version, and every version ever recorded (as ``history`` orders them)."""

    profession: Profession
    rule: RuleVersion | None
    current: RuleVersion | None
    history: list[RuleVersion]


def jurisdiction_register(jurisdiction: str, day: date) -> list[PairRegister]:
    """``rule_in_force``, ``current_rule`` and ``history`` for every profession of one
    jurisdiction, from one query for its versions (not three per profession)."""
    versions = db.session.scalars(select(RuleVersion).where(RuleVersion.jurisdiction_code == jurisdiction)).all()
    by_profession: dict[str, list[RuleVersion]] = defaultdict(list)
    for version in versions:
        by_profession[version.profession_code].append(version)
    register = []
    for profession in list_professions():
        mine = by_profession.get(profession.code, [])
        live = [v for v in mine if v.superseded_at is None]
        in_force = [v for v in live if (v.effective_from is None or v.effective_from <= day) and (v.effective_to is None or v.effective_to > day)]
        current = [v for v in live if v.effective_to is None]
        register.append(PairRegister(profession, in_force[0] if in_force else None, current[0] if current else None, sorted(mine, key=_history_order)))
    return register


# --- revising one rule --------------------------------------------------------------------
def revise_rule(
    jurisdiction: str,
    profession: str,
    values: dict[str, Any],
    *,
    reason: str,
    actor: Actor,
    expected_id: int,
    expected_version: int,
) -> RuleVersion:
    """Record a new version of the pair's current rule.

    ``values`` holds every content column as typed values (see ``csvio.CONTENT_COLUMNS``),
    except ``effective_to``. If the new version starts after the current one, the current one
    is closed on that date; if it starts on the same date, it is a correction and supersedes
    the current one. Raises :class:`StaleRuleError` if the current version is no longer the
    one the editor saw, and :class:`RuleError` for an impossible date.
    """
    reason = (reason or "").strip()
    if not reason:
        raise RuleError("Say why the rule changes.", field="reason")
    current = current_rule(jurisdiction, profession)
    if current is None:
        raise RuleError(f"No current rule for {jurisdiction}/{profession} to revise.")
    if current.id != expected_id or current.version_id != expected_version:
        who = current.recorded_by.email if current.recorded_by else "an import"
        raise StaleRuleError(
            f"This rule was changed by {who} at {current.recorded_at:%Y-%m-%d %H:%M} UTC after "
            "you opened it. Your edit was not saved; review the current version and edit again."
        )
    start = values.get("effective_from")
    before = csvio.record_of(current)
    new = RuleVersion(
        jurisdiction_code=jurisdiction,
        profession_code=profession,
        change_reason=reason,
        recorded_by_id=actor.id,
        effective_to=None,
        **{c: values.get(c) for c in csvio.CONTENT_COLUMNS if c != "effective_to"},
    )
    if start == current.effective_from:
        if csvio.content_of(values | {"effective_to": None}) == csvio.content_of(
            {c: getattr(current, c) for c in csvio.CONTENT_COLUMNS}
        ):
            raise RuleError("Nothing changed: the new version is identical to the current one.")
        current.superseded_at = utcnow()
        db.session.flush()  # the partial unique index allows one current row at a time
        action = "rule.correct"
    elif start is None:
        raise RuleError(
            f"Give the date the new version takes effect (the current one runs from "
            f"{current.effective_from.isoformat()}).",
            field="effective_from",
        )
    elif current.effective_from is not None and start < current.effective_from:
        raise RuleError(
            f"The new version must take effect on or after {current.effective_from.isoformat()}, "
            "when the current version began.",
            field="effective_from",
        )
    else:
        current.effective_to = start
        db.session.flush()
        action = "rule.revise"
    db.session.add(new)
    db.session.flush()
    if action == "rule.correct":
        current.superseded_by_id = new.id
    db.session.flush()
    audit(
        actor_id=actor.id,
        actor=actor.label,
        action=action,
        entity_type="rule",
        entity_key=f"{jurisdiction}/{profession}",
        before=before,
        after=csvio.record_of(new),
        reason=reason,
    )
    return new


# --- CSV import ---------------------------------------------------------------------------
@dataclass
class ParsedRow:
    line: int
    values: dict[str, Any]

    @property
    def pair(self) -> tuple[str, str]:
        return self.values["jurisdiction"], self.values["profession"]


@dataclass
class ImportPlan:
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    added: list[ParsedRow] = field(default_factory=list)
    #: (row, the live version it replaces, names of the columns that differ)
    changed: list[tuple[ParsedRow, RuleVersion, list[str]]] = field(default_factory=list)
    unchanged: list[ParsedRow] = field(default_factory=list)
    #: live versions of pairs in the file that the file no longer lists
    withdrawn: list[RuleVersion] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.withdrawn)


def read_rules_csv(
    stream: IO[str], *, progress: Callable[[Iterable], Iterable] = lambda it: it
) -> ImportPlan:
    """Parse and validate every row; collect every error with its line and column."""
    plan = ImportPlan()
    reader, header = csvkit.open_reader(stream, plan.errors)
    if reader is None:
        return plan
    csvkit.check_columns(header, csvio.COLUMNS, plan.errors)
    if plan.errors:
        return plan

    known_j, known_p = known_codes()
    for line, cells in progress(csvkit.clean_rows(reader, header, plan.errors)):
        try:
            values = csvio.ROW_SCHEMA.load(cells)
        except ValidationError as exc:
            for name, messages in sorted(exc.messages.items()):
                for message in messages if isinstance(messages, list) else [messages]:
                    plan.errors.append(RowError(line, name, str(message)))
            continue
        bad = False
        if values["jurisdiction"] not in known_j:
            plan.errors.append(RowError(line, "jurisdiction", f"'{values['jurisdiction']}' is not a known jurisdiction code (use USPS codes such as WA, DC, PR)"))
            bad = True
        if values["profession"] not in known_p:
            plan.errors.append(RowError(line, "profession", f"'{values['profession']}' is not a known profession (known: {', '.join(sorted(known_p))})"))
            bad = True
        if not bad:
            plan.rows.append(ParsedRow(line, values))
    _check_timelines(plan)
    return plan


def _check_timelines(plan: ImportPlan) -> None:
    """Versions of one pair must not overlap, must join up, and only the last may be open."""
    by_pair: dict[tuple[str, str], list[ParsedRow]] = defaultdict(list)
    for row in plan.rows:
        by_pair[row.pair].append(row)
    for (j, p), rows in by_pair.items():
        rows.sort(key=lambda r: (r.values["effective_from"] or date.min, r.line))
        label = f"{j}/{p}"
        for prev, nxt in pairwise(rows):
            if nxt.values["effective_from"] is None or prev.values["effective_from"] == nxt.values["effective_from"]:
                plan.errors.append(RowError(nxt.line, "effective_from", f"{label} has two versions starting {_d(nxt.values['effective_from'])} (see line {prev.line}); only the earliest version may leave it empty"))
            elif prev.values["effective_to"] != nxt.values["effective_from"]:
                plan.errors.append(RowError(prev.line, "effective_to", f"{label}: this version must end on {_d(nxt.values['effective_from'])}, the day the next version (line {nxt.line}) takes effect, but it ends {_d(prev.values['effective_to'])}"))
        if rows and rows[-1].values["effective_to"] is not None:
            plan.errors.append(RowError(rows[-1].line, "effective_to", f"{label}: the latest version must be open-ended (empty effective_to)"))


def _d(value: date | None) -> str:
    return value.isoformat() if value else "(empty)"


def plan_import(plan: ImportPlan) -> ImportPlan:
    """Compare the validated rows with the live versions of the pairs they cover."""
    if not plan.ok:
        return plan
    pairs = {row.pair for row in plan.rows}
    live: dict[tuple[str, str, date | None], RuleVersion] = {}
    for version in db.session.scalars(
        select(RuleVersion).where(RuleVersion.superseded_at.is_(None))
    ):
        key = (version.jurisdiction_code, version.profession_code)
        if key in pairs:
            live[(*key, version.effective_from)] = version
    seen = set()
    for row in plan.rows:
        key = (*row.pair, row.values["effective_from"])
        seen.add(key)
        existing = live.get(key)
        if existing is None:
            plan.added.append(row)
            continue
        have = {c: getattr(existing, c) for c in csvio.CONTENT_COLUMNS}
        differ = [
            c
            for c in csvio.CONTENT_COLUMNS
            if csvio.to_cell(c, have[c]) != csvio.to_cell(c, row.values[c])
        ]
        if differ:
            plan.changed.append((row, existing, differ))
        else:
            plan.unchanged.append(row)
    plan.withdrawn = [v for k, v in live.items() if k not in seen]
    return plan


def apply_import(
    plan: ImportPlan,
    *,
    actor: Actor,
    source: str,
    progress: Callable[[Iterable], Iterable] = lambda it: it,
) -> None:
    """Write a validated plan: supersede what changed or was withdrawn, add the new versions.

    Superseding happens first so the partial unique index ('one current version per pair')
    never sees two open-ended rows.
    """
    if not plan.ok:
        raise RuleError("The import has errors; nothing was written.")
    now = utcnow()
    reason = f"Imported from {source}"
    replaced: dict[int, RuleVersion] = {}
    for row, old, _ in plan.changed:
        old.superseded_at = now
        replaced[row.line] = old
    for old in plan.withdrawn:
        old.superseded_at = now
        audit(actor_id=actor.id, actor=actor.label, action="rule.import.withdraw", entity_type="rule", entity_key=f"{old.jurisdiction_code}/{old.profession_code}", before=csvio.record_of(old), after=None, reason=reason)
    db.session.flush()
    todo = [(row, None) for row in plan.added] + [(row, replaced[row.line]) for row, _, _ in plan.changed]
    created: list[tuple[RuleVersion, RuleVersion | None]] = []
    for row, old in progress(todo):
        new = RuleVersion(
            jurisdiction_code=row.values["jurisdiction"],
            profession_code=row.values["profession"],
            change_reason=reason,
            recorded_by_id=actor.id,
            **{c: row.values[c] for c in csvio.CONTENT_COLUMNS},
        )
        db.session.add(new)
        created.append((new, old))
        audit(actor_id=actor.id, actor=actor.label, action="rule.import.change" if old else "rule.import.add", entity_type="rule", entity_key=f"{new.jurisdiction_code}/{new.profession_code}", before=csvio.record_of(old) if old else None, after=csvio.record_of(new), reason=reason)
    db.session.flush()  # one round of INSERTs; the new ids are known from here on
    for new, old in created:
        if old is not None:
            old.superseded_by_id = new.id
    db.session.flush()


# --- CSV export ---------------------------------------------------------------------------
def live_versions() -> list[RuleVersion]:
    versions = db.session.scalars(
        select(RuleVersion).where(RuleVersion.superseded_at.is_(None))
    ).all()
    return sorted(
        versions,
        key=lambda v: (v.jurisdiction_code, v.profession_code, v.effective_from or date.min),
    )


def write_rules_csv(stream: IO[str], versions: Iterable[RuleVersion] | None = None) -> int:
    """Write live versions in the import format, formula-escaped; return the row count."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(csvio.COLUMNS)
    count = 0
    for version in live_versions() if versions is None else versions:
        record = csvio.record_of(version)
        writer.writerow([csvkit.escape_cell(record[c]) for c in csvio.COLUMNS])
        count += 1
    return count


def export_text() -> str:
    buffer = io.StringIO()
    write_rules_csv(buffer)
    return buffer.getvalue()
