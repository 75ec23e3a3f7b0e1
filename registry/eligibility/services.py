"""Eligibility over stored data: adapters from rows to the engine's plain facts, decisions
for one provider, for a whole matrix, for batches of (NPI, jurisdiction, date), the impact of
a proposed rule, and the worklist. Reads only; nothing here writes or commits."""

from __future__ import annotations

import bisect
import gc
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache, partial
from typing import Iterable, NamedTuple

from flask import current_app
from sqlalchemy import Date, Numeric, String, cast, func, or_, select, type_coerce
from sqlalchemy.orm import selectinload

from registry.db import among, listed
from registry.eligibility.engine import (
    CredentialFacts,
    Decision,
    Gap,
    RuleFacts,
    credential_kinds,
    decide,
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
        version_id=rule.id, written_consent_required=rule.written_consent_required,
        referral_required=rule.referral_required,
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


class ProviderRef(NamedTuple):
    """Who, for the worklist: what its rows show and link to (no ORM object per row)."""

    id: int
    name: str
    npi: str


class CredentialRef(NamedTuple):
    """A credential as the worklist shows it."""

    KIND: str
    jurisdiction_code: str | None
    number: str | None
    course_title: str | None
    expires_on: date | None


class LicenseRef(NamedTuple):
    jurisdiction_code: str
    profession_code: str


@dataclass(frozen=True)
class ExpiringItem:
    provider: ProviderRef
    credential: CredentialRef
    days_left: int


@dataclass(frozen=True)
class ProviderGaps:
    provider: Provider | ProviderRef
    license: License | LicenseRef
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
    providers), and what each active provider lacks for a state where they hold a license.

    Plain rows, not ORM objects: a health system's worklist runs to hundreds of thousands of
    credentials (one query per kind of credential, and three for the gaps)."""
    horizon = today + timedelta(days=max(WINDOWS))
    dialect = db.session.get_bind().dialect.name
    decode = _Decoder(dialect)
    p = _PROVIDER
    items: list[ExpiringItem] = []
    for kind, model in CREDENTIAL_MODELS.items():
        c = model.__table__.c
        shown = (c.jurisdiction_code, c.number, None, decode.column(c.expires_on)) if kind != "training" else (None, None, c.course_title, decode.column(c.expires_on))
        query = (
            select(p.id, p.name, p.npi, *(column if column is not None else _NULL for column in shown))
            .join_from(model.__table__, Provider.__table__, p.id == c.provider_id)
            .where(p.is_active.is_(True), c.ended_on.is_(None), c.expires_on.is_not(None), c.expires_on <= horizon)
        )
        if "status" in c:
            query = query.where(c.status == "active")
        for pid, name, npi, jurisdiction, number, title, expires in db.session.execute(query):
            expires = decode.date(expires)
            items.append(ExpiringItem(ProviderRef(pid, name, npi), CredentialRef(kind, jurisdiction, number, title, expires), (expires - today).days))
    items.sort(key=lambda i: (i.days_left, i.provider.name, i.provider.id))
    expiring: dict[int, list[ExpiringItem]] = {w: [] for w in WINDOWS}
    for item in items:
        if item.days_left >= 0:
            expiring[next(w for w in WINDOWS if item.days_left <= w)].append(item)
    return Worklist(today, [i for i in items if i.days_left < 0], expiring, requirement_worklist(today))


_NULL = type_coerce(None, String)


def requirement_worklist(today: date, *, provider: Provider | None = None, timeline: RuleTimeline | None = None) -> list[ProviderGaps]:
    """What each active provider (or just ``provider``) lacks for the states where they hold a
    license whose rule permits dry needling, on ``today``, by provider name then state. The
    rules come from ``timeline`` (by default the cached ``rule_timeline()``: no rule versions
    loaded per request)."""
    timeline = timeline or rule_timeline()
    if provider is not None:
        return _gaps(provider, sorted(provider.licenses, key=lambda lic: (lic.jurisdiction_code, lic.id)), provider_facts(provider), today, timeline)
    found: list[ProviderGaps] = []
    people, facts = _active_population()
    for ref in people:
        held = facts.get(ref.id, ())
        licenses = sorted((f for f in held if f.kind == "license"), key=lambda f: f.jurisdiction)
        found += _gaps(ref, [LicenseRef(f.jurisdiction, f.profession) for f in licenses], held, today, timeline, license_facts=licenses)
    return found


def _gaps(who, licenses: list, facts: list[CredentialFacts], today: date, timeline: RuleTimeline, *, license_facts: list[CredentialFacts] | None = None) -> list[ProviderGaps]:
    found = []
    for index, license in enumerate(licenses):
        rule = timeline.in_force(license.jurisdiction_code, license.profession_code, today)
        if rule is None or rule.status != "permitted":
            continue
        held = license_facts[index] if license_facts is not None else credential_facts(license)
        if not held.held_on(today):
            continue
        gaps = requirement_gaps(rule, facts, today)
        if gaps:
            found.append(ProviderGaps(who, license, rule, gaps))
    return found


def _active_population() -> tuple[list[ProviderRef], dict[int, list[CredentialFacts]]]:
    """Every active provider (by name) and all their credentials as engine facts, from plain
    rows: three queries for the credentials, whatever the number of providers."""
    dialect = db.session.get_bind().dialect.name
    decode = _Decoder(dialect)
    d, n, c = decode.date, decode.decimal, decode.column
    p, lic, tr, reg = _PROVIDER, _LICENSE, _TRAINING, _REGISTRATION
    people = [ProviderRef(*row) for row in db.session.execute(select(p.id, p.name, p.npi).where(p.is_active.is_(True)).order_by(p.name, p.id))]
    active = select(p.id).where(p.is_active.is_(True))
    facts: dict[int, list[CredentialFacts]] = {}
    held = facts.setdefault
    make, facts_type, zero = tuple.__new__, CredentialFacts, Decimal("0")
    rows = db.session.execute(select(lic.provider_id, lic.jurisdiction_code, lic.profession_code, lic.status, c(lic.issued_on), c(lic.expires_on), c(lic.ended_on)).where(lic.provider_id.in_(active)).order_by(lic.provider_id, lic.jurisdiction_code, lic.id))
    for pid, jurisdiction, profession, status, issued, expires, ended in rows:
        held(pid, []).append(make(facts_type, ("license", jurisdiction, profession, status, d(issued), d(expires), d(ended), zero, zero, 0)))
    rows = db.session.execute(select(tr.provider_id, c(tr.completed_on), c(tr.expires_on), c(tr.ended_on), c(tr.total_hours), c(tr.practical_hours), tr.supervised_sessions).where(tr.provider_id.in_(active)))
    for pid, completed, expires, ended, total, practical, sessions in rows:
        held(pid, []).append(make(facts_type, ("training", None, None, "active", d(completed), d(expires), d(ended), n(total), n(practical), sessions)))
    rows = db.session.execute(select(reg.provider_id, reg.jurisdiction_code, reg.status, c(reg.issued_on), c(reg.expires_on), c(reg.ended_on)).where(reg.provider_id.in_(active)))
    for pid, jurisdiction, status, issued, expires, ended in rows:
        held(pid, []).append(make(facts_type, ("registration", jurisdiction, None, status, d(issued), d(expires), d(ended), zero, zero, 0)))
    return people, facts


# --- decisions -------------------------------------------------------------------------------------
MAX_BATCH = 10_000


def silence_is_permission() -> bool:
    """The organisation setting NOT_ADDRESSED_IS_PERMITTED (off by default)."""
    return bool(current_app.config.get("NOT_ADDRESSED_IS_PERMITTED", False))


def decide_for(provider: Provider, jurisdiction: str, day: date, *, rule: RuleFacts | None = None, use_stored_rule: bool = True) -> Decision:
    """The decision for one provider, jurisdiction and date, under the rule in force then
    (or under ``rule``, e.g. a proposed version)."""
    if rule is None and use_stored_rule:
        rule = rule_timeline().in_force(jurisdiction, provider.profession_code, day)
    return decide(rule, provider_facts(provider), day, jurisdiction=jurisdiction, profession=provider.profession_code, not_addressed_is_permitted=silence_is_permission())


def matrix(provider: Provider, day: date, *, licensed_only: bool = True, timeline: RuleTimeline | None = None) -> list[Decision]:
    """Decisions for every jurisdiction (or only where the provider holds a license); the
    rules come from ``timeline`` (by default the cached ``rule_timeline()``)."""
    timeline = timeline or rule_timeline()
    if licensed_only:
        codes = sorted({lic.jurisdiction_code for lic in provider.licenses})
    else:
        from registry.rules.reference import JURISDICTION_CODES

        codes = sorted(JURISDICTION_CODES)
    facts = provider_facts(provider)
    policy = silence_is_permission()
    profession = provider.profession_code
    return [decide(timeline.in_force(code, profession, day), facts, day, jurisdiction=code, profession=profession, not_addressed_is_permitted=policy) for code in codes]


class RuleTimeline:
    """Every live rule version, loaded once, answering 'in force on day' without queries.

    Rule versions only ever gain an ``effective_to`` or get superseded, so a timeline built at
    the start of a request is exact for that request; ``rule_timeline()`` keeps one between
    requests for as long as no version changes.
    """

    def __init__(self) -> None:
        #: (jurisdiction, profession) -> (start days, versions), both sorted by start
        self._pairs: dict[tuple[str, str], tuple[list[date], list[RuleFacts]]] = {}
        versions = db.session.scalars(select(RuleVersion).where(RuleVersion.superseded_at.is_(None))).all()
        for version in sorted(versions, key=lambda v: (v.jurisdiction_code, v.profession_code, v.effective_from or date.min)):
            starts, rules = self._pairs.setdefault((version.jurisdiction_code, version.profession_code), ([], []))
            starts.append(version.effective_from or date.min)
            rules.append(rule_facts(version))

    def in_force(self, jurisdiction: str, profession: str, day: date) -> RuleFacts | None:
        pair = self._pairs.get((jurisdiction, profession))
        if pair is None:
            return None
        index = bisect.bisect_right(pair[0], day) - 1
        if index < 0:
            return None
        rule = pair[1][index]
        return rule if rule.effective_to is None or day < rule.effective_to else None


_V = RuleVersion.__table__.c
_TIMELINE_STAMP = select(func.count(), func.max(_V.id), func.sum(_V.version_id), func.max(_V.recorded_at), func.max(_V.superseded_at))
#: the same aggregate as a subquery, for ``evaluate_batch`` to read with its providers
_STAMP = select(*(column.label(f"stamp_{i}") for i, column in enumerate(_TIMELINE_STAMP.selected_columns))).subquery("stamp")
_STAMP_WIDTH = len(_TIMELINE_STAMP.selected_columns)


def rule_timeline(stamp: tuple | None = None) -> RuleTimeline:
    """The live rule versions as a ``RuleTimeline``, kept by the app between requests and
    built again only when the rule versions change.

    Loading the 133-odd versions as ORM objects took most of a one-visit coding check. A
    cheap aggregate now tells whether anything changed: every change to a version goes
    through the ORM (which bumps its ``version_id``) or adds a version (a new ``id`` and
    ``recorded_at``), so the row count, the largest id, the sum of the version counters and
    the latest ``recorded_at`` and ``superseded_at`` move with any change, whichever worker
    made it. Read in the caller's transaction, so a request sees the rules its own
    transaction sees; a timeline built from changes later rolled back is simply replaced by
    the next request, whose aggregate differs."""
    if stamp is None:  # (a batch reads it along with its providers: one statement fewer)
        stamp = tuple(db.session.execute(_TIMELINE_STAMP).one())
    cache = current_app.extensions.setdefault("registry.rule_timeline", {})
    cached = cache.get("timeline")
    if cached is not None and cached[0] == stamp:
        return cached[1]
    timeline = RuleTimeline()
    cache["timeline"] = (stamp, timeline)
    return timeline


class BatchItem(NamedTuple):
    npi: str
    jurisdiction: str
    day: date


class BatchResult(NamedTuple):
    item: BatchItem
    decision: Decision | None
    #: set instead of a decision when the NPI is not in the registry
    error: str | None = None


#: the table columns ``credential_facts`` reads, per kind (Core, not ORM: plain rows are cheaper)
_LICENSE, _TRAINING, _REGISTRATION, _PROVIDER = (m.__table__.c for m in (License, TrainingRecord, BoardRegistration, Provider))


@dataclass(frozen=True)
class _BatchQueries:
    """The batch's queries, built once per dialect with named parameters: building SQL
    expressions costs more than a small batch's queries take to run."""

    dialect: str
    providers: object
    licenses: object
    trainings: object
    registrations: object


@lru_cache(maxsize=4)
def _batch_queries(dialect: str) -> _BatchQueries:
    c = _Decoder(dialect).column
    p, lic, tr, reg = _PROVIDER, _LICENSE, _TRAINING, _REGISTRATION
    key = cast(lic.provider_id, String) + " " + lic.jurisdiction_code
    return _BatchQueries(
        dialect,
        # the rule-timeline stamp (one row, whatever matches) and the providers asked about
        providers=select(*_STAMP.c, p.npi, p.id, p.profession_code).select_from(_STAMP.outerjoin(Provider.__table__, among(p.npi, "npis", dialect))),
        # the licenses held in the states asked about ("<provider id> <jurisdiction>" keys),
        # and every license of the providers in ``everywhere``
        licenses=select(lic.provider_id, lic.jurisdiction_code, lic.profession_code, lic.status, c(lic.issued_on), c(lic.expires_on), c(lic.ended_on))
        .where(among(lic.provider_id, "ids", dialect), or_(among(key, "keys", dialect), among(lic.provider_id, "everywhere", dialect))),
        trainings=select(tr.provider_id, c(tr.completed_on), c(tr.expires_on), c(tr.ended_on), c(tr.total_hours), c(tr.practical_hours), tr.supervised_sessions)
        .where(among(tr.provider_id, "ids", dialect)),
        registrations=select(reg.provider_id, reg.jurisdiction_code, reg.status, c(reg.issued_on), c(reg.expires_on), c(reg.ended_on))
        .where(among(reg.provider_id, "ids", dialect)),
    )


class _Parsed(dict):
    """Each distinct raw value of a batch, parsed once: ``parsed[raw]`` is a dict look-up
    (in C) for every value seen before, and calls ``parse`` only for a new one."""

    def __init__(self, parse) -> None:
        super().__init__({None: None})
        self._parse = parse

    def __missing__(self, raw):
        value = self[raw] = self._parse(raw)
        return value


def _same(value):
    return value


class _Decoder:
    """Dates and numbers of one batch's credential rows.

    psycopg hands back ``date`` and ``Decimal`` itself. SQLite stores them as text and numbers,
    and SQLAlchemy would parse every cell in Python; there the raw values are read and each
    distinct one converted once, exactly as SQLAlchemy's own processors would (a date from
    ISO text, a Numeric(scale=1) as ``Decimal("%.1f" % value)``). ``date`` and ``decimal``
    are bound ``dict.__getitem__`` methods: a batch calls them some 100,000 times.
    """

    def __init__(self, dialect: str) -> None:
        self.raw = dialect == "sqlite"
        parse_date, parse_decimal = (date.fromisoformat, _decimal_from_float) if self.raw else (_same, _same)
        self.date = _Parsed(parse_date).__getitem__
        self.decimal = _Parsed(parse_decimal).__getitem__

    def column(self, column):
        if self.raw and isinstance(column.type, (Date, Numeric)):
            return type_coerce(column, String)
        return column


def _decimal_from_float(value) -> Decimal:
    return Decimal("%.1f" % float(value))


def _batch_credentials(wanted: dict[str, set]) -> dict[int, list[CredentialFacts]]:
    """``provider_facts`` for many providers, read as plain rows (no ORM objects), but only
    what their questions need (see ``credential_kinds``). ``wanted`` holds, by kind:
    ``license``, ``"<provider id> <jurisdiction>"`` keys (the licenses a provider holds in a
    state asked about); ``all_licenses``, ``training`` and ``registration``, provider ids.
    At most one query per kind of credential; the rows come in no particular order, which
    ``decide`` does not depend on."""
    facts: dict[int, list[CredentialFacts]] = {}
    held = facts.setdefault
    dialect = db.session.get_bind().dialect.name
    queries, bind = _batch_queries(dialect), partial(listed, dialect=dialect)
    decode = _Decoder(dialect)
    d, n = decode.date, decode.decimal
    # tuple.__new__ straight away: the same CredentialFacts, without a Python-level __new__
    # frame per row (a batch builds tens of thousands). Fields in CredentialFacts' order.
    make, facts_type, zero = tuple.__new__, CredentialFacts, Decimal("0")
    if wanted.get("license") or wanted.get("all_licenses"):
        everywhere = sorted(wanted.get("all_licenses", ()))
        here = sorted(wanted.get("license", ()))
        ids = sorted({int(key.split(" ", 1)[0]) for key in here}.union(everywhere))
        rows = db.session.execute(queries.licenses, {"ids": bind(ids), "keys": bind(here), "everywhere": bind(everywhere)}).all()
        for pid, jurisdiction, profession, status, issued, expires, ended in rows:
            held(pid, []).append(make(facts_type, ("license", jurisdiction, profession, status, d(issued), d(expires), d(ended), zero, zero, 0)))
    if wanted.get("training"):
        rows = db.session.execute(queries.trainings, {"ids": bind(sorted(wanted["training"]))}).all()
        for pid, completed, expires, ended, total, practical, sessions in rows:
            held(pid, []).append(make(facts_type, ("training", None, None, "active", d(completed), d(expires), d(ended), n(total), n(practical), sessions)))
    if wanted.get("registration"):
        rows = db.session.execute(queries.registrations, {"ids": bind(sorted(wanted["registration"]))}).all()
        for pid, jurisdiction, status, issued, expires, ended in rows:
            held(pid, []).append(make(facts_type, ("registration", jurisdiction, None, status, d(issued), d(expires), d(ended), zero, zero, 0)))
    return facts


@contextmanager
def collector_paused():
    """Pause CPython's cyclic garbage collector for the span of a batch.

    A batch builds some 100,000 short-lived tuples (facts, reasons, decisions), none in a
    reference cycle, so reference counting frees every one of them; but their numbers set off
    several full collections per batch, each walking the whole heap, which cost about a
    third of the batch's time. Collections resume afterwards (and only if they were on, so
    nested or concurrent batches leave the setting as they found it).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def evaluate_batch(items: Iterable[BatchItem]) -> list[BatchResult]:
    """Decide many (NPI, jurisdiction, date) triples with a fixed number of queries, whatever
    their number (at most ``MAX_BATCH``): the providers, the live rule versions, and then
    licenses, training records and registrations, one query each.

    Reads plain rows rather than ORM objects (the results carry decisions, not providers),
    and reads only the credentials some question's rule makes the decision look at
    (``credential_kinds``): none under a prohibited, unclear or unknown rule, or none at all;
    training records only under a rule with a training figure; registrations only under a
    rule that requires one. Every list of keys goes to the database as one bound parameter
    (see ``registry.db.among``), so no query grows with the batch.
    """
    items = list(items)
    if db.session.autoflush:  # as the ORM would before a query: decide on what the session holds
        db.session.flush()
    with collector_paused():
        dialect = db.session.get_bind().dialect.name
        found = db.session.execute(_batch_queries(dialect).providers, {"npis": listed(list({i.npi for i in items}), dialect)}).all()
        providers: dict[str, tuple[int, str]] = {npi: (pid, profession) for *_stamp, npi, pid, profession in found if npi is not None}
        timeline = rule_timeline(tuple(found[0][:_STAMP_WIDTH]))
        policy = silence_is_permission()
        asked: list[tuple[BatchItem, tuple[int, str] | None, RuleFacts | None]] = []
        wanted: dict[str, set] = {"license": set(), "all_licenses": set(), "training": set(), "registration": set()}
        here = wanted["license"]
        #: id(rule) -> (does it read licenses here, the provider-id sets of ``wanted`` its
        #: questions add to): credential_kinds, worked out once per rule version
        needs: dict[int, tuple[bool, list[set]]] = {}
        for item in items:
            provider = providers.get(item.npi)
            if provider is None:
                asked.append((item, None, None))
                continue
            rule = timeline.in_force(item.jurisdiction, provider[1], item.day)
            asked.append((item, provider, rule))
            try:
                licenses_here, targets = needs[id(rule)]
            except KeyError:
                kinds = credential_kinds(rule, not_addressed_is_permitted=policy)
                licenses_here, targets = needs[id(rule)] = ("license" in kinds, [wanted[k] for k in kinds if k != "license"])
            if licenses_here:
                here.add(f"{provider[0]} {item.jurisdiction}")
            for target in targets:
                target.add(provider[0])
        facts = _batch_credentials(wanted)
        unread: list[CredentialFacts] = []  # nothing held, or never looked at: see credential_kinds
        results: list[BatchResult] = []
        append = results.append
        for item, provider, rule in asked:
            if provider is None:
                append(BatchResult(item, None, f"No provider with NPI {item.npi} in the registry."))
            else:
                append(BatchResult(item, decide(rule, facts.get(provider[0], unread), item.day, jurisdiction=item.jurisdiction, profession=provider[1], not_addressed_is_permitted=policy)))
        # Let the working data go while collections are still paused: freed by reference
        # counting now, it is not there for the first collection after the pause to walk.
        del facts, asked, found, providers, wanted, here, needs
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

