"""JSON contract of the providers API (marshmallow).

Input schemas (``*Input``, ``*Args``) refuse unknown fields and anything the database could
not store (NUL characters, lone surrogates, over-long text, numbers beyond the column); the
domain rules themselves (NPI check digit, dates in order, duplicates...) stay in the services.
Loaded dicts use the services' keys (``profession_code``, ``jurisdiction_code``); the JSON
keys are the short API names (``profession``, ``jurisdiction``).
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, missing, validate

from registry.providers.models import CREDENTIAL_STATUSES
from registry.providers.services import is_held_on, training_totals
from registry.rules.reference import JURISDICTION_CODES, PROFESSION_CODES

#: PostgreSQL ``integer`` columns (ids, versions, session counts)
MAX_INT = 2**31 - 1
#: ``Numeric(7, 1)``
MAX_HOURS = Decimal("999999.9")
TENTH = Decimal("0.1")


# --- fields --------------------------------------------------------------------------------
class Text(fields.String):
    """A string the database can store: no NUL character and valid Unicode."""

    default_error_messages = {
        "nul": "Must not contain NUL (\\u0000) characters.",
        "unicode": "Must be valid Unicode text.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in value:
            raise self.make_error("nul")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise self.make_error("unicode") from error
        return value


class UpperCode(Text):
    """A code accepted in any case, loaded upper-cased."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip().upper()


class LowerCode(Text):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip().lower()


def _hours(value: Decimal) -> None:
    if value < 0 or value > MAX_HOURS:
        raise ValidationError(f"Must be between 0 and {MAX_HOURS}.")
    if value != value.quantize(TENTH):
        raise ValidationError("At most one decimal place.")


# Field factories, read like field classes.
def Jurisdiction(description: str = "USPS code (any case), e.g. WA, DC, PR", **kwargs):  # noqa: N802
    return UpperCode(
        validate=validate.OneOf(sorted(JURISDICTION_CODES), error="Must be a jurisdiction code such as WA, DC or PR."),
        attribute="jurisdiction_code",
        metadata={"description": description},
        **kwargs,
    )


def Profession(description: str = "PT or DC (any case)", **kwargs):  # noqa: N802
    return UpperCode(
        validate=validate.OneOf(sorted(PROFESSION_CODES), error="Must be one of: DC, PT."),
        attribute="profession_code",
        metadata={"description": description},
        **kwargs,
    )


def Status(**kwargs):  # noqa: N802
    return LowerCode(
        validate=validate.OneOf(CREDENTIAL_STATUSES, error=f"Must be one of: {', '.join(CREDENTIAL_STATUSES)}."),
        metadata={"description": f"{', '.join(CREDENTIAL_STATUSES)} (default active)"},
        **kwargs,
    )


class Flag(fields.Boolean):
    """JSON ``true`` or ``false`` only: marshmallow's Boolean also takes 0, 1, "yes" and
    "on", which the OpenAPI document (``type: boolean``) does not allow."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def Hours(description: str = f"0 to {MAX_HOURS}, at most one decimal place", **kwargs):  # noqa: N802
    return fields.Decimal(allow_nan=False, validate=_hours, metadata={"description": description}, **kwargs)


def Version():  # noqa: N802
    return fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_INT),
        metadata={"description": "the `version` you read; a different current version is a 409"},
    )


def _patch_of(base: type[Schema], name: str, doc: str) -> type[Schema]:
    """The same fields as ``base``, none required, plus the required ``version``."""
    declared = {}
    for key, field in base._declared_fields.items():
        field = copy.deepcopy(field)
        field.required = False
        field.load_default = missing
        declared[key] = field
    declared["version"] = Version()
    return type(name, (Schema,), {**declared, "__doc__": doc, "__module__": __name__})


# --- input ---------------------------------------------------------------------------------
class ProvidersQueryArgs(Schema):
    q = Text(validate=validate.Length(max=200), metadata={"description": "Part of the name, or the start of the NPI."})
    jurisdiction = Jurisdiction("Holds a license in this jurisdiction (USPS code, any case).")
    profession = Profession()
    page = fields.Integer(validate=validate.Range(min=1, max=100_000), metadata={"description": "default 1"})
    page_size = fields.Integer(validate=validate.Range(min=1, max=200), metadata={"description": "1 to 200, default 25"})


class ProviderInput(Schema):
    """A new provider."""

    name = Text(required=True, validate=validate.Length(min=1, max=200))
    npi = Text(required=True, metadata={"description": "10 digits with a valid check digit"})
    profession = Profession(required=True)
    email = Text(validate=validate.Length(max=254))
    is_active = Flag(metadata={"description": "default true"})
    user_email = Text(allow_none=True, validate=validate.Length(max=254), metadata={"description": "the email of the clinician's own account, to link it; null unlinks"})


ProviderPatchInput = _patch_of(ProviderInput, "ProviderPatchInput", "Fields to change, and the version read.")


class LicenseInput(Schema):
    """A new license (or PT Compact privilege)."""

    jurisdiction = Jurisdiction(required=True)
    profession = Profession("PT or DC (any case); default: the provider's profession")
    number = Text(required=True, validate=validate.Length(min=1, max=64))
    issued_on = fields.Date(allow_none=True)
    expires_on = fields.Date(allow_none=True)
    status = Status()
    is_compact_privilege = Flag()


LicensePatchInput = _patch_of(LicenseInput, "LicensePatchInput", "License fields to change, and the version read.")


class TrainingInput(Schema):
    """A new dry-needling training record."""

    course_title = Text(required=True, validate=validate.Length(min=1, max=300))
    sponsor = Text(validate=validate.Length(max=200))
    approving_body = Text(validate=validate.Length(max=200), metadata={"description": "e.g. APTA, FSBPT, a state chapter"})
    completed_on = fields.Date(required=True, metadata={"description": "not in the future"})
    total_hours = Hours(required=True)
    practical_hours = Hours("in-person hours, part of the total (so at most the total), one decimal place; default 0")
    supervised_sessions = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_INT))
    expires_on = fields.Date(allow_none=True)


TrainingPatchInput = _patch_of(TrainingInput, "TrainingPatchInput", "Training fields to change, and the version read.")


class RegistrationInput(Schema):
    """A new board registration."""

    jurisdiction = Jurisdiction(required=True)
    number = Text(required=True, validate=validate.Length(min=1, max=64))
    issued_on = fields.Date(allow_none=True)
    expires_on = fields.Date(allow_none=True)
    status = Status()


RegistrationPatchInput = _patch_of(RegistrationInput, "RegistrationPatchInput", "Registration fields to change, and the version read.")


class EndCredentialInput(Schema):
    """Record that a credential stopped being held (the row is kept)."""

    ended_on = fields.Date(required=True, metadata={"description": "the first day it is no longer held"})
    reason = Text(required=True, attribute="end_reason", validate=validate.Length(min=1, max=2000))
    version = Version()


# --- output --------------------------------------------------------------------------------
class Computed(fields.Nested):
    """A nested value computed from the object (documented with the nested schema)."""

    def __init__(self, nested, compute, **kwargs):
        super().__init__(nested, **kwargs)
        self.compute = compute

    def get_value(self, obj, attr, accessor=None, default=missing):
        return self.compute(obj)


class CredentialSchema(Schema):
    id = fields.Integer()
    ended_on = fields.Date(allow_none=True, metadata={"description": "set when the credential was ended; null otherwise"})
    end_reason = fields.String()
    held_today = fields.Function(lambda c: is_held_on(c, date.today()), metadata={"description": "active, begun, not expired and not ended today"})
    version = fields.Integer(attribute="version_id")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class IssuedCredentialSchema(CredentialSchema):
    """What a license and a board registration share."""

    jurisdiction = fields.String(attribute="jurisdiction_code")
    number = fields.String()
    issued_on = fields.Date(allow_none=True)
    expires_on = fields.Date(allow_none=True)
    status = fields.String()


class LicenseSchema(IssuedCredentialSchema):
    profession = fields.String(attribute="profession_code")
    is_compact_privilege = fields.Boolean()


class TrainingSchema(CredentialSchema):
    course_title = fields.String()
    sponsor = fields.String()
    approving_body = fields.String()
    completed_on = fields.Date()
    total_hours = fields.Float()
    practical_hours = fields.Float()
    supervised_sessions = fields.Integer()
    expires_on = fields.Date(allow_none=True)


class RegistrationSchema(IssuedCredentialSchema):
    pass


class TrainingTotalsSchema(Schema):
    as_of = fields.Date()
    total_hours = fields.Float()
    practical_hours = fields.Float()
    supervised_sessions = fields.Integer()


def _totals_today(provider) -> dict:
    today = date.today()
    totals = training_totals(provider.trainings, today)
    return {"as_of": today, "total_hours": totals.total_hours, "practical_hours": totals.practical_hours, "supervised_sessions": totals.supervised_sessions}


class ProviderSummarySchema(Schema):
    npi = fields.String()
    name = fields.String()
    profession = fields.String(attribute="profession_code")
    email = fields.String()
    is_active = fields.Boolean()
    user_email = fields.Function(lambda p: p.user.email if p.user else None, metadata={"description": "the linked account, or null"})
    version = fields.Integer(attribute="version_id", metadata={"description": "send it back with a PATCH"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ProviderSchema(ProviderSummarySchema):
    licenses = fields.List(fields.Nested(LicenseSchema))
    trainings = fields.List(fields.Nested(TrainingSchema))
    registrations = fields.List(fields.Nested(RegistrationSchema))
    training_totals = Computed(TrainingTotalsSchema, _totals_today, metadata={"description": "hours and sessions of the trainings held today"})


class ProviderPageSchema(Schema):
    items = fields.List(fields.Nested(ProviderSummarySchema))
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()


class HistoryEventSchema(Schema):
    occurred_at = fields.DateTime()
    actor = fields.String(metadata={"description": "the user's email, or e.g. cli:<command>"})
    action = fields.String(metadata={"description": "e.g. provider.update, license.add, training.end"})
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    reason = fields.String()
