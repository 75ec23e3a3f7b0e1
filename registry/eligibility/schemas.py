"""JSON contract of the eligibility API (marshmallow).

Input schemas refuse unknown fields, NUL characters, impossible dates (2024-02-30) and
oversized batches; the length of a batch is checked before any item is read, so a huge array
costs no more than its parsing. Output schemas document the answers in the OpenAPI document.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from registry.eligibility.engine import ELIGIBLE, NEEDS_REVIEW, NOT_ELIGIBLE
from registry.eligibility.services import MAX_BATCH
from registry.providers.schemas import Jurisdiction, Text
from registry.rules.presenters import split_urls

OUTCOMES = (ELIGIBLE, NOT_ELIGIBLE, NEEDS_REVIEW)
SCOPES = ("licensed", "all")


def Day(description: str = "YYYY-MM-DD; default today", **kwargs):  # noqa: N802
    """The ``date`` of a question (loaded as ``day``)."""
    return fields.Date(data_key="date", metadata={"description": description}, **kwargs)


class BoundedList(fields.List):
    """A list whose validators (its length) run before its items are deserialized, so a
    10-million-item array is refused at once rather than after reading every item."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            self._validate(value)
        return super()._deserialize(value, attr, data, **kwargs)


# --- input ---------------------------------------------------------------------------------
class EligibilityQueryArgs(Schema):
    class Meta:
        unknown = RAISE

    jurisdiction = Jurisdiction(required=True)
    day = Day()


class EligibilityMatrixQueryArgs(Schema):
    class Meta:
        unknown = RAISE

    day = Day()
    scope = Text(
        load_default="licensed",
        validate=validate.OneOf(SCOPES, error="Must be one of: licensed, all."),
        metadata={"description": "licensed (default): the jurisdictions where the provider holds a license; all: the 52 jurisdictions"},
    )


class EligibilityBatchItemInput(Schema):
    """One question: may this NPI dry-needle in this jurisdiction on this date?"""

    class Meta:
        unknown = RAISE

    npi = Text(
        required=True,
        validate=validate.Regexp(r"^[0-9]{10}\Z", error="Must be an NPI: exactly 10 digits."),
        metadata={"description": "10 digits; an unknown NPI or a wrong check digit gives an `error` result, not a 422"},
    )
    jurisdiction = Jurisdiction(required=True)
    day = Day("YYYY-MM-DD", required=True)


class EligibilityBatchInput(Schema):
    class Meta:
        unknown = RAISE

    items = BoundedList(
        fields.Nested(EligibilityBatchItemInput),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH, error=f"Send 1 to {MAX_BATCH:,} items per batch."),
        metadata={"description": f"1 to {MAX_BATCH:,} questions, answered in the same order"},
    )


# --- output --------------------------------------------------------------------------------
def _rule_urls(rule) -> list[str]:
    return split_urls(rule.source_url)


class EligibilityReasonSchema(Schema):
    code = fields.String(metadata={"description": "stable code, e.g. training_hours_short, state_prohibits"})
    message = fields.String()
    have = fields.String(allow_none=True, metadata={"description": "what the provider has, where a figure applies"})
    need = fields.String(allow_none=True, metadata={"description": "what the rule requires, where a figure applies"})
    met_from = fields.Date(allow_none=True, metadata={"description": "where time alone fixes it, the first day it is met"})


class EligibilityRuleSchema(Schema):
    """The rule version the decision was made under."""

    id = fields.Integer(attribute="version_id", allow_none=True)
    jurisdiction = fields.String()
    profession = fields.String()
    status = fields.String()
    min_training_hours = fields.Float(allow_none=True, metadata={"description": "null: the sources give no figure"})
    min_practical_hours = fields.Float(allow_none=True)
    supervised_sessions = fields.Integer(allow_none=True)
    years_licensed = fields.Float(allow_none=True)
    completion_window_months = fields.Integer(allow_none=True)
    board_registration_required = fields.Boolean(allow_none=True, metadata={"description": "null: unknown"})
    citation = fields.String()
    source_urls = fields.Function(_rule_urls, metadata={"description": "list of source URLs"})
    effective_from = fields.Date(allow_none=True, metadata={"description": "null: start date not known"})
    effective_to = fields.Date(allow_none=True, metadata={"description": "exclusive end; null while in force"})


class EligibilityDecisionSchema(Schema):
    npi = fields.String()
    provider_name = fields.String()
    jurisdiction = fields.String()
    profession = fields.String()
    day = fields.Date(data_key="date")
    outcome = fields.String(validate=validate.OneOf(OUTCOMES), metadata={"description": "eligible, not_eligible or needs_review"})
    eligible_from = fields.Date(allow_none=True, metadata={"description": "when time alone makes the provider eligible, the first such day"})
    rule = fields.Nested(EligibilityRuleSchema, allow_none=True, metadata={"description": "null: no rule on record for that date"})
    reasons = fields.List(fields.Nested(EligibilityReasonSchema), metadata={"description": "every reason, in a stable order; informational when eligible"})
    missing = fields.List(fields.Nested(EligibilityReasonSchema), metadata={"description": "what blocks eligibility (empty unless not_eligible)"})


class EligibilityMatrixSchema(Schema):
    npi = fields.String()
    day = fields.Date(data_key="date")
    scope = fields.String(validate=validate.OneOf(SCOPES))
    decisions = fields.List(fields.Nested(EligibilityDecisionSchema), metadata={"description": "one per jurisdiction, by code"})


class EligibilityBatchReasonSchema(Schema):
    code = fields.String()
    message = fields.String()


class EligibilityBatchResultSchema(Schema):
    """Either a decision (outcome, eligible_from, rule_id, reasons) or an ``error``."""

    npi = fields.String()
    jurisdiction = fields.String()
    day = fields.Date(data_key="date")
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    eligible_from = fields.Date(allow_none=True)
    rule_id = fields.Integer(allow_none=True, metadata={"description": "a key of `rules`; null: no rule on record for that date"})
    reasons = fields.List(fields.Nested(EligibilityBatchReasonSchema))
    error = fields.String(metadata={"description": "set instead of a decision, e.g. no provider with that NPI"})


class EligibilityBatchRuleSchema(Schema):
    status = fields.String()
    citation = fields.String()
    source_urls = fields.Function(_rule_urls)
    effective_from = fields.Date(allow_none=True)
    effective_to = fields.Date(allow_none=True)


class EligibilityBatchSchema(Schema):
    results = fields.List(fields.Nested(EligibilityBatchResultSchema), metadata={"description": "in the order of the items"})
    rules = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(EligibilityBatchRuleSchema),
        metadata={"description": "every rule version a result names, by `rule_id`, once"},
    )
