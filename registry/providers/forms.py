"""HTML forms for providers and their credentials. Each ``values()`` returns the keyword
names the services take."""

from __future__ import annotations

from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from registry.forms_base import RegistryForm, finite, one_decimal
from registry.providers.models import CREDENTIAL_STATUSES
from registry.providers.npi import npi_problem
from registry.rules.reference import JURISDICTIONS, PROFESSIONS

JURISDICTION_CHOICES = [SelectChoice(code, f"{name} ({code})") for code, name, _ in sorted(JURISDICTIONS, key=lambda j: j[1])]
PROFESSION_CHOICES = [SelectChoice(code, f"{name} ({code})") for code, name in PROFESSIONS]
STATUS_CHOICES = [SelectChoice(s, s) for s in CREDENTIAL_STATUSES]


def _npi(form, field):
    problem = npi_problem((field.data or "").strip())
    if problem:
        raise ValidationError(problem)


def _hours(label: str, required: bool = False) -> DecimalField:
    first = InputRequired(message="Give the hours (0 or more).") if required else Optional()
    return DecimalField(label, places=1, validators=[first, finite, NumberRange(min=0, max=99999), one_decimal])


def _version() -> IntegerField:
    return IntegerField(widget=HiddenInput(), validators=[Optional()])


class _Versioned(RegistryForm):
    #: the version the editor started from (edits only)
    version = _version()

    def fill(self, obj) -> None:
        for name in self._names:
            getattr(self, name).data = getattr(obj, self._attr.get(name, name))
        self.version.data = obj.version_id

    def values(self) -> dict:
        out = {}
        for name in self._names:
            value = getattr(self, name).data
            out[self._attr.get(name, name)] = value.strip() if isinstance(value, str) else value
        return out

    _names: tuple[str, ...] = ()
    _attr: dict[str, str] = {}


class ProviderForm(_Versioned):
    name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
    npi = StringField("NPI", validators=[DataRequired(), _npi], description="10 digits; the last is a check digit.")
    profession = SelectField("Profession", choices=PROFESSION_CHOICES, validators=[InputRequired()])
    email = EmailField("Email", validators=[Optional(), Length(max=254), Email()], description="Where expiry alerts go.")
    is_active = BooleanField("Active", default=True)
    account_email = EmailField("Linked user account (email)", validators=[Optional(), Length(max=254), Email()], description="The clinician's sign-in, so they can see this record. Leave empty for none.")

    _names = ("name", "npi", "profession", "email", "is_active")
    _attr = {"profession": "profession_code"}


class LicenseForm(_Versioned):
    jurisdiction = SelectField("Jurisdiction", choices=JURISDICTION_CHOICES, validators=[InputRequired()])
    profession = SelectField("Profession", choices=PROFESSION_CHOICES, validators=[InputRequired()])
    number = StringField("License number", validators=[DataRequired(), Length(max=64)])
    issued_on = DateField("Issued on", validators=[Optional()])
    expires_on = DateField("Expires on", validators=[Optional()])
    status = SelectField("Status", choices=STATUS_CHOICES, validators=[InputRequired()])
    is_compact_privilege = BooleanField("PT Compact privilege (not a home-state license)")

    _names = ("jurisdiction", "profession", "number", "issued_on", "expires_on", "status", "is_compact_privilege")
    _attr = {"jurisdiction": "jurisdiction_code", "profession": "profession_code"}


class TrainingForm(_Versioned):
    course_title = StringField("Course title", validators=[DataRequired(), Length(max=300)])
    sponsor = StringField("Sponsor", validators=[Length(max=200)])
    approving_body = StringField("Approving body", validators=[Length(max=200)], description="e.g. APTA, FSBPT, a state chapter")
    completed_on = DateField("Completed on", validators=[InputRequired(message="Give the completion date.")])
    total_hours = _hours("Total hours", required=True)
    practical_hours = _hours("In-person / practical hours")
    supervised_sessions = IntegerField("Supervised sessions / practicum count", validators=[Optional(), NumberRange(min=0, max=100000)])
    expires_on = DateField("Expires on (if the course expires)", validators=[Optional()])

    _names = ("course_title", "sponsor", "approving_body", "completed_on", "total_hours", "practical_hours", "supervised_sessions", "expires_on")


class RegistrationForm(_Versioned):
    jurisdiction = SelectField("Jurisdiction", choices=JURISDICTION_CHOICES, validators=[InputRequired()])
    number = StringField("Registration / endorsement number", validators=[DataRequired(), Length(max=64)])
    issued_on = DateField("Issued on", validators=[Optional()])
    expires_on = DateField("Expires on", validators=[Optional()])
    status = SelectField("Status", choices=STATUS_CHOICES, validators=[InputRequired()])

    _names = ("jurisdiction", "number", "issued_on", "expires_on", "status")
    _attr = {"jurisdiction": "jurisdiction_code"}


class EndForm(RegistryForm):
    ended_on = DateField("No longer held from", validators=[InputRequired(message="Give the date.")])
    end_reason = TextAreaField("Why", validators=[DataRequired(message="Say why the credential ends."), Length(max=2000)])
    version = _version()


CREDENTIAL_FORMS = {"license": LicenseForm, "training": TrainingForm, "registration": RegistrationForm}


class ImportForm(RegistryForm):
    file = FileField("CSV file", validators=[FileRequired(message="Choose a CSV file."), FileAllowed(["csv", "txt"], "Upload a .csv file.")], description="A providers file or a credentials file (the format is recognised from its header). Import providers before their credentials.")
    dry_run = BooleanField("Dry run: check everything, write nothing")
