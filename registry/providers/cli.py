"""``flask providers import`` and ``flask providers export``. Each command is one transaction."""

from __future__ import annotations

import csv
import getpass
from pathlib import Path

import click
from flask.cli import AppGroup

from registry.accounts.cli import demo_cli
from registry.accounts.services import find_user
from registry.cli_util import progress
from registry.extensions import db
from registry.providers import csvio, services
from registry.rules.services import Actor, seed_reference_data

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLES = ROOT / "data" / "samples"

providers_cli = AppGroup("providers", help="Import and export providers and their credentials as CSV.")



def _fail(path: str, plan: csvio.ProviderImportPlan) -> None:
    db.session.rollback()
    click.echo(f"{path}: {len(plan.errors)} problem(s); nothing was written.", err=True)
    for error in plan.errors:
        click.echo(f"  {error}", err=True)
    raise SystemExit(2)


@providers_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Validate and try every change, then roll back: write nothing.")
def import_command(path: str, dry_run: bool) -> None:
    """Import PATH, a providers or a credentials CSV (told apart by its header).

    Every row is validated first; nothing is written if any row is bad. Rows equal to the
    stored records write nothing; records not in the file are left alone. Import the
    providers file before a credentials file that refers to them.
    """
    seed_reference_data()
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            plan = csvio.read_csv(fh, progress=progress("Validating"))
    except UnicodeDecodeError as exc:
        db.session.rollback()
        raise click.ClickException(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as CSV UTF-8 and try again.") from None
    csvio.plan_import(plan)
    if not plan.ok:
        _fail(path, plan)
    for row in plan.added:
        click.echo(f"  added     {row.label}")
    for row, _, columns in plan.changed:
        click.echo(f"  changed   {row.label}: {', '.join(columns)}")
    summary = csvio.summary(plan)
    # a dry run goes through the services too (so their checks run), then rolls back
    actor = Actor(id=None, label=f"cli:providers import ({getpass.getuser()})")
    try:
        csvio.apply_import(plan, actor=actor, progress=progress("Checking" if dry_run else "Writing"))
    except csvio.ImportFailed:
        _fail(path, plan)
    if dry_run:
        db.session.rollback()
        click.echo(f"Dry run ({plan.kind}): {summary}. Nothing was written.")
        return
    db.session.commit()
    click.echo(f"Imported {path} ({plan.kind}): {summary}.")


@providers_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--credentials", is_flag=True, help="Write the credentials format instead of the providers format.")
def export_command(path: str, credentials: bool) -> None:
    """Write every provider (or, with --credentials, every credential) to PATH."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        if credentials:
            count = csvio.write_credentials_csv(fh)
        else:
            count = csvio.write_providers_csv(fh)
    db.session.rollback()
    click.echo(f"Wrote {count} {'credentials' if credentials else 'providers'} to {path}.")


DEMO_CLINICIAN = "clinician@example.org"


@demo_cli.command("providers")
def demo_providers() -> None:
    """Load data/samples (providers, then credentials) and link the demo clinician to the first
    sample provider. Safe to run again: an unchanged sample writes nothing."""
    seed_reference_data()
    actor = Actor(id=None, label="cli:demo providers")
    for name in ("providers.csv", "credentials.csv"):
        path = SAMPLES / name
        with path.open(encoding="utf-8-sig", newline="") as fh:
            plan = csvio.read_csv(fh)
        try:
            if plan.ok:
                csvio.apply_import(plan, actor=actor)
        except csvio.ImportFailed:
            pass
        if not plan.ok:
            _fail(str(path), plan)
        click.echo(f"{path.relative_to(ROOT)}: {csvio.summary(plan)}")
    user = find_user(DEMO_CLINICIAN)
    with (SAMPLES / "providers.csv").open(encoding="utf-8", newline="") as fh:
        first_npi = next(csv.DictReader(fh))["npi"]
    provider = services.get_by_npi(first_npi)
    if user is not None and provider is not None and provider.user_id is None and services.provider_for_user(user.id) is None:
        services.update_provider(provider, {"user_id": user.id}, actor=actor, expected_version=None)
        click.echo(f"Linked {DEMO_CLINICIAN} to {provider.name}.")
    db.session.commit()
