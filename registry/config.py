"""Configuration, read from the environment with safe defaults.

Every setting can be overridden by the mapping passed to ``create_app(config=...)``
(tests do this), which wins over the environment.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///registry.db"  # relative: lands in the instance folder


def _secret_key(instance_path: str, registry_env: str) -> str:
    """Return ``SECRET_KEY`` from the environment, else (outside production) a key kept in the
    instance folder; in production an empty key, which ``registry.security`` refuses.

    A generated key survives restarts (so sessions do) without ever being committed.
    """
    key = os.environ.get("SECRET_KEY")
    if key or registry_env == "production":
        return key or ""
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
    registry_env = _env_choice("REGISTRY_ENV", "development", ("development", "production"))
    return {
        "REGISTRY_ENV": registry_env,
        **({} if secret_given else {"SECRET_KEY": _secret_key(instance_path, registry_env)}),
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(url),
        # SQLite: milliseconds a writer waits for the lock before failing.
        "SQLITE_BUSY_TIMEOUT_MS": int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "5000")),
        "WTF_CSRF_TIME_LIMIT": None,  # token lives as long as the session
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        **_auth_settings(),
        **_security_settings(),
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
        **_alert_settings(instance_path),
    }


def engine_options(url: str) -> dict:
    """Connection pool per process (each gunicorn worker has its own). ``pool_pre_ping`` tests a
    pooled connection before use, so a worker recovers by itself after the database restarts."""
    options: dict = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options.update(
            # connections kept open per process, and how many more it may open under a burst
            pool_size=_env_int("DB_POOL_SIZE", 5, 1, 100),
            max_overflow=_env_int("DB_MAX_OVERFLOW", 5, 0, 100),
            # seconds a request waits for a free pooled connection before failing (503)
            pool_timeout=_env_int("DB_POOL_TIMEOUT", 10, 1, 300),
            # seconds to establish a connection: an unreachable server fails fast (503)
            connect_args={"connect_timeout": _env_int("DB_CONNECT_TIMEOUT", 5, 1, 120)},
        )
    return options


def _rate_limit(name: str, default: str) -> str:
    from limits import parse_many

    text = os.environ.get(name, default).strip()
    try:
        parse_many(text)
    except ValueError:
        raise ValueError(f"{name} must be a rate such as '10 per minute' or '600/minute;10000/day' (got {text!r}).") from None
    return text


def _security_settings() -> dict:
    """Request size, proxy and rate limits (see registry/security.py and docs/security.md)."""
    return {
        # a larger body is refused with 413 before any view reads it
        "MAX_CONTENT_LENGTH": _env_int("MAX_CONTENT_LENGTH_MB", 16, 1, 1024) * 1024 * 1024,
        # 1: trust one reverse proxy's X-Forwarded-For/-Proto/-Host/-Port headers
        "BEHIND_PROXY": os.environ.get("BEHIND_PROXY", "0") == "1",
        # Flask-Limiter; memory:// counts per process, redis://host:6379 shares the counts
        "RATELIMIT_ENABLED": os.environ.get("RATELIMIT_ENABLED", "1") == "1",
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "LOGIN_RATE_LIMIT": _rate_limit("LOGIN_RATE_LIMIT", "10 per minute"),
        "API_RATE_LIMIT": _rate_limit("API_RATE_LIMIT", "600 per minute"),
    }


# --- authentication: sign-in lockout, second factor, session lifetime (registry/accounts) -------
def _auth_settings() -> dict:
    https = os.environ.get("BASE_URL", "").startswith("https://")
    return {
        # cookies only over HTTPS: on by default when BASE_URL is an https:// address
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "1" if https else "0") == "1",
        # this many failed sign-ins in a row lock the account for LOGIN_LOCKOUT_MINUTES
        "LOGIN_MAX_FAILURES": _env_int("LOGIN_MAX_FAILURES", 5, 1, 100),
        "LOGIN_LOCKOUT_MINUTES": _env_int("LOGIN_LOCKOUT_MINUTES", 15, 1, 24 * 60),
        # a session ends after this long without a request, and this long after sign-in
        "SESSION_IDLE_MINUTES": _env_int("SESSION_IDLE_MINUTES", 30, 1, 24 * 60),
        "SESSION_MAX_HOURS": _env_int("SESSION_MAX_HOURS", 12, 1, 24 * 7),
        # 1: a manager without a second factor must set one up before doing anything else
        "REQUIRE_MANAGER_TOTP": os.environ.get("REQUIRE_MANAGER_TOTP", "0") == "1",
    }
# --- end of authentication ----------------------------------------------------------------------


def _env_int(name: str, default: int, low: int, high: int) -> int:
    text = os.environ.get(name, str(default)).strip()
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number (got {text!r}).") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high} (got {value}).")
    return value


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)} (got {value!r}).")
    return value


def _run_at(text: str) -> tuple[int, int]:
    try:
        hour, minute = (int(part) for part in text.strip().split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
    except ValueError:
        raise ValueError(f"ALERT_RUN_AT must be a time of day as HH:MM, e.g. 06:00 (got {text!r}).") from None
    return hour, minute


def _timezone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"ALERT_TIMEZONE must be an IANA time zone such as America/Chicago or UTC (got {name!r}).") from None
    return name


def _alert_settings(instance_path: str) -> dict:
    """Email and the expiry-alert job (see registry/alerts and the README)."""
    from registry.alerts.windows import parse_days

    return {
        # mail: "file" (default: .eml files under MAIL_FILE_DIR, nothing leaves the machine),
        # "console", or "smtp" with the SMTP_* settings
        "MAIL_BACKEND": _env_choice("MAIL_BACKEND", "file", ("smtp", "file", "console")),
        "MAIL_SENDER": os.environ.get("MAIL_SENDER", "Needle Registry <registry@localhost>"),
        "MAIL_FILE_DIR": os.environ.get("MAIL_FILE_DIR", str(Path(instance_path) / "mail")),
        "SMTP_HOST": os.environ.get("SMTP_HOST", "localhost"),
        "SMTP_PORT": _env_int("SMTP_PORT", 25, 1, 65535),
        "SMTP_SECURITY": _env_choice("SMTP_SECURITY", "none", ("none", "starttls", "ssl")),
        "SMTP_USER": os.environ.get("SMTP_USER", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_TIMEOUT": _env_int("SMTP_TIMEOUT", 10, 1, 300),
        # the alert windows: days before and after expiry
        "ALERT_WINDOWS_BEFORE": parse_days(os.environ.get("ALERT_WINDOWS_BEFORE", "90,60,30,7,0"), "ALERT_WINDOWS_BEFORE"),
        "ALERT_WINDOWS_AFTER": parse_days(os.environ.get("ALERT_WINDOWS_AFTER", "1,14,28"), "ALERT_WINDOWS_AFTER"),
        "ALERT_CATCH_UP_DAYS": _env_int("ALERT_CATCH_UP_DAYS", 14, 0, 365),
        # the scheduler: the daily run, and how often the outbox sender retries
        "ALERT_RUN_AT": _run_at(os.environ.get("ALERT_RUN_AT", "06:00")),
        "ALERT_TIMEZONE": _timezone(os.environ.get("ALERT_TIMEZONE", "UTC")),
        "ALERT_SEND_EVERY_MINUTES": _env_int("ALERT_SEND_EVERY_MINUTES", 5, 1, 1440),
        "ALERT_MAX_ATTEMPTS": _env_int("ALERT_MAX_ATTEMPTS", 8, 1, 100),
        # the outbox page warns when no run has succeeded for this long
        "ALERT_STALE_AFTER_HOURS": _env_int("ALERT_STALE_AFTER_HOURS", 48, 1, 24 * 30),
        # where links in emails point
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
    }
