"""HTML forms for accounts."""

from __future__ import annotations

from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from registry.forms_base import RegistryForm


class LoginForm(RegistryForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
