"""JSON contract of the rules API (marshmallow)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from registry.rules.models import AuthorityType, Confidence, Status
from registry.rules.presenters import split_urls
from registry.rules.reference import JURISDICTION_CODES, PROFESSION_CODES


class JurisdictionSchema(Schema):
    code = fields.String(metadata={"description": "USPS code, e.g. WA, DC, PR"})
    name = fields.String()
    kind = fields.String(metadata={"description": "state, district or territory"})


def _upper(value):
    return value.upper() if isinstance(value, str) else value


class UpperString(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return _upper(super()._deserialize(value, attr, data, **kwargs))


class RulesQueryArgs(Schema):
    jurisdiction = UpperString(validate=validate.OneOf(sorted(JURISDICTION_CODES), error="Must be a jurisdiction code such as WA, DC or PR."), metadata={"description": "Filter by jurisdiction (USPS code)."})
    profession = UpperString(validate=validate.OneOf(sorted(PROFESSION_CODES), error="Must be one of: DC, PT."), metadata={"description": "Filter by profession."})
    as_of = fields.Date(metadata={"description": "The date the rules must be in force on (YYYY-MM-DD); default today."})


class RuleVersionSchema(Schema):
    id = fields.Integer()
    jurisdiction = fields.String(attribute="jurisdiction_code")
    profession = fields.String(attribute="profession_code")
    status = fields.String(validate=validate.OneOf([s.value for s in Status]))
    status_detail = fields.String()
    min_training_hours = fields.Float(allow_none=True, metadata={"description": "null: the sources give no figure"})
    min_practical_hours = fields.Float(allow_none=True)
    supervised_sessions = fields.Integer(allow_none=True)
    years_licensed = fields.Float(allow_none=True)
    completion_window_months = fields.Integer(allow_none=True)
    approved_course_bodies = fields.Method("_bodies", metadata={"description": "list of course bodies"})
    board_registration_required = fields.Boolean(allow_none=True, metadata={"description": "null: unknown"})
    written_consent_required = fields.Boolean(allow_none=True)
    referral_required = fields.Boolean(allow_none=True)
    delegation_allowed = fields.Boolean(allow_none=True)
    authority_type = fields.String(validate=validate.OneOf([a.value for a in AuthorityType]))
    citation = fields.String()
    source_urls = fields.Method("_urls")
    source_date = fields.String(metadata={"description": "YYYY, YYYY-MM or YYYY-MM-DD; empty if undated"})
    effective_from = fields.Date(allow_none=True, metadata={"description": "null: start date not known"})
    effective_to = fields.Date(allow_none=True, metadata={"description": "exclusive end; null while in force"})
    last_verified_on = fields.Date(allow_none=True)
    confidence = fields.String(validate=validate.OneOf([c.value for c in Confidence]))
    notes = fields.String()
    change_reason = fields.String()
    recorded_at = fields.DateTime()
    recorded_by = fields.Function(lambda v: v.recorded_by.email if v.recorded_by else None, metadata={"description": "email of the manager, or null for an import"})
    superseded_at = fields.DateTime(allow_none=True, metadata={"description": "set when a correction replaced this version"})
    superseded_by = fields.Integer(attribute="superseded_by_id", allow_none=True)

    def _bodies(self, version) -> list[str]:
        return [b.strip() for b in version.approved_course_bodies.split(";") if b.strip()]

    def _urls(self, version) -> list[str]:
        return split_urls(version.source_url)
