"""The audit log for auditors and managers: browse and filter every recorded change, export
it as CSV (formula injection escaped). Read-only: no route changes or deletes an event."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

from flask import Blueprint, Response, render_template, request, stream_with_context

from registry.accounts.access import role_required
from registry.audit import services
from registry.audit.forms import AuditFilterForm
from registry.csvkit import escape_cell

bp = Blueprint("audit", __name__)

READ_ROLES = ("auditor", "manager")
PER_PAGE = 50
CSV_COLUMNS = ("id", "occurred_at", "actor", "action", "entity_type", "entity_key", "before", "after", "reason", "prev_hash", "hash")


def _filters():
    form = AuditFilterForm(request.args)
    if not form.validate():
        return form, None
    return form, services.AuditFilter(
        actor=(form.actor.data or "").strip(), action=(form.action.data or "").strip(), entity_type=(form.entity_type.data or "").strip(),
        entity_key=(form.entity_key.data or "").strip(), start=form.start.data, end=form.end.data,
    )


def _page() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


@bp.route("/audit")
@role_required(*READ_ROLES)
def audit_log():
    form, filters = _filters()
    if filters is None:
        return render_template("audit/log.html", form=form, events=[], total=0, page=1, per_page=PER_PAGE, types=services.entity_types(), query={}), 400
    page = _page()
    events, total = services.events(filters, page=page, per_page=PER_PAGE)
    query = {k: v for k, v in request.args.items() if v and k != "page"}
    return render_template("audit/log.html", form=form, events=events, total=total, page=page, per_page=PER_PAGE, types=services.entity_types(), query=query)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    elif isinstance(value, datetime):
        value = value.astimezone(timezone.utc).isoformat(timespec="seconds")
    return escape_cell(str(value))


@bp.route("/audit.csv")
@role_required(*READ_ROLES)
def audit_csv():
    form, filters = _filters()
    if filters is None:
        return Response("; ".join(f"{form[name].label.text}: {' '.join(errors)}" for name, errors in form.errors.items()), status=400, mimetype="text/plain")

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for event in services.all_events(filters):
            writer.writerow([_cell(getattr(event, column)) for column in CSV_COLUMNS])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Response(stream_with_context(rows()), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename=audit-log-{stamp}.csv"})
