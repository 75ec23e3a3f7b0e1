"""Shared fixtures.

The suite runs on SQLite (a temporary file, so WAL and locking are real) unless DATABASE_URL
names another database, as CI does for PostgreSQL. The schema is built once per session with
the real migrations; each test then starts from empty tables.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text

from registry import create_app
from registry.accounts.services import create_user
from registry.audit import guard
from registry.extensions import db
from registry.rules import services as rule_services
from registry.rules.csvio import COLUMNS
from registry.scratch import rebuild_schema

ROOT = Path(__file__).resolve().parent.parent
RULES_CSV = ROOT / "data" / "state_rules.csv"
PASSWORD = "correct horse battery staple"
MAIL_DIR = tempfile.mkdtemp(prefix="registry-test-mail-")


def _normalise(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return _normalise(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'registry-test.db'}"


def app_config(database_url: str, **extra) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,  # tests/test_security.py switches it on where it is tested
        # mail written as files (only where a test sends), never into the repository
        "MAIL_BACKEND": "file",
        "MAIL_FILE_DIR": MAIL_DIR,
        **extra,
    }


@pytest.fixture(scope="session")
def _schema(database_url):
    """Build the schema from the migrations, once, on an emptied database."""
    rebuild_schema(create_app(app_config(database_url)))
    yield


@pytest.fixture
def app(database_url, _schema):
    app = create_app(app_config(database_url))
    with app.app_context():
        rule_services.seed_reference_data()
        db.session.commit()
    yield app
    with app.app_context():
        empty_tables()
        db.engine.dispose()


def empty_tables() -> None:
    """Empty every table of the current app's database (ids start again from 1)."""
    db.session.remove()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:  # the record tables refuse DELETE: lift their guard while emptying them
            for statement in guard.remove_statements("sqlite"):
                conn.execute(text(statement))
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
            for statement in guard.install_statements("sqlite"):
                conn.execute(text(statement))


def dispose(app) -> None:
    """Close an app's pooled connections (psycopg warns about any left open)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def csrf_app(database_url, _schema, app):
    """The same database, with CSRF protection switched on as in production."""
    csrf_app = create_app(app_config(database_url, WTF_CSRF_ENABLED=True))
    yield csrf_app
    dispose(csrf_app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def make_user(app):
    def make(role: str, email: str | None = None):
        with app.app_context():
            user, _ = create_user(email or f"{role}@example.org", role, PASSWORD, actor_label="test")
            db.session.commit()
            return user.id, user.email

    return make


@pytest.fixture
def login(client, make_user):
    def do(role: str):
        _, email = make_user(role)
        response = client.post("/login", data={"email": email, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        return email

    return do


def import_text(content: str, source: str = "test.csv"):
    """Validate, plan and apply CSV text in the current app context; commit if clean."""
    plan = rule_services.read_rules_csv(io.StringIO(content))
    rule_services.plan_import(plan)
    if plan.ok:
        rule_services.apply_import(plan, actor=rule_services.Actor(None, "test"), source=source)
        db.session.commit()
    return plan


@pytest.fixture
def make_provider(app):
    """Create a provider (and optional credentials) through the services; returns its id."""
    from registry.providers import services as provider_services
    from registry.rules.services import Actor

    def make(npi: str = "1234567893", name: str = "Dana Example", profession: str = "PT", **credentials):
        with app.app_context():
            actor = Actor(None, "test")
            provider = provider_services.create_provider({"name": name, "npi": npi, "profession_code": profession, "email": "dana@example.org"}, actor=actor)
            for kind, items in credentials.items():
                for values in items:
                    provider_services.add_credential(kind, provider, values, actor=actor)
            db.session.commit()
            return provider.id

    return make


@pytest.fixture
def real_rules(app):
    """data/state_rules.csv, imported."""
    with app.app_context():
        plan = import_text(RULES_CSV.read_text(encoding="utf-8-sig"), source="data/state_rules.csv")
        assert plan.ok, [str(e) for e in plan.errors[:10]]
    return plan


def row(**overrides) -> dict[str, str]:
    """One valid CSV row (a permitted WA/PT version), with overrides."""
    base = {
        "jurisdiction": "WA", "profession": "PT", "status": "permitted", "status_detail": "test statute",
        "min_training_hours": "50", "min_practical_hours": "40", "supervised_sessions": "",
        "years_licensed": "1", "completion_window_months": "", "approved_course_bodies": "APTA; FSBPT",
        "board_registration_required": "yes", "written_consent_required": "yes",
        "referral_required": "no", "delegation_allowed": "no", "authority_type": "regulation",
        "citation": "WAC 246-915-390", "source_url": "https://example.org/rule",
        "source_date": "2024-05", "effective_from": "2024-06-22", "effective_to": "",
        "last_verified_on": "", "confidence": "high", "notes": "",
    }
    base.update(overrides)
    return base


def to_csv(rows: list[dict[str, str]], columns=COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
