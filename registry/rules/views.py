"""Pages: the map and table of every jurisdiction, a jurisdiction's rules and history, and
the manager's edit form."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.orm.exc import StaleDataError

from registry.accounts.access import current_actor, role_required
from registry.alerts.services import queue_rule_change
from registry.app import ROOT
from registry.extensions import db
from registry.rules import services
from registry.rules.forms import RuleVersionForm
from registry.rules.presenters import STATUS_LABELS

bp = Blueprint("rules", __name__)


@lru_cache(maxsize=1)
def us_map() -> dict:
    """The committed map geometry (data/us-map.json); immutable, read once."""
    with open(ROOT / "data" / "us-map.json", encoding="utf-8") as fh:
        return json.load(fh)


def _profession_arg(professions=None) -> str:
    """The ``profession`` argument (PT by default), checked against ``professions`` when the
    caller has them already (no query of its own), else against the database."""
    code = (request.args.get("profession") or "PT").upper()
    known = any(p.code == code for p in professions) if professions is not None else services.get_profession(code) is not None
    if not known:
        abort(404, description=f"Unknown profession '{code}'.")
    return code


def _date_arg(name: str) -> date:
    raw = request.args.get(name)
    if not raw:
        return date.today()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, description=f"'{raw}' is not a date in the form YYYY-MM-DD ({name}).")


@bp.route("/")
def home():
    professions = services.list_professions()
    profession = _profession_arg(professions)
    as_of = _date_arg("as_of")
    rules = {r.jurisdiction_code: r for r in services.rules_in_force(as_of, profession=profession)}
    jurisdictions = services.list_jurisdictions()
    counts = {s: 0 for s in STATUS_LABELS}
    for j in jurisdictions:
        counts[rules[j.code].status if j.code in rules else "unknown"] += 1
    return render_template(
        "rules/home.html",
        profession=profession,
        professions=professions,
        as_of=as_of,
        today=date.today(),
        rules=rules,
        jurisdictions=jurisdictions,
        counts=counts,
        us_map=us_map(),
    )


@bp.route("/jurisdictions/<code>")
def jurisdiction(code: str):
    found = services.get_jurisdiction(code)
    if found is None:
        abort(404, description=f"No jurisdiction with code '{code}'.")
    if code != found.code:
        return redirect(url_for("rules.jurisdiction", code=found.code))
    as_of = _date_arg("as_of")
    # one query for the jurisdiction's versions, not three per profession
    sections = [
        {"profession": pair.profession, "rule": pair.rule, "current": pair.current, "history": pair.history}
        for pair in services.jurisdiction_register(found.code, as_of)
    ]
    return render_template("rules/jurisdiction.html", jurisdiction=found, sections=sections, as_of=as_of, today=date.today())


@bp.route("/jurisdictions/<code>/<profession>/edit", methods=["GET", "POST"])
@role_required("manager")
def edit_rule(code: str, profession: str):
    found = services.get_jurisdiction(code)
    prof = services.get_profession(profession)
    if found is None or prof is None:
        abort(404, description=f"No rule pair {code}/{profession}.")
    current = services.current_rule(found.code, prof.code)
    if current is None:
        abort(404, description=f"No current rule for {found.code}/{prof.code} to edit.")
    form = RuleVersionForm()
    if request.method == "GET":
        form.fill_from(current)
        form.effective_from.data = None  # a new version needs its own start date
        return render_template("rules/edit.html", form=form, jurisdiction=found, profession=prof, current=current)
    if form.validate_on_submit() and "preview" in request.form:
        return render_template("rules/edit.html", form=form, jurisdiction=found, profession=prof, current=current, impact=_impact(found.code, prof.code, current, form.values()))
    if form.validate_on_submit():
        try:
            # who loses eligibility under the new version, worked out against the rule in
            # force before it is saved; each is told through the alert outbox, queued in the
            # same transaction as the new version
            impact = _impact(found.code, prof.code, current, form.values())
            new = services.revise_rule(
                found.code,
                prof.code,
                form.values(),
                reason=form.reason.data,
                actor=current_actor(),
                expected_id=form.current_id.data,
                expected_version=form.current_version.data,
            )
            told = queue_rule_change(new, impact)
            db.session.commit()
        except services.StaleRuleError as exc:
            db.session.rollback()
            return _refuse_stale(form, found, prof, exc.message)
        except StaleDataError:
            db.session.rollback()
            return _refuse_stale(form, found, prof, "Someone else saved a change to this rule at the same moment. Your edit was not saved; review the current version and edit again.")
        except services.RuleError as exc:
            db.session.rollback()
            target = getattr(form, exc.field, None) if exc.field else None
            if target is not None:
                target.errors = list(target.errors) + [exc.message]
            else:
                form.form_errors.append(exc.message)
            return render_template("rules/edit.html", form=form, jurisdiction=found, profession=prof, current=current), 422
        flash(f"Saved a new version of the {found.name} {prof.code} rule (from {new.effective_from or 'an unknown date'})."
              + (f" {told} provider(s) who lose eligibility under it will be told by email." if told else ""), "success")
        return redirect(url_for("rules.jurisdiction", code=found.code) + f"#{prof.code}-history")
    if form.current_id.errors or form.current_version.errors:
        form.form_errors.append("The form lost track of which version you started from. Reload the page and edit again.")
    return render_template("rules/edit.html", form=form, jurisdiction=found, profession=prof, current=current), 422


def _impact(jurisdiction: str, profession: str, current, values: dict):
    """Who gains or loses eligibility if the proposed version replaced the current one, on the
    day it would take effect (today for a correction without a date). Writes nothing."""
    from registry.eligibility.engine import RuleFacts
    from registry.eligibility.services import rule_change_impact

    start = values.get("effective_from") or current.effective_from
    proposed = RuleFacts(
        jurisdiction=jurisdiction, profession=profession, status=values["status"],
        min_training_hours=values.get("min_training_hours"), min_practical_hours=values.get("min_practical_hours"),
        supervised_sessions=values.get("supervised_sessions"), years_licensed=values.get("years_licensed"),
        board_registration_required=values.get("board_registration_required"),
        completion_window_months=values.get("completion_window_months"), citation=values.get("citation", ""),
        source_url=values.get("source_url", ""), effective_from=start,
    )
    day = values.get("effective_from") or date.today()
    return rule_change_impact(jurisdiction, profession, proposed, day)


def _refuse_stale(form, jurisdiction, profession, message: str):
    current = services.current_rule(jurisdiction.code, profession.code)
    form.form_errors.append(message)
    return render_template("rules/edit.html", form=form, jurisdiction=jurisdiction, profession=profession, current=current, stale=True), 409


@bp.route("/rules/export.csv")
def export_csv():
    body = services.export_text()
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=state_rules.csv"})
