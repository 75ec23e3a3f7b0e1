"""The application factory: a short list of named steps."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from flask import Flask
from werkzeug.routing import IntegerConverter

from registry import config as config_module
from registry import errors, security

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` (tests pass one) overrides the environment."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_relative_config=True,
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(
        config_module.from_environment(app.instance_path, secret_given="SECRET_KEY" in (config or {}))
    )
    if config:
        app.config.update(config)
        if "SQLALCHEMY_DATABASE_URI" in config and "SQLALCHEMY_ENGINE_OPTIONS" not in config:
            # the pool options follow the database actually used, not DATABASE_URL's
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = config_module.engine_options(config["SQLALCHEMY_DATABASE_URI"])
    app.url_map.converters["int"] = RowIdConverter
    register_extensions(app)
    register_blueprints(app)
    security.init_app(app)
    errors.init_app(app)  # database unavailable -> 503 with Retry-After, never a 500
    register_commands(app)
    register_template_helpers(app)
    configure_logging(app)
    return app


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in every route: a row id, so at most 2**31 - 1 (PostgreSQL's INTEGER). A
    larger number matches no route (404) instead of reaching the database, which refuses it."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def register_extensions(app: Flask) -> None:
    from registry.accounts import tokens
    from registry.db import configure_engine
    from registry.extensions import api, csrf, db, login_manager, migrate

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    tokens.init_app(app)  # no CSRF token needed with an API token and no cookie
    login_manager.init_app(app)
    api.init_app(app)


def register_blueprints(app: Flask) -> None:
    from registry.accounts.token_views import bp as tokens_bp
    from registry.accounts.views import bp as accounts_bp
    from registry.alerts.views import bp as alerts_bp
    from registry.audit.views import bp as audit_bp
    from registry.coding.api import bp as coding_api
    from registry.coding.views import bp as coding_bp
    from registry.eligibility.api import bp as eligibility_api
    from registry.eligibility.views import bp as eligibility_bp
    from registry.extensions import api, csrf
    from registry.health.views import bp as health_bp
    from registry.providers.api import bp as providers_api
    from registry.providers.views import bp as providers_bp
    from registry.rules.api import bp as rules_api
    from registry.rules.views import bp as rules_bp

    app.register_blueprint(accounts_bp)
    app.register_blueprint(rules_bp)
    app.register_blueprint(providers_bp)
    app.register_blueprint(eligibility_bp)
    app.register_blueprint(coding_bp)
    app.register_blueprint(alerts_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(tokens_bp)
    app.register_blueprint(health_bp)
    # The rules API only reads, so it needs no CSRF token. The providers API writes with the
    # signed-in session, so its writes keep CSRF protection (send the X-CSRFToken header).
    csrf.exempt(rules_api)
    api.register_blueprint(rules_api, url_prefix="/api/v1")
    api.register_blueprint(providers_api, url_prefix="/api/v1")
    api.register_blueprint(eligibility_api, url_prefix="/api/v1")
    api.register_blueprint(coding_api, url_prefix="/api/v1")


def register_commands(app: Flask) -> None:
    from registry.accounts.cli import demo_cli, users_cli
    from registry.alerts.cli import alerts_cli
    from registry.audit.cli import audit_cli
    from registry.demo import cli as _demo_seed  # noqa: F401  (adds `demo seed` to demo_cli)
    from registry.providers.cli import providers_cli
    from registry.rules.cli import rules_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(rules_cli)
    app.cli.add_command(providers_cli)
    app.cli.add_command(alerts_cli)
    app.cli.add_command(audit_cli)


def register_template_helpers(app: Flask) -> None:
    from registry.rules import presenters

    app.jinja_env.filters["plain_requirements"] = presenters.plain_requirements
    app.jinja_env.filters["tristate"] = presenters.tristate
    app.jinja_env.filters["hours"] = presenters.hours
    app.jinja_env.globals["STATUS_LABELS"] = presenters.STATUS_LABELS
    app.jinja_env.globals["split_urls"] = presenters.split_urls


def configure_logging(app: Flask) -> None:
    """LOG_FORMAT (text or json) and LOG_LEVEL, a request id and one log line per request
    (registry/logs.py, docs/operations.md)."""
    from registry import logs

    logs.configure(app)
    logging.getLogger("registry").debug("logging: LOG_FORMAT=%s LOG_LEVEL=%s", app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
