"""JSON contract of the coding API (marshmallow).

Input refuses unknown fields, NUL characters, impossible dates, malformed codes and oversized
batches (the length is checked before any visit is read), each as a 422 naming the field.
Output documents the gate's answer in the OpenAPI document.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, post_load, validate

from registry.coding import gate
from registry.coding.models import CHANNELS, OUTCOMES
from registry.coding.services import MAX_VISITS
from registry.eligibility.schemas import BoundedList, Day
from registry.providers.schemas import Flag, Jurisdiction, LowerCode, Text, UpperCode

#: a CPT code (5 digits, or 4 digits and a letter for Category II/III) or a HCPCS Level II code
CODE = r"^(?:[0-9]{4}[0-9A-Z]|[A-Z][0-9]{4})\Z"
MAX_MUSCLES, MAX_LINES, MAX_DIAGNOSES, MAX_MODIFIERS = 60, 20, 12, 4


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class MuscleInput(_Strict):
    name = Text(required=True, validate=validate.Length(min=1, max=100), metadata={"description": "e.g. upper trapezius"})
    side = LowerCode(required=True, validate=validate.OneOf(gate.SIDES, error=f"Must be one of: {', '.join(gate.SIDES)}."), metadata={"description": "left, right, bilateral (counts as two) or midline"})

    @post_load
    def make(self, data, **_kwargs):
        return gate.Muscle(data["name"].strip(), data["side"])


class LineInput(_Strict):
    code = UpperCode(required=True, validate=validate.Regexp(CODE, error="Must be a CPT or HCPCS code such as 20561."), metadata={"description": "e.g. 20560, 20561, 97140"})
    units = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=99, error="Must be 1 to 99."))
    modifiers = fields.List(UpperCode(validate=validate.Regexp(r"^[0-9A-Z]{2}\Z", error="Must be a two-character modifier such as GX or 25.")), load_default=list, validate=validate.Length(max=MAX_MODIFIERS))
    muscles = fields.List(fields.Nested(MuscleInput), load_default=list, validate=validate.Length(max=MAX_MUSCLES), metadata={"description": "on a 20552/20553 line: the muscles injected"})

    @post_load
    def make(self, data, **_kwargs):
        return gate.Line(data["code"], data["units"], tuple(data["modifiers"]), tuple(data["muscles"]))


class VisitInput(_Strict):
    """One dry-needling visit: who, where the patient was, when, the payer, what was needled,
    the claim lines proposed, and what is on file."""

    npi = Text(required=True, validate=validate.Regexp(r"^[0-9]{10}\Z", error="Must be an NPI: exactly 10 digits."), metadata={"description": "the rendering provider"})
    jurisdiction = Jurisdiction("where the patient was treated (USPS code)", required=True)
    day = Day("date of service, YYYY-MM-DD", required=True)
    payer_type = LowerCode(required=True, validate=validate.OneOf(gate.PAYER_TYPES, error=f"Must be one of: {', '.join(gate.PAYER_TYPES)}."))
    payer_name = Text(load_default="", validate=validate.Length(max=200), metadata={"description": "e.g. Aetna; matched against the payer policy table"})
    muscles = fields.List(fields.Nested(MuscleInput), required=True, validate=validate.Length(max=MAX_MUSCLES), metadata={"description": "the muscles dry-needled, by name and side"})
    lines = fields.List(fields.Nested(LineInput), required=True, validate=validate.Length(min=1, max=MAX_LINES, error=f"Send 1 to {MAX_LINES} claim lines."))
    diagnoses = fields.List(Text(validate=validate.Length(min=1, max=10)), load_default=list, validate=validate.Length(max=MAX_DIAGNOSES), metadata={"description": "ICD-10-CM codes, e.g. M79.18"})
    consent_on_file = Flag(load_default=False, metadata={"description": "written consent to dry needling (mandatory)"})
    plan_of_care_on_file = Flag(load_default=False)
    reassessment_done = Flag(load_default=False)
    abn_on_file = Flag(load_default=False, metadata={"description": "Medicare Advance Beneficiary Notice signed"})
    referral_on_file = Flag(load_default=False)

    @post_load
    def make(self, data, **_kwargs):
        return gate.Visit(
            npi=data["npi"], jurisdiction=data["jurisdiction_code"], day=data["day"], payer_type=data["payer_type"],
            payer_name=data["payer_name"].strip(), muscles=tuple(data["muscles"]), lines=tuple(data["lines"]),
            diagnoses=tuple(d.strip() for d in data["diagnoses"]), consent_on_file=data["consent_on_file"],
            plan_of_care_on_file=data["plan_of_care_on_file"], reassessment_done=data["reassessment_done"],
            abn_on_file=data["abn_on_file"], referral_on_file=data["referral_on_file"],
        )


class VisitBatchInput(_Strict):
    visits = BoundedList(
        fields.Nested(VisitInput), required=True,
        validate=validate.Length(min=1, max=MAX_VISITS, error=f"Send 1 to {MAX_VISITS:,} visits per batch."),
        metadata={"description": f"1 to {MAX_VISITS:,} visits, answered in the same order"},
    )


class CheckListArgs(_Strict):
    npi = Text(validate=validate.Regexp(r"^[0-9]{10}\Z", error="Must be an NPI: exactly 10 digits."))
    jurisdiction = Jurisdiction()
    outcome = LowerCode(validate=validate.OneOf(OUTCOMES, error=f"Must be one of: {', '.join(OUTCOMES)}."))
    channel = LowerCode(validate=validate.OneOf(CHANNELS, error=f"Must be one of: {', '.join(CHANNELS)}."))
    start = fields.Date(data_key="from", metadata={"description": "date of service from (YYYY-MM-DD)"})
    end = fields.Date(data_key="to", metadata={"description": "date of service to (YYYY-MM-DD)"})
    edit_code = LowerCode(data_key="edit", validate=validate.Regexp(r"^[a-z0-9_]{1,64}\Z", error="Must be an edit code such as no_consent."))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


# --- output ---------------------------------------------------------------------------------
class EditSchema(Schema):
    code = fields.String(metadata={"description": "stable code, e.g. muscle_count_mismatch, no_consent, medicare_pt_no_abn"})
    severity = fields.String(validate=validate.OneOf((gate.BLOCK, gate.WARN, gate.INFO)), metadata={"description": "block, warn or info"})
    message = fields.String()
    fix = fields.String(metadata={"description": "what would fix it"})
    source = fields.String(metadata={"description": "the citation behind the edit"})
    source_urls = fields.List(fields.String())
    line_code = fields.String(allow_none=True, metadata={"description": "the claim line it concerns"})
    rule_id = fields.String(metadata={"description": "the table row behind it (e.g. G-20, CPB 0135), if any"})
    reason_code = fields.String(metadata={"description": "for eligibility edits, the engine's reason code"})


class LineSchema(Schema):
    code = fields.String()
    units = fields.Integer()
    modifiers = fields.List(fields.String())


class RuleUsedSchema(Schema):
    id = fields.Integer(allow_none=True)
    status = fields.String(allow_none=True)
    citation = fields.String()
    source_urls = fields.List(fields.String())
    effective_from = fields.Date(allow_none=True)
    effective_to = fields.Date(allow_none=True)


class ReasonSchema(Schema):
    code = fields.String()
    message = fields.String()


class CheckResultSchema(Schema):
    check_id = fields.Integer(metadata={"description": "the recorded decision: GET /api/v1/coding/checks/{check_id}"})
    npi = fields.String()
    jurisdiction = fields.String()
    day = fields.Date(data_key="date")
    outcome = fields.String(validate=validate.OneOf(OUTCOMES), metadata={"description": "allow, allow_with_warnings or block"})
    computed_code = fields.String(allow_none=True, metadata={"description": "the code the distinct muscles call for: 20560 (1-2) or 20561 (3+); null with no muscle"})
    distinct_muscles = fields.Integer()
    eligibility = fields.String(allow_none=True, data_key="eligibility_outcome", metadata={"description": "eligible, not_eligible or needs_review; null for an unknown NPI"})
    eligibility_reasons = fields.List(fields.Nested(ReasonSchema))
    rule = fields.Nested(RuleUsedSchema, allow_none=True, metadata={"description": "the rule version the eligibility decision used"})
    edits = fields.List(fields.Nested(EditSchema), metadata={"description": "blocks first, then warnings, then information"})
    billable_lines = fields.List(fields.Nested(LineSchema), metadata={"description": "the lines that may go out; empty when blocked"})


class CheckBatchSchema(Schema):
    results = fields.List(fields.Nested(CheckResultSchema), metadata={"description": "in the order of the visits"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "visits per outcome"})


class RecordedCheckSchema(CheckResultSchema):
    checked_at = fields.DateTime()
    actor = fields.String(metadata={"description": "who ran the check"})
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    payer_type = fields.String()
    payer_name = fields.String()
    visit = fields.Dict(metadata={"description": "the visit as checked"})
    released = fields.Boolean(metadata={"description": "whether its lines were released as billable lines"})


class CheckPageSchema(Schema):
    items = fields.List(fields.Nested(RecordedCheckSchema))
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer()
