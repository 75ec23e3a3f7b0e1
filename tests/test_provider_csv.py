"""Providers and credentials CSV: validation, all-or-nothing import, idempotence, export, CLI."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.extensions import db
from registry.providers import csvio, services
from registry.providers.cli import providers_cli
from registry.providers.models import BoardRegistration, License, Provider, TrainingRecord
from registry.rules.services import Actor
from tests.conftest import ROOT, to_csv

ACTOR = Actor(None, "test")
SAMPLES = ROOT / "data" / "samples"
PT_NPI, DC_NPI, OTHER_NPI = "1000001010", "1000001028", "1000001036"  # valid check digits
BAD_NPI = "1000001011"  # check digit should be 0

PROVIDER = {"npi": PT_NPI, "name": "Avery Sample", "profession": "PT", "email": "avery@example.org", "is_active": "yes"}
LICENSE = {"npi": PT_NPI, "kind": "license", "jurisdiction": "WA", "profession": "PT", "number": "PT60001", "issued_on": "2020-01-01", "expires_on": "2027-06-30", "status": "active", "is_compact_privilege": "no"}
TRAINING = {"npi": PT_NPI, "kind": "training", "course_title": "DN level 1", "sponsor": "Example Institute", "approving_body": "APTA", "completed_on": "2023-05-01", "total_hours": "27", "practical_hours": "20", "supervised_sessions": "10"}
REGISTRATION = {"npi": PT_NPI, "kind": "registration", "jurisdiction": "WA", "number": "DN-0001", "issued_on": "2024-07-01", "status": "active"}


def providers_csv(*rows: dict, columns=csvio.PROVIDER_COLUMNS) -> str:
    return to_csv(list(rows), columns=columns)


def credentials_csv(*rows: dict, columns=csvio.CREDENTIAL_COLUMNS) -> str:
    return to_csv(list(rows), columns=columns)


def load(content: str):
    """Read, plan and apply in the current app context; commit if clean, else roll back."""
    plan = csvio.plan_import(csvio.read_csv(io.StringIO(content)))
    if not plan.ok:
        db.session.rollback()
        return plan
    try:
        csvio.apply_import(plan, actor=ACTOR)
    except csvio.ImportFailed:
        db.session.rollback()
        return plan
    db.session.commit()
    return plan


def errors_of(plan) -> list[tuple[int, str]]:
    return [(e.line, e.field) for e in plan.errors]


def counts(plan) -> tuple[int, int, int]:
    return len(plan.added), len(plan.changed), len(plan.unchanged)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def credential_count() -> int:
    return count(License) + count(TrainingRecord) + count(BoardRegistration)


@pytest.fixture
def two_providers(ctx):
    """A PT and a DC provider, imported."""
    plan = load(providers_csv(PROVIDER, PROVIDER | {"npi": DC_NPI, "name": "Blake Example", "profession": "DC", "email": ""}))
    assert plan.ok, [str(e) for e in plan.errors]
    return plan


def export(writer) -> str:
    buffer = io.StringIO()
    writer(buffer)
    return buffer.getvalue()


# --- validation: every bad cell is reported with its line and field; nothing is written ----
@pytest.mark.parametrize(
    "overrides, field, words",
    [
        ({"npi": BAD_NPI}, "npi", "check digit is 1"),
        ({"npi": "12345"}, "npi", "exactly 10 digits"),
        ({"name": "  "}, "name", "name"),
        ({"profession": "OT"}, "profession", "not a known profession"),
        ({"email": "not an email"}, "email", "not an email address"),
        ({"is_active": "maybe"}, "is_active", "yes or no"),
        ({"is_active": ""}, "is_active", "yes or no"),
    ],
)
def test_bad_provider_cell_is_reported_by_line_and_field(ctx, overrides, field, words):
    good = PROVIDER | {"npi": OTHER_NPI}
    plan = load(providers_csv(good, PROVIDER | overrides))
    assert errors_of(plan) == [(3, field)], [str(e) for e in plan.errors]
    assert words in plan.errors[0].message
    assert count(Provider) == 0


@pytest.mark.parametrize(
    "row, field, words",
    [
        (LICENSE | {"npi": BAD_NPI}, "npi", "check digit"),
        (LICENSE | {"npi": OTHER_NPI}, "npi", "no provider with NPI 1000001036"),
        (LICENSE | {"kind": "permit"}, "kind", "must be one of: license, training, registration"),
        (LICENSE | {"course_title": "DN level 1"}, "course_title", "does not apply to a license"),
        (TRAINING | {"jurisdiction": "WA"}, "jurisdiction", "does not apply to a training record"),
        (REGISTRATION | {"is_compact_privilege": "no"}, "is_compact_privilege", "does not apply to a board registration"),
        (REGISTRATION | {"profession": "PT"}, "profession", "does not apply to a board registration"),
        (LICENSE | {"number": ""}, "number", "required for a license"),
        (REGISTRATION | {"status": ""}, "status", "required for a board registration"),
        (TRAINING | {"total_hours": ""}, "total_hours", "required for a training record"),
        (LICENSE | {"jurisdiction": "XX"}, "jurisdiction", "not a known jurisdiction"),
        (LICENSE | {"profession": "OT"}, "profession", "not a known profession"),
        (LICENSE | {"status": "lapsed"}, "status", "must be one of"),
        (LICENSE | {"issued_on": "2024-02-30"}, "issued_on", "YYYY-MM-DD"),
        (LICENSE | {"expires_on": "06/30/2027"}, "expires_on", "YYYY-MM-DD"),
        (LICENSE | {"expires_on": "2019-01-01"}, "expires_on", "before issued_on"),
        (LICENSE | {"is_compact_privilege": "maybe"}, "is_compact_privilege", "yes or no"),
        (LICENSE | {"npi": DC_NPI, "profession": "", "is_compact_privilege": "yes"}, "is_compact_privilege", "PT Compact"),
        (TRAINING | {"total_hours": "-5"}, "total_hours", "zero or more"),
        (TRAINING | {"practical_hours": "1.25"}, "practical_hours", "more than one decimal"),
        (TRAINING | {"practical_hours": "30"}, "practical_hours", "more than total_hours (27)"),
        (TRAINING | {"supervised_sessions": "2.5"}, "supervised_sessions", "whole number"),
        (TRAINING | {"completed_on": "2999-01-01"}, "completed_on", "in the future"),
        (LICENSE | {"ended_on": "2025-01-01"}, "end_reason", "say why"),
        (LICENSE | {"end_reason": "moved"}, "ended_on", "give the day"),
        (LICENSE | {"ended_on": "2019-01-01", "end_reason": "moved"}, "ended_on", "before the credential began"),
    ],
)
def test_bad_credential_cell_is_reported_by_line_and_field(two_providers, row, field, words):
    plan = load(credentials_csv(TRAINING, row))
    assert errors_of(plan) == [(3, field)], [str(e) for e in plan.errors]
    assert words in plan.errors[0].message
    assert str(plan.errors[0]).startswith(f"line 3, {field}: ")
    assert credential_count() == 0


def test_every_bad_row_is_reported_not_just_the_first(two_providers):
    plan = load(credentials_csv(
        LICENSE | {"npi": BAD_NPI},
        LICENSE | {"number": "PT2"},
        TRAINING | {"total_hours": "-1", "jurisdiction": "WA"},
        REGISTRATION | {"jurisdiction": "XX", "issued_on": "soon"},
        LICENSE | {"number": "PT3", "npi": OTHER_NPI},
    ))
    assert errors_of(plan) == [(2, "npi"), (4, "jurisdiction"), (4, "total_hours"), (5, "jurisdiction"), (5, "issued_on"), (6, "npi")]
    assert credential_count() == 0


def test_duplicate_keys_in_one_file_name_both_lines(two_providers):
    plan = load(credentials_csv(LICENSE, TRAINING, LICENSE | {"status": "inactive"}, TRAINING | {"total_hours": "30"}, LICENSE | {"jurisdiction": "OR"}))
    assert errors_of(plan) == [(4, "number"), (5, "course_title")]
    assert "as line 2" in plan.errors[0].message and "as line 3" in plan.errors[1].message
    assert credential_count() == 0
    duplicate_npi = load(providers_csv(PROVIDER | {"npi": OTHER_NPI}, PROVIDER | {"npi": OTHER_NPI, "name": "Twin"}))
    assert errors_of(duplicate_npi) == [(3, "npi")] and "also on line 2" in duplicate_npi.errors[0].message


def test_unknown_missing_and_duplicated_columns(ctx):
    columns = [c for c in csvio.PROVIDER_COLUMNS if c != "email"] + ["colour"]
    plan = load(providers_csv(PROVIDER, columns=columns))
    assert errors_of(plan) == [(1, "colour"), (1, "email")]
    assert "unknown column" in plan.errors[0].message and "missing" in plan.errors[1].message
    doubled = load("npi,kind,npi," + ",".join(csvio.CREDENTIAL_COLUMNS[2:]) + "\n")
    assert errors_of(doubled) == [(1, "npi")] and "more than once" in doubled.errors[0].message
    assert plan.kind == "providers" and doubled.kind == "credentials"
    assert count(Provider) == 0


@pytest.mark.parametrize("content", ["npi,jurisdiction,colour\n1000001010,WA,red\n", "a,b\n1,2\n", "npi,profession\n1000001010,PT\n"])
def test_header_matching_neither_format_lists_both(ctx, content):
    plan = load(content)
    assert errors_of(plan) == [(1, "header")] and plan.kind is None
    assert ",".join(csvio.PROVIDER_COLUMNS) in plan.errors[0].message
    assert ",".join(csvio.CREDENTIAL_COLUMNS) in plan.errors[0].message


@pytest.mark.parametrize(
    "content, expected",
    [
        ("", [(1, "header")]),
        (providers_csv(PROVIDER) + "1000001036,Short Row\n", [(3, "row")]),
        (providers_csv(PROVIDER | {"name": "Ava\0"}), [(2, "name")]),
        (providers_csv(), []),
    ],
)
def test_degenerate_files(ctx, content, expected):
    plan = load(content)
    assert errors_of(plan) == expected
    assert count(Provider) == 0


def test_bom_and_crlf_are_accepted(ctx):
    content = "\ufeff" + providers_csv(PROVIDER).replace("\n", "\r\n")
    plan = csvio.read_csv(io.StringIO(content, newline=""))
    assert plan.ok and plan.kind == "providers", [str(e) for e in plan.errors]


# --- import semantics -------------------------------------------------------------------
def test_valid_import_goes_through_the_services(two_providers):
    assert counts(two_providers) == (2, 0, 0)
    plan = load(credentials_csv(LICENSE | {"profession": ""}, TRAINING, REGISTRATION, LICENSE | {"npi": DC_NPI, "jurisdiction": "CO", "profession": "DC", "number": "DC1", "status": "suspended"}))
    assert plan.ok and counts(plan) == (4, 0, 0) and csvio.summary(plan) == "4 added, 0 changed, 0 unchanged"
    provider = services.get_by_npi(PT_NPI)
    assert provider.email == "avery@example.org" and provider.is_active
    license = provider.licenses[0]
    assert (license.jurisdiction_code, license.number, license.profession_code, license.expires_on) == ("WA", "PT60001", "PT", date(2027, 6, 30))
    training = provider.trainings[0]
    assert (training.total_hours, training.practical_hours, training.supervised_sessions) == (Decimal("27"), Decimal("20"), 10)
    assert provider.registrations[0].number == "DN-0001"
    actions = sorted(e.action for e in db.session.scalars(select(AuditEvent)))
    assert actions == ["license.add", "license.add", "provider.create", "provider.create", "registration.add", "training.add"]
    assert {e.actor for e in db.session.scalars(select(AuditEvent))} == {"test"}


def test_reimport_is_unchanged_and_writes_no_audit_events(two_providers):
    providers_file = providers_csv(PROVIDER, PROVIDER | {"npi": DC_NPI, "name": "Blake Example", "profession": "DC", "email": ""})
    credentials_file = credentials_csv(LICENSE | {"profession": ""}, TRAINING | {"practical_hours": "", "supervised_sessions": ""}, REGISTRATION)
    assert counts(load(credentials_file)) == (3, 0, 0)
    events = count(AuditEvent)
    versions = [p.version_id for p in db.session.scalars(select(Provider))]
    assert counts(load(providers_file)) == (0, 0, 2)
    assert counts(load(credentials_file)) == (0, 0, 3)
    assert count(AuditEvent) == events
    assert [p.version_id for p in db.session.scalars(select(Provider))] == versions


def test_cells_are_compared_after_parsing(two_providers):
    load(credentials_csv(TRAINING, LICENSE))
    same = load(credentials_csv(TRAINING | {"total_hours": "27.0", "kind": "Training"}, LICENSE | {"jurisdiction": "wa", "status": "ACTIVE"}))
    assert counts(same) == (0, 0, 2)
    assert counts(load(providers_csv(PROVIDER | {"email": "Avery@Example.org", "name": " Avery Sample ", "is_active": "YES"}))) == (0, 0, 1)


def test_changed_rows_update_through_the_services_with_audit(two_providers):
    load(credentials_csv(LICENSE, TRAINING))
    plan = load(credentials_csv(LICENSE | {"status": "suspended", "expires_on": "2028-06-30"}, TRAINING))
    assert counts(plan) == (0, 1, 1)
    assert plan.changed[0][2] == ["expires_on", "status"]
    license = services.get_by_npi(PT_NPI).licenses[0]
    assert (license.status, license.expires_on) == ("suspended", date(2028, 6, 30))
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "license.update")).one()
    assert event.before["status"] == "active" and event.after["status"] == "suspended"
    renamed = load(providers_csv(PROVIDER | {"name": "Avery Q. Sample", "is_active": "no"}))
    assert counts(renamed) == (0, 1, 0) and renamed.changed[0][2] == ["name", "is_active"]
    provider = services.get_by_npi(PT_NPI)
    assert provider.name == "Avery Q. Sample" and not provider.is_active
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "provider.update")).one().after["name"] == "Avery Q. Sample"


def test_ending_through_the_import(two_providers):
    load(credentials_csv(LICENSE))
    ended = LICENSE | {"ended_on": "2025-03-01", "end_reason": "moved out of state"}
    plan = load(credentials_csv(ended))
    assert counts(plan) == (0, 1, 0) and plan.changed[0][2] == ["ended_on", "end_reason"]
    license = services.get_by_npi(PT_NPI).licenses[0]
    assert (license.ended_on, license.end_reason) == (date(2025, 3, 1), "moved out of state")
    assert [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "license"))] == ["license.add", "license.end"]
    assert counts(load(credentials_csv(ended))) == (0, 0, 1)
    # an import cannot reopen or re-date an ended credential
    for row, field in [(LICENSE, "ended_on"), (ended | {"ended_on": "2025-04-01"}, "ended_on"), (ended | {"end_reason": "other"}, "end_reason")]:
        refused = load(credentials_csv(row))
        assert errors_of(refused) == [(2, field)] and "cannot change or undo" in refused.errors[0].message
    # a new credential may arrive already ended
    new = load(credentials_csv(ended | {"number": "PT99"}))
    assert counts(new) == (1, 0, 0)
    assert services.get_by_npi(PT_NPI).licenses[1].ended_on == date(2025, 3, 1)


def test_records_not_in_the_file_are_left_alone(two_providers):
    load(credentials_csv(LICENSE, TRAINING))
    plan = load(credentials_csv(REGISTRATION))
    assert counts(plan) == (1, 0, 0)
    assert credential_count() == 3
    assert counts(load(providers_csv(PROVIDER))) == (0, 0, 1)
    assert count(Provider) == 2


def test_a_service_refusal_is_reported_on_its_line_and_nothing_is_written(ctx, monkeypatch):
    # the import's batches check each added row with the services' own rule function
    real = services.check_new_provider

    def refuse_the_second(values, **kwargs):
        if values["npi"] == DC_NPI:
            raise services.ProviderError("refused for the test", field="name")
        return real(values, **kwargs)

    monkeypatch.setattr(services, "check_new_provider", refuse_the_second)
    plan = load(providers_csv(PROVIDER, PROVIDER | {"npi": DC_NPI}, PROVIDER | {"npi": OTHER_NPI}))
    assert errors_of(plan) == [(3, "name")] and str(plan.errors[0]) == "line 3, name: refused for the test"
    assert count(Provider) == 0 and count(AuditEvent) == 0


def test_apply_refuses_a_plan_with_errors(ctx):
    plan = csvio.read_csv(io.StringIO(providers_csv(PROVIDER | {"npi": BAD_NPI})))
    with pytest.raises(csvio.ImportFailed):
        csvio.apply_import(plan, actor=ACTOR)
    db.session.rollback()
    assert count(Provider) == 0


# --- export --------------------------------------------------------------------------------
def test_export_then_import_is_unchanged_and_export_is_stable(two_providers):
    load(credentials_csv(
        TRAINING, LICENSE | {"npi": DC_NPI, "jurisdiction": "CO", "profession": "DC", "number": "DC1"},
        REGISTRATION, LICENSE | {"jurisdiction": "OR", "number": "C-1", "is_compact_privilege": "yes", "issued_on": "", "expires_on": ""},
        LICENSE | {"ended_on": "2025-01-01", "end_reason": "moved, \"for good\"\non two lines"},
    ))
    providers_text = export(csvio.write_providers_csv)
    credentials_text = export(csvio.write_credentials_csv)
    rows = list(csv.reader(io.StringIO(credentials_text)))
    assert rows[0] == list(csvio.CREDENTIAL_COLUMNS)
    assert [r[:5] for r in rows[1:]] == [  # by NPI, then kind, then key
        [PT_NPI, "license", "OR", "PT", "C-1"],
        [PT_NPI, "license", "WA", "PT", "PT60001"],
        [PT_NPI, "registration", "WA", "", "DN-0001"],
        [PT_NPI, "training", "", "", ""],
        [DC_NPI, "license", "CO", "DC", "DC1"],
    ]
    assert rows[2][-1] == "moved, \"for good\"\non two lines"
    events = count(AuditEvent)
    assert counts(load(providers_text)) == (0, 0, 2)
    assert counts(load(credentials_text)) == (0, 0, 5)
    assert count(AuditEvent) == events
    assert export(csvio.write_providers_csv) == providers_text
    assert export(csvio.write_credentials_csv) == credentials_text


def test_formula_cells_are_escaped_on_export_and_unescaped_on_import(two_providers):
    load(providers_csv(PROVIDER | {"name": "=HYPERLINK(\"http://evil\")"}))
    load(credentials_csv(TRAINING | {"course_title": "@SUM(A1)", "sponsor": "+1 sponsor", "approving_body": "'quoted"}, LICENSE | {"number": "-PT1", "ended_on": "2025-01-01", "end_reason": "\tmoved"}))
    providers_text = export(csvio.write_providers_csv)
    credentials_text = export(csvio.write_credentials_csv)
    assert "'=HYPERLINK" in providers_text
    for escaped in ("'@SUM(A1)", "'+1 sponsor", "''quoted", "'-PT1"):
        assert escaped in credentials_text
    assert services.get_by_npi(PT_NPI).name == "=HYPERLINK(\"http://evil\")"
    training = services.get_by_npi(PT_NPI).trainings[0]
    assert (training.course_title, training.sponsor, training.approving_body) == ("@SUM(A1)", "+1 sponsor", "'quoted")
    assert counts(load(providers_text)) == (0, 0, 2)
    assert counts(load(credentials_text)) == (0, 0, 2)


# --- the samples ---------------------------------------------------------------------------
def test_samples_import_cleanly_and_match_their_export(ctx):
    providers_text = (SAMPLES / "providers.csv").read_text(encoding="utf-8-sig")
    credentials_text = (SAMPLES / "credentials.csv").read_text(encoding="utf-8-sig")
    first = load(providers_text)
    assert first.ok and counts(first) == (6, 0, 0), [str(e) for e in first.errors]
    second = load(credentials_text)
    assert second.ok and len(second.added) == len(credentials_text.splitlines()) - 1, [str(e) for e in second.errors]
    assert export(csvio.write_providers_csv) == providers_text
    assert export(csvio.write_credentials_csv) == credentials_text
    licenses = db.session.scalars(select(License)).all()
    day = date(2026, 11, 27)
    assert any(lic.is_compact_privilege for lic in licenses)
    assert any(lic.status == "suspended" for lic in licenses)
    assert any(lic.expires_on and 0 <= (lic.expires_on - day).days <= 60 for lic in licenses)
    assert any(lic.expires_on and lic.expires_on < day for lic in licenses)
    assert any(r.jurisdiction_code == "WA" for r in db.session.scalars(select(BoardRegistration)))
    totals = [services.training_totals(p.trainings, day).total_hours for p in db.session.scalars(select(Provider))]
    assert any(len(p.trainings) >= 2 for p in db.session.scalars(select(Provider))) and Decimal("54.5") in totals


# --- the CLI -------------------------------------------------------------------------------
@pytest.fixture
def cli(app):
    """A runner with ``flask providers`` registered (a no-op once app.py registers it)."""
    if "providers" not in app.cli.commands:
        app.cli.add_command(providers_cli)
    return app.test_cli_runner()


def in_app(app, fn):
    with app.app_context():
        return fn()


def test_cli_imports_samples_and_is_idempotent(app, cli):
    first = cli.invoke(args=["providers", "import", str(SAMPLES / "providers.csv")])
    assert first.exit_code == 0, first.output
    assert "  added     1000001010 Avery Sample" in first.output
    assert "6 added, 0 changed, 0 unchanged" in first.output
    creds = cli.invoke(args=["providers", "import", str(SAMPLES / "credentials.csv")])
    assert creds.exit_code == 0, creds.output
    assert "added     1000001010 license WA PT-SAMPLE-0101" in creds.output
    assert "added     1000001010 training 'Dry Needling Level 1 (sample course)' 2023-04-15" in creds.output
    again = cli.invoke(args=["providers", "import", str(SAMPLES / "credentials.csv")])
    assert "0 added, 0 changed, 15 unchanged" in again.output and "added  " not in again.output
    assert "Validating" in again.stderr
    assert in_app(app, credential_count) == 15


def test_cli_reports_changed_rows(app, cli, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(providers_csv(PROVIDER))
    cli.invoke(args=["providers", "import", str(path)])
    path.write_text(providers_csv(PROVIDER | {"email": "new@example.org"}))
    result = cli.invoke(args=["providers", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "  changed   1000001010 Avery Sample: email" in result.output and "0 added, 1 changed, 0 unchanged" in result.output


def test_cli_dry_run_writes_nothing(app, cli):
    result = cli.invoke(args=["providers", "import", str(SAMPLES / "providers.csv"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run (providers): 6 added, 0 changed, 0 unchanged. Nothing was written." in result.output
    assert in_app(app, lambda: count(Provider)) == 0 and in_app(app, lambda: count(AuditEvent)) == 0


def test_cli_bad_file_exits_2_lists_every_problem_and_writes_nothing(app, cli, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(providers_csv(PROVIDER, PROVIDER | {"npi": BAD_NPI}, PROVIDER | {"npi": OTHER_NPI, "is_active": "perhaps"}))
    result = cli.invoke(args=["providers", "import", str(path)])
    assert result.exit_code == 2
    assert "line 3, npi: " in result.stderr and "line 4, is_active: " in result.stderr
    assert "nothing was written" in result.stderr
    assert in_app(app, lambda: count(Provider)) == 0
    orphan = tmp_path / "c.csv"
    orphan.write_text(credentials_csv(LICENSE))
    result = cli.invoke(args=["providers", "import", str(orphan)])
    assert result.exit_code == 2 and "line 2, npi: no provider with NPI 1000001010" in result.stderr


def test_cli_non_utf8_and_missing_files_are_clear_errors(cli, tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes(providers_csv(PROVIDER | {"name": "Ren\u00e9e Sample"}).encode("latin-1"))
    result = cli.invoke(args=["providers", "import", str(latin)])
    assert result.exit_code == 1 and "is not UTF-8" in result.output
    missing = cli.invoke(args=["providers", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_cli_accepts_a_bom(app, cli, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(providers_csv(PROVIDER).encode("utf-8-sig"))
    result = cli.invoke(args=["providers", "import", str(path)])
    assert result.exit_code == 0, result.output


def test_cli_export_both_formats(app, cli, tmp_path):
    cli.invoke(args=["providers", "import", str(SAMPLES / "providers.csv")])
    cli.invoke(args=["providers", "import", str(SAMPLES / "credentials.csv")])
    providers_out, credentials_out = tmp_path / "p.csv", tmp_path / "c.csv"
    result = cli.invoke(args=["providers", "export", str(providers_out)])
    assert result.exit_code == 0 and "Wrote 6 providers" in result.output
    result = cli.invoke(args=["providers", "export", str(credentials_out), "--credentials"])
    assert result.exit_code == 0 and "Wrote 15 credentials" in result.output
    assert providers_out.read_text() == (SAMPLES / "providers.csv").read_text()
    assert credentials_out.read_text() == (SAMPLES / "credentials.csv").read_text()
    again = cli.invoke(args=["providers", "import", str(credentials_out)])
    assert "0 added, 0 changed, 15 unchanged" in again.output


def test_registering_the_group_twice_is_harmless(app):
    app.cli.add_command(providers_cli)
    app.cli.add_command(providers_cli)
    assert app.cli.commands["providers"] is providers_cli
