"""The HTML form a manager uses to record a new version of a rule."""

from __future__ import annotations

from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from registry.forms_base import RegistryForm, finite, one_decimal
from registry.rules.csvio import partial_date_problem, url_problem
from registry.rules.models import AuthorityType, Confidence, Status
from registry.rules.presenters import STATUS_LABELS

TRISTATE_CHOICES = [SelectChoice("unknown", "Unknown"), SelectChoice("yes", "Yes"), SelectChoice("no", "No")]


def _check(problem):
    def validator(form, field):
        message = problem(field.data or "")
        if message:
            raise ValidationError(message)

    return validator


def _hours(label: str, description: str) -> DecimalField:
    return DecimalField(label, places=1, validators=[Optional(), finite, NumberRange(min=0, max=99999), one_decimal], description=description)


def _count(label: str, description: str, minimum: int = 0) -> IntegerField:
    return IntegerField(label, validators=[Optional(), NumberRange(min=minimum, max=100000)], description=description)


def _tristate(label: str) -> SelectField:
    return SelectField(label, choices=TRISTATE_CHOICES, validators=[InputRequired()])


class RuleVersionForm(RegistryForm):
    status = SelectField("Status", choices=[SelectChoice(s.value, STATUS_LABELS[s.value]) for s in Status], validators=[InputRequired()])
    status_detail = StringField("Legal basis, in brief", validators=[Length(max=2000)], description="e.g. statute HB 25, rule effective 2015-07-01")
    effective_from = DateField("Takes effect on", validators=[Optional()], description="The first day the new version applies. The current version ends the day before. Use the current start date to correct the current version instead.")
    min_training_hours = _hours("Minimum training hours", "Leave empty if the sources give no figure.")
    min_practical_hours = _hours("Minimum in-person / practical hours", "Leave empty if the sources give no figure.")
    supervised_sessions = _count("Supervised sessions", "Supervised or reviewed dry-needling sessions required.")
    years_licensed = _hours("Years licensed before dry needling", "May be fractional, e.g. 0.5.")
    completion_window_months = _count("Completion window (months)", "Months within which the course must be completed.", minimum=1)
    approved_course_bodies = StringField("Approved course bodies", validators=[Length(max=2000)], description="Separate with '; ', e.g. APTA; FSBPT")
    board_registration_required = _tristate("Board registration / endorsement required")
    written_consent_required = _tristate("Written consent required")
    referral_required = _tristate("Referral required")
    delegation_allowed = _tristate("Delegation to assistants allowed")
    authority_type = SelectField("Authority type", choices=[SelectChoice(a.value, a.value.replace("_", " ")) for a in AuthorityType], validators=[InputRequired()])
    citation = TextAreaField("Citation", validators=[Length(max=4000)])
    source_url = TextAreaField("Source URL(s)", validators=[Length(max=4000), _check(url_problem)], description="Separate several with ' ; '.")
    source_date = StringField("Source date", validators=[Length(max=10), _check(partial_date_problem)], description="YYYY, YYYY-MM or YYYY-MM-DD; empty if undated.")
    last_verified_on = DateField("Last verified on", validators=[Optional()])
    confidence = SelectField("Confidence", choices=[SelectChoice(c.value, c.value) for c in Confidence], validators=[InputRequired()])
    notes = TextAreaField("Notes", validators=[Length(max=8000)])
    reason = TextAreaField("Reason for this change", validators=[DataRequired(message="Say why the rule changes."), Length(max=4000)], description="Recorded with the new version and shown in its history.")
    #: the version the editor started from: a save is refused if it is no longer current
    current_id = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    current_version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])

    TRISTATE_FIELDS = ("board_registration_required", "written_consent_required", "referral_required", "delegation_allowed")

    def fill_from(self, rule) -> None:
        """Pre-fill a fresh (GET) form from the current version."""
        for name in ("status", "status_detail", "min_training_hours", "min_practical_hours", "supervised_sessions", "years_licensed", "completion_window_months", "approved_course_bodies", "authority_type", "citation", "source_url", "source_date", "last_verified_on", "confidence", "notes", "effective_from"):
            getattr(self, name).data = getattr(rule, name)
        for name in self.TRISTATE_FIELDS:
            getattr(self, name).data = {True: "yes", False: "no", None: "unknown"}[getattr(rule, name)]
        self.current_id.data = rule.id
        self.current_version.data = rule.version_id

    def values(self) -> dict:
        """The typed content of the new version, keyed like the CSV columns."""
        data = {name: getattr(self, name).data for name in ("status", "min_training_hours", "min_practical_hours", "supervised_sessions", "years_licensed", "completion_window_months", "authority_type", "effective_from", "last_verified_on", "confidence")}
        for name in ("status_detail", "approved_course_bodies", "citation", "source_url", "source_date", "notes"):
            data[name] = (getattr(self, name).data or "").strip()
        for name in self.TRISTATE_FIELDS:
            data[name] = {"yes": True, "no": False, "unknown": None}[getattr(self, name).data]
        return data
