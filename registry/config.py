"""Configuration, read from the environment with safe defaults.

Every setting can be overridden by the mapping passed to ``create_app(config=...)``
(tests do this), which wins over the environment.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///registry.db"  # relative: lands in the instance folder


def _secret_key(instance_path: str) -> str:
    """Return ``SECRET_KEY`` from the environment, else a key kept in the instance folder.

    A generated key survives restarts (so sessions do) without ever being committed.
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def from_environment(instance_path: str, *, secret_given: bool = False) -> dict:
    """Build the configuration mapping from environment variables.

    ``secret_given``: the caller supplies SECRET_KEY itself, so none is read or generated.
    """
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if url.startswith("postgres://"):  # the scheme some hosts hand out
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return {
        **({} if secret_given else {"SECRET_KEY": _secret_key(instance_path)}),
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # SQLite: milliseconds a writer waits for the lock before failing.
        "SQLITE_BUSY_TIMEOUT_MS": int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "5000")),
        "WTF_CSRF_TIME_LIMIT": None,  # token lives as long as the session
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        # flask-smorest / OpenAPI
        "API_TITLE": "Needle Registry API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
        # Treat a state that is silent on dry needling as permitting it (organisation policy).
        "NOT_ADDRESSED_IS_PERMITTED": os.environ.get("NOT_ADDRESSED_IS_PERMITTED", "0") == "1",
        "RULES_PAGE_SIZE": 100,
    }
