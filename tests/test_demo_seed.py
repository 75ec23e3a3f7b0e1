"""``flask demo seed``: counts, coverage, valid NPIs, reproducibility, refusals, bad options.
Runs on SQLite and on PostgreSQL (DATABASE_URL), like the rest of the suite."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from registry.alerts.services import find_due, windows_from_config
from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from registry.coding.models import CodingCheck
from registry.demo import services as demo
from registry.extensions import db
from registry.providers.models import BoardRegistration, License, Provider, TrainingRecord
from registry.providers.npi import npi_problem
from registry.rules import services as rule_services
from registry.rules.models import Jurisdiction
from tests.conftest import RULES_CSV, empty_tables, import_text

AS_OF = "2025-06-30"
ARGS = ["demo", "seed", "--providers", "110", "--seed", "7", "--as-of", AS_OF, "--visits-per-provider", "2"]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def seed_events() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "demo.seed").order_by(AuditEvent.id)))


def test_seed_builds_a_covered_valid_population(app, runner, real_rules):
    result = runner.invoke(args=ARGS)
    assert result.exit_code == 0, result.output
    assert "Seeded 110 providers" in result.stdout and "220 coding checks" in result.stdout and "rows/s" in result.stdout
    assert "covering 104 of 104 jurisdiction/profession pairs" in result.stdout
    # the progress bars go to stderr, one per phase
    assert "Providers and credentials" in result.stderr and "Coding checks" in result.stderr
    assert "Providers and credentials" not in result.stdout
    with app.app_context():
        assert count(Provider) == 110
        npis = list(db.session.scalars(select(Provider.npi)))
        assert len(set(npis)) == 110 and all(npi_problem(n) is None for n in npis)
        assert all(n.startswith("1") for n in npis)
        assert set(db.session.scalars(select(Provider.profession_code).distinct())) == {"PT", "DC"}
        emails = [e for e in db.session.scalars(select(Provider.email)) if e]
        assert emails and all(e.rsplit("@", 1)[1] in demo.EMAIL_DOMAINS for e in emails)

        # every jurisdiction of the table has licensed providers of each profession
        codes = set(db.session.scalars(select(Jurisdiction.code)))
        assert len(codes) == 52
        pairs = set(db.session.execute(select(License.jurisdiction_code, License.profession_code).where(License.is_compact_privilege.is_(False)).distinct()).all())
        assert pairs == {(code, profession) for code in codes for profession in ("PT", "DC")}
        # licenses: most hold 1-3 states, some more; compact privileges are PT only
        per_provider = db.session.execute(select(License.provider_id, func.count()).where(License.is_compact_privilege.is_(False)).group_by(License.provider_id)).all()
        assert len(per_provider) == 110 and all(n >= 1 for _, n in per_provider)
        assert sum(1 for _, n in per_provider if n <= 3) > 0.8 * 110
        compact = db.session.execute(select(License.profession_code, Provider.profession_code).join(Provider, Provider.id == License.provider_id).where(License.is_compact_privilege.is_(True))).all()
        assert all(row == ("PT", "PT") for row in compact)

        # training records and registrations, only where a rule in force asks for one
        assert count(TrainingRecord) > 110 // 2
        needs = demo.needs_on(date.fromisoformat(AS_OF))
        registrations = db.session.execute(select(BoardRegistration.jurisdiction_code, Provider.profession_code).join(Provider, Provider.id == BoardRegistration.provider_id)).all()
        assert registrations and all(needs[pair].registration for pair in registrations)
        asked = sum(1 for lic in db.session.execute(select(License.jurisdiction_code, License.profession_code)).all() if lic in needs and needs[lic].registration)
        assert len(registrations) < asked  # some, not all
        # every row is at version 1 (optimistic locking starts there)
        for model in (Provider, License, TrainingRecord, BoardRegistration):
            assert count(model, model.version_id != 1) == 0
        # the alert job has work on the day
        assert find_due(date.fromisoformat(AS_OF), windows_from_config())

        # the visits went through the coding gate and were recorded: a mix of outcomes
        assert count(CodingCheck) == 220
        outcomes = dict(db.session.execute(select(CodingCheck.outcome, func.count()).group_by(CodingCheck.outcome)).all())
        assert set(outcomes) == {"allow", "allow_with_warnings", "block"}
        assert set(db.session.scalars(select(CodingCheck.actor).distinct())) == {"cli:demo seed"}
        assert count(CodingCheck, CodingCheck.date_of_service > date.fromisoformat(AS_OF)) == 0

        # one audit event, with the counts and the seed; the chain holds
        (event,) = seed_events()
        assert event.actor == "cli:demo seed" and event.entity_key == "seed 7"
        assert event.after["seed"] == 7 and event.after["providers"] == 110 and event.after["coding_checks"] == 220
        assert event.after["licenses"] == count(License) and event.after["outcomes"] == outcomes
        checked, broken = verify_chain()
        assert broken is None and checked == count(AuditEvent)


def _empty(app) -> None:
    """Empty every table, as the app fixture does between tests, then load the rules again."""
    with app.app_context():
        empty_tables()
        rule_services.seed_reference_data()
        db.session.commit()
        assert import_text(RULES_CSV.read_text(encoding="utf-8-sig"), source="data/state_rules.csv").ok


def _dump(app, runner, tmp_path, name: str) -> dict:
    """The providers and credentials exports, and every coding check without its id, time and
    batch key: what must be the same for the same seed."""
    exports = {}
    for flag in ((), ("--credentials",)):
        path = tmp_path / f"{name}{''.join(flag)}.csv"
        result = runner.invoke(args=["providers", "export", str(path), *flag])
        assert result.exit_code == 0, result.output
        exports[flag] = path.read_text(encoding="utf-8")
    skip = {"id", "checked_at", "batch_key"}
    columns = [c for c in CodingCheck.__table__.c if c.name not in skip]
    with app.app_context():
        rows = db.session.execute(select(*columns)).all()
        checks = sorted(json.dumps([str(v) if not isinstance(v, (dict, list)) else v for v in row], sort_keys=True) for row in rows)
        db.session.remove()
    return {"exports": exports, "checks": checks}


def test_same_seed_same_rows(app, runner, real_rules, tmp_path):
    args = ["demo", "seed", "--providers", "60", "--seed", "42", "--as-of", AS_OF, "--visits-per-provider", "2"]
    assert runner.invoke(args=args).exit_code == 0
    first = _dump(app, runner, tmp_path, "first")
    _empty(app)
    assert runner.invoke(args=args).exit_code == 0
    second = _dump(app, runner, tmp_path, "second")
    assert first["exports"] == second["exports"]
    assert first["checks"] == second["checks"] and len(first["checks"]) == 120
    assert first["exports"][()].count("\n") == 61
    # another seed gives other people
    _empty(app)
    assert runner.invoke(args=[*args[:5], "43", *args[6:]]).exit_code == 0
    assert _dump(app, runner, tmp_path, "other")["exports"][()] != first["exports"][()]


def test_refuses_existing_providers_unless_append(app, runner, real_rules):
    small = ["demo", "seed", "--providers", "20", "--as-of", AS_OF, "--visits-per-provider", "1"]
    assert runner.invoke(args=small).exit_code == 0
    again = runner.invoke(args=small)
    assert again.exit_code == 2
    assert "already holds 20 provider(s); nothing was seeded" in again.stderr and "--append" in again.stderr
    assert "Traceback" not in again.output and isinstance(again.exception, SystemExit)
    with app.app_context():
        assert count(Provider) == 20 and len(seed_events()) == 1
    appended = runner.invoke(args=[*small, "--append"])
    assert appended.exit_code == 0, appended.output
    with app.app_context():
        assert count(Provider) == 40
        assert db.session.scalar(select(func.count(Provider.npi.distinct()))) == 40
        assert count(CodingCheck) == 40
        events = seed_events()
        assert len(events) == 2 and events[1].after["append"] is True


def test_refuses_without_rules(app, runner):
    result = runner.invoke(args=["demo", "seed", "--providers", "5"])
    assert result.exit_code == 2
    assert "run flask rules import data/state_rules.csv" in result.stderr
    assert "Traceback" not in result.output
    with app.app_context():
        assert count(Provider) == 0 and count(AuditEvent) == 0


@pytest.mark.parametrize(("args", "option"), [
    (["--providers", "0"], "--providers"),
    (["--providers", "-3"], "--providers"),
    (["--providers", "1000001"], "--providers"),
    (["--providers", "many"], "--providers"),
    ([], "--providers"),
    (["--providers", "5", "--as-of", "2025-13-01"], "--as-of"),
    (["--providers", "5", "--as-of", "30/06/2025"], "--as-of"),
    (["--providers", "5", "--as-of", "2999-01-01"], "--as-of"),
    (["--providers", "5", "--visits-per-provider", "-1"], "--visits-per-provider"),
    (["--providers", "5", "--visits-per-provider", "101"], "--visits-per-provider"),
    (["--providers", "5", "--seed", "-1"], "--seed"),
])
def test_bad_options_are_usage_errors(app, runner, real_rules, args, option):
    result = runner.invoke(args=["demo", "seed", *args])
    assert result.exit_code == 2
    assert option in result.stderr and "Traceback" not in result.output
    with app.app_context():
        assert count(Provider) == 0
