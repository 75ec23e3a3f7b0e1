"""The alert scheduler: APScheduler 3 in a process of its own (``flask alerts scheduler``).

Never started by ``create_app``, a web worker, the reloader, another CLI command or the tests
(one scheduler per deployment: several would each run the job). The jobs are defined here in
code with a memory job store. ``coalesce`` folds a backlog of missed runs into one, and a
generous ``misfire_grace_time`` still runs a job the process was too busy or down to start on
time; the job itself catches up (it sends what is due *now*), so a late run loses nothing.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from registry.alerts import jobs

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


def build_scheduler(app=None) -> BlockingScheduler:
    """The scheduler with its two jobs, not started."""
    if app is None:
        from registry import create_app

        app = create_app()
    config = app.config
    hour, minute = config["ALERT_RUN_AT"]
    scheduler = BlockingScheduler(timezone=config["ALERT_TIMEZONE"])
    defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "replace_existing": True}
    scheduler.add_job(daily_alerts, CronTrigger(hour=hour, minute=minute, timezone=config["ALERT_TIMEZONE"]), args=[app], id="daily-alerts", name="credential expiry alerts", **defaults)
    scheduler.add_job(send_outbox, IntervalTrigger(minutes=config["ALERT_SEND_EVERY_MINUTES"]), args=[app], id="send-outbox", name="outbox sender", **defaults)
    return scheduler
