"""The alert job: the one code path behind ``flask alerts run``, the scheduler and the outbox
page's buttons. It is the transaction edge, and it commits between its steps on purpose:

1. record the run (so a crash still leaves a trace);
2. queue what is due, with the managers' digests, in one transaction (all or nothing);
3. send: claim a few messages under a lease, commit, send each over SMTP (no transaction is
   held open while talking to a slow server), and record each result in its own short
   transaction, so a crash re-sends at most the one message in flight (at-least-once);
4. record the outcome of the run.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import asdict
from datetime import date

from flask import current_app

from registry.alerts import services
from registry.alerts.mail import MailError, MailSettings, build, send
from registry.alerts.models import AlertRun, OutboxMessage
from registry.db import utcnow
from registry.extensions import db

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def run_alerts(as_of: date | None = None, *, trigger: str = "cli", dry_run: bool = False, send_now: bool = True) -> AlertRun:
    """Find what is due on ``as_of`` (default today), queue it, then send the outbox.
    ``dry_run`` reports what would be queued and writes nothing but the run record."""
    as_of = as_of or date.today()
    run = AlertRun(as_of=as_of, trigger=trigger, dry_run=dry_run, status="running", counts={})
    db.session.add(run)
    db.session.commit()
    try:
        result = services.queue_due(as_of, run_id=run.id)
        counts = {k: v for k, v in asdict(result).items() if k != "items"}
        if dry_run:
            db.session.rollback()
            counts["would_queue"] = [f"{i.provider_name}: {i.what}, {i.window}" for i in result.items]
        else:
            db.session.commit()
            if send_now:
                counts.update(flush_outbox())
        run = db.session.get(AlertRun, run.id)
        run.counts, run.status, run.finished_at = counts, "ok", utcnow()
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        log.exception("alert run %s failed", run.id)
        run = db.session.get(AlertRun, run.id)
        run.status, run.finished_at, run.error = "failed", utcnow(), f"{type(error).__name__}: {error}"[:2000]
        db.session.commit()
        raise
    return run


def flush_outbox(*, limit: int | None = None) -> dict[str, int]:
    """Send every queued message that is due, a batch at a time, until none is left (or
    ``limit`` were tried). Returns counts: sent, retry, failed."""
    config = current_app.config
    settings = MailSettings.from_config(config)
    worker = worker_name()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    tried = 0
    while limit is None or tried < limit:
        now = utcnow()
        batch = services.claim(worker, now, limit=min(services.CLAIM_BATCH, limit - tried) if limit else services.CLAIM_BATCH)
        db.session.commit()
        if not batch:
            break
        for message in batch:
            tried += 1
            counts[_deliver(message, settings, worker, config["ALERT_MAX_ATTEMPTS"])] += 1
    return counts


def _deliver(message: OutboxMessage, settings: MailSettings, worker: str, max_attempts: int) -> str:
    if not message.recipient:
        services.mark_failure(message, worker, utcnow(), error="No email address on file.", transient=False, max_attempts=max_attempts)
        db.session.commit()
        return "failed"
    email = build(settings, recipient=message.recipient, subject=message.subject, text=message.body_text, html=message.body_html, message_id=message.message_id)
    try:
        send(settings, email)
    except MailError as error:
        status = services.mark_failure(message, worker, utcnow(), error=str(error), transient=error.transient, max_attempts=max_attempts)
        db.session.commit()
        log.warning("outbox %s to %s: %s (%s)", message.id, message.recipient, error, status)
        return "retry" if status == "queued" else "failed"
    services.mark_sent(message.id, worker, utcnow())
    db.session.commit()
    return "sent"
