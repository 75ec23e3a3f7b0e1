"""``flask demo seed``: a reproducible population of providers, credentials and coding checks.
One transaction: it commits once, at the end, or writes nothing."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from datetime import date, datetime

import click

from registry.accounts.cli import demo_cli
from registry.demo import services
from registry.extensions import db

EARLIEST_AS_OF = date(2000, 1, 1)


def _as_of(_ctx, _param, value: datetime | None) -> date:
    if value is None:
        return date.today()
    day = value.date()
    if day > date.today():
        raise click.BadParameter(f"{day} is in the future; training records cannot be completed after today. Give today or an earlier date.")
    if day < EARLIEST_AS_OF:
        raise click.BadParameter(f"{day} is before {EARLIEST_AS_OF}; give a later date.")
    return day


@contextmanager
def _bar(label: str, length: int):
    """One phase's progress bar, on stderr."""
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


@demo_cli.command("seed")
@click.option("--providers", "n_providers", required=True, type=click.IntRange(1, services.MAX_PROVIDERS),
              help=f"How many providers to create (1 to {services.MAX_PROVIDERS:,}).")
@click.option("--seed", "seed_value", default=1, show_default=True, type=click.IntRange(0, 2**63 - 1),
              help="Random seed: the same seed on an empty database gives the same rows.")
@click.option("--visits-per-provider", default=services.DEFAULT_VISITS_PER_PROVIDER, show_default=True,
              type=click.IntRange(0, services.MAX_VISITS_PER_PROVIDER),
              help="Visits per provider checked through the coding gate and recorded (0: none).")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, callback=_as_of,
              help="The day every generated date is counted from (YYYY-MM-DD; default today).")
@click.option("--append", is_flag=True, help="Add to a registry that already holds providers.")
def seed_command(n_providers: int, seed_value: int, visits_per_provider: int, as_of: date, append: bool) -> None:
    """Generate N fictional providers (PT and DC) with licenses in every jurisdiction, PT
    Compact privileges, training records, the board registrations the rules ask for, and
    their visits checked through the coding gate; one audit event; one transaction.

    Refuses (exit status 2) when no rules are loaded, or when providers exist and --append
    is not given.
    """
    options = services.SeedOptions(n_providers, seed_value, visits_per_provider, as_of, append)
    started = time.perf_counter()
    try:
        counts = services.seed(options, progress=_bar)
    except services.SeedRefused as refused:
        db.session.rollback()
        click.echo(str(refused), err=True)
        raise SystemExit(2) from None
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    seconds = time.perf_counter() - started
    providers = sum(counts.providers.values())
    outcomes = counts.outcomes
    click.echo(
        f"Seeded {providers:,} providers ({counts.providers['PT']:,} PT, {counts.providers['DC']:,} DC), "
        f"{counts.licenses:,} licenses (of which {counts.compact_privileges:,} PT Compact privileges) "
        f"covering {len(counts.covered)} of {2 * len(services.CODES)} jurisdiction/profession pairs, "
        f"{counts.trainings:,} training records, {counts.registrations:,} board registrations, "
        f"{counts.visits:,} coding checks (allow {outcomes['allow']:,}, allow with warnings "
        f"{outcomes['allow_with_warnings']:,}, block {outcomes['block']:,}); seed {seed_value}, as of {as_of}."
    )
    phases = ", ".join(f"{name} {spent:.1f} s" for name, spent in counts.seconds.items())
    click.echo(f"{counts.rows:,} rows in {seconds:.1f} s ({counts.rows / seconds:,.0f} rows/s; {phases}), one transaction.")
