"""``flask users`` and ``flask demo`` commands. Each command is one transaction."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from registry.accounts.models import ROLES
from registry.accounts.services import AccountError, create_user, user_count
from registry.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")
demo_cli = AppGroup("demo", help="Demo data for a first look.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The user's role.")
@click.option(
    "--password",
    envvar="REGISTRY_NEW_PASSWORD",
    default=None,
    help="Password (12 to 256 characters, not a common one); generated and printed when omitted. "
    "Prefer the REGISTRY_NEW_PASSWORD variable to keep it out of shell history.",
)
def create_user_command(email: str, role: str, password: str | None) -> None:
    """Create a user account with a role."""
    try:
        user, pw = create_user(email, role, password, actor_label="cli:users create")
    except AccountError as exc:
        db.session.rollback()
        raise click.BadParameter(exc.message, param_hint=exc.field or "EMAIL") from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}")
    if password is None:
        click.echo(f"Password (shown once): {pw}")


@demo_cli.command("accounts")
def demo_accounts() -> None:
    """Create a demo manager and a demo clinician, only when there are no users yet."""
    if user_count():
        click.echo("Users already exist; no demo accounts created.")
        return
    created = [
        create_user("manager@example.org", "manager", actor_label="cli:demo accounts"),
        create_user("clinician@example.org", "clinician", actor_label="cli:demo accounts"),
    ]
    db.session.commit()
    click.echo("Demo accounts (these passwords are shown only this once):")
    for user, password in created:
        click.echo(f"  {user.role:<10} {user.email:<26} {password}")
