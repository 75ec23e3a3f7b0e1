"""Role checks for views: no login -> redirect to the login page; wrong role -> 403."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from registry.extensions import login_manager


def role_required(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
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
