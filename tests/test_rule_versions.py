"""Effective-dated rule versions: as-of look-ups, revisions that close, corrections that
supersede, and the refusals."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from registry.audit.models import AuditEvent
from registry.extensions import db
from registry.rules import csvio, services
from registry.rules.models import RuleVersion
from tests.conftest import import_text, row, to_csv

ACTOR = services.Actor(id=None, label="test")


def values_of(version: RuleVersion, **changes) -> dict:
    values = {c: getattr(version, c) for c in csvio.CONTENT_COLUMNS if c != "effective_to"}
    values.update(changes)
    return values


def revise(version, reason="new statute", **changes):
    return services.revise_rule(
        version.jurisdiction_code, version.profession_code, values_of(version, **changes),
        reason=reason, actor=ACTOR, expected_id=version.id, expected_version=version.version_id,
    )


@pytest.fixture
def wa(ctx):
    import_text(to_csv([
        row(status="prohibited", effective_from="2014-10-10", effective_to="2024-06-22", min_training_hours="", authority_type="court_ruling"),
        row(),
    ]))
    return services.current_rule("WA", "PT")


def test_as_of_picks_the_version_in_force(wa):
    assert services.rule_in_force("WA", "PT", date(2024, 1, 1)).status == "prohibited"
    assert services.rule_in_force("WA", "PT", date(2024, 6, 21)).status == "prohibited"
    assert services.rule_in_force("WA", "PT", date(2024, 6, 22)).status == "permitted"  # exclusive end
    assert services.rule_in_force("WA", "PT", date(2024, 7, 1)).status == "permitted"
    assert services.rule_in_force("WA", "PT", date(2010, 1, 1)) is None  # no rule on record


def test_revision_closes_current_and_opens_new(wa):
    new = revise(wa, effective_from=date(2026, 1, 1), min_training_hours=None, status="unclear")
    db.session.commit()
    db.session.refresh(wa)
    assert wa.effective_to == date(2026, 1, 1) and wa.superseded_at is None
    assert new.effective_from == date(2026, 1, 1) and new.effective_to is None
    assert services.rule_in_force("WA", "PT", date(2025, 12, 31)).id == wa.id
    assert services.rule_in_force("WA", "PT", date(2026, 1, 1)).id == new.id
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "rule.revise")).one()
    assert event.entity_key == "WA/PT" and event.reason == "new statute"
    assert event.before["effective_to"] == "" and event.after["status"] == "unclear"


def test_correction_from_same_date_supersedes(wa):
    new = revise(wa, reason="typo in citation", citation="WAC 246-915-390 (corrected)")
    db.session.commit()
    db.session.refresh(wa)
    assert wa.superseded_at is not None and wa.superseded_by_id == new.id
    assert wa.effective_to is None  # the superseded row is kept as it was
    assert services.current_rule("WA", "PT").id == new.id
    assert [v.id for v in services.history("WA", "PT")][-2:] == [wa.id, new.id]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"effective_from": date(2020, 1, 1)}, "effective_from"),
        ({"effective_from": None}, "effective_from"),
    ],
)
def test_impossible_dates_are_refused(wa, changes, field):
    with pytest.raises(services.RuleError) as info:
        revise(wa, **changes)
    assert info.value.field == field


def test_reason_is_required(wa):
    with pytest.raises(services.RuleError) as info:
        revise(wa, reason="  ", effective_from=date(2026, 1, 1))
    assert info.value.field == "reason"


def test_identical_correction_is_refused(wa):
    with pytest.raises(services.RuleError, match="Nothing changed"):
        revise(wa)


def test_stale_editor_is_refused(wa):
    stale_id, stale_version = wa.id, wa.version_id
    revise(wa, effective_from=date(2026, 1, 1))
    db.session.commit()
    with pytest.raises(services.StaleRuleError, match="changed by an import"):
        services.revise_rule("WA", "PT", values_of(wa, effective_from=date(2026, 6, 1)), reason="late", actor=ACTOR, expected_id=stale_id, expected_version=stale_version)


def test_database_allows_one_current_version_per_pair(wa):
    clone = RuleVersion(**{c: getattr(wa, c) for c in csvio.CONTENT_COLUMNS}, jurisdiction_code="WA", profession_code="PT", change_reason="x")
    clone.effective_from = date(2030, 1, 1)
    db.session.add(clone)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_database_refuses_reversed_range(wa):
    wa.effective_to = date(2000, 1, 1)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
