"""Provider pages: list and search, the provider page, forms to add, edit and end each
credential, the clinician's own record, and the managers' worklist."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from registry.accounts.access import ALL_ROLES, current_actor, role_required
from registry.accounts.services import find_user
from registry.csvkit import escape_cell
from registry.eligibility import services as eligibility
from registry.extensions import db
from registry.providers import csvio, services
from registry.providers.forms import CREDENTIAL_FORMS, EndForm, ImportForm, ProviderForm
from registry.providers.models import CREDENTIAL_MODELS
from registry.rules.reference import JURISDICTIONS, PROFESSIONS
from registry.rules.views import us_map

bp = Blueprint("providers", __name__)

READERS = ("manager", "auditor", "biller")
KIND_TITLES = {"license": "License", "training": "Training record", "registration": "Board registration"}


def _provider_or_404(provider_id: int):
    provider = services.get_provider(provider_id)
    if provider is None:
        abort(404, description="No such provider.")
    return provider


def _may_read(provider) -> bool:
    if current_user.has_role(*READERS):
        return True
    return current_user.has_role("clinician") and provider.user_id == current_user.id


def _credential_or_404(provider, kind: str, credential_id: int):
    if kind not in CREDENTIAL_MODELS:
        abort(404, description=f"Unknown credential kind '{kind}'.")
    credential = services.get_credential(kind, credential_id)
    if credential is None or credential.provider_id != provider.id:
        abort(404, description=f"No such {services.KIND_LABELS[kind]} for this provider.")
    return credential


def _section(provider, kind: str):
    """A save's redirect target: the provider page, at the credential's section."""
    return lambda _: url_for("providers.provider_page", provider_id=provider.id) + f"#{kind}"


def _save(form, template: str, action, *, success: str, target, **context):
    """Run a service call for a validated form, commit, and map refusals to the form.

    ``target(result)`` gives the URL to go to after a successful save.
    """
    try:
        result = action()
        db.session.commit()
    except services.StaleEditError as exc:
        db.session.rollback()
        form.form_errors.append(exc.message)
        return render_template(template, form=form, stale=True, **context), 409
    except StaleDataError:
        db.session.rollback()
        form.form_errors.append("Someone else saved a change to this record at the same moment. Nothing was saved; reload and edit again.")
        return render_template(template, form=form, stale=True, **context), 409
    except services.ProviderError as exc:
        db.session.rollback()
        field = getattr(form, {"profession_code": "profession", "jurisdiction_code": "jurisdiction"}.get(exc.field or "", exc.field or ""), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, exc.message]
        else:
            form.form_errors.append(exc.message)
        return render_template(template, form=form, **context), 422
    flash(success, "success")
    return redirect(target(result))


# --- list ----------------------------------------------------------------------------------
@bp.route("/providers")
@role_required(*READERS)
def provider_list():
    args = request.args
    try:
        page = max(1, int(args.get("page", 1)))
    except ValueError:
        abort(400, description="page must be a whole number.")
    jurisdiction = (args.get("jurisdiction") or "").upper()
    profession = (args.get("profession") or "").upper()
    if jurisdiction and jurisdiction not in {c for c, _, _ in JURISDICTIONS}:
        abort(400, description=f"'{jurisdiction}' is not a jurisdiction code.")
    if profession and profession not in {c for c, _ in PROFESSIONS}:
        abort(400, description=f"'{profession}' is not a profession.")
    q = (args.get("q") or "").strip()[:100]
    results = services.search_providers(text=q, jurisdiction=jurisdiction, profession=profession, page=page, per_page=25)
    return render_template("providers/list.html", results=results, q=q, jurisdiction=jurisdiction, profession=profession, jurisdictions=JURISDICTIONS, professions=PROFESSIONS)


# --- the provider page -----------------------------------------------------------------------
@bp.route("/providers/<int:provider_id>")
@role_required(*ALL_ROLES)
def provider_page(provider_id: int):
    provider = _provider_or_404(provider_id)
    if not _may_read(provider):
        abort(404, description="No such provider.")
    today = date.today()
    try:
        as_of = date.fromisoformat(request.args["as_of"]) if request.args.get("as_of") else today
    except ValueError:
        abort(400, description="as_of must be a date in the form YYYY-MM-DD.")
    timeline = eligibility.rule_timeline()  # the live rule versions, cached between requests
    gaps = eligibility.requirement_worklist(today, provider=provider, timeline=timeline)
    decisions = {d.jurisdiction: d for d in eligibility.matrix(provider, as_of, licensed_only=False, timeline=timeline)}
    return render_template(
        "providers/detail.html", provider=provider, today=today, as_of=as_of,
        totals=services.training_totals(provider.trainings, today),
        history=services.history(provider.id), gaps=gaps, decisions=decisions, us_map=us_map(),
        can_edit=current_user.has_role("manager"), is_held_on=services.is_held_on,
    )


@bp.route("/me")
@role_required(*ALL_ROLES)
def my_record():
    provider = services.provider_for_user(current_user.id)
    if provider is None:
        return render_template("providers/no_record.html"), 404
    return redirect(url_for("providers.provider_page", provider_id=provider.id))


# --- provider forms ----------------------------------------------------------------------------
def _link_account(form) -> dict:
    values = form.values()
    email = (form.account_email.data or "").strip()
    if email:
        user = find_user(email)
        if user is None:
            raise services.ProviderError(f"No user account with email {email}; create it first (flask users create).", field="account_email")
        values["user_id"] = user.id
    else:
        values["user_id"] = None
    return values


@bp.route("/providers/new", methods=["GET", "POST"])
@role_required("manager")
def provider_new():
    form = ProviderForm()
    context = {"title": "Add a provider", "provider": None}
    if not form.validate_on_submit():
        return render_template("providers/form.html", form=form, **context), 422 if form.is_submitted() else 200
    return _save(
        form, "providers/form.html",
        lambda: services.create_provider(_link_account(form), actor=current_actor()),
        success=f"Added {form.name.data}.", target=lambda p: url_for("providers.provider_page", provider_id=p.id), **context,
    )


@bp.route("/providers/<int:provider_id>/edit", methods=["GET", "POST"])
@role_required("manager")
def provider_edit(provider_id: int):
    provider = _provider_or_404(provider_id)
    form = ProviderForm()
    context = {"title": f"Edit {provider.name}", "provider": provider}
    if request.method == "GET":
        form.fill(provider)
        form.account_email.data = provider.user.email if provider.user else ""
        return render_template("providers/form.html", form=form, **context)
    if not form.validate_on_submit():
        return render_template("providers/form.html", form=form, **context), 422
    return _save(
        form, "providers/form.html",
        lambda: services.update_provider(provider, _link_account(form), actor=current_actor(), expected_version=form.version.data),
        success="Saved.", target=lambda _: url_for("providers.provider_page", provider_id=provider.id), **context,
    )


# --- credential forms --------------------------------------------------------------------------
@bp.route("/providers/<int:provider_id>/<kind>/new", methods=["GET", "POST"])
@role_required("manager")
def credential_new(provider_id: int, kind: str):
    provider = _provider_or_404(provider_id)
    if kind not in CREDENTIAL_FORMS:
        abort(404, description=f"Unknown credential kind '{kind}'.")
    form = CREDENTIAL_FORMS[kind]()
    context = {"title": f"Add a {services.KIND_LABELS[kind]} for {provider.name}", "provider": provider}
    if request.method == "GET" and kind == "license":
        form.profession.data = provider.profession_code
    if not form.validate_on_submit():
        return render_template("providers/form.html", form=form, **context), 422 if form.is_submitted() else 200
    return _save(
        form, "providers/form.html",
        lambda: services.add_credential(kind, provider, form.values(), actor=current_actor()),
        success=f"Added the {services.KIND_LABELS[kind]}.", target=_section(provider, kind), **context,
    )


@bp.route("/providers/<int:provider_id>/<kind>/<int:credential_id>/edit", methods=["GET", "POST"])
@role_required("manager")
def credential_edit(provider_id: int, kind: str, credential_id: int):
    provider = _provider_or_404(provider_id)
    credential = _credential_or_404(provider, kind, credential_id)
    form = CREDENTIAL_FORMS[kind]()
    context = {"title": f"Edit {services.KIND_LABELS[kind]} of {provider.name}", "provider": provider}
    if request.method == "GET":
        form.fill(credential)
        return render_template("providers/form.html", form=form, **context)
    if not form.validate_on_submit():
        return render_template("providers/form.html", form=form, **context), 422
    return _save(
        form, "providers/form.html",
        lambda: services.update_credential(credential, form.values(), actor=current_actor(), expected_version=form.version.data),
        success=f"Saved the {services.KIND_LABELS[kind]}.", target=_section(provider, kind), **context,
    )


@bp.route("/providers/<int:provider_id>/<kind>/<int:credential_id>/end", methods=["GET", "POST"])
@role_required("manager")
def credential_end(provider_id: int, kind: str, credential_id: int):
    provider = _provider_or_404(provider_id)
    credential = _credential_or_404(provider, kind, credential_id)
    form = EndForm()
    context = {"title": f"End {services.KIND_LABELS[kind]} of {provider.name}", "provider": provider, "credential": credential}
    if request.method == "GET":
        form.version.data = credential.version_id
        form.ended_on.data = date.today()
        return render_template("providers/form.html", form=form, **context)
    if not form.validate_on_submit():
        return render_template("providers/form.html", form=form, **context), 422
    return _save(
        form, "providers/form.html",
        lambda: services.end_credential(credential, ended_on=form.ended_on.data, reason=form.end_reason.data, actor=current_actor(), expected_version=form.version.data),
        success=f"Ended the {services.KIND_LABELS[kind]}; it stays in the record.", target=_section(provider, kind), **context,
    )


# --- worklist ------------------------------------------------------------------------------------
@bp.route("/worklist")
@role_required("manager", "auditor")
def worklist():
    """Each section shows its first ``WORKLIST_ROWS`` rows and its full count; the CSV has
    every row (a health system's worklist runs to tens of thousands)."""
    limit = current_app.config.get("WORKLIST_ROWS", WORKLIST_ROWS)
    return render_template("providers/worklist.html", work=eligibility.worklist(date.today()), kind_titles=KIND_TITLES, limit=limit)


WORKLIST_ROWS = 200
WORKLIST_COLUMNS = ("section", "provider_id", "npi", "provider", "credential", "where_or_what", "expires_on", "days_left", "missing")


@bp.route("/worklist.csv")
@role_required("manager", "auditor")
def worklist_csv():
    work = eligibility.worklist(date.today())
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow(WORKLIST_COLUMNS)
    sections = [("expired", work.expired), *((f"within-{window}", items) for window, items in work.expiring.items())]
    for section, items in sections:
        for item in items:
            c = item.credential
            where = c.course_title if c.KIND == "training" else f"{c.jurisdiction_code} {c.number}"
            # text a person typed is formula-escaped; ids, dates and day counts are not
            out.writerow([section, item.provider.id, item.provider.npi, escape_cell(item.provider.name), KIND_TITLES[c.KIND], escape_cell(where), c.expires_on.isoformat(), item.days_left, ""])
    for g in work.gaps:
        where = f"{g.license.jurisdiction_code} ({g.license.profession_code})"
        out.writerow(["missing", g.provider.id, g.provider.npi, escape_cell(g.provider.name), KIND_TITLES["license"], where, "", "", "; ".join(gap.message for gap in g.gaps)])
    filename = f"worklist-{work.today.isoformat()}.csv"
    return Response(buffer.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"})


# --- bulk import and export ------------------------------------------------------------------
@bp.route("/providers/import", methods=["GET", "POST"])
@role_required("manager")
def provider_import():
    """Upload a providers or credentials CSV: everything is checked, and nothing is written
    unless every row is good (or at all, in a dry run)."""
    form = ImportForm()
    if not form.validate_on_submit():
        return render_template("providers/import.html", form=form, plan=None), 422 if form.is_submitted() else 200
    stream = io.TextIOWrapper(form.file.data.stream, encoding="utf-8-sig", newline="")
    try:
        plan = csvio.read_csv(stream)
        if plan.ok:
            csvio.apply_import(plan, actor=current_actor())
    except UnicodeDecodeError as exc:
        db.session.rollback()
        form.file.errors = [f"The file is not UTF-8 text ({exc.reason} at byte {exc.start}). Save it as 'CSV UTF-8' and try again."]
        return render_template("providers/import.html", form=form, plan=None), 422
    except csvio.ImportFailed:
        pass
    if not plan.ok:
        db.session.rollback()
        return render_template("providers/import.html", form=form, plan=plan, written=False), 422
    if form.dry_run.data:
        db.session.rollback()
        return render_template("providers/import.html", form=form, plan=plan, written=False)
    db.session.commit()
    return render_template("providers/import.html", form=form, plan=plan, written=True)


@bp.route("/providers/export/<fmt>.csv")
@role_required("manager", "auditor")
def provider_export(fmt: str):
    writers = {"providers": csvio.write_providers_csv, "credentials": csvio.write_credentials_csv}
    if fmt not in writers:
        abort(404, description="Export 'providers' or 'credentials'.")
    buffer = io.StringIO()
    writers[fmt](buffer)
    return Response(buffer.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={fmt}.csv"})
