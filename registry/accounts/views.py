"""Signing in (password, then a TOTP code when the user has one), signing out, session
lifetime, and the signed-in user's own account: password and second factor.

Flask's session is a signed cookie, so it is made to end on the server's word: it carries
"user id:session_version" and ``load_user`` refuses a version the user no longer has (bumped
on sign-out, password change and second-factor change), and the sign-in and last-seen times,
checked against SESSION_IDLE_MINUTES and SESSION_MAX_HOURS on every request.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup

from registry.accounts import services, totp
from registry.accounts.access import ALL_ROLES, role_required
from registry.accounts.forms import ChangePasswordForm, CodeForm, LoginForm, PasswordConfirmForm
from registry.accounts.models import User
from registry.api_base import is_api_request
from registry.extensions import db, login_manager

bp = Blueprint("accounts", __name__)

login_manager.login_view = "accounts.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"

LOGIN_REFUSED = (
    "Email or password is not correct. After repeated failures an account is locked for a while."
)
#: session keys: when the user signed in and was last seen (epoch seconds)
AUTH_AT, SEEN_AT = "auth_at", "seen_at"
#: session key of a sign-in waiting for its TOTP code, and how long it may wait
PENDING, PENDING_SECONDS = "pending_login", 300
#: session key of a TOTP secret being set up, not yet confirmed
NEW_SECRET = "totp_new_secret"
#: what a manager may still reach while REQUIRE_MANAGER_TOTP waits for a second factor
SETUP_ENDPOINTS = {"accounts.totp_setup", "accounts.logout", "static"}


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    ident, _, version = user_id.partition(":")
    if not (ident.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(ident))
    return user if user is not None and user.session_version == int(version) else None


@bp.before_app_request
def enforce_session_rules():
    """End a session idle or old past its limits; hold a manager at the second-factor setup
    when REQUIRE_MANAGER_TOTP is on."""
    if AUTH_AT not in session:
        return None
    now, config = time.time(), current_app.config
    if now - session.get(SEEN_AT, 0) > config["SESSION_IDLE_MINUTES"] * 60 or now - session[AUTH_AT] > config["SESSION_MAX_HOURS"] * 3600:
        logout_user()
        session.clear()
        flash("Your session has ended; please sign in again.", "info")
        return None
    session[SEEN_AT] = now
    if (
        config["REQUIRE_MANAGER_TOTP"] and current_user.is_authenticated and current_user.role == "manager"
        and current_user.totp_secret is None and request.endpoint not in SETUP_ENDPOINTS
    ):
        if is_api_request():
            abort(403, description="Set up a second factor (Account page) first.")
        flash("Managers must set up a second factor before going on.", "info")
        return redirect(url_for("accounts.totp_setup"))
    return None


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("rules.home")


def _sign_in(user: User, next_url: str):
    """Start a new session for ``user``: nothing of the session before survives."""
    services.record_login(user)
    db.session.commit()
    session.clear()
    login_user(user)
    session[AUTH_AT] = session[SEEN_AT] = time.time()
    flash(f"Signed in as {user.email} ({user.role}).", "success")
    return redirect(next_url)


def _keep_this_session() -> None:
    """After the user's session_version moved on (other sessions end), carry this one over."""
    login_user(current_user._get_current_object())


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = services.check_credentials(form.email.data, form.password.data)
        db.session.commit()  # the failure count and the audit, whatever the outcome
        if user is None:
            form.password.errors.append(LOGIN_REFUSED)
            return render_template("accounts/login.html", form=form), 401
        next_url = _safe_next(request.args.get("next"))
        if user.totp_secret is None:
            return _sign_in(user, next_url)
        session.clear()
        session[PENDING] = {"user": user.id, "version": user.session_version, "at": time.time(), "next": next_url}
        return redirect(url_for(".login_code"))
    status = 400 if form.is_submitted() else 200
    return render_template("accounts/login.html", form=form), status


def _pending_user() -> User | None:
    pending = session.get(PENDING)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        return None
    user = db.session.get(User, pending["user"])
    if user is None or not user.is_enabled or user.session_version != pending["version"] or user.totp_secret is None:
        return None
    return user


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    user = _pending_user()
    if user is None:
        session.pop(PENDING, None)
        flash("Sign in with your email and password first.", "info")
        return redirect(url_for(".login"))
    form = CodeForm()
    if form.validate_on_submit():
        if services.check_login_code(user, form.code.data):
            return _sign_in(user, session[PENDING]["next"])
        db.session.commit()  # the failure count and the audit
        form.code.errors.append("The code is not correct, or was used already. After repeated failures an account is locked for a while.")
        return render_template("accounts/login_code.html", form=form), 401
    status = 400 if form.is_submitted() else 200
    return render_template("accounts/login_code.html", form=form), status


@bp.route("/logout", methods=["POST"])
@role_required(*ALL_ROLES)
def logout():
    services.end_sessions(current_user, "auth.logout")
    db.session.commit()
    logout_user()
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("rules.home"))


@bp.route("/account")
@role_required(*ALL_ROLES)
def account():
    return render_template("accounts/account.html")


def _attach(form, error: services.AccountError) -> None:
    getattr(form, error.field).errors.append(error.message)


def _account_change(form, change, *, done: str, category: str = "success") -> bool:
    """For a submitted, valid ``form``, make the change to the user's own account: saved, the
    session carried over (the others end) and ``done`` flashed; or, refused, rolled back and
    the reason shown on the field at fault. True when saved."""
    if not form.validate_on_submit():
        return False
    try:
        change()
    except services.AccountError as exc:
        db.session.rollback()
        _attach(form, exc)
        return False
    db.session.commit()
    _keep_this_session()
    flash(done, category)
    return True


def _status(form) -> int:
    return 400 if form.is_submitted() else 200


@bp.route("/account/password", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def change_password():
    form = ChangePasswordForm()
    if _account_change(form, lambda: services.change_password(current_user, form.current_password.data, form.new_password.data),
                       done="Password changed. Your other sessions have ended."):
        return redirect(url_for(".account"))
    return render_template("accounts/change_password.html", form=form), _status(form)


@bp.route("/account/totp", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def totp_setup():
    if current_user.totp_secret is not None:
        return redirect(url_for(".account"))
    secret = session.get(NEW_SECRET) or totp.new_secret()
    session[NEW_SECRET] = secret
    form = CodeForm()
    if _account_change(form, lambda: services.enable_totp(current_user, secret, form.code.data),
                       done="Second factor on: signing in now asks for a code from your app."):
        session.pop(NEW_SECRET)
        return redirect(url_for(".account"))
    uri = totp.provisioning_uri(secret, current_user.email)
    return render_template("accounts/totp_setup.html", form=form, secret=secret, uri=uri, qr=Markup(totp.qr_svg(uri))), _status(form)


@bp.route("/account/totp/disable", methods=["GET", "POST"])
@role_required(*ALL_ROLES)
def totp_disable():
    if current_user.totp_secret is None:
        return redirect(url_for(".account"))
    form = PasswordConfirmForm()
    if _account_change(form, lambda: services.disable_totp(current_user, form.password.data), done="Second factor off.", category="info"):
        return redirect(url_for(".account"))
    return render_template("accounts/totp_disable.html", form=form), _status(form)


@bp.app_context_processor
def inject_user():
    return {"current_user": current_user}
