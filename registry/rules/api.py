"""The rules JSON API: ``/api/v1/jurisdictions`` and ``/api/v1/rules``."""

from __future__ import annotations

from datetime import date

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE

from registry.accounts.access import public
from registry.api_base import RegistryBlueprint
from registry.rules import services
from registry.rules.schemas import JurisdictionSchema, RulesQueryArgs, RuleVersionSchema

bp = RegistryBlueprint(
    "rules_api", __name__,
    description="State dry-needling rules, effective-dated. Open to everyone; an API token needs the rules:read scope.",
)


@bp.route("/jurisdictions")
class Jurisdictions(MethodView):
    @public(scope="rules:read")
    @bp.response(200, JurisdictionSchema(many=True))
    def get(self):
        """The 50 states, the District of Columbia and Puerto Rico."""
        return services.list_jurisdictions()


@bp.route("/rules")
class Rules(MethodView):
    @public(scope="rules:read")
    @bp.arguments(RulesQueryArgs(), location="query", unknown=RAISE)
    @bp.response(200, RuleVersionSchema(many=True))
    def get(self, args):
        """The rule version in force on ``as_of`` (default today) for each pair, filtered."""
        return services.rules_in_force(
            args.get("as_of") or date.today(),
            jurisdiction=args.get("jurisdiction"),
            profession=args.get("profession"),
        )


@bp.route("/rules/<string:jurisdiction>/<string:profession>/history")
class RuleHistory(MethodView):
    @public(scope="rules:read")
    @bp.response(200, RuleVersionSchema(many=True))
    @bp.alt_response(404, description="Unknown jurisdiction or profession")
    def get(self, jurisdiction: str, profession: str):
        """Every version recorded for the pair, oldest first, corrections included."""
        j = services.get_jurisdiction(jurisdiction)
        if j is None:
            abort(404, message=f"Unknown jurisdiction '{jurisdiction}'.", errors={"jurisdiction": ["Must be a jurisdiction code such as WA, DC or PR."]})
        p = services.get_profession(profession)
        if p is None:
            abort(404, message=f"Unknown profession '{profession}'.", errors={"profession": ["Must be one of: DC, PT."]})
        return services.history(j.code, p.code)
