"""Every write route refuses anyone without the role, and every form needs its CSRF token."""

from __future__ import annotations

import pytest

from registry.accounts.models import ROLES
from tests.conftest import PASSWORD, import_text, row, to_csv

#: write routes anyone may use (signing in is how a role is obtained)
PUBLIC_WRITES = {"accounts.login"}
#: write routes any signed-in user may use
ANY_USER_WRITES = {"accounts.logout"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
SAMPLE_ARGS = {
    "code": "WA", "profession": "PT", "jurisdiction": "WA", "provider_id": 1, "kind": "license",
    "credential_id": 1, "npi": "1234567893", "id": 1, "check_id": 1, "message_id": 1, "license_id": 1, "training_id": 1, "registration_id": 1,
}


def write_routes(app):
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & WRITE_METHODS):
            path = rule.build({a: SAMPLE_ARGS[a] for a in rule.arguments}, append_unknown=False)[1]
            routes.append((rule.endpoint, method, path))
    return routes


def test_there_are_write_routes_to_check(app):
    endpoints = {e for e, _, _ in write_routes(app)}
    assert "rules.edit_rule" in endpoints and "accounts.login" in endpoints


@pytest.fixture
def data(app):
    with app.app_context():
        import_text(to_csv([row()]))


def allowed_roles(app, endpoint: str, method: str = "POST") -> tuple[str, ...]:
    """The roles a route admits, from @role_required (on the function, or on the method of a
    class-based view such as the flask-smorest resources)."""
    view = app.view_functions[endpoint]
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        view = getattr(view_class, method.lower(), None)
    return getattr(view, "required_roles", ())


def test_every_write_route_declares_its_roles(app):
    for endpoint, method, _ in write_routes(app):
        if endpoint in PUBLIC_WRITES | ANY_USER_WRITES:
            continue
        assert allowed_roles(app, endpoint, method), f"{method} {endpoint} has no role check"


def test_anonymous_is_sent_to_login(app, data):
    client = app.test_client()
    for endpoint, method, path in write_routes(app):
        if endpoint in PUBLIC_WRITES:
            continue
        response = client.open(path, method=method)
        assert response.status_code in (302, 401), (endpoint, response.status_code)
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login"), endpoint


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_where_it_does_not_belong(app, data, make_user, role):
    _, email = make_user(role)
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    for endpoint, method, path in write_routes(app):
        if endpoint in PUBLIC_WRITES | ANY_USER_WRITES:
            continue
        response = client.open(path, method=method, data={})
        if role in allowed_roles(app, endpoint, method):
            assert response.status_code != 403, (role, endpoint)
        else:
            assert response.status_code == 403, (role, endpoint, response.status_code)


def test_forms_without_csrf_token_are_refused(csrf_app, make_user):
    with csrf_app.app_context():
        import_text(to_csv([row()]))
    make_user("manager")
    client = csrf_app.test_client()
    response = client.post("/login", data={"email": "manager@example.org", "password": PASSWORD})
    assert response.status_code == 400 and "security token" in response.get_data(as_text=True)
    for endpoint, method, path in write_routes(csrf_app):
        response = client.open(path, method=method, data={"reason": "x"})
        assert response.status_code == 400, (endpoint, response.status_code)


def test_rendered_forms_carry_a_csrf_token(csrf_app, make_user):
    with csrf_app.app_context():
        import_text(to_csv([row()]))
    make_user("manager")
    client = csrf_app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/login", data={"email": "manager@example.org", "password": PASSWORD, "csrf_token": token}).status_code == 302
    edit_page = client.get("/jurisdictions/WA/PT/edit").get_data(as_text=True)
    assert 'name="csrf_token"' in edit_page
    home = client.get("/").get_data(as_text=True)
    assert 'name="csrf_token"' in home  # the sign-out form
