"""``flask alerts run`` (one run now) and ``flask alerts scheduler`` (the daily job, in its own
process). Both run ``jobs.run_alerts``."""

from __future__ import annotations

import signal
import time
from datetime import date

import click
from flask.cli import AppGroup

from registry.alerts import jobs

alerts_cli = AppGroup("alerts", help="Credential expiry alerts: run the job, or run the scheduler.")


@alerts_cli.command("run")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="The day to run for (YYYY-MM-DD); default today.")
@click.option("--dry-run", is_flag=True, help="List what would be queued; queue and send nothing.")
@click.option("--no-send", is_flag=True, help="Queue what is due but leave sending to the next run or the scheduler.")
def run_command(as_of, dry_run: bool, no_send: bool) -> None:
    """Queue the expiry alerts due on the day and send the outbox."""
    day: date = as_of.date() if as_of else date.today()
    run = jobs.run_alerts(day, trigger="cli", dry_run=dry_run, send_now=not no_send)
    counts = run.counts
    click.echo(
        f"Alert run {run.id} for {day.isoformat()}{' (dry run)' if dry_run else ''}: {counts.get('due', 0)} due, "
        f"{counts.get('queued', 0)} queued, {counts.get('already', 0)} queued before, {counts.get('no_email', 0)} without an email address, "
        f"{counts.get('digests', 0)} manager digest(s)"
        + ("" if dry_run or no_send else f"; sent {counts.get('sent', 0)}, to retry {counts.get('retry', 0)}, failed {counts.get('failed', 0)}")
        + "."
    )
    for line in counts.get("would_queue", []):
        click.echo(f"  would queue: {line}")


@alerts_cli.command("send")
def send_command() -> None:
    """Send the queued messages that are due (retries included), and nothing else."""
    counts = jobs.flush_outbox()
    click.echo(f"Sent {counts['sent']}, to retry {counts['retry']}, failed {counts['failed']}.")


@alerts_cli.command("scheduler")
def scheduler_command() -> None:
    """Run the alert scheduler in the foreground (its own process; stop it with Ctrl-C).

    Daily at ALERT_RUN_AT (ALERT_TIMEZONE): the alert job. Every ALERT_SEND_EVERY_MINUTES:
    the outbox sender (retries, messages queued by rule changes). Run exactly one of these
    per deployment; never inside web workers.
    """
    from registry.alerts.scheduler import build_scheduler

    scheduler = build_scheduler()
    stop_requested: list[str] = []

    def stop(signum, _frame) -> None:  # SIGTERM (systemd, docker stop) or Ctrl-C
        # Only note it: the handler interrupts whatever the main thread was doing, so taking a
        # lock here (the scheduler's, a log handler's) could deadlock. The loop below acts on it.
        stop_requested.append(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    scheduler.start()  # the jobs run in the scheduler's threads; this thread only waits
    click.echo("Alert scheduler started: " + "; ".join(f"{job.name} ({job.trigger})" for job in scheduler.get_jobs()) + ". Ctrl-C or SIGTERM stops it.")
    while not stop_requested:
        time.sleep(0.2)
    for signum in (signal.SIGTERM, signal.SIGINT):  # a second signal stops at once
        signal.signal(signum, signal.SIG_DFL)
    click.echo(f"Alert scheduler stopping ({stop_requested[0]}); a running job finishes first.")
    scheduler.shutdown(wait=True)
    click.echo("Alert scheduler stopped.")
