"""An unreachable database is a 503 with Retry-After (JSON under /api/, a plain page elsewhere),
never a 500; other database errors stay 500 (registry/errors.py). The same under real load and
a real restart: tests/test_load.py."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from registry import create_app, errors
from registry.extensions import db
from tests.conftest import app_config, dispose


def _broken_app(tmp_path, database_url: str):
    """The app on a database that cannot be reached."""
    if database_url.startswith("postgresql"):
        url = "postgresql+psycopg://postgres@127.0.0.1:9/none"
    else:
        url = f"sqlite:///{tmp_path / 'missing' / 'registry.db'}"
    return create_app(app_config(url))


def test_database_unavailable_is_a_503_json_under_api(tmp_path, database_url):
    app = _broken_app(tmp_path, database_url)
    try:
        response = app.test_client().get("/api/v1/providers/1234567893/eligibility?jurisdiction=WA",
                                         headers={"Authorization": "Bearer nr_" + "a" * 43})
        assert response.status_code == 503, response.get_data(as_text=True)[:500]
        assert response.is_json and response.json["code"] == 503
        assert response.json["message"] == errors.UNAVAILABLE_MESSAGE
        assert response.headers["Retry-After"] == str(errors.RETRY_AFTER_SECONDS)
        assert "postgres" not in response.get_data(as_text=True).lower()  # no connection string, no SQL
    finally:
        dispose(app)


def test_database_unavailable_is_a_503_page(tmp_path, database_url):
    app = _broken_app(tmp_path, database_url)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: nothing re-raised to the caller
    try:
        response = app.test_client().get("/jurisdictions/WA")
        assert response.status_code == 503
        assert response.mimetype == "text/html" and response.headers["Retry-After"] == str(errors.RETRY_AFTER_SECONDS)
        page = response.get_data(as_text=True)
        assert "Database unavailable" in page and "try again in a few seconds" in page
        assert "Content-Security-Policy" in response.headers
    finally:
        dispose(app)


def test_the_503_page_does_not_ask_the_database_for_the_signed_in_user(app, client, login, monkeypatch):
    from registry.extensions import login_manager

    login("manager")

    def unreachable(user_id):
        raise OperationalError("SELECT user_account", {}, Exception("connection refused"))

    monkeypatch.setattr(login_manager, "_user_callback", unreachable)
    response = client.get("/jurisdictions/WA/PT/edit")
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "Database unavailable" in response.get_data(as_text=True)


def test_a_connection_lost_at_the_end_of_a_request_does_not_make_it_a_500(app, monkeypatch):
    calls = {"invalidate": 0}

    @app.get("/test-answered")
    def answered():
        db.session.execute(text("SELECT 1"))
        # the database is shut down now: closing the session, its ROLLBACK finds the connection gone
        monkeypatch.setattr(db.session, "close", lambda: (_ for _ in ()).throw(
            OperationalError("ROLLBACK", {}, Exception("terminating connection due to administrator command"))))
        session = db.session()
        real_invalidate = session.invalidate

        def invalidate():
            calls["invalidate"] += 1
            real_invalidate()

        monkeypatch.setattr(session, "invalidate", invalidate)
        return "answered"

    response = app.test_client().get("/test-answered")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "answered")
    assert calls["invalidate"] == 1


def test_the_session_is_rolled_back_and_other_database_errors_stay_500(app, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    app.config["PROPAGATE_EXCEPTIONS"] = False
    seen = {"rollbacks": 0}
    real_rollback = db.session.rollback

    def rollback():
        seen["rollbacks"] += 1
        real_rollback()

    monkeypatch.setattr(db.session, "rollback", rollback)

    @app.get("/api/test-db-gone")
    def gone():
        db.session.execute(text("SELECT 1"))
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    @app.get("/api/test-db-integrity")
    def integrity():
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    @app.after_request
    def answered(response):  # after the error handler, before the app context's teardown
        seen["before_answer"] = seen["rollbacks"]
        return response

    client = app.test_client()
    response = client.get("/api/test-db-gone")
    assert response.status_code == 503 and response.json["status"] == "Service Unavailable"
    assert seen["before_answer"] == 1
    assert client.get("/api/test-db-integrity").status_code == 500
