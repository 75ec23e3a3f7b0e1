"""HTML forms for accounts."""

from __future__ import annotations

from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from registry.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from registry.forms_base import RegistryForm


class LoginForm(RegistryForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])


class CodeForm(RegistryForm):
    code = StringField(
        "Code", validators=[DataRequired(), Length(max=12)],
        description="The 6-digit code your authenticator app shows now.",
    )


class ChangePasswordForm(RegistryForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    new_password = PasswordField(
        "New password", validators=[DataRequired()],
        description=f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters, any you like; a passphrase "
        "of a few words is good. Common passwords are refused.",
    )
    confirm = PasswordField("New password again", validators=[DataRequired(), EqualTo("new_password", "The two new passwords differ.")])


class PasswordConfirmForm(RegistryForm):
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
