"""SQL statements per request or batch, pinned (both databases): none of them may grow with the
number of licenses, visits, rows or rule versions. A test here fails if a per-row query (an
N+1) comes back; the bounds are today's counts, so a new statement must be argued for.

See docs/performance.md, "Issue 8: profiling and speed-ups"."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import Text, cast, event, select

from registry.coding import gate
from registry.coding import services as coding
from registry.coding.models import CodingCheck
from registry.extensions import db
from registry.providers import csvio
from registry.providers.npi import npi_check_digit
from registry.rules.reference import JURISDICTION_CODES
from registry.rules.services import Actor
from tests.conftest import PASSWORD
from tests.test_eligibility_api import NPI, UNKNOWN_NPI, pt  # noqa: F401 (pt: the fixture)

ACTOR = Actor(None, "test")


@contextmanager
def counting(app):
    """Collects the SQL text of every statement run on the app's engine inside the block."""
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def statements(app, client, path: str) -> int:
    client.get(path)  # the first request may fill caches (the rule timeline)
    with counting(app) as seen:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(seen)


def npi(n: int) -> str:
    first = str(300_000_000 + n)
    return first + str(npi_check_digit(first))


def manager(app, make_user):
    _, email = make_user("manager")
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


# --- pages --------------------------------------------------------------------------------------
def _licensed(make_provider, n: int, count: int) -> int:
    codes = sorted(JURISDICTION_CODES)
    licenses = [
        {"jurisdiction_code": codes[i % len(codes)], "number": f"L-{i}", "issued_on": date(2016, 1, 1), "expires_on": date(2030, 1, 1), "status": "active"}
        for i in range(count)
    ]
    trainings = [{"course_title": f"DN {i}", "completed_on": date(2023, 1, 1 + i), "total_hours": 30} for i in range(max(1, count // 10))]
    registrations = [{"jurisdiction_code": "WA", "number": f"R-{i}", "issued_on": date(2020, 1, 1), "status": "active"} for i in range(max(1, count // 10))]
    return make_provider(npi(n), f"Provider {n}", "PT", license=licenses, training=trainings, registration=registrations)


def test_the_provider_page_costs_the_same_statements_whatever_the_number_of_licenses(app, real_rules, make_provider, make_user):
    one = _licensed(make_provider, 1, 1)
    fifty = _licensed(make_provider, 2, 50)
    client = manager(app, make_user)
    few, many = statements(app, client, f"/providers/{one}"), statements(app, client, f"/providers/{fifty}")
    # the user; the provider; its licenses, training records and registrations; its history;
    # the rule-timeline stamp (and BEGIN IMMEDIATE on SQLite)
    assert few == many <= 8


def test_the_home_page_costs_a_fixed_number_of_statements(app, real_rules, make_user):
    client = manager(app, make_user)
    assert statements(app, client, "/") <= 5
    assert statements(app, client, "/?profession=DC") <= 5
    assert app.test_client().get("/?profession=XX").status_code == 404


def test_a_jurisdiction_page_reads_its_versions_once(app, real_rules, make_user):
    client = manager(app, make_user)
    # the user, the jurisdiction, the professions, every version of the jurisdiction
    assert statements(app, client, "/jurisdictions/WA") <= 5


def test_the_worklist_costs_the_same_statements_whatever_the_number_of_providers(app, real_rules, make_provider, make_user):
    _licensed(make_provider, 1, 3)
    client = manager(app, make_user)
    few = statements(app, client, "/worklist")
    for n in range(2, 12):
        _licensed(make_provider, n, 3)
    assert statements(app, client, "/worklist") == few <= 10


# --- the coding gate ----------------------------------------------------------------------------
def visit(jurisdiction: str = "WA", npi_: str = NPI, payer: str = "Regence") -> gate.Visit:
    return gate.Visit(
        npi=npi_, jurisdiction=jurisdiction, day=date(2025, 3, 14), payer_type="commercial", payer_name=payer,
        muscles=(gate.Muscle("upper trapezius", "bilateral"), gate.Muscle("levator scapulae", "left")),
        lines=(gate.Line("20561", 1),), diagnoses=("M79.18",), consent_on_file=True, plan_of_care_on_file=True,
        reassessment_done=True, abn_on_file=False, referral_on_file=False,
    )


def test_a_batch_of_coding_checks_costs_a_fixed_number_of_statements(app, pt):  # noqa: F811
    def batch(n: int) -> int:
        visits = [visit(code) for code in ("WA", "CA", "CO", "FL", "AK") * (n // 5)] + [visit(npi_=UNKNOWN_NPI)]
        with app.app_context():
            with counting(app) as seen:
                outcomes = coding.check_visits(visits, actor=ACTOR, channel="api_batch")
                db.session.commit()
            assert len(outcomes) == len(visits)
            return len(seen)

    batch(5)  # the first batch also loads the rule timeline
    few = batch(5)
    assert batch(500) == few
    # providers, rule-timeline stamp, licenses (training records and registrations under the
    # rules asked about), the record's INSERT: one statement, whatever the number of rows
    assert few <= 8


def test_the_record_is_one_insert_with_ids_in_the_order_of_the_visits(app, pt):  # noqa: F811
    visits = [visit(code, payer=f"Payer «{i}» \"quoted\" \\ {i}") for i, code in enumerate(("WA", "CA", "CO", "FL", "AK") * 40)]
    with app.app_context():
        with counting(app) as seen:
            outcomes = coding.check_visits(visits, actor=ACTOR, channel="api_batch")
        inserts = [s for s in seen if s.lstrip().upper().startswith("INSERT")]
        assert len(inserts) == 1
        ids = [o.check_id for o in outcomes]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        rows = db.session.execute(
            select(CodingCheck.id, CodingCheck.batch_position, CodingCheck.payer_name, cast(CodingCheck.visit, Text), cast(CodingCheck.edits, Text), CodingCheck.visit)
            .where(CodingCheck.id.in_(ids)).order_by(CodingCheck.id)
        ).all()
        db.session.commit()
    assert [r.batch_position for r in rows] == list(range(1, len(visits) + 1))
    for outcome, (check_id, _position, payer, visit_text, edits_text, stored) in zip(outcomes, rows, strict=True):
        assert check_id == outcome.check_id and payer == outcome.visit.payer_name
        # the JSON documents as SQLAlchemy would have written them (the edit filter matches on this text)
        assert visit_text == json.dumps(coding.visit_to_json(outcome.visit))
        assert edits_text == json.dumps([coding.edit_to_json(e) for e in outcome.result.edits])
        assert stored == coding.visit_to_json(outcome.visit)


def test_the_record_stays_append_only(app, pt):  # noqa: F811
    from sqlalchemy.exc import DBAPIError

    with app.app_context():
        check_id = coding.check_visit(visit(), actor=ACTOR, channel="api").check_id
        db.session.commit()
        with pytest.raises(DBAPIError):
            db.session.execute(CodingCheck.__table__.update().where(CodingCheck.id == check_id).values(outcome="allow"))
        db.session.rollback()


# --- the provider CSV import ------------------------------------------------------------------
def _providers_csv(first: int, count: int) -> str:
    lines = [",".join(csvio.PROVIDER_COLUMNS)]
    lines += [f"{npi(n)},Provider {n},{'PT' if n % 2 else 'DC'},p{n}@example.org,yes" for n in range(first, first + count)]
    return "\n".join(lines) + "\n"


def _import(app, text: str) -> int:
    with app.app_context():
        with counting(app) as seen:
            plan = csvio.read_csv(io.StringIO(text))
            csvio.plan_import(plan)
            csvio.apply_import(plan, actor=ACTOR)
            db.session.commit()
        assert plan.ok and len(plan.added) == text.count("\n") - 1
        return len(seen)


def test_importing_providers_costs_the_same_statements_whatever_the_number_of_rows(app):
    _import(app, _providers_csv(1, 5))  # the first import also reads the reference data
    fifty = _import(app, _providers_csv(100, 50))
    two_hundred = _import(app, _providers_csv(1_000, 200))
    # BEGIN IMMEDIATE on SQLite; the known codes (read_csv); the NPIs (plan_import); each
    # profession once; then per batch of up to csvio.BATCH_ROWS rows: a savepoint, the INSERT,
    # the new ids, the chain's head (with the advisory lock on PostgreSQL), the audit events'
    # INSERT, the release
    assert fifty == two_hundred <= 12, (fifty, two_hundred)


def _credentials_csv(first: int, count: int) -> str:
    lines = [",".join(csvio.CREDENTIAL_COLUMNS)]
    for n in range(first, first + count):
        lines.append(f"{npi(n)},license,WA,,L-{n},2020-01-01,2030-01-01,active,no,,,,,,,,,")
        lines.append(f"{npi(n)},training,,,,,2031-01-01,,,DN {n},Sponsor,APTA,2023-01-01,27,20,3,2024-01-01,lapsed")
    return "\n".join(lines) + "\n"


def test_importing_credentials_costs_the_same_statements_whatever_the_number_of_rows(app):
    _import(app, _providers_csv(1, 5))
    _import(app, _providers_csv(100, 50))
    _import(app, _providers_csv(1_000, 200))
    fifty = _import(app, _credentials_csv(100, 50))
    two_hundred = _import(app, _credentials_csv(1_000, 200))
    # as for providers, with the providers read three times (read_csv, plan_import,
    # apply_import), each kind's stored credentials, and an INSERT and the new ids per kind
    assert fifty == two_hundred <= 18, (fifty, two_hundred)


def test_a_changed_row_costs_no_select(app):
    _import(app, _providers_csv(1, 20))
    with app.app_context():
        with counting(app) as seen:
            text = _providers_csv(1, 20).replace("Provider 5,", "Provider Five,").replace("Provider 9,", "Provider Nine,")
            plan = csvio.plan_import(csvio.read_csv(io.StringIO(text)))
            csvio.apply_import(plan, actor=ACTOR)
            db.session.commit()
        assert len(plan.changed) == 2
    # read_csv and plan_import read what they need; the updates SELECT nothing
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "FROM provider" in s and "pg_advisory" not in s]
    assert len(selects) <= 1, selects
