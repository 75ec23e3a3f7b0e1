"""Pages: "Can I dry-needle here?" for clinicians (and for anyone checking a provider)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from registry.accounts.access import ALL_ROLES, role_required
from registry.eligibility import services
from registry.eligibility.forms import QuestionForm
from registry.providers import services as providers
from registry.rules.presenters import split_urls

bp = Blueprint("eligibility", __name__)

OUTCOME_WORDS = {
    "eligible": "Yes",
    "not_eligible": "No",
    "needs_review": "Not without a review",
}


@bp.route("/eligibility")
@role_required(*ALL_ROLES)
def question():
    form = QuestionForm(request.args)
    asked = bool(request.args)
    provider = None
    decision = None
    status = 200
    if current_user.has_role("clinician"):
        del form.npi
        provider = providers.provider_for_user(current_user.id)
        if provider is None:
            return render_template("providers/no_record.html"), 404
    if asked and form.validate():
        if provider is None:
            npi = (form.npi.data or "").strip()
            if not npi:
                form.npi.errors = ["Give the NPI of the provider to check."]
            else:
                provider = providers.get_by_npi(npi)
                if provider is None:
                    form.npi.errors = [f"No provider with NPI {npi} in the registry."]
        if provider is not None and not form.errors:
            decision = services.decide_for(provider, form.jurisdiction.data, form.date.data)
    if asked and form.errors:
        status = 400
    return render_template("eligibility/question.html", form=form, provider=provider, decision=decision, words=OUTCOME_WORDS, split_urls=split_urls), status
