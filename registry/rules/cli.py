"""``flask rules import`` and ``flask rules export``. Each command is one transaction."""

from __future__ import annotations

import getpass

import click
from flask.cli import AppGroup

from registry.cli_util import progress
from registry.extensions import db
from registry.rules import services

rules_cli = AppGroup("rules", help="Import and export the state rules CSV.")



@rules_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
def import_command(path: str, dry_run: bool) -> None:
    """Validate PATH (every row) and load it: nothing is written if any row is bad."""
    services.seed_reference_data()
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            plan = services.read_rules_csv(fh, progress=progress("Validating"))
    except UnicodeDecodeError as exc:
        db.session.rollback()
        raise click.ClickException(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    if not plan.ok:
        db.session.rollback()
        click.echo(f"{path}: {len(plan.errors)} problem(s); nothing was written.", err=True)
        for error in plan.errors:
            click.echo(f"  {error}", err=True)
        raise SystemExit(2)
    services.plan_import(plan)
    for row in plan.added:
        click.echo(f"  added     {row.values['jurisdiction']}/{row.values['profession']} from {row.values['effective_from'] or '(start unknown)'}")
    for row, _, columns in plan.changed:
        click.echo(f"  changed   {row.values['jurisdiction']}/{row.values['profession']} from {row.values['effective_from'] or '(start unknown)'}: {', '.join(columns)}")
    for version in plan.withdrawn:
        click.echo(f"  withdrawn {version.jurisdiction_code}/{version.profession_code} from {version.effective_from or '(start unknown)'}")
    summary = f"{len(plan.added)} added, {len(plan.changed)} changed, {len(plan.withdrawn)} withdrawn, {len(plan.unchanged)} unchanged"
    if dry_run:
        db.session.rollback()
        click.echo(f"Dry run: {summary}. Nothing was written.")
        return
    actor = services.Actor(id=None, label=f"cli:rules import ({getpass.getuser()})")
    services.apply_import(plan, actor=actor, source=path, progress=progress("Writing"))
    db.session.commit()
    click.echo(f"Imported {path}: {summary}.")


@rules_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def export_command(path: str) -> None:
    """Write every live rule version to PATH in the import format."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        count = services.write_rules_csv(fh)
    db.session.rollback()
    click.echo(f"Wrote {count} rule versions to {path}.")
