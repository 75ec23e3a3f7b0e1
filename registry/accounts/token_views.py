"""The API tokens page: managers create tokens (each shown once) and revoke them; auditors
read the list. Every create and revoke is in the audit log."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from wtforms import SelectChoice, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length

from registry.accounts import tokens
from registry.accounts.access import current_actor, role_required
from registry.accounts.models import TOKEN_SCOPES
from registry.extensions import db
from registry.forms_base import RegistryForm

bp = Blueprint("tokens", __name__)

READ_ROLES = ("manager", "auditor")
WRITE_ROLES = ("manager",)


class TokenForm(RegistryForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)], description="Who uses it and for what, e.g. 'Clinic EHR, coding check'.")
    scopes = SelectMultipleField(
        "Scopes", choices=[SelectChoice(scope, scope) for scope in TOKEN_SCOPES], validators=[DataRequired(message="Choose at least one scope.")],
        widget=widgets.ListWidget(prefix_label=False), option_widget=widgets.CheckboxInput(),
        description="Give an integration only what it needs.",
    )


class RevokeForm(RegistryForm):
    """A button that posts: nothing to fill in but the CSRF token."""


def _page(form: TokenForm, status: int = 200):
    return render_template("accounts/tokens.html", tokens=tokens.list_tokens(), form=form, revoke_form=RevokeForm(), scopes=TOKEN_SCOPES), status


@bp.route("/tokens")
@role_required(*READ_ROLES)
def token_list():
    return _page(TokenForm())


@bp.route("/tokens", methods=["POST"])
@role_required(*WRITE_ROLES)
def create():
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        token, plaintext = tokens.create_token(form.name.data, form.scopes.data, actor=current_actor())
    except tokens.TokenError as exc:
        db.session.rollback()
        getattr(form, exc.field or "name").errors.append(exc.message)
        return _page(form, 400)
    db.session.commit()
    # rendered, never redirected: the token is not stored, so this response is its only copy
    response = render_template("accounts/token_created.html", token=token, plaintext=plaintext)
    return response, 201, {"Cache-Control": "no-store"}


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@role_required(*WRITE_ROLES)
def revoke(token_id: int):
    form = RevokeForm()
    if not form.validate_on_submit():
        abort(400, description="Reload the page and try again.")
    token = tokens.get_token(token_id)
    if token is None:
        abort(404, description=f"No API token {token_id}.")
    try:
        tokens.revoke_token(token, actor=current_actor())
    except tokens.TokenError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("tokens.token_list")), 303
    db.session.commit()
    flash(f"Token {token.name} ({token.prefix}) is revoked: it no longer opens the API.", "success")
    return redirect(url_for("tokens.token_list")), 303
