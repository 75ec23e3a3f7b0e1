"""Pages of the coding gate for dry needling (CPT 20560/20561): code a visit, read a decision
and release its lines, the record for auditors, the billable lines for the billing system, and
the billers' CSV upload. Each request is one transaction: the services flush, the view commits.

Who may do what (the roles of the JSON API, registry.coding.api):

* check a visit: managers, billers, and clinicians for their own NPI;
* read a decision: managers, billers and auditors any, a clinician their own (others are 404);
* release a decision's lines: managers, billers, and clinicians their own;
* the record and the billable lines: managers, billers, auditors; exporting (which marks the
  lines exported) and the CSV upload: managers and billers.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from registry.accounts.access import ALL_ROLES, current_actor, role_required
from registry.coding import csvio, services
from registry.coding.api import BATCH_ROLES, CHECK_ROLES, RECORD_ROLES
from registry.coding.forms import (
    CHANNEL_LABELS,
    OUTCOME_LABELS,
    PAYER_LABELS,
    CheckFilterForm,
    ExportForm,
    LineFilterForm,
    ReleaseForm,
    UploadForm,
    VisitForm,
)
from registry.coding.gate import BLOCK, INFO, WARN
from registry.extensions import db
from registry.providers import services as providers

bp = Blueprint("coding", __name__)

PER_PAGE = 50
#: the billable lines page shows this many; the CSV has them all
LINES_SHOWN = 500
SEVERITY_TITLES = {BLOCK: "Blocking", WARN: "Warnings", INFO: "For information"}
ELIGIBILITY_WORDS = {"eligible": "Eligible", "not_eligible": "Not eligible", "needs_review": "Needs review"}


def _words() -> dict:
    """Plain words for the templates."""
    return {
        "outcomes": OUTCOME_LABELS, "channels": CHANNEL_LABELS, "payers": PAYER_LABELS,
        "severities": SEVERITY_TITLES, "eligibility": ELIGIBILITY_WORDS,
    }


def _own_provider():
    """The provider linked to a clinician's account (None for other roles, or if unlinked)."""
    if current_user.has_role("clinician"):
        return providers.provider_for_user(current_user.id)
    return None


def _check_or_404(check_id: int):
    """A recorded check the user may read: any for the record's readers, a clinician only
    the checks of their own NPI (anyone else's is 'not found', not 'forbidden')."""
    check = services.get_check(check_id)
    if check is not None and not current_user.has_role(*RECORD_ROLES):
        own = _own_provider()
        if own is None or own.npi != check.npi:
            check = None
    if check is None:
        abort(404, description=f"No coding check {check_id}.")
    return check


def _csv_download(write, *args, name: str) -> Response:
    buffer = io.StringIO()
    write(buffer, *args)
    return Response(buffer.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={name}"})


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


# --- code a visit ----------------------------------------------------------------------------
def _render_visit(form: VisitForm, own, source: int | None, status: int = 200):
    # the datalist offers the first 200 active providers by name; any NPI may be typed
    choices = [] if own else [p for p in providers.search_providers(per_page=200).items if p.is_active]
    return render_template("coding/visit.html", form=form, own=own, source=source, active_providers=choices), status


@bp.route("/coding/visit", methods=["GET", "POST"])
@role_required(*CHECK_ROLES)
def visit():
    """The visit in, the check recorded, then (POST-redirect-GET) the decision's page.
    ``?from=<check_id>`` fills the form from a recorded visit, to edit and check again."""
    own = None
    if current_user.has_role("clinician"):
        own = _own_provider()
        if own is None:
            return render_template("providers/no_record.html"), 404
    source = request.args.get("from", type=int) if request.method == "GET" else None
    form = VisitForm(data=VisitForm.data_from(_check_or_404(source).visit)) if source is not None else VisitForm()
    if own is not None:
        del form.npi  # a clinician codes their own visits only
    if not form.validate_on_submit():
        return _render_visit(form, own, source, 422 if form.is_submitted() else 200)
    npi = own.npi if own else form.npi.data.strip()
    if own is None and providers.get_by_npi(npi) is None:
        form.npi.errors = [f"No provider with NPI {npi} in the registry." if npi else "Give the NPI of the provider who treated the patient."]
        return _render_visit(form, own, source, 422)
    outcome = services.check_visit(form.visit(npi), actor=current_actor(), channel="page")
    db.session.commit()
    return redirect(url_for("coding.check_page", check_id=outcome.check_id))


# --- one decision ----------------------------------------------------------------------------
def _render_check(check, form: ReleaseForm, status: int = 200):
    recheck = None
    if request.args.get("recheck"):
        # today's answer for the recorded visit under today's rules and credentials (nothing
        # is recorded): how a decision is reopened and explained after a rule has changed
        result, decision = services.recheck(check)
        recheck = {"result": result, "decision": decision, "edits": [services.edit_to_json(e) for e in result.edits]}
    can_check = current_user.has_role(*CHECK_ROLES)
    return render_template(
        "coding/check.html", check=check, form=form, recheck=recheck, can_check=can_check,
        billable=services.billable_json(check), words=_words(),
    ), status


@bp.route("/coding/checks/<int:check_id>")
@role_required(*ALL_ROLES)
def check_page(check_id: int):
    return _render_check(_check_or_404(check_id), ReleaseForm())


@bp.route("/coding/checks/<int:check_id>/release", methods=["POST"])
@role_required(*CHECK_ROLES)
def release(check_id: int):
    """Create the billable lines of an allowed check, once (a warning needs a reason)."""
    check = _check_or_404(check_id)
    form = ReleaseForm()
    if not form.validate_on_submit():
        return _render_check(check, form, 422)
    try:
        lines = services.release(check, actor=current_actor(), acknowledgement=form.acknowledgement.data or "")
        db.session.commit()
    except services.CodingError as exc:
        db.session.rollback()
        if exc.field == "acknowledgement":
            form.acknowledgement.errors = [exc.message]
        else:
            form.form_errors.append(exc.message)
        return _render_check(check, form, 409 if isinstance(exc, services.AlreadyReleased) else 422)
    flash(f"Created {len(lines)} billable line{'' if len(lines) == 1 else 's'}.", "success")
    return redirect(url_for("coding.check_page", check_id=check.id) + "#lines")


# --- the record --------------------------------------------------------------------------------
def _check_filters() -> tuple[CheckFilterForm, services.CheckFilter | None]:
    form = CheckFilterForm(request.args)
    if not form.validate():
        return form, None
    return form, services.CheckFilter(
        npi=form.npi.data or "", jurisdiction=form.jurisdiction.data or "", outcome=form.outcome.data or "",
        channel=form.channel.data or "", start=form.start.data, end=form.end.data, edit_code=form.edit_code.data or "",
    )


@bp.route("/coding/checks")
@role_required(*RECORD_ROLES)
def check_list():
    form, filters = _check_filters()
    if filters is None:
        return render_template("coding/checks.html", form=form, checks=[], total=0, page=1, pages=0, query={}, words=_words()), 400
    page = form.page.data or 1
    checks, total = services.list_checks(filters, page=page, per_page=PER_PAGE)
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "coding/checks.html", form=form, checks=checks, total=total, page=page,
        pages=(total + PER_PAGE - 1) // PER_PAGE, query=query, words=_words(),
    )


@bp.route("/coding/checks.csv")
@role_required(*RECORD_ROLES)
def check_list_csv():
    form, filters = _check_filters()
    if filters is None:
        abort(400, description="; ".join(f"{form[name].label.text}: {' '.join(errors)}" for name, errors in form.errors.items()))
    return _csv_download(csvio.write_checks, services.all_checks(filters), name=f"coding-checks-{_stamp()}.csv")


# --- billable lines -----------------------------------------------------------------------------
def _line_filters() -> LineFilterForm:
    form = LineFilterForm(request.args)
    form.validate()
    return form


def _lines(form: LineFilterForm, limit: int | None = None):
    exported = {"new": False, "exported": True}.get(form.status.data)
    return services.billable_lines(exported=exported, start=form.start.data, end=form.end.data, limit=limit)


def _render_lines(filters: LineFilterForm, export: ExportForm, status: int = 200):
    if filters.errors:
        return render_template("coding/lines.html", filters=filters, export=export, lines=[], more=False), 400
    lines = _lines(filters, LINES_SHOWN + 1)
    return render_template(
        "coding/lines.html", filters=filters, export=export, lines=lines[:LINES_SHOWN], more=len(lines) > LINES_SHOWN,
        can_export=current_user.has_role(*BATCH_ROLES), query={k: v for k, v in request.args.items() if v},
    ), status


@bp.route("/coding/lines")
@role_required(*RECORD_ROLES)
def lines():
    filters = _line_filters()
    export = ExportForm(data={"start": filters.start.data, "end": filters.end.data})
    return _render_lines(filters, export)


@bp.route("/coding/lines.csv")
@role_required(*RECORD_ROLES)
def lines_csv():
    """The filtered lines, read-only: nothing is marked exported."""
    filters = _line_filters()
    if filters.errors:
        abort(400, description="; ".join(f"{filters[name].label.text}: {' '.join(errors)}" for name, errors in filters.errors.items()))
    return _csv_download(csvio.write_lines, _lines(filters), name=f"billable-lines-{_stamp()}.csv")


@bp.route("/coding/lines/export", methods=["POST"])
@role_required(*BATCH_ROLES)
def lines_export():
    """The lines not yet exported (within the dates of service given), as CSV for the billing
    system, marked exported in the same transaction: a second export leaves them out."""
    export = ExportForm()
    if not export.validate_on_submit():
        return _render_lines(_line_filters(), export, 422)
    lines = services.take_for_export(actor=current_actor(), start=export.start.data, end=export.end.data)
    response = _csv_download(csvio.write_lines, lines, name=f"billable-lines-export-{_stamp()}.csv")
    db.session.commit()
    return response


# --- CSV upload --------------------------------------------------------------------------------
def _render_upload(form: UploadForm, errors=(), status: int = 200):
    return render_template("coding/upload.html", form=form, errors=errors, columns=csvio.VISIT_COLUMNS, max_visits=services.MAX_VISITS), status


@bp.route("/coding/upload", methods=["GET", "POST"])
@role_required(*BATCH_ROLES)
def upload():
    """A visits CSV in, every visit checked and recorded, the results CSV out. A file with any
    bad row is refused whole and nothing is recorded."""
    form = UploadForm()
    if not form.validate_on_submit():
        return _render_upload(form, status=422 if form.is_submitted() else 200)
    content = form.file.data.stream.read(csvio.MAX_UPLOAD_BYTES + 1)
    if len(content) > csvio.MAX_UPLOAD_BYTES:
        form.file.errors = [f"The file is larger than {csvio.MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split it into several files."]
        return _render_upload(form, status=422)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        form.file.errors = [f"The file is not UTF-8 text ({exc.reason} at byte {exc.start}): is it a CSV? Save it as 'CSV UTF-8' and try again."]
        return _render_upload(form, status=422)
    parsed = csvio.read_visits(io.StringIO(text, newline=""))
    if not parsed.ok:
        return _render_upload(form, parsed.errors, 422)
    outcomes = services.check_visits([row.visit for row in parsed.rows], actor=current_actor(), channel="csv")
    response = _csv_download(csvio.write_results, parsed.rows, outcomes, name=f"coding-results-{_stamp()}.csv")
    db.session.commit()
    return response


@bp.route("/coding/upload/sample.csv")
@role_required(*BATCH_ROLES)
def upload_sample():
    return send_file(csvio.SAMPLE, mimetype="text/csv", as_attachment=True, download_name="visits.csv")
