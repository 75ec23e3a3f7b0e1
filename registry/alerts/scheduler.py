"""The alert scheduler: APScheduler 3 in a process of its own (``flask alerts scheduler``).

Never started by ``create_app``, a web worker, the reloader, another CLI command or the tests
(one scheduler per deployment: several would each run the job). The jobs are defined here in
code with a memory job store. ``coalesce`` folds a backlog of missed runs into one, and a
generous ``misfire_grace_time`` still runs a job the process was too busy or down to start on
time; the job itself catches up (it sends what is due *now*), so a late run loses nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from registry.alerts import jobs, services

log = logging.getLogger(__name__)

#: a scheduled run up to this late still runs (the default in APScheduler 3 is 1 second)
MISFIRE_GRACE_SECONDS = 12 * 3600


def daily_alerts(app) -> None:
    with app.app_context():
        run = jobs.run_alerts(trigger="scheduler")
        log.info("alert run %s: %s", run.id, run.counts)


def send_outbox(app) -> None:
    with app.app_context():
        counts = jobs.flush_outbox()
        if any(counts.values()):
            log.info("outbox: %s", counts)


def missed_daily_run(app, now: datetime | None = None) -> bool:
    """Whether the last daily run time passed with no successful run since (the scheduler was
    down, or the job failed): the memory job store forgets missed runs across restarts, so
    the scheduler catches up once at start instead of waiting for tomorrow."""
    config = app.config
    zone = ZoneInfo(config["ALERT_TIMEZONE"])
    now = (now or datetime.now(zone)).astimezone(zone)
    hour, minute = config["ALERT_RUN_AT"]
    scheduled = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if scheduled > now:
        scheduled -= timedelta(days=1)
    with app.app_context():
        last = services.last_successful_run()
        return last is None or last.finished_at < scheduled


def build_scheduler(app=None) -> BackgroundScheduler:
    """The scheduler with its jobs, not started: the daily run, the outbox sender, and a
    catch-up run at start when the last daily run was missed."""
    if app is None:
        from registry import create_app

        app = create_app()
    config = app.config
    hour, minute = config["ALERT_RUN_AT"]
    scheduler = BackgroundScheduler(timezone=config["ALERT_TIMEZONE"])
    defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "replace_existing": True}
    scheduler.add_job(daily_alerts, CronTrigger(hour=hour, minute=minute, timezone=config["ALERT_TIMEZONE"]), args=[app], id="daily-alerts", name="credential expiry alerts", **defaults)
    scheduler.add_job(send_outbox, IntervalTrigger(minutes=config["ALERT_SEND_EVERY_MINUTES"]), args=[app], id="send-outbox", name="outbox sender", **defaults)
    if missed_daily_run(app):
        scheduler.add_job(daily_alerts, DateTrigger(timezone=config["ALERT_TIMEZONE"]), args=[app], id="catch-up", name="catch-up run (the last daily run was missed)", **defaults)
    return scheduler
