"""Coding services over a real database: releasing an allowed visit as billable lines (once,
with an acknowledgement for warnings, never for a blocked visit), exporting them, and the
record a batch leaves (both databases)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from registry.audit.models import AuditEvent
from registry.coding import gate
from registry.coding import services as coding
from registry.coding.models import BillableLine, CodingCheck
from registry.extensions import db
from registry.rules.services import Actor
from tests import test_eligibility_api
from tests.test_eligibility_api import NPI

pt = test_eligibility_api.pt  # the fixture: Pat Table, a PT eligible in WA on 2025-03-14

BILLER = Actor(None, "biller@example.org")


def make_visit(**overrides) -> gate.Visit:
    values = {
        "npi": NPI, "jurisdiction": "WA", "day": date(2025, 3, 14), "payer_type": "commercial", "payer_name": "Regence",
        "muscles": (gate.Muscle("upper trapezius", "left"), gate.Muscle("upper trapezius", "right")),
        "lines": (gate.Line("20560", 1), gate.Line("97110", 2, ("GP",))), "diagnoses": ("M79.18", "M62.838"),
        "consent_on_file": True, "plan_of_care_on_file": True, "reassessment_done": True,
    }
    values.update(overrides)
    return gate.Visit(**values)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def checked(app, pt):
    """Check a visit and commit; returns the recorded CodingCheck (in an open app context)."""
    with app.app_context():
        def check(**overrides) -> CodingCheck:
            outcome = coding.check_visit(make_visit(**overrides), actor=BILLER, channel="page")
            db.session.commit()
            return db.session.get(CodingCheck, outcome.check_id)

        yield check


def test_an_allowed_visit_becomes_billable_lines_once(checked):
    check = checked()
    assert check.outcome == "allow"
    lines = coding.release(check, actor=BILLER)
    db.session.commit()
    assert [(ln.line_number, ln.code, ln.units, ln.modifiers, ln.diagnoses) for ln in lines] == [(1, "20560", 1, "", "M79.18 M62.838"), (2, "97110", 2, "GP", "M79.18 M62.838")]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "coding.release")).one()
    assert event.entity_key == str(check.id) and event.after["lines"] == ["20560 x1", "97110 x2 GP"]
    with pytest.raises(coding.AlreadyReleased):
        coding.release(check, actor=BILLER)
    db.session.rollback()
    assert count(BillableLine) == 2


def test_a_blocked_visit_never_becomes_a_billable_line(checked):
    check = checked(consent_on_file=False)
    assert check.outcome == "block"
    with pytest.raises(coding.CodingError, match="blocked"):
        coding.release(check, actor=BILLER, acknowledgement="please")
    assert count(BillableLine) == 0


def test_warnings_need_an_acknowledgement(checked):
    check = checked(plan_of_care_on_file=False)
    assert check.outcome == "allow_with_warnings" and [w["code"] for w in check.warnings] == ["no_plan_of_care"]
    with pytest.raises(coding.CodingError) as refused:
        coding.release(check, actor=BILLER, acknowledgement="   ")
    assert refused.value.field == "acknowledgement"
    lines = coding.release(check, actor=BILLER, acknowledgement="Plan of care signed on paper, scanning today.")
    db.session.commit()
    assert {ln.acknowledgement for ln in lines} == {"Plan of care signed on paper, scanning today."}


def test_the_database_refuses_a_second_release_of_the_same_line(checked):
    """What stops two releases racing past the check in release(): (check, line) is unique."""
    check = checked()
    coding.release(check, actor=BILLER)
    db.session.commit()
    db.session.add(BillableLine(check_id=check.id, line_number=1, npi=NPI, jurisdiction_code="WA", date_of_service=date(2025, 3, 14), payer_type="commercial", code="20560", units=1, released_by="race"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_export_marks_lines_and_lists_only_new_ones(checked):
    for _ in range(2):
        coding.release(checked(), actor=BILLER)
    db.session.commit()
    new = coding.billable_lines(exported=False)
    assert len(new) == 4
    coding.mark_exported(new, actor=BILLER)
    db.session.commit()
    assert coding.billable_lines(exported=False) == [] and len(coding.billable_lines(exported=True)) == 4
    assert coding.billable_lines(start=date(2025, 3, 15)) == []


def test_a_batch_is_recorded_in_order_with_its_positions(app, pt):
    with app.app_context():
        visits = [make_visit(jurisdiction=code) for code in ("CA", "WA", "CO", "WA", "NY")]
        outcomes = coding.check_visits(visits, actor=BILLER, channel="api_batch")
        db.session.commit()
        rows = {r.id: r for r in db.session.scalars(select(CodingCheck))}
        assert [rows[o.check_id].jurisdiction_code for o in outcomes] == ["CA", "WA", "CO", "WA", "NY"]
        assert [rows[o.check_id].batch_position for o in outcomes] == [1, 2, 3, 4, 5]
        assert [o.result.outcome for o in outcomes] == ["block", "allow", "allow", "allow", "block"]  # CA and NY prohibit


def test_too_many_visits_are_refused_before_anything_is_checked(app, pt):
    with app.app_context():
        with pytest.raises(coding.CodingError, match="10,000"):
            coding.check_visits([make_visit()] * (coding.MAX_VISITS + 1), actor=BILLER, channel="api_batch")
        assert count(CodingCheck) == 0


def test_the_recorded_visit_reads_back_as_the_same_visit(checked):
    visit = make_visit(lines=(gate.Line("20552", 1, (), (gate.Muscle("upper trapezius", "left"),)),), abn_on_file=True, referral_on_file=True)
    check = checked(**{f: getattr(visit, f) for f in ("lines", "abn_on_file", "referral_on_file")})
    assert coding.visit_from_json(check.visit) == visit


def test_two_exports_at_once_never_take_the_same_line(app, checked):
    """One export holds its lines (uncommitted) while a second one runs: the second gets none
    of them (PostgreSQL skips the locked rows; SQLite queues the second behind the first)."""
    import threading
    import time

    for _ in range(3):
        coding.release(checked(), actor=BILLER)
    db.session.commit()
    taken: dict[str, list[int]] = {}
    first_has_them = threading.Event()
    errors: list[BaseException] = []

    def export(name: str, hold: bool) -> None:
        try:
            with app.app_context():
                if not hold:
                    first_has_them.wait(timeout=10)
                taken[name] = [line.id for line in coding.take_for_export(actor=BILLER)]
                if hold:
                    first_has_them.set()
                    time.sleep(0.5)
                db.session.commit()
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)
            first_has_them.set()

    threads = [threading.Thread(target=export, args=("first", True)), threading.Thread(target=export, args=("second", False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert len(taken["first"]) == 6 and taken["second"] == []
