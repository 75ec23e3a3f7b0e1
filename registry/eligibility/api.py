"""The eligibility JSON API: one decision, a provider's matrix, and batches of questions.

Reads only. The GET endpoints follow the providers API's access rules (a clinician asks only
about the provider linked to their own account; any other NPI answers 404). The batch is for
managers, auditors and billers; it is a POST made with the signed-in session, so it needs the
CSRF token in the ``X-CSRFToken`` header, and it answers every question with a fixed number of
queries (``services.evaluate_batch``).
"""

from __future__ import annotations

from datetime import date

from flask.views import MethodView
from marshmallow import RAISE

from registry.accounts.access import ALL_ROLES, role_required
from registry.api_base import RegistryBlueprint
from registry.eligibility import services
from registry.eligibility.engine import NOT_ELIGIBLE, Decision
from registry.eligibility.schemas import (
    EligibilityBatchInput,
    EligibilityBatchSchema,
    EligibilityDecisionSchema,
    EligibilityMatrixQueryArgs,
    EligibilityMatrixSchema,
    EligibilityQueryArgs,
)
from registry.providers.api import READ_ALL_ROLES, provider_or_404
from registry.providers.models import Provider
from registry.providers.npi import npi_problem

bp = RegistryBlueprint(
    "eligibility_api",
    __name__,
    description=(
        "May a provider dry-needle in a jurisdiction on a date? Each answer is eligible, "
        "not_eligible or needs_review, with the rule version used (citation and sources) and "
        "every reason. Only a permitted rule leads to eligible: an unknown, unclear or silent "
        "rule means needs review. The single decision and the matrix follow the providers "
        "API's access rules (a clinician reads only their own provider; any other NPI is 404). "
        "The batch (managers, auditors, billers) needs the CSRF token in the X-CSRFToken header "
        "when sent with the signed-in session. An API token needs the eligibility:read scope."
    ),
)

#: reasons the engine adds for information, never because something is missing
INFORMATIONAL = frozenset({"no_training_figure", "rule_silent_treated_as_permitted"})


def _blocking(decision: Decision) -> list:
    if decision.outcome != NOT_ELIGIBLE:
        return []
    return [r for r in decision.reasons if r.code not in INFORMATIONAL]


def _record(provider: Provider, decision: Decision) -> dict:
    """One decision in the shape of ``EligibilityDecisionSchema``."""
    return {
        "npi": provider.npi, "provider_name": provider.name,
        "jurisdiction": decision.jurisdiction, "profession": decision.profession,
        "day": decision.day, "outcome": decision.outcome, "eligible_from": decision.eligible_from,
        "rule": decision.rule, "reasons": decision.reasons, "missing": _blocking(decision),
    }


@bp.route("/providers/<string:npi>/eligibility", endpoint="provider_eligibility")
class ProviderEligibility(MethodView):
    @role_required(*ALL_ROLES, scope="eligibility:read")
    @bp.arguments(EligibilityQueryArgs(), location="query", unknown=RAISE)
    @bp.response(200, EligibilityDecisionSchema)
    @bp.errors(401, 404)
    def get(self, args, npi: str):
        """May the provider dry-needle in ``jurisdiction`` on ``date`` (default today)?

        The answer names the rule version in force that day and every reason; ``missing``
        lists what blocks eligibility when the outcome is not_eligible.
        """
        provider = provider_or_404(npi)
        day = args.get("day") or date.today()
        return _record(provider, services.decide_for(provider, args["jurisdiction_code"], day))


@bp.route("/providers/<string:npi>/eligibility/matrix", endpoint="provider_eligibility_matrix")
class ProviderEligibilityMatrix(MethodView):
    @role_required(*ALL_ROLES, scope="eligibility:read")
    @bp.arguments(EligibilityMatrixQueryArgs(), location="query", unknown=RAISE)
    @bp.response(200, EligibilityMatrixSchema)
    @bp.errors(401, 404)
    def get(self, args, npi: str):
        """The provider's decision for each jurisdiction on ``date`` (default today).

        ``scope=licensed`` (the default): where the provider holds a license; ``scope=all``:
        all 52 jurisdictions, sorted by code.
        """
        provider = provider_or_404(npi)
        day = args.get("day") or date.today()
        decisions = services.matrix(provider, day, licensed_only=args["scope"] == "licensed")
        return {"npi": provider.npi, "day": day, "scope": args["scope"], "decisions": [_record(provider, d) for d in decisions]}


@bp.route("/eligibility/batch", endpoint="eligibility_batch")
class EligibilityBatch(MethodView):
    @role_required(*READ_ALL_ROLES, scope="eligibility:read")
    @bp.arguments(EligibilityBatchInput(), unknown=RAISE)
    @bp.response(200, EligibilityBatchSchema)
    @bp.alt_response(400, description="No or a wrong CSRF token")
    @bp.errors(401, 403)
    def post(self, body):
        """Decide up to 10,000 (npi, jurisdiction, date) questions at once.

        For managers, auditors and billers (a clinician asks about themselves through the GET
        endpoints). Results come in the order of the items: a decision (``outcome``,
        ``eligible_from``, ``rule_id``, ``reasons``) or an ``error`` (no provider with that
        NPI, or a wrong check digit). Each rule version used is described once, in ``rules``,
        by its id.
        """
        items = [services.BatchItem(i["npi"], i["jurisdiction_code"], i["day"]) for i in body["items"]]
        problems = {npi: npi_problem(npi) for npi in {i.npi for i in items}}
        results, rules = [], {}
        for result in services.evaluate_batch(items):
            item = result.item
            answer = {"npi": item.npi, "jurisdiction": item.jurisdiction, "day": item.day}
            decision = result.decision
            if decision is None or problems[item.npi]:
                answer["error"] = problems[item.npi] or result.error
            else:
                rule = decision.rule
                if rule is not None and rule.version_id is not None:
                    rules.setdefault(str(rule.version_id), rule)
                answer.update(
                    outcome=decision.outcome, eligible_from=decision.eligible_from,
                    rule_id=rule.version_id if rule is not None else None, reasons=decision.reasons,
                )
            results.append(answer)
        return {"results": results, "rules": rules}
