"""The deployment of docs/operations.md, done for real on PostgreSQL: the release step as
subprocesses (``flask db upgrade``, ``flask rules import``, ``flask users create``), gunicorn
started with ``-c gunicorn.conf.py`` (2 workers, production mode, JSON logs), a sign-in and a
coding check over HTTP, the JSON log lines of those requests; then a backup with ``pg_dump -Fc``
restored with ``pg_restore`` into another database, where ``flask audit verify`` passes and every
table holds the same rows.

Each test makes its own databases (unique names) and drops them, whatever happens. Skipped
unless DATABASE_URL names PostgreSQL (CI's second run does: make test-pg).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from registry import create_app
from tests.conftest import dispose
from tests.support.gunicorn_server import (
    ROOT,
    GunicornServer,
    flask,
    is_postgresql,
    libpq_url,
    production_env,
    scratch_database,
)

DATABASE_URL = os.environ.get("DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not is_postgresql(DATABASE_URL),
    reason="deployment tests run on PostgreSQL only: set DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test (CI's second run, make test-pg)",
)

MANAGER = "ops-manager@example.org"
PASSWORD = "a long deployment test passphrase"
#: the first visit of data/samples/visits.csv, as the JSON API takes it
VISIT = {
    "npi": "1000001036", "jurisdiction": "TX", "date": "2025-09-15", "payer_type": "commercial", "payer_name": "Acme Health",
    "muscles": [{"name": "upper trapezius", "side": "bilateral"}, {"name": "levator scapulae", "side": "left"}],
    "lines": [{"code": "20561", "units": 1}], "diagnoses": ["M79.18"],
    "consent_on_file": True, "plan_of_care_on_file": True, "reassessment_done": True,
}


class Browser:
    """A cookie-keeping client over real HTTP, one connection per request, no redirects followed."""

    def __init__(self, server: GunicornServer) -> None:
        self.server = server
        self.cookies: dict[str, str] = {}
        self.request_ids: list[tuple[str, str, int]] = []  # (request id, path, status)

    def send(self, method: str, path: str, *, form: dict | None = None, json_body: dict | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        status, response_headers, content = self.server.request(method, path, body=body, headers=headers)
        for header in response_headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        self.request_ids.append((response_headers["X-Request-ID"], path.split("?")[0], status))
        return status, response_headers, content


def csrf_token(html: bytes) -> str:
    match = re.search(rb'name="csrf[-_]token" (?:value|content)="([^"]+)"', html)
    assert match, html[:2000]
    return match.group(1).decode()


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    return parsed


def test_release_serve_sign_in_and_code_a_visit(tmp_path):
    with scratch_database(DATABASE_URL) as url:
        env = production_env(url, tmp_path)
        # the server first (its workers boot while the release step runs), to see it unready
        server = GunicornServer(env, tmp_path, workers=2)
        try:
            # the release step, as documented
            flask(env, "db", "upgrade")
            server.wait_for("/healthz", 200)
            status, _, body = server.request("GET", "/readyz")
            checks = json.loads(body)["checks"]
            assert status == 503 and checks["schema"]["ok"] is True and checks["rules"]["ok"] is False, checks
            flask(env, "rules", "import", "data/state_rules.csv")
            flask(env, "users", "create", MANAGER, "--role", "manager", "--password", PASSWORD)
            server.wait_for("/readyz", 200)
            status, _, body = server.request("GET", "/readyz")
            assert json.loads(body)["status"] == "ok"

            browser = Browser(server)
            status, _, home = browser.send("GET", "/?profession=PT&as_of=2025-09-15")
            assert status == 200 and b"<html" in home.lower()
            status, _, login_page = browser.send("GET", "/login")
            assert status == 200
            status, headers, _ = browser.send("POST", "/login", form={"email": MANAGER, "password": PASSWORD, "csrf_token": csrf_token(login_page)})
            assert status == 302 and headers["Location"].endswith("/"), headers
            status, _, page = browser.send("GET", "/coding/visit")
            assert status == 200
            token = csrf_token(page)
            provider = {"name": "Avery Sample", "npi": VISIT["npi"], "profession": "PT"}
            status, _, created = browser.send("POST", "/api/v1/providers", json_body=provider, headers={"X-CSRFToken": token})
            assert status in (200, 201), created[:2000]
            status, _, answer = browser.send("POST", "/api/v1/coding/check", json_body=VISIT, headers={"X-CSRFToken": token, "X-Request-ID": "deploy-check-1"})
            assert status == 200, answer[:2000]
            check = json.loads(answer)
            assert check["outcome"] in ("allow", "warn", "block") and check["computed_code"] == "20561"
            status, _, stored = browser.send("GET", f"/api/v1/coding/checks/{check['check_id']}")
            assert status == 200, stored[:2000]
            stored = json.loads(stored)
            assert stored["outcome"] == check["outcome"] and stored["visit"]["npi"] == VISIT["npi"]

        finally:
            server.stop()

        # every line gunicorn wrote on stderr is JSON: its own, and one per request of ours
        lines = json_lines(server.stderr())
        assert server.stdout() == ""  # no access log in JSON mode
        assert sum(1 for line in lines if line["logger"] == "gunicorn.error" and line["message"].startswith("Booting worker")) == 2
        requests = {line["request_id"]: line for line in lines if line["logger"] == "registry.request"}
        for request_id, path, status in browser.request_ids:
            line = requests[request_id]
            assert (line["path"], line["status"]) == (path, status), line
            assert {"time", "level", "method", "duration_ms", "remote_addr", "actor"} <= set(line)
        assert requests["deploy-check-1"]["method"] == "POST" and requests["deploy-check-1"]["actor"].startswith("user:")
        assert not any("?" in line["path"] or "as_of" in json.dumps(line) for line in requests.values())
        assert not any(MANAGER in json.dumps(line) or PASSWORD in json.dumps(line) for line in lines)
        assert not [line for line in lines if line["level"] in ("ERROR", "CRITICAL")]


def table_counts(url: str) -> dict[str, int]:
    import psycopg
    from psycopg import sql

    with psycopg.connect(libpq_url(url)) as conn:
        tables = [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        return {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0] for t in tables}


@pytest.mark.skipif(not (shutil.which("pg_dump") and shutil.which("pg_restore")), reason="pg_dump and pg_restore (the PostgreSQL client tools) are not installed")
def test_backup_and_restore(tmp_path):
    backup = tmp_path / "registry.dump"
    with scratch_database(DATABASE_URL) as source, scratch_database(DATABASE_URL, "registry_restore") as target:
        # some writes, by the same commands run in this process (quicker than one process each)
        app = create_app({"SQLALCHEMY_DATABASE_URI": source, "SECRET_KEY": "x" * 40, "TESTING": True, "MAIL_FILE_DIR": str(tmp_path / "mail")})
        try:
            runner = app.test_cli_runner()
            for args in (
                ["db", "upgrade"],
                ["rules", "import", "data/state_rules.csv"],
                ["users", "create", MANAGER, "--role", "manager", "--password", PASSWORD],
                ["providers", "import", "data/samples/providers.csv"],
                ["providers", "import", "data/samples/credentials.csv"],
            ):
                result = runner.invoke(args=args)
                assert result.exit_code == 0, (args, result.output, result.exception)
        finally:
            dispose(app)
        before = table_counts(source)
        assert before["audit_event"] > 0 and before["rule_version"] > 0 and before["license"] > 0 and before["alembic_version"] == 1

        # docs/operations.md, "Backup and restore"
        subprocess.run(["pg_dump", "--format=custom", f"--file={backup}", libpq_url(source)], check=True, timeout=60, cwd=ROOT)
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq_url(target)}", str(backup)], check=True, timeout=60, cwd=ROOT)

        restored = production_env(target, tmp_path)
        verified = flask(restored, "audit", "verify")
        assert verified.stdout.strip() == f"Audit chain intact: {before['audit_event']} events.", verified.stdout
        assert table_counts(target) == before

        # and it serves: /readyz (schema at head, rules loaded) answers 200 on the restored copy
        app = create_app({"SQLALCHEMY_DATABASE_URI": target, "SECRET_KEY": "x" * 40, "TESTING": True, "MAIL_FILE_DIR": str(tmp_path / "mail")})
        try:
            response = app.test_client().get("/readyz")
            assert response.status_code == 200, response.json
        finally:
            dispose(app)
