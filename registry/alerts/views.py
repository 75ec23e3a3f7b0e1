"""The outbox page: what the alert job queued, sent and failed to send, when it last ran, and
the buttons to send a failed message again or to queue what is due now."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from registry.accounts.access import current_actor, role_required
from registry.alerts import jobs, services
from registry.alerts.forms import ActionForm
from registry.alerts.models import FAILED, STATUSES, OutboxMessage
from registry.audit.services import record as audit
from registry.db import utcnow
from registry.extensions import db

bp = Blueprint("alerts", __name__)

READ_ROLES = ("manager", "auditor")


@bp.route("/alerts/outbox")
@role_required(*READ_ROLES)
def outbox():
    status = request.args.get("status", "")
    if status not in ("", *STATUSES):
        abort(400, description=f"status must be one of: {', '.join(STATUSES)}.")
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        abort(400, description="page must be a whole number.")
    messages, total = services.outbox(status, page=page)
    last = services.last_successful_run()
    stale_after = timedelta(hours=current_app.config["ALERT_STALE_AFTER_HOURS"])
    stale = last is None or utcnow() - last.finished_at > stale_after
    return render_template(
        "alerts/outbox.html", messages=messages, total=total, page=page, status=status, counts=services.outbox_counts(),
        last=last, stale=stale, stale_after=stale_after, runs=list(services.recent_runs()), windows=services.windows_from_config(),
        form=ActionForm(), config=current_app.config,
    )


@bp.route("/alerts/outbox/<int:message_id>/resend", methods=["POST"])
@role_required("manager")
def resend(message_id: int):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    if message.status != FAILED:
        flash(f"Message {message.id} is {message.status}; only a failed message can be sent again.", "error")
        return redirect(url_for("alerts.outbox")), 303
    if not message.recipient:
        flash(f"Message {message.id} has no recipient: add the provider's email address first.", "error")
        return redirect(url_for("alerts.outbox", status=FAILED)), 303
    before = {"status": message.status, "attempts": message.attempts, "last_error": message.last_error}
    services.resend(message)
    actor = current_actor()
    audit(actor_id=actor.id, actor=actor.label, action="alerts.resend", entity_type="email_outbox", entity_key=str(message.id), before=before, after={"status": message.status})
    db.session.commit()
    flash(f"Message {message.id} to {message.recipient} is queued again; the sender takes it on its next pass.", "success")
    return redirect(url_for("alerts.outbox")), 303


@bp.route("/alerts/run", methods=["POST"])
@role_required("manager")
def run_now():
    """Queue what is due today (sending is left to the scheduler's sender, so the page never
    waits on an SMTP server)."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    run = jobs.run_alerts(trigger="page", send_now=False)
    counts = run.counts
    flash(f"Alert run {run.id}: {counts.get('due', 0)} due, {counts.get('queued', 0)} queued, {counts.get('already', 0)} queued before, {counts.get('digests', 0)} digest(s). The sender delivers them within {current_app.config['ALERT_SEND_EVERY_MINUTES']} minutes.", "success")
    return redirect(url_for("alerts.outbox")), 303
