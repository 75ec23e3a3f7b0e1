"""Eligibility against the real data/state_rules.csv, through the services (both databases)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event

from registry.eligibility import services as eligibility
from registry.eligibility.engine import RuleFacts
from registry.extensions import db
from registry.providers import services as providers
from registry.rules.services import Actor

ACTOR = Actor(None, "test")


def add(provider, kind, **values):
    providers.add_credential(kind, provider, values, actor=ACTOR)


@pytest.fixture
def pt(ctx, real_rules):
    """A PT licensed in WA (2016), CA, CO and FL, with 330 h of training and a WA endorsement."""
    p = providers.create_provider({"name": "Pat Table", "npi": "1234567893", "profession_code": "PT"}, actor=ACTOR)
    for code in ("WA", "CA", "CO", "FL", "AK"):
        add(p, "license", jurisdiction_code=code, number=f"{code}-1", issued_on=date(2016, 1, 1), expires_on=date(2030, 1, 1), status="active")
    add(p, "training", course_title="DN 1", completed_on=date(2023, 9, 1), total_hours=Decimal("200"), practical_hours=Decimal("50"), supervised_sessions=100)
    add(p, "training", course_title="DN 2", completed_on=date(2024, 2, 1), total_hours=Decimal("130"), practical_hours=Decimal("30"), supervised_sessions=60)
    add(p, "registration", jurisdiction_code="WA", number="END-1", issued_on=date(2024, 7, 1), expires_on=date(2027, 1, 1), status="active")
    db.session.flush()
    db.session.refresh(p)
    return p


@pytest.mark.parametrize(
    "jurisdiction, day, outcome, first_reason",
    [
        ("CA", date(2025, 3, 14), "not_eligible", "state_prohibits"),  # a prohibited state
        ("WA", date(2025, 3, 14), "eligible", None),  # permitted with hours, endorsement held
        ("WA", date(2024, 1, 1), "not_eligible", "state_prohibits"),  # before the 2024-06-22 rule
        ("WA", date(2024, 6, 30), "not_eligible", "board_registration_missing"),  # rule in force, endorsement not yet
        ("CO", date(2025, 3, 14), "eligible", None),
        ("FL", date(2025, 3, 14), "not_eligible", "board_registration_missing"),  # attestation filed with the board
        ("AK", date(2025, 3, 14), "eligible", "no_training_figure"),  # permitted, no figure stated
        ("OR", date(2025, 3, 14), "not_eligible", "state_prohibits"),  # AG opinion, before HB 3824
        ("TX", date(2025, 3, 14), "not_eligible", "no_license"),
        ("PA", date(2025, 3, 14), "needs_review", "rule_silent"),  # not_addressed
    ],
)
def test_real_rules(pt, jurisdiction, day, outcome, first_reason):
    d = eligibility.decide_for(pt, jurisdiction, day)
    assert d.outcome == outcome, [r.message for r in d.reasons]
    assert (d.reasons[0].code if d.reasons else None) == first_reason


def test_the_rule_used_is_named(pt):
    d = eligibility.decide_for(pt, "WA", date(2025, 3, 14))
    assert d.rule.effective_from == date(2024, 6, 22) and "WAC 246-915-390" in d.rule.citation
    assert d.rule.source_url.startswith("http")


def test_unknown_rule_needs_review(ctx, real_rules):
    dc = providers.create_provider({"name": "Chi Ro", "npi": "1245319599", "profession_code": "DC"}, actor=ACTOR)
    add(dc, "license", jurisdiction_code="AR", number="AR-1", issued_on=date(2010, 1, 1), status="active")
    db.session.flush()
    db.session.refresh(dc)
    d = eligibility.decide_for(dc, "AR", date(2025, 3, 14))
    assert (d.outcome, d.reasons[0].code) == ("needs_review", "rule_unknown")


def test_silence_setting(app, pt):
    app.config["NOT_ADDRESSED_IS_PERMITTED"] = True
    d = eligibility.decide_for(pt, "PA", date(2025, 3, 14))
    assert (d.outcome, d.reasons[0].code) == ("not_eligible", "no_license")


def test_matrix(pt):
    licensed = eligibility.matrix(pt, date(2025, 3, 14))
    assert [d.jurisdiction for d in licensed] == ["AK", "CA", "CO", "FL", "WA"]
    everywhere = eligibility.matrix(pt, date(2025, 3, 14), licensed_only=False)
    assert len(everywhere) == 52
    assert {d.jurisdiction for d in everywhere if d.eligible} == {"AK", "CO", "WA"}


def test_batch_matches_single_decisions_with_a_fixed_number_of_queries(pt):
    items = [eligibility.BatchItem(pt.npi, j, d) for j in ("WA", "CA", "CO", "OR", "PA") for d in (date(2024, 1, 1), date(2024, 7, 1), date(2025, 3, 14))]
    items.append(eligibility.BatchItem("1245319599", "WA", date(2025, 1, 1)))
    statements = []
    listener = lambda *args, **kw: statements.append(1)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        results = eligibility.evaluate_batch(items * 20)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) <= 6, f"{len(statements)} queries for {len(items) * 20} triples"
    for result in results[: len(items) - 1]:
        single = eligibility.decide_for(pt, result.item.jurisdiction, result.item.day)
        assert result.decision.outcome == single.outcome and result.decision.reasons == single.reasons
    assert results[len(items) - 1].error == "No provider with NPI 1245319599 in the registry."


def test_impact_of_a_proposed_rule(pt):
    current = eligibility.rule_facts(eligibility.rules_in_force(date(2025, 3, 14), jurisdiction="WA", profession="PT")[0])
    stricter = RuleFacts(**{**current.__dict__, "min_training_hours": Decimal("400"), "version_id": None})
    impact = eligibility.rule_change_impact("WA", "PT", stricter, date(2025, 3, 14))
    assert [p.name for p, _, _ in impact.lose] == ["Pat Table"] and impact.gain == []
    looser = RuleFacts(**{**current.__dict__, "status": "prohibited"})
    assert len(eligibility.rule_change_impact("WA", "PT", looser, date(2025, 3, 14)).lose) == 1
    ca_allows = RuleFacts("CA", "PT", "permitted")
    assert [p.name for p, _, _ in eligibility.rule_change_impact("CA", "PT", ca_allows, date(2025, 3, 14)).gain] == ["Pat Table"]


def _revise_wa(values: dict, start: date):
    from registry.rules import services as rules
    from registry.rules.csvio import CONTENT_COLUMNS

    current = rules.current_rule("WA", "PT")
    content = {c: getattr(current, c) for c in CONTENT_COLUMNS if c != "effective_to"}
    content.update(values, effective_from=start)
    rules.revise_rule("WA", "PT", content, reason="test", actor=ACTOR, expected_id=current.id, expected_version=current.version_id)


def test_batches_see_a_rule_change_at_once_and_forget_one_rolled_back(app, pt):
    """The live rule versions are kept between batches (rule_timeline): a change, committed
    or only flushed in the same transaction, is seen by the next batch; a change rolled back
    is forgotten again."""
    item = eligibility.BatchItem(pt.npi, "WA", date(2025, 3, 14))
    db.session.commit()
    assert eligibility.evaluate_batch([item])[0].decision.eligible
    _revise_wa({"status": "prohibited", "citation": "test: rolled back"}, date(2025, 1, 1))
    db.session.flush()
    assert eligibility.evaluate_batch([item])[0].decision.rule.citation == "test: rolled back"
    db.session.rollback()
    assert eligibility.evaluate_batch([item])[0].decision.eligible
    _revise_wa({"min_training_hours": Decimal("500"), "citation": "test: 500 hours"}, date(2025, 1, 1))
    db.session.commit()
    decision = eligibility.evaluate_batch([item])[0].decision
    assert decision.rule.citation == "test: 500 hours" and [r.code for r in decision.reasons][:1] == ["training_hours_short"]
