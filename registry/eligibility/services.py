"""Eligibility over stored data: adapters from rows to the engine's plain facts, decisions
for one provider, for a whole matrix, for batches of (NPI, jurisdiction, date), the impact of
a proposed rule, and the worklist. Reads only; nothing here writes or commits."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry.eligibility.engine import (
    CredentialFacts,
    Decision,
    Gap,
    RuleFacts,
    decide,
    requirement_gaps,
)
from registry.extensions import db
from registry.providers.models import CREDENTIAL_MODELS, License, Provider
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


def requirement_worklist(today: date) -> list[ProviderGaps]:
    rules = {(r.jurisdiction_code, r.profession_code): r for r in rules_in_force(today)}
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


def evaluate_batch(items: Iterable[BatchItem]) -> list[BatchResult]:
    """Decide many (NPI, jurisdiction, date) triples with a fixed number of queries: the
    providers with their credentials in chunks, and the rules once."""
    items = list(items)
    npis = sorted({i.npi for i in items})
    providers: dict[str, Provider] = {}
    for start in range(0, len(npis), 2000):
        chunk = npis[start:start + 2000]
        for provider in db.session.scalars(
            select(Provider).where(Provider.npi.in_(chunk))
            .options(selectinload(Provider.licenses), selectinload(Provider.trainings), selectinload(Provider.registrations))
        ):
            providers[provider.npi] = provider
    facts = {npi: provider_facts(p) for npi, p in providers.items()}
    timeline = RuleTimeline()
    policy = silence_is_permission()
    results = []
    for item in items:
        provider = providers.get(item.npi)
        if provider is None:
            results.append(BatchResult(item, None, f"No provider with NPI {item.npi} in the registry."))
            continue
        rule = timeline.in_force(item.jurisdiction, provider.profession_code, item.day)
        results.append(BatchResult(item, decide(rule, facts[item.npi], item.day, jurisdiction=item.jurisdiction, profession=provider.profession_code, not_addressed_is_permitted=policy)))
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

