"""Access control, proven route by route.

``EXPECTED`` names, for every route of the URL map and each of its methods, who may use it: the
roles (or everyone) and the scope an API token needs. A route missing from it fails the suite.
Every principal (anonymous, each role, an API token of each scope) then calls every route and
must be let in (not 401/403) or refused (403; anonymous: 401 or the login page). Then the
data-level rules (a clinician's own record only; auditors change nothing), the API tokens'
lifecycle, and CSRF, which applies to sessions and not to token-authenticated requests.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from sqlalchemy import select

from registry.accounts import tokens
from registry.accounts.models import TOKEN_SCOPES, ApiToken
from registry.audit.models import AuditEvent
from registry.coding.models import CodingCheck
from registry.extensions import db
from registry.providers import services as providers
from registry.rules.services import Actor
from tests import test_eligibility_api
from tests.conftest import PASSWORD
from tests.test_coding_api import visit
from tests.test_eligibility_api import NPI, link_account

pt = test_eligibility_api.pt  # the fixture: Pat Table, a PT licensed in WA

M, C, B, A = "manager", "clinician", "biller", "auditor"
SIGNED_IN = (M, C, B, A)
EVERYONE = "everyone"  # signed in or not
OTHER_NPI = "1245319599"
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def public(scope: str | None = None):
    """Open to everyone; a token needs ``scope`` when one is given, else it is not looked at."""
    return (EVERYONE, scope)


def roles(*who: str, scope: str | None = None):
    """Signed-in users with one of ``who``; a token with ``scope`` (none: tokens refused)."""
    return (who, scope)


#: endpoint -> {method: (who may, the scope a token needs)}
EXPECTED = {
    # sign-in and one's own account
    "accounts.login": {"GET": public(), "POST": public()},
    "accounts.login_code": {"GET": public(), "POST": public()},
    "accounts.logout": {"POST": roles(*SIGNED_IN)},
    "accounts.account": {"GET": roles(*SIGNED_IN)},
    "accounts.change_password": {"GET": roles(*SIGNED_IN), "POST": roles(*SIGNED_IN)},
    "accounts.totp_setup": {"GET": roles(*SIGNED_IN), "POST": roles(*SIGNED_IN)},
    "accounts.totp_disable": {"GET": roles(*SIGNED_IN), "POST": roles(*SIGNED_IN)},
    "tokens.token_list": {"GET": roles(M, A)},
    "tokens.create": {"POST": roles(M)},
    "tokens.revoke": {"POST": roles(M)},
    # state rules
    "static": {"GET": public()},
    "health.healthz": {"GET": public()},
    "health.readyz": {"GET": public()},
    "rules.home": {"GET": public()},
    "rules.jurisdiction": {"GET": public()},
    "rules.export_csv": {"GET": public()},
    "rules.edit_rule": {"GET": roles(M), "POST": roles(M)},
    "rules_api.Jurisdictions": {"GET": public("rules:read")},
    "rules_api.Rules": {"GET": public("rules:read")},
    "rules_api.RuleHistory": {"GET": public("rules:read")},
    "api-docs.openapi_json": {"GET": public()},
    "api-docs.openapi_swagger_ui": {"GET": public()},
    # providers and credentials
    "providers.provider_list": {"GET": roles(M, A, B)},
    "providers.provider_page": {"GET": roles(*SIGNED_IN)},
    "providers.my_record": {"GET": roles(*SIGNED_IN)},
    "providers.worklist": {"GET": roles(M, A)},
    "providers.worklist_csv": {"GET": roles(M, A)},
    "providers.provider_export": {"GET": roles(M, A)},
    "providers.provider_new": {"GET": roles(M), "POST": roles(M)},
    "providers.provider_edit": {"GET": roles(M), "POST": roles(M)},
    "providers.provider_import": {"GET": roles(M), "POST": roles(M)},
    "providers.credential_new": {"GET": roles(M), "POST": roles(M)},
    "providers.credential_edit": {"GET": roles(M), "POST": roles(M)},
    "providers.credential_end": {"GET": roles(M), "POST": roles(M)},
    "providers_api.providers": {"GET": roles(*SIGNED_IN, scope="providers:read"), "POST": roles(M, scope="providers:write")},
    "providers_api.provider": {"GET": roles(*SIGNED_IN, scope="providers:read"), "PATCH": roles(M, scope="providers:write")},
    "providers_api.provider_history": {"GET": roles(*SIGNED_IN, scope="providers:read")},
    **{
        f"providers_api.{name}": {"GET": roles(*SIGNED_IN, scope="providers:read"), write: roles(M, scope="providers:write")}
        for kind in ("license", "training", "registration")
        for name, write in ((kind, "PATCH"), (f"{kind}s", "POST"))
    },
    **{f"providers_api.end_{kind}": {"POST": roles(M, scope="providers:write")} for kind in ("license", "training", "registration")},
    # eligibility
    "eligibility.question": {"GET": roles(*SIGNED_IN)},
    "eligibility_api.provider_eligibility": {"GET": roles(*SIGNED_IN, scope="eligibility:read")},
    "eligibility_api.provider_eligibility_matrix": {"GET": roles(*SIGNED_IN, scope="eligibility:read")},
    "eligibility_api.eligibility_batch": {"POST": roles(M, A, B, scope="eligibility:read")},
    # coding
    "coding.visit": {"GET": roles(M, B, C), "POST": roles(M, B, C)},
    "coding.check_page": {"GET": roles(*SIGNED_IN)},
    "coding.release": {"POST": roles(M, B, C)},
    "coding.check_list": {"GET": roles(M, B, A)},
    "coding.check_list_csv": {"GET": roles(M, B, A)},
    "coding.lines": {"GET": roles(M, B, A)},
    "coding.lines_csv": {"GET": roles(M, B, A)},
    "coding.lines_export": {"POST": roles(M, B)},
    "coding.upload": {"GET": roles(M, B), "POST": roles(M, B)},
    "coding.upload_sample": {"GET": roles(M, B)},
    "coding_api.coding_check": {"POST": roles(M, B, C, scope="coding:check")},
    "coding_api.coding_check_batch": {"POST": roles(M, B, scope="coding:check")},
    "coding_api.coding_checks": {"GET": roles(M, B, A, scope="coding:read")},
    "coding_api.coding_check_record": {"GET": roles(M, B, A, scope="coding:read")},
    # alerts and the audit trail
    "alerts.outbox": {"GET": roles(M, A)},
    "alerts.resend": {"POST": roles(M)},
    "alerts.run_now": {"POST": roles(M)},
    "audit.audit_log": {"GET": roles(A, M)},
    "audit.audit_csv": {"GET": roles(A, M)},
}

#: POSTs that change nothing (a batch of questions)
READING_POSTS = {"eligibility_api.eligibility_batch"}
#: write routes about the caller's own sign-in and account, open to every role
SELF_SERVICE = {"accounts.login", "accounts.login_code", "accounts.logout", "accounts.change_password", "accounts.totp_setup", "accounts.totp_disable"}
PRINCIPALS = ["anonymous", *SIGNED_IN, *(f"token {scope}" for scope in TOKEN_SCOPES)]


def url_map_routes(app) -> set[tuple[str, str]]:
    return {(rule.endpoint, method) for rule in app.url_map.iter_rules() for method in (rule.methods or set()) & METHODS}


def expectation(endpoint: str, method: str):
    return EXPECTED[endpoint][method]


def may(principal: str, endpoint: str, method: str) -> bool:
    who, scope = expectation(endpoint, method)
    if principal.startswith("token "):
        return principal.removeprefix("token ") == scope if scope else who == EVERYONE
    return who == EVERYONE or principal in who


def view_of(app, endpoint: str, method: str):
    """The decorated function of a route (the method of a class-based view, as flask-smorest's)."""
    view = app.view_functions[endpoint]
    view_class = getattr(view, "view_class", None)
    return getattr(view_class, method.lower()) if view_class is not None else view


def test_every_route_has_an_expectation(app):
    routes = url_map_routes(app)
    listed = {(endpoint, method) for endpoint, methods in EXPECTED.items() for method in methods}
    assert not routes - listed, f"routes missing from EXPECTED (say who may use them): {sorted(routes - listed)}"
    assert not listed - routes, f"EXPECTED lists routes that do not exist: {sorted(listed - routes)}"


def test_declared_roles_and_scopes_match_the_table(app):
    for endpoint, method in sorted(url_map_routes(app)):
        who, scope = expectation(endpoint, method)
        view = view_of(app, endpoint, method)
        declared = set(getattr(view, "required_roles", ())) or EVERYONE
        assert declared == (who if who == EVERYONE else set(who)), (endpoint, method, declared)
        assert getattr(view, "required_scope", None) == scope, (endpoint, method)


# --- every route, every principal --------------------------------------------------------------
@pytest.fixture
def world(app, make_user, pt, make_provider):
    """Pat Table linked to a clinician account, another provider, a recorded coding check, a
    token of each scope and one more to revoke; returns the URL arguments and the tokens."""
    make_provider(OTHER_NPI, "Eve Other", "DC", license=[{"jurisdiction_code": "OR", "number": "DC-9"}])
    user_id, _ = make_user(C)
    with app.app_context():
        pat = providers.get_by_npi(NPI)
        pat.user_id = user_id
        actor = Actor(None, "test")
        plaintexts = {scope: tokens.create_token(f"{scope} client", [scope], actor=actor)[1] for scope in TOKEN_SCOPES}
        spare, _ = tokens.create_token("to revoke", ["rules:read"], actor=actor)
        db.session.commit()
        args = {
            "code": "WA", "profession": "PT", "jurisdiction": "WA", "npi": NPI, "provider_id": pat.id, "kind": "license",
            "credential_id": pat.licenses[0].id, "message_id": 1, "token_id": spare.id, "fmt": "providers", "filename": "css/app.css",
        }
    check = app.test_client(use_cookies=False).post("/api/v1/coding/check", json=visit(), headers=bearer(plaintexts["coding:check"]))
    args["check_id"] = check.json["check_id"]
    return {"args": args, "tokens": plaintexts}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def calls(app, args: dict):
    """Every (endpoint, method, path), signing out last."""
    found = []
    for rule in app.url_map.iter_rules():
        path = rule.build({a: args[a] for a in rule.arguments}, append_unknown=False)[1]
        found += [(rule.endpoint, method, path) for method in sorted((rule.methods or set()) & METHODS)]
    return sorted(found, key=lambda call: call[0] == "accounts.logout")


def client_for(app, principal: str, world: dict, make_user):
    if principal == "anonymous":
        return app.test_client(), {}
    if principal.startswith("token "):  # an integration: no cookies at all
        return app.test_client(use_cookies=False), bearer(world["tokens"][principal.removeprefix("token ")])
    client = app.test_client()
    email = f"{principal}@example.org"
    if principal != C:  # the clinician is world's, linked to Pat Table
        make_user(principal)
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client, {}


def refused(principal: str, response) -> bool:
    if principal == "anonymous":
        return response.status_code == 401 or (response.status_code == 302 and response.headers["Location"].startswith("/login"))
    return response.status_code == 403


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_every_route_admits_exactly_whom_it_should(app, make_user, world, principal):
    client, headers = client_for(app, principal, world, make_user)
    wrong = []
    for endpoint, method, path in calls(app, world["args"]):
        response = client.open(path, method=method, data={}, headers=headers)
        response.close()  # static files are streamed from an open file
        allowed = may(principal, endpoint, method)
        if allowed and response.status_code in (401, 403) or not allowed and not refused(principal, response):
            wrong.append(f"{method} {path} ({endpoint}): {response.status_code}, expected {'allow' if allowed else 'refuse'}")
    assert not wrong, "\n".join(wrong)


def test_anonymous_api_calls_are_told_how_to_authenticate(client):
    response = client.get("/api/v1/providers")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


# --- data-level rules -------------------------------------------------------------------------
def test_a_clinician_sees_only_their_own_provider_record(app, make_user, pt, make_provider):
    other_id = make_provider(OTHER_NPI, "Eve Other", "DC", license=[{"jurisdiction_code": "WA", "number": "DC-9"}])
    pat = link_account(app, make_user, NPI)
    assert pat.get(f"/api/v1/providers/{NPI}").status_code == 200
    assert pat.get(f"/providers/{pt}").status_code == 200
    assert [p["npi"] for p in pat.get("/api/v1/providers").json["items"]] == [NPI]
    for path in (
        f"/api/v1/providers/{OTHER_NPI}", f"/api/v1/providers/{OTHER_NPI}/licenses", f"/api/v1/providers/{OTHER_NPI}/history",
        f"/api/v1/providers/{OTHER_NPI}/eligibility?jurisdiction=WA", f"/api/v1/providers/{OTHER_NPI}/eligibility/matrix",
        f"/providers/{other_id}",
    ):
        assert pat.get(path).status_code == 404, path
    assert pat.get("/me").headers["Location"] == f"/providers/{pt}"
    assert pat.post("/api/v1/coding/check", json=visit(npi=OTHER_NPI)).status_code == 403


def test_auditors_change_nothing(app, make_user, world):
    auditor, _ = client_for(app, A, world, make_user)
    for endpoint, method, path in calls(app, world["args"]):
        if method == "GET" or endpoint in SELF_SERVICE | READING_POSTS:
            continue
        response = auditor.open(path, method=method, data={})
        assert response.status_code == 403, (method, path, response.status_code)


# --- API tokens -------------------------------------------------------------------------------
def created_token(manager, name: str, *scopes: str) -> str:
    response = manager.post("/tokens", data={"name": name, "scopes": list(scopes)})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return re.search(r'id="token-plaintext">([^<]+)<', response.get_data(as_text=True))[1]


@pytest.fixture
def manager(app, make_user):
    make_user(M)
    client = app.test_client()
    assert client.post("/login", data={"email": "manager@example.org", "password": PASSWORD}).status_code == 302
    return client


def test_the_token_is_shown_once_and_only_its_hash_is_stored(app, manager):
    plaintext = created_token(manager, "Clinic EHR", "coding:check", "eligibility:read")
    assert plaintext.startswith("nr_") and len(plaintext) > 40
    listing = manager.get("/tokens").get_data(as_text=True)
    assert "Clinic EHR" in listing and plaintext[:11] in listing and plaintext not in listing
    with app.app_context():
        token = db.session.scalars(select(ApiToken)).one()
        assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
        assert token.prefix == plaintext[:11] and token.scope_list == ["eligibility:read", "coding:check"]
        assert token.created_by_id is not None and token.last_used_at is None
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "token.create")).one()
        assert event.actor == "manager@example.org" and event.after["prefix"] == plaintext[:11]
        stored = [json.dumps([e.before, e.after, e.reason]) for e in db.session.scalars(select(AuditEvent))]
        assert not any(plaintext in s or plaintext[11:] in s for s in stored)


def test_a_token_needs_a_name_and_a_scope(manager):
    assert manager.post("/tokens", data={"name": "x"}).status_code == 400
    assert manager.post("/tokens", data={"name": "", "scopes": ["rules:read"]}).status_code == 400
    assert manager.post("/tokens", data={"name": "x", "scopes": ["root"]}).status_code == 400


def test_a_revoked_token_is_refused(app, manager, pt):
    plaintext = created_token(manager, "Billing system", "providers:read")
    integration = app.test_client(use_cookies=False)
    assert integration.get("/api/v1/providers", headers=bearer(plaintext)).status_code == 200
    with app.app_context():
        token_id = db.session.scalars(select(ApiToken.id)).one()
    assert manager.post(f"/tokens/{token_id}/revoke").status_code == 303
    response = integration.get("/api/v1/providers", headers=bearer(plaintext))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error=invalid_token'
    assert "revoked" in manager.get("/tokens").get_data(as_text=True)
    assert manager.post(f"/tokens/{token_id}/revoke", follow_redirects=True).get_data(as_text=True).count("already revoked") == 1
    with app.app_context():
        token = db.session.get(ApiToken, token_id)
        assert token.revoked_at is not None and token.revoked_by_id is not None
        revokes = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "token.revoke")).all()
        assert [(e.entity_key, e.actor) for e in revokes] == [(str(token_id), "manager@example.org")]


@pytest.mark.parametrize("header", ["Bearer", "Bearer nr_not-a-token", "Bearer two words", "bearer nr_!!!"])
def test_malformed_or_unknown_tokens_are_refused(client, header):
    response = client.get("/api/v1/jurisdictions", headers={"Authorization": header})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == 'Bearer error=invalid_token'


def test_the_last_use_is_recorded_at_most_once_a_minute(app, manager):
    plaintext = created_token(manager, "Reader", "rules:read")
    integration = app.test_client(use_cookies=False)

    def last_used():
        with app.app_context():
            return db.session.scalars(select(ApiToken.last_used_at)).one()

    assert integration.get("/api/v1/jurisdictions", headers=bearer(plaintext)).status_code == 200
    first = last_used()
    assert first is not None
    assert integration.get("/api/v1/jurisdictions", headers=bearer(plaintext)).status_code == 200
    assert last_used() == first  # within the minute: not written again
    with app.app_context():
        token = db.session.scalars(select(ApiToken)).one()
        token.last_used_at = first - tokens.LAST_USED_RESOLUTION
        db.session.commit()
    assert integration.get("/api/v1/jurisdictions", headers=bearer(plaintext)).status_code == 200
    assert last_used() > first - tokens.LAST_USED_RESOLUTION


def test_an_integration_codes_a_visit_with_a_scoped_token_and_no_csrf(csrf_app, app, pt):
    with app.app_context():
        token, plaintext = tokens.create_token("Clinic EHR", ["coding:check"], actor=Actor(None, "test"))
        db.session.commit()
        label = f"token:Clinic EHR ({token.prefix})"
    integration = csrf_app.test_client(use_cookies=False)
    response = integration.post("/api/v1/coding/check", json=visit(), headers=bearer(plaintext))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["outcome"] == "allow"
    with app.app_context():
        check = db.session.get(CodingCheck, response.json["check_id"])
        assert (check.actor, check.actor_id, check.channel) == (label, None, "api")
    assert integration.get("/api/v1/providers", headers=bearer(plaintext)).status_code == 403
    assert integration.get(f"/api/v1/providers/{NPI}/eligibility?jurisdiction=WA", headers=bearer(plaintext)).status_code == 403


def test_sessions_still_need_the_csrf_token_on_the_api(csrf_app, app, make_user, pt):
    with app.app_context():
        _, plaintext = tokens.create_token("Clinic EHR", ["coding:check"], actor=Actor(None, "test"))
        db.session.commit()
    make_user(B)
    biller = csrf_app.test_client()
    page = biller.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    assert biller.post("/login", data={"email": "biller@example.org", "password": PASSWORD, "csrf_token": csrf}).status_code == 302
    assert biller.post("/api/v1/coding/check", json=visit()).status_code == 400
    # a session cookie beside a valid token: the cookie could be ridden, so CSRF still applies
    assert biller.post("/api/v1/coding/check", json=visit(), headers=bearer(plaintext)).status_code == 400
    token = re.search(r'name="csrf-token" content="([^"]+)"', biller.get("/").get_data(as_text=True))[1]
    assert biller.post("/api/v1/coding/check", json=visit(), headers={"X-CSRFToken": token}).status_code == 200


# --- CSRF on the forms ------------------------------------------------------------------------
def test_forms_without_csrf_token_are_refused(csrf_app, app, make_user, world):
    make_user(M)
    client = csrf_app.test_client()
    response = client.post("/login", data={"email": "manager@example.org", "password": PASSWORD})
    assert response.status_code == 400 and "security token" in response.get_data(as_text=True)
    for endpoint, method, path in calls(csrf_app, world["args"]):
        if method != "GET":
            response = client.open(path, method=method, data={"reason": "x"})
            assert response.status_code == 400, (endpoint, response.status_code)


def test_rendered_forms_carry_a_csrf_token(csrf_app, app, make_user, world):
    make_user(M)
    client = csrf_app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/login", data={"email": "manager@example.org", "password": PASSWORD, "csrf_token": token}).status_code == 302
    for path in ("/jurisdictions/WA/PT/edit", "/", "/tokens"):  # the home page: the sign-out form
        assert 'name="csrf_token"' in client.get(path).get_data(as_text=True), path
