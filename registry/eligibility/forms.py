"""The "Can I dry-needle here?" question (a GET form: it changes nothing)."""

from __future__ import annotations

from datetime import date

from wtforms import DateField, SelectField, StringField
from wtforms.validators import InputRequired, Optional, ValidationError

from registry.forms_base import RegistryForm
from registry.providers.forms import JURISDICTION_CHOICES
from registry.providers.npi import npi_problem


def _npi(form, field):
    problem = npi_problem((field.data or "").strip())
    if problem:
        raise ValidationError(problem)


class QuestionForm(RegistryForm):
    class Meta:
        csrf = False  # a question read from the query string; nothing is written

    jurisdiction = SelectField("State or territory", choices=JURISDICTION_CHOICES, validators=[InputRequired()])
    date = DateField("Date of service", default=date.today, validators=[InputRequired(message="Give the date of service.")])
    npi = StringField("Provider NPI", validators=[Optional(), _npi], description="Managers, billers and auditors: whose eligibility to check.")
