"""Who may call a view: a signed-in user with a role, or an API token with a scope.

No login -> the login page (401 JSON under /api/); wrong role -> 403. A request with an
``Authorization: Bearer`` token is judged by the token alone: a malformed, unknown or revoked
token is 401 (``WWW-Authenticate: Bearer``); a token without the view's ``scope``, or on a
view that declares none (the HTML pages), is 403. Integrations act for the organisation, so
rules that narrow a clinician to their own record do not apply to tokens
(``acts_for_organisation``).

Put the decorators outermost (above flask-smorest's decorators) so access is checked before
the input is parsed. ``ALL_ROLES`` means any signed-in user.
"""

from __future__ import annotations

from functools import wraps

from flask import abort, g
from flask_login import current_user
from werkzeug.datastructures import WWWAuthenticate

from registry.accounts.tokens import request_token
from registry.api_base import is_api_request
from registry.extensions import login_manager

ALL_ROLES = ("manager", "clinician", "biller", "auditor")


def _token_may(scope: str | None) -> None:
    token = g.api_token
    if scope is None:
        abort(403, description="This route does not accept API tokens; sign in instead.")
    if scope not in token.scope_list:
        abort(403, description=f"This API token lacks the '{scope}' scope.")


def role_required(*roles: str, scope: str | None = None):
    """Admit a signed-in user with one of ``roles``, or a token carrying ``scope``."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if request_token() is not None:
                _token_may(scope)
            elif not current_user.is_authenticated:
                if is_api_request():
                    abort(401, description="Sign in or send an API token.", www_authenticate=WWWAuthenticate("Bearer"))
                return login_manager.unauthorized()
            elif not current_user.has_role(*roles):
                abort(403, description="Your role does not allow this action.")
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # read by the route-walking access test
        wrapped.required_scope = scope
        return wrapped

    return decorator


def public(*, scope: str):
    """Open to everyone, signed in or not; a token must still be valid and carry ``scope``."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if request_token() is not None:
                _token_may(scope)
            return view(*args, **kwargs)

        wrapped.required_scope = scope
        return wrapped

    return decorator


def acts_for_organisation(*roles: str) -> bool:
    """True for an API token (an integration acts for the whole organisation) or a signed-in
    user with one of ``roles``; call it only behind ``role_required``."""
    return g.get("api_token") is not None or current_user.has_role(*roles)


def current_actor():
    from registry.rules.services import Actor

    token = g.get("api_token")
    if token is not None:
        return Actor(id=None, label=f"token:{token.name} ({token.prefix})")
    if current_user.is_authenticated:
        return Actor(id=current_user.id, label=current_user.email)
    return Actor(id=None, label="anonymous")
