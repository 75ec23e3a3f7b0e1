"""Eligibility over stored data: adapters from rows to the engine's plain facts, decisions
for one provider, for a whole matrix, for batches of (NPI, jurisdiction, date), the impact of
a proposed rule, and the worklist. Reads only; nothing here writes or commits."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable

from flask import current_app
from sqlalchemy import Date, Numeric, String, any_, bindparam, func, select, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import selectinload

from registry.eligibility.engine import (
    CredentialFacts,
    Decision,
    Gap,
    RuleFacts,
    decide,
    reads_credentials,
    requirement_gaps,
)
from registry.extensions import db
from registry.providers.models import (
    CREDENTIAL_MODELS,
    BoardRegistration,
    License,
    Provider,
    TrainingRecord,
)
from registry.rules.models import RuleVersion
from registry.rules.services import rules_in_force

WINDOWS = (30, 60, 90)


def rule_facts(rule) -> RuleFacts:
    return RuleFacts(
        jurisdiction=rule.jurisdiction_code, profession=rule.profession_code, status=rule.status,
        min_training_hours=rule.min_training_hours, min_practical_hours=rule.min_practical_hours,
        supervised_sessions=rule.supervised_sessions, years_licensed=rule.years_licensed,
        board_registration_required=rule.board_registration_required,
        completion_window_months=rule.completion_window_months, citation=rule.citation,
        source_url=rule.source_url, effective_from=rule.effective_from, effective_to=rule.effective_to,
        version_id=rule.id,
    )


def credential_facts(credential) -> CredentialFacts:
    kind = credential.KIND
    if kind == "training":
        return CredentialFacts(
            "training", starts_on=credential.completed_on, expires_on=credential.expires_on,
            ended_on=credential.ended_on, total_hours=credential.total_hours,
            practical_hours=credential.practical_hours, supervised_sessions=credential.supervised_sessions,
        )
    return CredentialFacts(
        kind, jurisdiction=credential.jurisdiction_code,
        profession=getattr(credential, "profession_code", None), status=credential.status,
        starts_on=credential.issued_on, expires_on=credential.expires_on, ended_on=credential.ended_on,
    )


def provider_facts(provider: Provider) -> list[CredentialFacts]:
    return [credential_facts(c) for c in (*provider.licenses, *provider.trainings, *provider.registrations)]


@dataclass(frozen=True)
class ExpiringItem:
    provider: Provider
    credential: object
    days_left: int


@dataclass(frozen=True)
class ProviderGaps:
    provider: Provider
    license: License
    rule: object
    gaps: list[Gap]


@dataclass
class Worklist:
    today: date
    expired: list[ExpiringItem]
    #: window (30, 60, 90) -> items expiring within it and not in a shorter one
    expiring: dict[int, list[ExpiringItem]]
    gaps: list[ProviderGaps]


def worklist(today: date) -> Worklist:
    """Credentials that expired or expire within 90 days (still held, not ended, active
    providers), and what each active provider lacks for a state where they hold a license."""
    horizon = today + timedelta(days=max(WINDOWS))
    items: list[ExpiringItem] = []
    for model in CREDENTIAL_MODELS.values():
        query = (
            select(model).join(Provider, Provider.id == model.provider_id)
            .options(selectinload(model.provider))
            .where(Provider.is_active.is_(True), model.ended_on.is_(None), model.expires_on.is_not(None), model.expires_on <= horizon)
        )
        if hasattr(model, "status"):
            query = query.where(model.status == "active")
        items.extend(ExpiringItem(c.provider, c, (c.expires_on - today).days) for c in db.session.scalars(query))
    items.sort(key=lambda i: (i.days_left, i.provider.name))
    expiring: dict[int, list[ExpiringItem]] = {w: [] for w in WINDOWS}
    for item in items:
        if item.days_left >= 0:
            expiring[next(w for w in WINDOWS if item.days_left <= w)].append(item)
    return Worklist(today, [i for i in items if i.days_left < 0], expiring, requirement_worklist(today))


def requirement_worklist(today: date, *, provider: Provider | None = None) -> list[ProviderGaps]:
    """What each active provider (or just ``provider``) lacks for the states where they hold a
    license whose rule permits dry needling, on ``today``."""
    rules = {(r.jurisdiction_code, r.profession_code): r for r in rules_in_force(today)}
    if provider is not None:
        providers = [provider]
    else:
        providers = db.session.scalars(
            select(Provider).where(Provider.is_active.is_(True))
            .options(selectinload(Provider.licenses), selectinload(Provider.trainings), selectinload(Provider.registrations))
            .order_by(Provider.name)
        ).all()
    found: list[ProviderGaps] = []
    for provider in providers:
        facts = provider_facts(provider)
        for license in provider.licenses:
            rule = rules.get((license.jurisdiction_code, license.profession_code))
            if rule is None or rule.status != "permitted" or not credential_facts(license).held_on(today):
                continue
            gaps = requirement_gaps(rule_facts(rule), facts, today)
            if gaps:
                found.append(ProviderGaps(provider, license, rule, gaps))
    return found


# --- decisions -------------------------------------------------------------------------------------
MAX_BATCH = 10_000


def silence_is_permission() -> bool:
    """The organisation setting NOT_ADDRESSED_IS_PERMITTED (off by default)."""
    return bool(current_app.config.get("NOT_ADDRESSED_IS_PERMITTED", False))


def decide_for(provider: Provider, jurisdiction: str, day: date, *, rule: RuleFacts | None = None, use_stored_rule: bool = True) -> Decision:
    """The decision for one provider, jurisdiction and date, under the rule in force then
    (or under ``rule``, e.g. a proposed version)."""
    if rule is None and use_stored_rule:
        found = rules_in_force(day, jurisdiction=jurisdiction, profession=provider.profession_code)
        rule = rule_facts(found[0]) if found else None
    return decide(rule, provider_facts(provider), day, jurisdiction=jurisdiction, profession=provider.profession_code, not_addressed_is_permitted=silence_is_permission())


def matrix(provider: Provider, day: date, *, licensed_only: bool = True) -> list[Decision]:
    """Decisions for every jurisdiction (or only where the provider holds a license), one
    query for the rules."""
    rules = {r.jurisdiction_code: rule_facts(r) for r in rules_in_force(day, profession=provider.profession_code)}
    if licensed_only:
        codes = sorted({lic.jurisdiction_code for lic in provider.licenses})
    else:
        from registry.rules.reference import JURISDICTION_CODES

        codes = sorted(JURISDICTION_CODES)
    facts = provider_facts(provider)
    policy = silence_is_permission()
    return [decide(rules.get(code), facts, day, jurisdiction=code, profession=provider.profession_code, not_addressed_is_permitted=policy) for code in codes]


class RuleTimeline:
    """Every live rule version, loaded once, answering 'in force on day' without queries.

    Rule versions only ever gain an ``effective_to`` or get superseded, so a timeline built at
    the start of a request is exact for that request.
    """

    def __init__(self) -> None:
        self._by_pair: dict[tuple[str, str], list[RuleFacts]] = {}
        self._starts: dict[tuple[str, str], list[date]] = {}
        versions = db.session.scalars(select(RuleVersion).where(RuleVersion.superseded_at.is_(None))).all()
        for version in sorted(versions, key=lambda v: (v.jurisdiction_code, v.profession_code, v.effective_from or date.min)):
            pair = (version.jurisdiction_code, version.profession_code)
            self._by_pair.setdefault(pair, []).append(rule_facts(version))
            self._starts.setdefault(pair, []).append(version.effective_from or date.min)

    def in_force(self, jurisdiction: str, profession: str, day: date) -> RuleFacts | None:
        starts = self._starts.get((jurisdiction, profession))
        if not starts:
            return None
        index = bisect.bisect_right(starts, day) - 1
        if index < 0:
            return None
        rule = self._by_pair[(jurisdiction, profession)][index]
        return rule if rule.effective_to is None or day < rule.effective_to else None


@dataclass(frozen=True)
class BatchItem:
    npi: str
    jurisdiction: str
    day: date


@dataclass(frozen=True)
class BatchResult:
    item: BatchItem
    decision: Decision | None
    #: set instead of a decision when the NPI is not in the registry
    error: str | None = None


#: NPIs (and so provider ids) per query in a batch: well under SQLite's bound-parameter limit
BATCH_CHUNK = 2000

#: the table columns ``credential_facts`` reads, per kind (Core, not ORM: plain rows are cheaper)
_LICENSE, _TRAINING, _REGISTRATION, _PROVIDER = (m.__table__.c for m in (License, TrainingRecord, BoardRegistration, Provider))


def _among(column, values: list):
    """``column IN values`` with one bound parameter: an array on PostgreSQL, a JSON list read
    by ``json_each`` on SQLite. An expanding IN of 2,000 values costs more in SQLAlchemy and
    the driver (a placeholder each to render and parse) than running the query."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    if dialect == "sqlite":
        listed = func.json_each(bindparam(None, json.dumps(values), type_=String)).table_valued("value")
        return column.in_(select(listed.c.value))
    return column.in_(values)


class _Decoder:
    """Dates and numbers of one batch's credential rows.

    psycopg hands back ``date`` and ``Decimal`` itself. SQLite stores them as text and numbers,
    and SQLAlchemy would parse every cell in Python; there the raw values are read and each
    distinct one converted once, exactly as SQLAlchemy's own processors would (a date from
    ISO text, a Numeric(scale=1) as ``Decimal("%.1f" % value)``).
    """

    def __init__(self, dialect: str) -> None:
        self.raw = dialect == "sqlite"
        self._dates: dict = {None: None}
        self._decimals: dict = {None: None}

    def column(self, column):
        if self.raw and isinstance(column.type, (Date, Numeric)):
            return type_coerce(column, String)
        return column

    def date(self, value):
        if not self.raw:
            return value
        try:
            return self._dates[value]
        except KeyError:
            parsed = self._dates[value] = date.fromisoformat(value)
            return parsed

    def decimal(self, value):
        if not self.raw:
            return value
        try:
            return self._decimals[value]
        except KeyError:
            parsed = self._decimals[value] = Decimal("%.1f" % float(value))
            return parsed


def _batch_credentials(provider_ids: list[int]) -> dict[int, list[CredentialFacts]]:
    """``provider_facts`` for many providers by id, read as plain rows (no ORM objects):
    licenses, then training records, then registrations, each in its relationship's order.
    Three queries."""
    facts: dict[int, list[CredentialFacts]] = {pid: [] for pid in provider_ids}
    decode = _Decoder(db.session.get_bind().dialect.name)
    d, n, c = decode.date, decode.decimal, decode.column
    t = _LICENSE
    rows = db.session.execute(
        select(t.provider_id, t.jurisdiction_code, t.profession_code, t.status, c(t.issued_on), c(t.expires_on), c(t.ended_on))
        .where(_among(t.provider_id, provider_ids)).order_by(t.provider_id, t.jurisdiction_code, t.id)
    )
    for pid, jurisdiction, profession, status, issued, expires, ended in rows:
        facts[pid].append(CredentialFacts("license", jurisdiction, profession, status, d(issued), d(expires), d(ended)))
    t = _TRAINING
    rows = db.session.execute(
        select(t.provider_id, c(t.completed_on), c(t.expires_on), c(t.ended_on), c(t.total_hours), c(t.practical_hours), t.supervised_sessions)
        .where(_among(t.provider_id, provider_ids)).order_by(t.provider_id, t.completed_on, t.id)
    )
    for pid, completed, expires, ended, total, practical, sessions in rows:
        facts[pid].append(CredentialFacts("training", None, None, "active", d(completed), d(expires), d(ended), n(total), n(practical), sessions))
    t = _REGISTRATION
    rows = db.session.execute(
        select(t.provider_id, t.jurisdiction_code, t.status, c(t.issued_on), c(t.expires_on), c(t.ended_on))
        .where(_among(t.provider_id, provider_ids)).order_by(t.provider_id, t.jurisdiction_code, t.id)
    )
    for pid, jurisdiction, status, issued, expires, ended in rows:
        facts[pid].append(CredentialFacts("registration", jurisdiction, None, status, d(issued), d(expires), d(ended)))
    return facts


def evaluate_batch(items: Iterable[BatchItem]) -> list[BatchResult]:
    """Decide many (NPI, jurisdiction, date) triples with a fixed number of queries: the
    providers (per chunk of 2,000 NPIs), the rules once, and then, per chunk of 2,000
    providers, their licenses, training records and registrations.

    Reads plain rows rather than ORM objects (the results carry decisions, not providers),
    and reads credentials only for providers with at least one question whose rule makes the
    decision look at them (``reads_credentials``): under a prohibited, unclear or unknown rule,
    or none, the answer follows from the rule alone.
    """
    items = list(items)
    if db.session.autoflush:  # as the ORM would before a query: decide on what the session holds
        db.session.flush()
    npis = sorted({i.npi for i in items})
    providers: dict[str, tuple[int, str]] = {}
    for start in range(0, len(npis), BATCH_CHUNK):
        found = db.session.execute(
            select(_PROVIDER.npi, _PROVIDER.id, _PROVIDER.profession_code).where(_among(_PROVIDER.npi, npis[start:start + BATCH_CHUNK]))
        )
        providers.update((npi, (pid, profession)) for npi, pid, profession in found)
    timeline = RuleTimeline()
    policy = silence_is_permission()
    rules: list[RuleFacts | None] = []
    wanted: set[int] = set()
    for item in items:
        found = providers.get(item.npi)
        rule = timeline.in_force(item.jurisdiction, found[1], item.day) if found else None
        rules.append(rule)
        if found and reads_credentials(rule, not_addressed_is_permitted=policy):
            wanted.add(found[0])
    ids = sorted(wanted)
    facts: dict[int, list[CredentialFacts]] = {}
    for start in range(0, len(ids), BATCH_CHUNK):
        facts.update(_batch_credentials(ids[start:start + BATCH_CHUNK]))
    unread: list[CredentialFacts] = []  # never looked at: see reads_credentials
    results = []
    for item, rule in zip(items, rules, strict=True):
        found = providers.get(item.npi)
        if found is None:
            results.append(BatchResult(item, None, f"No provider with NPI {item.npi} in the registry."))
            continue
        pid, profession = found
        results.append(BatchResult(item, decide(rule, facts.get(pid, unread), item.day, jurisdiction=item.jurisdiction, profession=profession, not_addressed_is_permitted=policy)))
    return results


# --- impact of a proposed rule ---------------------------------------------------------------------
@dataclass(frozen=True)
class Impact:
    day: date
    gain: list[tuple[Provider, Decision, Decision]]
    lose: list[tuple[Provider, Decision, Decision]]
    unchanged: int


def rule_change_impact(jurisdiction: str, profession: str, proposed: RuleFacts, day: date) -> Impact:
    """Who would gain or lose eligibility on ``day`` if ``proposed`` replaced the rule in
    force then: every active provider of the profession holding a license in the jurisdiction."""
    current_rows = rules_in_force(day, jurisdiction=jurisdiction, profession=profession)
    current = rule_facts(current_rows[0]) if current_rows else None
    providers = db.session.scalars(
        select(Provider).where(
            Provider.is_active.is_(True), Provider.profession_code == profession,
            Provider.id.in_(select(License.provider_id).where(License.jurisdiction_code == jurisdiction)),
        ).options(selectinload(Provider.licenses), selectinload(Provider.trainings), selectinload(Provider.registrations))
        .order_by(Provider.name)
    ).all()
    gain, lose, same = [], [], 0
    policy = silence_is_permission()
    for provider in providers:
        facts = provider_facts(provider)
        before = decide(current, facts, day, jurisdiction=jurisdiction, profession=profession, not_addressed_is_permitted=policy)
        after = decide(proposed, facts, day, jurisdiction=jurisdiction, profession=profession, not_addressed_is_permitted=policy)
        if after.eligible and not before.eligible:
            gain.append((provider, before, after))
        elif before.eligible and not after.eligible:
            lose.append((provider, before, after))
        else:
            same += 1
    return Impact(day, gain, lose, same)

