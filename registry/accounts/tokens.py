"""API tokens for integrations (an EHR, a billing system): creating, revoking and listing them,
and recognising the ``Authorization: Bearer <token>`` header of a request.

A token is ``nr_`` and 43 random URL-safe characters. Only its SHA-256 is stored (with its
first characters, to recognise it in lists and logs); the token itself is returned once, at
creation. Creating and revoking are audited; no service commits.

A request that authenticates with a valid token and carries no cookie that could sign a user
in needs no CSRF token: a browser never adds the ``Authorization`` header on its own, so a
forged cross-site request cannot carry it. Every other write keeps needing the CSRF token
(``init_app`` swaps Flask-WTF's default check for ``_csrf_unless_token``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from flask import Flask, abort, current_app, g, request
from sqlalchemy import select
from werkzeug.datastructures import WWWAuthenticate

from registry.accounts.models import TOKEN_SCOPES, ApiToken, User
from registry.audit.services import record as audit
from registry.db import utcnow
from registry.errors import InputError
from registry.extensions import csrf, db

TOKEN_PREFIX = "nr_"
#: how many leading characters of a token are kept to recognise it ("nr_" and 8 more)
SHOWN_CHARS = 11
#: last_used_at is written at most this often per token, so a busy integration does not
#: turn every read into a write
LAST_USED_RESOLUTION = timedelta(minutes=1)
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-]{1,200}")


class TokenError(InputError):
    """A token change that cannot be made."""


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


# --- managing tokens ---------------------------------------------------------------------------
def create_token(name: str, scopes: list[str], *, actor) -> tuple[ApiToken, str]:
    """Create a token; returns (token, plaintext). The plaintext is not kept anywhere."""
    name = name.strip()
    if not name or len(name) > 100:
        raise TokenError("Give the token a name of 1 to 100 characters (who uses it, for what).", field="name")
    unknown = sorted(set(scopes) - TOKEN_SCOPES.keys())
    if unknown:
        raise TokenError(f"Unknown scope {', '.join(unknown)}; choose from {', '.join(TOKEN_SCOPES)}.", field="scopes")
    if not scopes:
        raise TokenError("Choose at least one scope.", field="scopes")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ordered = [s for s in TOKEN_SCOPES if s in scopes]
    token = ApiToken(name=name, token_hash=_digest(plaintext), prefix=plaintext[:SHOWN_CHARS], scopes=" ".join(ordered), created_by_id=actor.id)
    db.session.add(token)
    db.session.flush()
    audit(actor_id=actor.id, actor=actor.label, action="token.create", entity_type="api_token", entity_key=str(token.id),
          after={"name": token.name, "prefix": token.prefix, "scopes": ordered})
    return token, plaintext


def revoke_token(token: ApiToken, *, actor) -> None:
    if not token.active:
        raise TokenError(f"The token {token.name} ({token.prefix}) is already revoked.")
    token.revoked_at = utcnow()
    token.revoked_by_id = actor.id
    audit(actor_id=actor.id, actor=actor.label, action="token.revoke", entity_type="api_token", entity_key=str(token.id),
          before={"revoked_at": None}, after={"revoked_at": token.revoked_at.isoformat(timespec="seconds")})


def get_token(token_id: int) -> ApiToken | None:
    return db.session.get(ApiToken, token_id)


def list_tokens() -> list[tuple[ApiToken, str | None]]:
    """Every token, newest first, with the email of the manager who created it."""
    query = select(ApiToken, User.email).outerjoin(User, User.id == ApiToken.created_by_id).order_by(ApiToken.id.desc())
    return [(token, email) for token, email in db.session.execute(query)]


# --- authenticating requests ---------------------------------------------------------------------
def _refuse(description: str):
    abort(401, description=description, www_authenticate=WWWAuthenticate("Bearer", {"error": "invalid_token"}))


def _authenticate(header: str | None) -> ApiToken | None:
    scheme, _, credentials = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None  # no token (another scheme, e.g. a proxy's Basic auth, is not ours)
    if not _TOKEN_CHARS.fullmatch(credentials.strip()):
        _refuse("The Authorization header must be 'Bearer <token>'.")
    token = db.session.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(credentials.strip()))).first()
    if token is None or not token.active:
        _refuse("This API token is not valid or has been revoked.")
    _note_use(token)
    return token


def _note_use(token: ApiToken) -> None:
    """Record the token's last use, at most once a minute. Committed at once, before the view
    runs, in the request's own session: GETs never commit, and a refused request still counts
    as a use of the token."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    token.last_used_at = now
    db.session.commit()


def request_token() -> ApiToken | None:
    """The valid token this request authenticates with; None when it sends none. A malformed,
    unknown or revoked token is refused here with 401 and ``WWW-Authenticate: Bearer``."""
    if "api_token" not in g:
        g.api_token = _authenticate(request.headers.get("Authorization"))
    return g.api_token


def _carries_sign_in_cookie() -> bool:
    app = current_app
    names = (app.session_interface.get_cookie_name(app), app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))
    return any(name in request.cookies for name in names)


def _csrf_unless_token() -> None:
    """Flask-WTF's check, skipped for a request authenticated by a token and no cookie."""
    if not current_app.config["WTF_CSRF_ENABLED"]:
        return
    if request.method in current_app.config["WTF_CSRF_METHODS"] and not _carries_sign_in_cookie() and request_token() is not None:
        return
    csrf.protect(apply_exemptions=True)


def init_app(app: Flask) -> None:
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(_csrf_unless_token)
