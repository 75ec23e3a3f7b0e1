"""Response headers on every page (ZAP's passive checks, emulated), the production checks,
request size limits and rate limits."""

from __future__ import annotations

import pytest

from registry import create_app
from tests.conftest import PASSWORD, app_config, dispose

SAMPLE_ARGS = {
    "code": "WA", "profession": "PT", "jurisdiction": "WA", "provider_id": 1, "kind": "license",
    "credential_id": 1, "npi": "1234567893", "id": 1, "check_id": 1, "message_id": 1,
    "license_id": 1, "training_id": 1, "registration_id": 1, "filename": "css/app.css", "fmt": "csv",
}


def get_paths(app) -> list[str]:
    """One path per GET route of the URL map, built with sample arguments."""
    return sorted(
        rule.build({a: SAMPLE_ARGS[a] for a in rule.arguments}, append_unknown=False)[1]
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or set())
    )


def assert_passive_checks(response, path: str, *, signed_in: bool, https: bool) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ") if d}
    # 10038: a CSP; no inline script or style may run, nothing may frame the page
    assert directives.get("default-src") == ["'self'"], (path, csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, (path, csp)
    assert directives.get("frame-ancestors") == ["'none'"], (path, csp)
    assert directives.get("object-src") == ["'none'"] and directives.get("base-uri") == ["'none'"], path
    assert directives.get("form-action") == ["'self'"], path
    assert ("data:" in csp) == (path == "/api/docs"), (path, csp)  # Swagger UI's icons only
    assert headers.get("X-Frame-Options") == "DENY", path  # 10020
    assert headers.get("X-Content-Type-Options") == "nosniff", path  # 10021
    assert headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", path
    hsts = headers.get("Strict-Transport-Security")  # 10035: over HTTPS only
    if https:
        assert hsts == "max-age=31536000; includeSubDomains", path
    else:
        assert hsts is None, path
    if signed_in and not path.startswith("/static/"):  # 10015
        assert headers.get("Cache-Control") == "no-store", path
    for cookie in headers.getlist("Set-Cookie"):  # 10010, 10011
        assert "HttpOnly" in cookie, (path, cookie)
        assert ("Secure" in cookie) == https, (path, cookie)


def test_the_walk_covers_pages_api_docs_and_static(app):
    paths = get_paths(app)
    assert {"/", "/login", "/api/docs", "/api/openapi.json", "/api/v1/jurisdictions", "/static/css/app.css"} <= set(paths)


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("role", [None, "manager", "clinician", "biller", "auditor"])
def test_every_get_route_sends_the_security_headers(database_url, app, make_user, role, https):
    secure_app = create_app(app_config(database_url, SESSION_COOKIE_SECURE=https))
    client = secure_app.test_client()
    base = "https://localhost" if https else "http://localhost"
    if role:
        _, email = make_user(role)
        signed_in = client.post("/login", data={"email": email, "password": PASSWORD}, base_url=base)
        assert signed_in.status_code == 302
        assert_passive_checks(signed_in, "/login (POST)", signed_in=True, https=https)
    try:
        for path in get_paths(secure_app):
            with client.get(path, base_url=base) as response:
                # /readyz answers 503 by design here: this database has no rules loaded
                assert response.status_code < 500 or (path == "/readyz" and response.status_code == 503), path
                assert_passive_checks(response, path, signed_in=role is not None, https=https)
    finally:
        dispose(secure_app)


def test_anonymous_pages_may_be_cached(client):
    assert client.get("/").headers.get("Cache-Control") != "no-store"


def test_behind_proxy_the_forwarded_scheme_and_address_count(database_url, _schema):
    proxied = create_app(app_config(database_url, BEHIND_PROXY=True))
    direct = create_app(app_config(database_url))
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    try:
        assert "Strict-Transport-Security" in proxied.test_client().get("/login", headers=forwarded).headers
        assert "Strict-Transport-Security" not in direct.test_client().get("/login", headers=forwarded).headers
    finally:
        dispose(proxied)
        dispose(direct)


# --- production configuration --------------------------------------------------------------
STRONG_KEY = "f" * 16 + "0123456789abcdef0123"


@pytest.mark.parametrize(
    "key, message",
    [("", "needs SECRET_KEY"), ("short-but-random-1234", "too weak"), ("test-secret", "too weak"), ("change-me", "too weak")],
)
def test_production_refuses_a_missing_or_weak_secret_key(database_url, monkeypatch, key, message):
    monkeypatch.setenv("REGISTRY_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", key)
    config = app_config(database_url)
    del config["SECRET_KEY"]  # from the environment, as in a deployment
    with pytest.raises(RuntimeError, match=message):
        create_app(config)


def test_production_does_not_generate_a_key(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    config = app_config(database_url)
    del config["SECRET_KEY"]
    with pytest.raises(RuntimeError, match="needs SECRET_KEY"):
        create_app(config)


def test_production_refuses_the_debugger(database_url, monkeypatch):
    monkeypatch.setenv("REGISTRY_ENV", "production")
    with pytest.raises(RuntimeError, match="FLASK_DEBUG"):
        create_app(app_config(database_url, SECRET_KEY=STRONG_KEY, DEBUG=True))


def test_production_starts_with_a_strong_key(database_url, monkeypatch):
    monkeypatch.setenv("REGISTRY_ENV", "production")
    app = create_app(app_config(database_url, SECRET_KEY=STRONG_KEY))
    assert app.config["REGISTRY_ENV"] == "production"
    dispose(app)


def test_development_generates_an_instance_key(monkeypatch, tmp_path):
    from registry.config import from_environment

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("REGISTRY_ENV", raising=False)
    first = from_environment(str(tmp_path))
    assert len(first["SECRET_KEY"]) >= 32 and first["REGISTRY_ENV"] == "development"
    assert from_environment(str(tmp_path))["SECRET_KEY"] == first["SECRET_KEY"]


@pytest.mark.parametrize(
    "name, value",
    [("REGISTRY_ENV", "prod"), ("LOGIN_RATE_LIMIT", "lots"), ("API_RATE_LIMIT", "10 per fortnight"), ("MAX_CONTENT_LENGTH_MB", "0")],
)
def test_bad_security_settings_stop_the_start_naming_the_variable(monkeypatch, tmp_path, name, value):
    from registry.config import from_environment

    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        from_environment(str(tmp_path))


# --- request size ---------------------------------------------------------------------------
def test_max_content_length_comes_from_the_environment(monkeypatch, tmp_path):
    from registry.config import from_environment

    monkeypatch.setenv("MAX_CONTENT_LENGTH_MB", "2")
    assert from_environment(str(tmp_path))["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024


@pytest.fixture
def small_app(database_url, _schema, app):
    small = create_app(app_config(database_url, MAX_CONTENT_LENGTH=1024))
    yield small
    dispose(small)


def test_too_large_api_body_is_a_json_413(small_app, make_user):
    client = small_app.test_client()
    _, email = make_user("manager")
    client.post("/login", data={"email": email, "password": PASSWORD})
    response = client.post("/api/v1/providers", data="x" * 2048, content_type="application/json")
    assert response.status_code == 413 and response.is_json
    assert response.json["code"] == 413


def test_too_large_form_is_an_html_413(small_app, make_user):
    client = small_app.test_client()
    response = client.post("/login", data={"email": "a@example.org", "password": "p" * 4096})
    assert response.status_code == 413 and response.mimetype == "text/html"
    assert "Upload too large" in response.get_data(as_text=True)


# --- rate limits ----------------------------------------------------------------------------
@pytest.fixture
def limited_app(database_url, _schema, app):
    """Rate limits on, with a store of its own (memory:// is per app instance)."""
    limited = create_app(app_config(database_url, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute", API_RATE_LIMIT="5 per minute"))
    yield limited
    dispose(limited)


def test_login_attempts_are_limited_per_address_and_email(limited_app):
    client = limited_app.test_client()
    wrong = {"email": "someone@example.org", "password": "not the password"}
    assert [client.post("/login", data=wrong).status_code for _ in range(3)] == [401, 401, 401]
    refused = client.post("/login", data=wrong)
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert "Too many requests" in refused.get_data(as_text=True)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # another email from the same address, and the login page itself, still answer
    assert client.post("/login", data={**wrong, "email": "other@example.org"}).status_code == 401
    assert client.get("/login").status_code == 200


def test_second_factor_attempts_are_limited_too(limited_app):
    client = limited_app.test_client()
    assert [client.post("/login/code", data={"code": "000000"}).status_code for _ in range(3)] == [302] * 3
    assert client.post("/login/code", data={"code": "000000"}).status_code == 429


def test_api_is_limited_per_client_with_json_and_retry_after(limited_app):
    client = limited_app.test_client()
    assert [client.get("/api/v1/jurisdictions").status_code for _ in range(5)] == [200] * 5
    refused = client.get("/api/v1/rules")  # one budget for the whole API
    assert refused.status_code == 429 and refused.is_json
    assert refused.json["code"] == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # another client (a bearer token counts apart from the address) and the pages are not limited
    other = client.get("/api/v1/jurisdictions", headers={"Authorization": "Bearer someone-else"})
    assert other.status_code != 429
    assert client.get("/").status_code == 200
