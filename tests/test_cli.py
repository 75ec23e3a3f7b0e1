"""CLI commands: rules import/export, users create, demo accounts."""

from __future__ import annotations

from sqlalchemy import func, select

from registry.accounts.models import User
from registry.extensions import db
from registry.rules.models import RuleVersion
from tests.conftest import row, to_csv


def versions(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(RuleVersion))


def test_import_reports_and_is_idempotent(app, runner, tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text(to_csv([row(effective_from="2020-01-01", effective_to="2024-06-22"), row()]))
    first = runner.invoke(args=["rules", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert "added     WA/PT from 2020-01-01" in first.output
    assert "2 added, 0 changed, 0 withdrawn, 0 unchanged" in first.output
    second = runner.invoke(args=["rules", "import", str(path)])
    assert "0 added, 0 changed, 0 withdrawn, 2 unchanged" in second.output
    assert versions(app) == 2


def test_dry_run_writes_nothing(app, runner, tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text(to_csv([row()]))
    result = runner.invoke(args=["rules", "import", str(path), "--dry-run"])
    assert result.exit_code == 0 and "Dry run: 1 added" in result.output
    assert versions(app) == 0


def test_bad_file_lists_every_problem_and_writes_nothing(app, runner, tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text(to_csv([row(), row(jurisdiction="CA", status="maybe"), row(jurisdiction="OR", effective_from="01/02/2024")]))
    result = runner.invoke(args=["rules", "import", str(path)])
    assert result.exit_code == 2
    assert "line 3, status" in result.stderr and "line 4, effective_from" in result.stderr
    assert "nothing was written" in result.stderr
    assert versions(app) == 0


def test_missing_and_non_utf8_files_are_clear_errors(runner, tmp_path):
    missing = runner.invoke(args=["rules", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    latin = tmp_path / "latin.csv"
    latin.write_bytes(to_csv([row(notes="caf\u00e9")]).encode("latin-1"))
    result = runner.invoke(args=["rules", "import", str(latin)])
    assert result.exit_code == 1 and "is not UTF-8" in result.output


def test_export_then_import_is_identity(app, runner, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(to_csv([row(notes="-starts with a minus")]))
    runner.invoke(args=["rules", "import", str(source)])
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["rules", "export", str(out)])
    assert result.exit_code == 0 and "Wrote 1 rule versions" in result.output
    assert "'-starts with a minus" in out.read_text()
    again = runner.invoke(args=["rules", "import", str(out)])
    assert "0 added, 0 changed, 0 withdrawn, 1 unchanged" in again.output


def test_users_create(app, runner):
    result = runner.invoke(args=["users", "create", "Ann@Example.org", "--role", "biller"])
    assert result.exit_code == 0, result.output
    assert "Created biller ann@example.org" in result.output and "Password (shown once):" in result.output
    duplicate = runner.invoke(args=["users", "create", "ann@example.org", "--role", "biller"])
    assert duplicate.exit_code == 2 and "already exists" in duplicate.output
    bad_role = runner.invoke(args=["users", "create", "bob@example.org", "--role", "admin"])
    assert bad_role.exit_code == 2 and "admin" in bad_role.output
    bad_email = runner.invoke(args=["users", "create", "not-an-email", "--role", "biller"])
    assert bad_email.exit_code == 2 and "not a valid email" in bad_email.output
    short = runner.invoke(args=["users", "create", "cy@example.org", "--role", "auditor", "--password", "short"])
    assert short.exit_code == 2 and "at least 12" in short.output
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == "ann@example.org")).one()
        assert user.password_hash.startswith("scrypt:")


def test_demo_accounts_created_once(app, runner):
    first = runner.invoke(args=["demo", "accounts"])
    assert "manager@example.org" in first.output and "clinician@example.org" in first.output
    second = runner.invoke(args=["demo", "accounts"])
    assert "no demo accounts created" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 2


def test_demo_providers_loads_samples_and_links_the_clinician(app, runner):
    runner.invoke(args=["demo", "accounts"])
    first = runner.invoke(args=["demo", "providers"])
    assert first.exit_code == 0, first.output
    assert "Linked clinician@example.org to Avery Sample." in first.output
    second = runner.invoke(args=["demo", "providers"])
    assert second.exit_code == 0 and "Linked" not in second.output
    assert "0 added, 0 changed" in second.output
    from registry.providers import services

    with app.app_context():
        provider = services.get_by_npi("1000001010")
        assert provider.user.email == "clinician@example.org"
        assert len(provider.licenses) >= 2
