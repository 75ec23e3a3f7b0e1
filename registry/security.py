"""HTTP hardening: response headers, the production checks, the proxy, rate limits.

``init_app`` runs after the blueprints are registered (it rate-limits the login view).

* Headers (OWASP ASVS 5.0 V3.4): a strict Content-Security-Policy with no inline script or
  style anywhere (the Swagger UI page at ``/api/docs`` included: its initializer is the static
  file ``static/js/swagger-init.js``, see ``templates/swagger_ui.html``; that page alone may
  also show ``data:`` images, its icons), nosniff,
  Referrer-Policy, X-Frame-Options, ``Cache-Control: no-store`` on authenticated responses and
  HSTS on HTTPS requests only.
* ``BEHIND_PROXY``: trust one proxy's ``X-Forwarded-For/-Proto/-Host/-Port`` (werkzeug
  ``ProxyFix``), so HSTS sees HTTPS and rate limits see the client's address.
* Production (``REGISTRY_ENV=production``) refuses to start with a missing, short or placeholder
  ``SECRET_KEY``, or with the debugger on.
* Rate limits (Flask-Limiter): ``LOGIN_RATE_LIMIT`` on sign-in attempts (password and second
  factor, each counted apart) per client address and email, ``API_RATE_LIMIT`` on everything under ``/api/`` per token, user or address. The
  counters live in ``RATELIMIT_STORAGE_URI``: ``memory://`` counts per process (each gunicorn
  worker separately); use ``redis://`` to share them between workers.
"""

from __future__ import annotations

import hashlib
import math
import time

from flask import Flask, request, session
from flask_limiter import Limiter
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from registry.api_base import is_api_request

#: one year, and every subdomain (ASVS V3.4.1)
HSTS = "max-age=31536000; includeSubDomains"

CSP = "; ".join([
    "default-src 'self'",
    "base-uri 'none'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])

#: Swagger UI's stylesheet draws its icons as data: SVG images
DOCS_CSP = CSP + "; img-src 'self' data:"
DOCS_ENDPOINT = "api-docs.openapi_swagger_ui"

#: keys a deployment must not run with: the test suite's and the usual examples
PLACEHOLDER_KEYS = {"test-secret", "change-me", "changeme", "secret", "dev", "development", "your-secret-key"}
MIN_SECRET_KEY_LENGTH = 32


def client_address() -> str:
    return request.remote_addr or "unknown"


def api_client_key() -> str:
    """Who an API request counts against: its bearer token, else the signed-in user, else the
    client address. The token itself is never stored, only a digest of it."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return "token:" + hashlib.sha256(auth[7:].strip().encode()).hexdigest()[:32]
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{client_address()}"


def login_key() -> str:
    """Sign-in attempts count per client address and email (the second-factor form has no
    email: per address), so one attacker cannot lock every account out and one account cannot
    be guessed at from one address."""
    email = (request.form.get("email") or "").strip().lower()
    return f"login:{client_address()}:{email}"


def init_app(app: Flask) -> None:
    check_production_config(app)
    if app.config["BEHIND_PROXY"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)
    app.after_request(set_security_headers)
    init_rate_limits(app)


def init_rate_limits(app: Flask) -> None:
    """One Limiter per app (its decorated limits are registered by view name, so a shared
    instance would count a request once for every app ever built in the process)."""
    limiter = Limiter(
        key_func=api_client_key,
        application_limits=[app.config["API_RATE_LIMIT"]],
        application_limits_exempt_when=lambda: not is_api_request(),
        app=app,
    )
    for endpoint in ("accounts.login", "accounts.login_code"):  # password, then second factor
        app.view_functions[endpoint] = limiter.limit(
            app.config["LOGIN_RATE_LIMIT"], key_func=login_key, methods=["POST"]
        )(app.view_functions[endpoint])

    @app.after_request
    def retry_after(response):
        if response.status_code == 429 and limiter.current_limit:
            reset_at = limiter.current_limit.window[0]  # when the window frees a request
            response.headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
        return response


def check_production_config(app: Flask) -> None:
    """Refuse to start a production app that could forge sessions or expose the debugger."""
    if app.config["REGISTRY_ENV"] != "production":
        return
    key = app.config.get("SECRET_KEY") or ""
    if not key:
        raise RuntimeError("REGISTRY_ENV=production needs SECRET_KEY: set it to a random value of 32 characters or more (python -c 'import secrets; print(secrets.token_hex(32))').")
    if len(key) < MIN_SECRET_KEY_LENGTH or key.lower() in PLACEHOLDER_KEYS:
        raise RuntimeError(f"SECRET_KEY is too weak for production: use a random value of {MIN_SECRET_KEY_LENGTH} characters or more.")
    if app.debug:
        raise RuntimeError("REGISTRY_ENV=production with FLASK_DEBUG on: the debugger runs code for anyone who reaches it.")


def set_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", DOCS_CSP if request.endpoint == DOCS_ENDPOINT else CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    # "signed in" read from the session, not from the user row: after the view's commit the
    # row is expired, and asking it would cost another query (and, on SQLite, the write lock)
    if request.endpoint != "static" and (session.get("_user_id") is not None or "Authorization" in request.headers):
        headers["Cache-Control"] = "no-store"
    return response
