"""``flask audit verify``: walk the audit hash chain."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from registry.audit import services

audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Check every audit event against the hash chain; exit status 1 at the first break."""
    count, broken = services.verify_chain()
    if broken is not None:
        click.echo(f"Audit chain BROKEN at event {broken.event_id} (after {count - 1} intact events): {broken.problem}.", err=True)
        raise SystemExit(1)
    click.echo(f"Audit chain intact: {count} events.")
