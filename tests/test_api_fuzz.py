"""schemathesis against the OpenAPI document: every operation, called as a signed-in manager
(the role every operation admits), answers without a server error and as documented (status
code, content type, headers and body schema), and refuses what breaks the schema.

Bounded so it fits the normal suite: 20 examples per operation, no deadline. A request the
schema forbids must be refused with a 4xx (413 included: a body over the size limit).

One check is left out: ``positive_data_acceptance`` (ST202) expects every schema-valid request
to succeed, but the services refuse with a 422 what JSON Schema cannot express (an NPI's check
digit, dates in order, hours with one decimal place, an integral ``5.0`` as a ``version``), by
design (see registry/providers/schemas.py).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from registry import create_app
from tests.conftest import PASSWORD


@pytest.fixture
def manager_cookie(app, make_user) -> dict[str, str]:
    _, email = make_user("manager")
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    name = app.config["SESSION_COOKIE_NAME"]
    return {name: client.get_cookie(name).value}


#: the document only: an app over an empty in-memory database serves the same one
schema = schemathesis.openapi.from_wsgi(
    "/api/openapi.json", create_app({"TESTING": True, "SECRET_KEY": "schema-only", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
)
#: a body over MAX_CONTENT_LENGTH (a batch of more than 10,000 visits can be) is refused with
#: 413 before it is read: a rejection too (found by this test in CI)
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "413"]


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case, app, manager_cookie):
    case.call_and_validate(app=app, cookies=manager_cookie, excluded_checks=[positive_data_acceptance])
