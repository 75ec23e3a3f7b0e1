"""Role checks for views: no login -> the login page (401 JSON under /api/); wrong role -> 403.

Put ``@role_required`` outermost (above flask-smorest's decorators) so the role is checked
before the input is parsed. ``ALL_ROLES`` means any signed-in user.
"""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from registry.api_base import is_api_request
from registry.extensions import login_manager

ALL_ROLES = ("manager", "clinician", "biller", "auditor")


def role_required(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                if is_api_request():
                    abort(401, description="Sign in first.")
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403, description="Your role does not allow this action.")
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # read by the route-walking access test
        return wrapped

    return decorator


def current_actor():
    from registry.rules.services import Actor

    if current_user.is_authenticated:
        return Actor(id=current_user.id, label=current_user.email)
    return Actor(id=None, label="anonymous")
