"""Structured logs (registry/logs.py): LOG_FORMAT and LOG_LEVEL, the request id, one line per
request without the query string, the actor label, an unhandled exception with its traceback,
and gunicorn.conf.py's logging settings."""

from __future__ import annotations

import json
import logging
import os
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from registry import create_app, logs
from registry.accounts import tokens
from registry.extensions import db
from registry.rules.services import Actor
from tests.conftest import PASSWORD, app_config, dispose

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def records(caplog):
    """The request log and the app's own log, at INFO, as pytest captures them."""
    caplog.set_level(logging.INFO)
    return caplog


def request_lines(caplog) -> list[dict]:
    formatter = logs.JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "registry.request"]


def test_one_json_line_per_request_without_the_query_string(client, records):
    response = client.get("/healthz?token=nr_secret&email=pat@example.org", headers={"X-Request-ID": "lb-7f3a.1"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "lb-7f3a.1"
    (line,) = request_lines(records)
    assert line["request_id"] == "lb-7f3a.1"
    assert (line["method"], line["path"], line["status"], line["actor"], line["remote_addr"]) == ("GET", "/healthz", 200, "anonymous", "127.0.0.1")
    assert line["level"] == "INFO" and line["logger"] == "registry.request"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["time"].endswith("Z") and line["time"][10] == "T"
    text = logs.JsonFormatter().format(records.records[-1])
    assert "\n" not in text and "nr_secret" not in text and "example.org" not in text and "?" not in text


@pytest.mark.parametrize("incoming", [None, "", "has space", "x" * 129, "quote\"d", "new\nline", "ünï"])
def test_a_missing_or_unsafe_request_id_is_replaced(client, records, incoming):
    headers = {} if incoming is None else {"X-Request-ID": incoming}
    try:
        response = client.get("/healthz", headers=headers)
    except ValueError:  # werkzeug's test client refuses a newline in a header itself
        assert "\n" in incoming
        return
    rid = response.headers["X-Request-ID"]
    assert len(rid) == 32 and all(c in "0123456789abcdef" for c in rid)
    assert request_lines(records)[-1]["request_id"] == rid


def test_each_request_gets_its_own_id(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first != second
    assert client.get("/healthz", headers={"X-Request-ID": "x" * 128}).headers["X-Request-ID"] == "x" * 128


def test_actor_is_the_user_or_token_id_never_an_email(app, client, make_user, records):
    user_id, email = make_user("manager")
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    client.get("/providers")
    line = request_lines(records)[-1]
    assert (line["path"], line["status"], line["actor"]) == ("/providers", 200, f"user:{user_id}")
    with app.app_context():
        token, plaintext = tokens.create_token("EHR", ["rules:read"], actor=Actor(None, "test"))
        db.session.commit()
        token_id = token.id
    api = app.test_client()
    assert api.get("/api/v1/jurisdictions", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 200
    line = request_lines(records)[-1]
    assert line["actor"] == f"token:{token_id}"
    everything = "\n".join(logs.JsonFormatter().format(r) for r in records.records)
    assert email not in everything and plaintext not in everything


def test_an_unhandled_exception_is_logged_with_its_traceback_and_request_id(database_url, _schema, records):
    app = create_app(app_config(database_url, PROPAGATE_EXCEPTIONS=False))

    @app.get("/test-boom")
    def boom():
        raise RuntimeError("kaboom in a view")

    try:
        response = app.test_client().get("/test-boom?ssn=123", headers={"X-Request-ID": "req-500"})
        assert response.status_code == 500 and response.headers["X-Request-ID"] == "req-500"
        formatter = logs.JsonFormatter()
        (error,) = [json.loads(formatter.format(r)) for r in records.records if r.levelno >= logging.ERROR]
        assert error["level"] == "ERROR" and error["request_id"] == "req-500"
        assert error["exception"] == "RuntimeError: kaboom in a view"
        assert error["traceback"].startswith("Traceback (most recent call last):") and 'raise RuntimeError("kaboom in a view")' in error["traceback"]
        assert "ssn" not in json.dumps(error)
        line = request_lines(records)[-1]
        assert (line["status"], line["level"], line["path"], line["request_id"]) == (500, "WARNING", "/test-boom", "req-500")
    finally:
        dispose(app)


def test_text_format_names_the_request():
    record = logging.LogRecord("registry.request", logging.INFO, __file__, 1, "GET / 200 1.0ms", (), None)
    record.request_id, record.actor, record.remote_addr = "abc", "user:3", "10.0.0.1"
    text = logs.TextFormatter().format(record)
    assert text.endswith("INFO registry.request GET / 200 1.0ms request_id=abc actor=user:3 remote_addr=10.0.0.1")
    plain = logging.LogRecord("registry.alerts", logging.WARNING, __file__, 1, "queued %d", (3,), None)
    assert logs.TextFormatter().format(plain).endswith("WARNING registry.alerts queued 3")


# --- settings ------------------------------------------------------------------------------
def test_defaults_and_overrides():
    assert logs.log_format({}) == "text"
    assert logs.log_format({"REGISTRY_ENV": "production"}) == "json"
    assert logs.log_format({"REGISTRY_ENV": "production", "LOG_FORMAT": "TEXT"}) == "text"
    assert logs.log_format({"LOG_FORMAT": "text"}, override="json") == "json"
    assert logs.log_level({}) == "INFO"
    assert logs.log_level({"LOG_LEVEL": "warning"}) == "WARNING"


@pytest.mark.parametrize("name, value", [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "loud")])
def test_a_bad_value_stops_the_start_naming_the_variable(monkeypatch, database_url, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"^{name} must be one of .*got '{value}'"):
        create_app(app_config(database_url))


def test_the_app_config_wins_over_the_environment(monkeypatch, database_url, _schema):
    monkeypatch.setenv("LOG_FORMAT", "text")
    app = create_app(app_config(database_url, LOG_FORMAT="json", LOG_LEVEL="debug"))
    try:
        assert (app.config["LOG_FORMAT"], app.config["LOG_LEVEL"]) == ("json", "DEBUG")
    finally:
        dispose(app)


# --- a real process: the handler on stderr -----------------------------------------------------
SCRIPT = textwrap.dedent(
    """
    from registry import create_app
    app = create_app({"SECRET_KEY": "x" * 40, "RATELIMIT_ENABLED": False})

    @app.get("/test-boom")
    def boom():
        raise KeyError("missing")

    client = app.test_client()
    client.get("/healthz?q=secret", headers={"X-Request-ID": "sub-1"})
    client.get("/test-boom", headers={"X-Request-ID": "sub-2"})
    """
)


def run_app_process(tmp_path, **env) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "REGISTRY_ENV"))}
    environ.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'logs.db'}", "MAIL_FILE_DIR": str(tmp_path / "mail"), **env})
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    return result.stderr.splitlines()


def test_json_mode_writes_only_json_lines_on_stderr(tmp_path):
    lines = [json.loads(line) for line in run_app_process(tmp_path, LOG_FORMAT="json")]
    requests = [line for line in lines if line["logger"] == "registry.request"]
    assert [(r["request_id"], r["path"], r["status"]) for r in requests] == [("sub-1", "/healthz", 200), ("sub-2", "/test-boom", 500)]
    (error,) = [line for line in lines if line["level"] == "ERROR"]  # logged once, not twice
    assert error["request_id"] == "sub-2" and "KeyError: 'missing'" in error["traceback"]
    assert all(set(line) >= {"time", "level", "logger", "message", "pid"} for line in lines)
    assert not any("secret" in json.dumps(line) for line in lines)


def test_text_mode_and_level(tmp_path):
    lines = run_app_process(tmp_path, LOG_FORMAT="text")
    request = [line for line in lines if " registry.request " in line]
    assert len(request) == 2 and request[0].endswith("request_id=sub-1 actor=anonymous remote_addr=127.0.0.1")
    quiet = run_app_process(tmp_path, LOG_FORMAT="text", LOG_LEVEL="ERROR")
    assert not any(" registry.request " in line for line in quiet)
    assert any(" ERROR registry.app Exception on /test-boom [GET] request_id=sub-2" in line for line in quiet)


# --- gunicorn.conf.py ------------------------------------------------------------------------
def gunicorn_settings(monkeypatch, **env) -> dict:
    for name in ("LOG_FORMAT", "LOG_LEVEL", "REGISTRY_ENV", "GUNICORN_ACCESS_LOG", "GUNICORN_ERROR_LOG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the file puts its folder first
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_access_log_is_off_in_json_mode(monkeypatch):
    settings = gunicorn_settings(monkeypatch, LOG_FORMAT="json", LOG_LEVEL="warning")
    assert settings["accesslog"] is None and settings["errorlog"] == "-"
    config = settings["logconfig_dict"]
    assert config["formatters"]["json"]["()"].__name__ == "JsonFormatter"
    assert config["root"] == {"level": "WARNING", "handlers": ["error"]}
    assert config["handlers"]["error"]["stream"] == "ext://sys.stderr"
    assert config["loggers"]["gunicorn.error"]["handlers"] == ["error"]
    assert config["loggers"]["gunicorn.access"]["handlers"] == []


def test_gunicorn_access_log_when_asked(monkeypatch, tmp_path):
    settings = gunicorn_settings(monkeypatch, REGISTRY_ENV="production", GUNICORN_ACCESS_LOG=str(tmp_path / "access.log"))
    assert settings["accesslog"] == str(tmp_path / "access.log")
    assert settings["logconfig_dict"]["handlers"]["access"]["filename"] == str(tmp_path / "access.log")
    text = gunicorn_settings(monkeypatch)
    assert text["accesslog"] == "-" and "logconfig_dict" not in text
    assert gunicorn_settings(monkeypatch, GUNICORN_ACCESS_LOG="off")["accesslog"] is None


def test_gunicorn_master_does_not_load_the_app(tmp_path):
    """Workers forked after a reload (HUP) import the app afresh, so new code is served."""
    script = "import runpy, sys; s = runpy.run_path('gunicorn.conf.py'); assert 'logconfig_dict' in s; print(sorted(m for m in sys.modules if m == 'registry' or m.startswith('registry.')))"
    env = {**os.environ, "LOG_FORMAT": "json"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_gunicorn_refuses_a_bad_log_format(monkeypatch):
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        gunicorn_settings(monkeypatch, LOG_FORMAT="yaml")
