"""The rules CSV format: columns, cell <-> value conversion, and per-row validation.

One row is one rule version. The same cell form is used for import, export and the
before/after snapshots in the audit trail, so all three read alike.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from registry.csvkit import CountCell, DateCell, HoursCell, plain_cell
from registry.rules.models import AuthorityType, Confidence, Status

#: the columns of data/state_rules.csv, in order
COLUMNS: tuple[str, ...] = (
    "jurisdiction",
    "profession",
    "status",
    "status_detail",
    "min_training_hours",
    "min_practical_hours",
    "supervised_sessions",
    "years_licensed",
    "completion_window_months",
    "approved_course_bodies",
    "board_registration_required",
    "written_consent_required",
    "referral_required",
    "delegation_allowed",
    "authority_type",
    "citation",
    "source_url",
    "source_date",
    "effective_from",
    "effective_to",
    "last_verified_on",
    "confidence",
    "notes",
)
#: the columns that make up a version's content (everything but the pair)
CONTENT_COLUMNS: tuple[str, ...] = COLUMNS[2:]

DECIMAL_COLUMNS = ("min_training_hours", "min_practical_hours", "years_licensed")
INT_COLUMNS = ("supervised_sessions", "completion_window_months")
TRISTATE_COLUMNS = (
    "board_registration_required",
    "written_consent_required",
    "referral_required",
    "delegation_allowed",
)
DATE_COLUMNS = ("effective_from", "effective_to", "last_verified_on")

_PARTIAL_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
_URL = re.compile(r"^https?://\S+$")
URL_SEPARATOR = " ; "

# --- fields -------------------------------------------------------------------------------
class TriStateCell(fields.Field):
    """``yes`` / ``no`` / ``unknown`` <-> True / False / None."""

    _MAP = {"yes": True, "no": False, "unknown": None}

    def _deserialize(self, value, attr, data, **kwargs):
        key = value.strip().lower() if isinstance(value, str) else value
        if key not in self._MAP:
            raise ValidationError(f"'{value}' must be one of: yes, no, unknown.")
        return self._MAP[key]


def partial_date_problem(value: str) -> str | None:
    """Why ``value`` is not a valid source date, or None if it is."""
    if value and not _PARTIAL_DATE.match(value):
        return f"'{value}' must be YYYY, YYYY-MM or YYYY-MM-DD, or empty."
    return None


def url_problem(value: str) -> str | None:
    """Why ``value`` is not a valid list of source URLs, or None if it is."""
    for url in value.split(URL_SEPARATOR) if value else ():
        if not _URL.match(url.strip()):
            return f"'{url.strip()}' is not an http(s) URL (separate several URLs with ' ; ')."
    return None


def _raising(check):
    def validator(value: str) -> None:
        problem = check(value)
        if problem:
            raise ValidationError(problem)

    return validator


_check_partial_date = _raising(partial_date_problem)
_check_urls = _raising(url_problem)


def _text(*checks) -> fields.String:
    return fields.String(load_default="", validate=[validate.Length(max=20000), *checks])


class RuleRowSchema(Schema):
    """One CSV row as read from the file (every cell a string)."""

    class Meta:
        unknown = RAISE

    jurisdiction = fields.String(required=True)
    profession = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in Status]))
    status_detail = _text()
    min_training_hours = HoursCell(load_default=None)
    min_practical_hours = HoursCell(load_default=None)
    supervised_sessions = CountCell(load_default=None)
    years_licensed = HoursCell(load_default=None)
    completion_window_months = CountCell(load_default=None)
    approved_course_bodies = _text()
    board_registration_required = TriStateCell(required=True)
    written_consent_required = TriStateCell(required=True)
    referral_required = TriStateCell(required=True)
    delegation_allowed = TriStateCell(required=True)
    authority_type = fields.String(
        required=True, validate=validate.OneOf([a.value for a in AuthorityType])
    )
    citation = _text()
    source_url = _text(_check_urls)
    source_date = fields.String(load_default="", validate=_check_partial_date)
    effective_from = DateCell(load_default=None)
    effective_to = DateCell(load_default=None)
    last_verified_on = DateCell(load_default=None)
    confidence = fields.String(
        required=True, validate=validate.OneOf([c.value for c in Confidence])
    )
    notes = _text()

    @validates_schema
    def _range(self, data, **kwargs):
        start, end = data.get("effective_from"), data.get("effective_to")
        if start and end and end <= start:
            raise ValidationError(
                f"must be after effective_from ({start.isoformat()}); it is the first day the "
                "version no longer applies.",
                field_name="effective_to",
            )
        if data.get("completion_window_months") == 0:
            raise ValidationError("must be 1 or more, or empty.", field_name="completion_window_months")


ROW_SCHEMA = RuleRowSchema()


def to_cell(column: str, value: Any) -> str:
    """Render one typed value as its CSV cell (the inverse of the row schema)."""
    if value is None and column in TRISTATE_COLUMNS:
        return "unknown"
    return plain_cell(value)


def record_of(version) -> dict[str, str]:
    """A rule version as CSV cells, keyed by column: for export and for audit snapshots."""
    record = {
        "jurisdiction": version.jurisdiction_code,
        "profession": version.profession_code,
    }
    for column in CONTENT_COLUMNS:
        record[column] = to_cell(column, getattr(version, column))
    return record


def content_of(values: dict[str, Any]) -> tuple:
    """A comparable tuple of a version's content, from typed values."""
    return tuple(to_cell(c, values.get(c)) for c in CONTENT_COLUMNS)
