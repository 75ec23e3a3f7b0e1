"""The base for every HTML form."""

from __future__ import annotations

from flask_wtf import FlaskForm


class RegistryForm(FlaskForm):
    """A FlaskForm (CSRF-protected) that also refuses NUL characters in any field:
    PostgreSQL cannot store them, and no legitimate input contains one."""

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and "\x00" in field.data:
                field.errors = [*field.errors, "Contains a NUL character, which is not allowed."]
                ok = False
        return ok
