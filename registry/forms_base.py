"""The base for every HTML form."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms.validators import StopValidation, ValidationError


class RegistryForm(FlaskForm):
    """A FlaskForm (CSRF-protected) that also refuses NUL characters in any field:
    PostgreSQL cannot store them, and no legitimate input contains one."""

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        return refuse_nul(self) and ok


def refuse_nul(form) -> bool:
    """Add an error to every field of ``form`` holding a NUL character; False if any did.
    Call it after the form's own validation (which resets the errors)."""
    ok = True
    for field in form:
        if isinstance(field.data, str) and "\x00" in field.data:
            field.errors = [*field.errors, "Contains a NUL character, which is not allowed."]
            ok = False
    return ok


def finite(form, field) -> None:
    """Refuse NaN and Infinity in a DecimalField (before NumberRange, which cannot compare NaN)."""
    if field.data is not None and not field.data.is_finite():
        raise StopValidation("Enter a number.")


def one_decimal(form, field) -> None:
    if field.data is not None and field.data != field.data.quantize(Decimal("0.1")):
        raise ValidationError("Use at most one decimal place.")
