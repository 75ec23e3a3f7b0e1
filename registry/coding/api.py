"""The coding API: check one visit or a batch, and read the recorded decisions.

Every check is recorded (``coding_check``), whoever runs it. Checks are for managers, billers
and clinicians (a clinician only for their own NPI); the record is for managers, billers and
auditors. POSTs made with the signed-in session need the CSRF token in ``X-CSRFToken``.
"""

from __future__ import annotations

from collections import Counter

from flask import abort as flask_abort
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import abort
from marshmallow import RAISE

from registry.accounts.access import acts_for_organisation, current_actor, role_required
from registry.api_base import RegistryBlueprint
from registry.coding import services
from registry.coding.models import CodingCheck
from registry.coding.schemas import (
    CheckBatchSchema,
    CheckListArgs,
    CheckPageSchema,
    CheckResultSchema,
    RecordedCheckSchema,
    VisitBatchInput,
    VisitInput,
)
from registry.extensions import db
from registry.providers import services as providers
from registry.rules.presenters import split_urls

CHECK_ROLES = ("manager", "biller", "clinician")
BATCH_ROLES = ("manager", "biller")
RECORD_ROLES = ("manager", "biller", "auditor")

bp = RegistryBlueprint(
    "coding_api",
    __name__,
    description=(
        "The coding gate for dry needling (CPT 20560/20561): send a visit, get allow, "
        "allow_with_warnings or block, the code the distinct muscles call for, and every edit "
        "with its severity, message, fix and source. Every check is recorded and can be read "
        "back by its check_id. Checks: managers, billers, and clinicians for their own NPI; "
        "batches (up to 10,000 visits): managers and billers; the record: managers, billers, "
        "auditors. POSTs with the signed-in session need the CSRF token in the X-CSRFToken "
        "header. An API token needs coding:check to check and coding:read to read the record; "
        "it acts for the organisation (any NPI) and is recorded as the actor."
    ),
)


# --- shapes ------------------------------------------------------------------------------------
def _rule(rule_id, status, citation, source_url, start, end) -> dict | None:
    if status is None:
        return None
    return {"id": rule_id, "status": status, "citation": citation, "source_urls": split_urls(source_url), "effective_from": start, "effective_to": end}


def outcome_json(outcome: services.CheckOutcome) -> dict:
    """A fresh check, in the shape of ``CheckResultSchema``."""
    visit, result, decision, rule = outcome.visit, outcome.result, outcome.decision, outcome.rule
    return {
        "check_id": outcome.check_id, "npi": visit.npi, "jurisdiction": visit.jurisdiction, "day": visit.day,
        "outcome": result.outcome, "computed_code": result.computed_code, "distinct_muscles": result.distinct_muscles,
        "eligibility": decision.outcome if decision else None,
        "eligibility_reasons": [{"code": r.code, "message": r.message} for r in decision.reasons] if decision else [],
        "rule": _rule(rule.version_id, rule.status, rule.citation, rule.source_url, rule.effective_from, rule.effective_to) if rule else None,
        "edits": [services.edit_to_json(e) for e in result.edits],
        "billable_lines": [{"code": ln.code.strip().upper(), "units": ln.units, "modifiers": [m.strip().upper() for m in ln.modifiers]} for ln in result.billable_lines],
    }


def recorded_json(check: CodingCheck) -> dict:
    """A recorded check, in the shape of ``RecordedCheckSchema``."""
    return {
        "check_id": check.id, "checked_at": check.checked_at, "actor": check.actor, "channel": check.channel,
        "npi": check.npi, "jurisdiction": check.jurisdiction_code, "day": check.date_of_service,
        "payer_type": check.payer_type, "payer_name": check.payer_name,
        "outcome": check.outcome, "computed_code": check.computed_code, "distinct_muscles": check.distinct_muscles,
        "eligibility": check.eligibility_outcome, "eligibility_reasons": check.eligibility_reasons,
        "rule": _rule(check.rule_version_id, check.rule_status, check.rule_citation, check.rule_source_url, check.rule_effective_from, check.rule_effective_to),
        "edits": check.edits, "billable_lines": services.billable_json(check), "visit": check.visit, "released": bool(check.lines),
    }


def _own_npi_only(npis: set[str]) -> None:
    """A clinician checks only visits they rendered themselves (a token acts for the
    organisation, like a biller)."""
    if acts_for_organisation("manager", "biller"):
        return
    own = providers.provider_for_user(current_user.id)
    if own is None or npis != {own.npi}:
        flask_abort(403, description="A clinician checks only their own visits (the NPI of the provider linked to their account).")


# --- endpoints ---------------------------------------------------------------------------------
@bp.route("/coding/check", endpoint="coding_check")
class CodingCheckOne(MethodView):
    @role_required(*CHECK_ROLES, scope="coding:check")
    @bp.arguments(VisitInput(), unknown=RAISE)
    @bp.response(200, CheckResultSchema)
    @bp.alt_response(400, description="No or a wrong CSRF token")
    @bp.errors(401, 403, 422)
    def post(self, visit):
        """Check one visit, record the decision, and answer with every edit.

        ``outcome`` is block when any edit blocks (not eligible, wrong code for the muscle
        count, no consent, Medicare rules...), allow_with_warnings when only warnings remain,
        allow otherwise. ``billable_lines`` are the lines that may go out.
        """
        _own_npi_only({visit.npi})
        outcome = services.check_visit(visit, actor=current_actor(), channel="api")
        db.session.commit()
        return outcome_json(outcome)


@bp.route("/coding/check/batch", endpoint="coding_check_batch")
class CodingCheckBatch(MethodView):
    @role_required(*BATCH_ROLES, scope="coding:check")
    @bp.arguments(VisitBatchInput(), unknown=RAISE)
    @bp.response(200, CheckBatchSchema)
    @bp.alt_response(400, description="No or a wrong CSRF token")
    @bp.errors(401, 403, 422)
    def post(self, body):
        """Check up to 10,000 visits at once and record every decision.

        A fixed number of queries whatever the number of visits (the eligibility of every
        visit in one batch, then one multi-row insert). Results come in the order of the visits.
        """
        outcomes = services.check_visits(body["visits"], actor=current_actor(), channel="api_batch")
        db.session.commit()
        results = [outcome_json(o) for o in outcomes]
        return {"results": results, "counts": dict(Counter(r["outcome"] for r in results))}


@bp.route("/coding/checks", endpoint="coding_checks")
class CodingChecks(MethodView):
    @role_required(*RECORD_ROLES, scope="coding:read")
    @bp.arguments(CheckListArgs(), location="query", unknown=RAISE)
    @bp.response(200, CheckPageSchema)
    @bp.errors(401, 403, 422)
    def get(self, args):
        """The recorded decisions, newest first, filtered by NPI, jurisdiction, outcome,
        channel, date of service (``from``, ``to``) or edit code (``edit``)."""
        filters = services.CheckFilter(
            npi=args.get("npi", ""), jurisdiction=args.get("jurisdiction_code", ""), outcome=args.get("outcome", ""),
            channel=args.get("channel", ""), start=args.get("start"), end=args.get("end"), edit_code=args.get("edit_code", ""),
        )
        rows, total = services.list_checks(filters, page=args["page"], per_page=args["page_size"])
        return {"items": [recorded_json(c) for c in rows], "page": args["page"], "page_size": args["page_size"], "total": total}


@bp.route("/coding/checks/<int:check_id>", endpoint="coding_check_record")
class CodingCheckRecord(MethodView):
    @role_required(*RECORD_ROLES, scope="coding:read")
    @bp.response(200, RecordedCheckSchema)
    @bp.errors(401, 403, 404)
    def get(self, check_id: int):
        """One recorded decision as it was made: the visit, the edits, and the rule version
        used then (even if the rule has changed since)."""
        check = services.get_check(check_id)
        if check is None:
            abort(404, message=f"No coding check {check_id}.")
        return recorded_json(check)
