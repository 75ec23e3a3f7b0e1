"""/healthz and /readyz: 200 only when the database answers (and, for readiness, the schema is
current and the rules are loaded); 503 with the failing check named otherwise."""

from __future__ import annotations

from sqlalchemy import text

from registry import create_app
from registry.extensions import db
from registry.health import services
from tests.conftest import RULES_CSV, app_config, dispose, import_text


def test_healthy_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["checks"]["database"]["ok"] is True
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_not_ready_until_the_rules_are_loaded(app, client):
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json["checks"]
    assert checks["database"]["ok"] and checks["schema"]["ok"]
    assert checks["rules"] == {"ok": False, "detail": "no state rules loaded; run: flask rules import data/state_rules.csv"}
    with app.app_context():
        import_text(RULES_CSV.read_text(encoding="utf-8"))
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "ok"


def test_not_ready_when_the_schema_is_behind(app, client):
    with app.app_context():
        (head,) = services.expected_revisions()
        db.session.execute(text("UPDATE alembic_version SET version_num = 'c4ebd3f7932b'"))
        db.session.commit()
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        detail = response.json["checks"]["schema"]["detail"]
        assert detail == f"at c4ebd3f7932b, the code expects {head}; run: flask db upgrade"
    finally:
        with app.app_context():
            db.session.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
            db.session.commit()


def test_unreachable_database_is_unhealthy_not_an_error(tmp_path, database_url):
    # a PostgreSQL port nothing listens on, or an SQLite file in a folder that does not exist
    if database_url.startswith("postgresql"):
        url = "postgresql+psycopg://postgres@127.0.0.1:9/none"
    else:
        url = f"sqlite:///{tmp_path / 'missing' / 'registry.db'}"
    broken = create_app(app_config(url))
    try:
        client = broken.test_client()
        for path in ("/healthz", "/readyz"):
            response = client.get(path)
            assert response.status_code == 503, path
            check = response.json["checks"]["database"]
            assert check["ok"] is False and check["detail"].startswith("OperationalError"), check
            assert list(response.json["checks"]) == ["database"]
    finally:
        dispose(broken)
