"""The audit log's filter (a GET form: no CSRF token, nothing is changed)."""

from __future__ import annotations

from wtforms import DateField, Form, StringField
from wtforms.validators import Length, Optional


class AuditFilterForm(Form):
    actor = StringField("Who", validators=[Optional(), Length(max=254)], description="part of an email, or cli:")
    action = StringField("Action", validators=[Optional(), Length(max=64)], description="e.g. rule. or provider.update")
    entity_type = StringField("Record type", validators=[Optional(), Length(max=32)])
    entity_key = StringField("Record", validators=[Optional(), Length(max=64)], description="e.g. WA/PT, or a provider's id")
    start = DateField("From", name="from", validators=[Optional()])
    end = DateField("To", name="to", validators=[Optional()])
