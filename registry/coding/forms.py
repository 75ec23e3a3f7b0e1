"""HTML forms of the coding gate: a visit to check, releasing its lines, the filters of the
record and of the billable lines, and the visits CSV upload.

The visit form reads its free-text cells (modifiers, injected muscles, diagnoses) with the
parsers of :mod:`registry.coding.csvio`, so the page and the CSV upload accept the same text.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.utils import unset_value
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from registry.coding import csvio, gate
from registry.coding.models import CHANNELS, OUTCOMES
from registry.coding.schemas import MAX_LINES, MAX_MUSCLES
from registry.forms_base import RegistryForm, refuse_nul
from registry.providers.forms import JURISDICTION_CHOICES
from registry.providers.npi import npi_problem

PAYER_LABELS = {
    "medicare": "Medicare (traditional)",
    "medicaid": "Medicaid",
    "commercial": "Commercial insurance (incl. Medicare Advantage)",
    "workers_comp": "Workers' compensation",
    "self_pay": "Self-pay",
}
OUTCOME_LABELS = {"allow": "Allowed", "allow_with_warnings": "Allowed with warnings", "block": "Blocked"}
CHANNEL_LABELS = {"page": "this site", "api": "the API", "api_batch": "an API batch", "csv": "a CSV upload"}
#: rows shown before anyone adds one (the page's "Add a muscle" button adds more with JS)
MUSCLE_ROWS, LINE_ROWS = 8, 4


def _npi(form, field) -> None:
    problem = npi_problem((field.data or "").strip())
    if problem:
        raise ValidationError(problem)


def _parsed(parse):
    """A validator running one of csvio's parsers on the text."""

    def validate(form, field) -> None:
        try:
            parse(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    return validate


class _Row(Form):
    """A repeated row (no CSRF token of its own) that refuses NUL characters like RegistryForm."""

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        return refuse_nul(self) and ok

    def is_blank(self) -> bool:
        return not any((field.data or "").strip() if isinstance(field.data, str) else field.data for field in self)


class MuscleRow(_Row):
    name = StringField("Muscle", validators=[Length(max=100)])
    side = SelectField("Side", choices=[SelectChoice("", "side…"), *(SelectChoice(s, s) for s in gate.SIDES)], default="")

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        name, side = (self.name.data or "").strip(), self.side.data
        if name and not side:
            self.side.errors = [*self.side.errors, f"Choose the side of {name}."]
            ok = False
        if side and not name:
            self.name.errors = [*self.name.errors, "Name the muscle, or clear its side."]
            ok = False
        return ok

    def muscle(self) -> gate.Muscle:
        return gate.Muscle((self.name.data or "").strip(), self.side.data or "")


class LineRow(_Row):
    code = StringField("Code", validators=[Optional(), _parsed(csvio.parse_code)])
    units = IntegerField("Units", validators=[Optional(), NumberRange(min=1, max=99, message="1 to 99.")])
    modifiers = StringField("Modifiers", validators=[Length(max=40), _parsed(csvio.parse_modifiers)])
    muscles = StringField("Muscles injected", validators=[Length(max=2000), _parsed(csvio.parse_muscles)])

    def line(self, code: str) -> gate.Line:
        return gate.Line(code, self.units.data or 1, csvio.parse_modifiers(self.modifiers.data or ""), csvio.parse_muscles(self.muscles.data or ""))


class RowList(FieldList):
    """A FieldList that refuses more rows than ``max_entries``: WTForms would keep the first
    ones and silently drop the rest, and a dropped muscle changes the code."""

    def process(self, formdata, data=unset_value, extra_filters=None):
        prefix = f"{self.name}-"
        self.rows_sent = len({key[len(prefix):].split("-", 1)[0] for key in (formdata or ()) if key.startswith(prefix)})
        super().process(formdata, data, extra_filters)

    def validate(self, form, extra_validators=()) -> bool:
        ok = super().validate(form, extra_validators)
        if self.rows_sent > self.max_entries:
            self.errors = [*self.errors, f"At most {self.max_entries} rows."]
            return False
        return ok


class VisitForm(RegistryForm):
    npi = StringField("Provider NPI", validators=[Optional(), _npi], description="The rendering provider: type the NPI or pick a name from the list.")
    jurisdiction = SelectField(
        "Where the patient was treated", choices=[SelectChoice("", "Choose a state or territory"), *JURISDICTION_CHOICES], default="",
        validators=[DataRequired(message="Choose the state or territory where the patient was treated.")],
        # the PT Compact: practice takes place where the patient is [P14]
        description="The patient's state on the date of service: care takes place where the patient is, not where the clinician is licensed.",
    )
    date = DateField("Date of service", default=date.today, validators=[InputRequired(message="Give the date of service.")])
    payer_type = SelectField(
        "Payer type", choices=[SelectChoice("", "Choose the payer type"), *(SelectChoice(p, PAYER_LABELS[p]) for p in gate.PAYER_TYPES)], default="",
        validators=[DataRequired(message="Choose the payer type.")],
    )
    payer_name = StringField("Payer name", validators=[Length(max=200)], description="e.g. Aetna or Blue Cross; matched against the payer policies.")
    muscles = RowList(FormField(MuscleRow), min_entries=MUSCLE_ROWS, max_entries=MAX_MUSCLES)
    lines = RowList(FormField(LineRow), min_entries=LINE_ROWS, max_entries=MAX_LINES)
    diagnoses = StringField("Diagnoses (ICD-10-CM)", validators=[Length(max=200), _parsed(csvio.parse_diagnoses)], description="Separated by spaces or commas, e.g. M79.18 M62.838.")
    consent_on_file = BooleanField("The patient's signed written consent to dry needling is on file")
    plan_of_care_on_file = BooleanField("A plan of care with goals is on file")
    reassessment_done = BooleanField("A reassessment is done and recorded")
    abn_on_file = BooleanField("An ABN (Medicare Advance Beneficiary Notice) is signed")
    referral_on_file = BooleanField("A referral is on file")

    def muscle_list(self) -> tuple[gate.Muscle, ...]:
        return tuple(row.form.muscle() for row in self.muscles if not row.form.is_blank() and not row.form.errors)

    def distinct_muscles(self) -> int:
        """The muscles entered, counted as the gate counts them: by name and side, bilateral
        as two, a repeat once."""
        return gate.distinct_muscles(self.muscle_list())

    def proposed_code(self) -> str | None:
        """The code the muscles call for: 20560 for 1-2 distinct muscles, 20561 for 3 or more."""
        return gate.code_for(self.distinct_muscles())

    def validate_lines(self, field) -> None:
        """A line needs its code, except the first, which takes the proposed one."""
        rows, wrong = list(field), False
        first = rows[0].form
        if not first.code.data and not first.errors and not self.muscles.errors and self.proposed_code() is None:
            first.code.errors.append("Give the code, or enter the muscles treated so that the code can be proposed.")
            wrong = True
        for row in rows[1:]:
            if not row.form.code.data and not row.form.is_blank():
                row.form.code.errors.append("Give the code of this line, or clear the line.")
                wrong = True
        if wrong:
            raise ValidationError("Correct the claim lines marked below.")

    def claim_lines(self) -> tuple[gate.Line, ...]:
        """The lines entered; a blank code on the first line takes the proposed code."""
        lines = []
        for number, row in enumerate(self.lines):
            code = (row.form.code.data or "").strip().upper()
            if number == 0 and not code:
                code = self.proposed_code()
            if code:
                lines.append(row.form.line(code))
        return tuple(lines)

    def visit(self, npi: str) -> gate.Visit:
        return gate.Visit(
            npi=npi, jurisdiction=self.jurisdiction.data, day=self.date.data, payer_type=self.payer_type.data,
            payer_name=(self.payer_name.data or "").strip(), muscles=self.muscle_list(), lines=self.claim_lines(),
            diagnoses=csvio.parse_diagnoses(self.diagnoses.data or ""), consent_on_file=self.consent_on_file.data,
            plan_of_care_on_file=self.plan_of_care_on_file.data, reassessment_done=self.reassessment_done.data,
            abn_on_file=self.abn_on_file.data, referral_on_file=self.referral_on_file.data,
        )

    @staticmethod
    def data_from(visit: dict[str, Any]) -> dict[str, Any]:
        """Form data for a recorded visit (services.visit_to_json), to edit and check again;
        with blank rows to add to."""

        def muscles_text(items) -> str:
            return "; ".join(f"{m['name']}:{m['side']}" for m in items)

        muscles = [{"name": m["name"], "side": m["side"]} for m in visit["muscles"]]
        lines = [{"code": ln["code"], "units": ln["units"], "modifiers": " ".join(ln.get("modifiers", ())), "muscles": muscles_text(ln.get("muscles", ()))} for ln in visit["lines"]]
        return {
            "npi": visit["npi"], "jurisdiction": visit["jurisdiction"], "date": date.fromisoformat(visit["date"]),
            "payer_type": visit["payer_type"], "payer_name": visit.get("payer_name", ""),
            "muscles": _padded(muscles, MUSCLE_ROWS, MAX_MUSCLES, spare=2),
            "lines": _padded(lines, LINE_ROWS, MAX_LINES, spare=1),
            "diagnoses": " ".join(visit.get("diagnoses", ())),
            **{flag: visit[flag] for flag in csvio.FLAGS},
        }


def _padded(rows: list[dict], minimum: int, maximum: int, *, spare: int) -> list[dict]:
    """``rows`` and blank rows after them: at least ``spare`` (to add to without JS), at
    least ``minimum`` rows in all, never more than ``maximum``."""
    blanks = min(maximum - len(rows), max(spare, minimum - len(rows)))
    return rows + [{} for _ in range(max(0, blanks))]


class ReleaseForm(RegistryForm):
    acknowledgement = TextAreaField(
        "Why these lines go out despite the warnings", validators=[Length(max=2000)],
        description="Required when the check has warnings; kept with the billable lines.",
    )


def _blank_or(choices, labels) -> list[SelectChoice]:
    return [SelectChoice("", "any"), *(SelectChoice(c, labels.get(c, c)) for c in choices)]


class CheckFilterForm(RegistryForm):
    """The record's filters, read from the query string (nothing is written)."""

    class Meta:
        csrf = False

    npi = StringField("NPI", validators=[Optional(), Regexp(r"^[0-9]{10}\Z", message="An NPI is exactly 10 digits.")])
    jurisdiction = SelectField("Where treated", choices=[SelectChoice("", "any"), *JURISDICTION_CHOICES], default="")
    outcome = SelectField("Outcome", choices=_blank_or(OUTCOMES, OUTCOME_LABELS), default="")
    channel = SelectField("Checked through", choices=_blank_or(CHANNELS, CHANNEL_LABELS), default="")
    start = DateField("Date of service from", name="from", validators=[Optional()])
    end = DateField("to", name="to", validators=[Optional()])
    edit_code = StringField("Edit code", name="edit", validators=[Optional(), Regexp(r"^[a-z0-9_]{1,64}\Z", message="An edit code such as no_consent.")])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=100_000, message="A page number from 1 to 100,000.")])


LINE_STATUSES = {"new": "Not yet exported", "exported": "Exported", "all": "All"}


class LineFilterForm(RegistryForm):
    class Meta:
        csrf = False

    status = SelectField("Lines", choices=[SelectChoice(k, v) for k, v in LINE_STATUSES.items()], default="new")
    start = DateField("Date of service from", name="from", validators=[Optional()])
    end = DateField("to", name="to", validators=[Optional()])


class ExportForm(RegistryForm):
    """Export the lines not yet exported (of the dates of service given) and mark them."""

    start = DateField("Date of service from", name="from", validators=[Optional()])
    end = DateField("to", name="to", validators=[Optional()])


class UploadForm(RegistryForm):
    file = FileField(
        "Visits CSV file", validators=[FileRequired(message="Choose a CSV file."), FileAllowed(["csv", "txt"], "Upload a .csv file.")],
        description=f"One visit per row, at most {csvio.MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
    )
