"""Adapters from stored rows to the engine's plain facts, and the worklist built on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry.eligibility.engine import CredentialFacts, Gap, RuleFacts, requirement_gaps
from registry.extensions import db
from registry.providers.models import CREDENTIAL_MODELS, License, Provider
from registry.rules.services import rules_in_force

WINDOWS = (30, 60, 90)


def rule_facts(rule) -> RuleFacts:
    return RuleFacts(
        jurisdiction=rule.jurisdiction_code, profession=rule.profession_code, status=rule.status,
        min_training_hours=rule.min_training_hours, min_practical_hours=rule.min_practical_hours,
        supervised_sessions=rule.supervised_sessions, years_licensed=rule.years_licensed,
        board_registration_required=rule.board_registration_required, citation=rule.citation,
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
