"""The JSON API: jurisdictions, rules as of a date, history, errors, OpenAPI."""

from __future__ import annotations

import pytest

from tests.conftest import import_text, row, to_csv


@pytest.fixture
def wa_history(app):
    with app.app_context():
        import_text(to_csv([
            row(status="prohibited", effective_from="2014-10-10", effective_to="2024-06-22", authority_type="court_ruling", min_training_hours=""),
            row(source_url="https://example.org/a ; https://example.org/b"),
            row(jurisdiction="CA", status="prohibited", effective_from=""),
        ]))


def test_jurisdictions(client):
    response = client.get("/api/v1/jurisdictions")
    assert response.status_code == 200
    codes = {j["code"] for j in response.json}
    assert len(codes) == 52 and {"DC", "PR", "WA"} <= codes


def test_rules_as_of_dates(client, wa_history):
    early = client.get("/api/v1/rules?jurisdiction=WA&profession=PT&as_of=2024-01-01").json
    late = client.get("/api/v1/rules?jurisdiction=wa&profession=pt&as_of=2024-07-01").json
    assert [r["status"] for r in early] == ["prohibited"]
    assert [r["status"] for r in late] == ["permitted"]
    assert late[0]["effective_from"] == "2024-06-22" and late[0]["effective_to"] is None
    assert late[0]["min_training_hours"] == 50.0 and late[0]["board_registration_required"] is True
    assert late[0]["source_urls"] == ["https://example.org/a", "https://example.org/b"]
    assert late[0]["approved_course_bodies"] == ["APTA", "FSBPT"]


def test_rules_filter_by_profession(client, wa_history):
    rules = client.get("/api/v1/rules?profession=PT").json
    assert sorted(r["jurisdiction"] for r in rules) == ["CA", "WA"]


def test_history(client, wa_history):
    response = client.get("/api/v1/rules/WA/PT/history")
    assert response.status_code == 200
    assert [(r["effective_from"], r["status"]) for r in response.json] == [("2014-10-10", "prohibited"), ("2024-06-22", "permitted")]
    assert response.json[0]["change_reason"] == "Imported from test.csv"


@pytest.mark.parametrize(
    "query, field",
    [
        ("jurisdiction=XX", "jurisdiction"),
        ("profession=OT", "profession"),
        ("as_of=2024-13-01", "as_of"),
        ("as_of=yesterday", "as_of"),
        ("colour=blue", "colour"),
    ],
)
def test_bad_query_is_4xx_naming_the_field(client, query, field):
    response = client.get(f"/api/v1/rules?{query}")
    assert response.status_code == 422
    assert response.is_json
    assert field in response.json["errors"]["query"]


@pytest.mark.parametrize("path, field", [("/api/v1/rules/XX/PT/history", "jurisdiction"), ("/api/v1/rules/WA/OT/history", "profession")])
def test_unknown_pair_is_404_json(client, path, field):
    response = client.get(path)
    assert response.status_code == 404 and response.is_json
    assert field in response.json["errors"]


def test_unknown_api_path_is_json_and_method_keeps_allow_header(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.is_json
    wrong = client.delete("/api/v1/jurisdictions")
    assert wrong.status_code == 405 and wrong.is_json
    assert "GET" in wrong.headers["Allow"]


def test_html_errors_stay_html(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found" in response.get_data(as_text=True)


def test_openapi_document_and_docs_page(client):
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    paths = spec.json["paths"]
    assert {"/api/v1/jurisdictions", "/api/v1/rules", "/api/v1/rules/{jurisdiction}/{profession}/history"} <= set(paths)
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    page = docs.get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page and "//cdn" not in page
    with client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js") as bundle:
        assert bundle.status_code == 200


def test_server_error_is_json_not_a_traceback(app, client, monkeypatch):
    from registry.rules import services

    def boom(*args, **kwargs):
        raise RuntimeError("database exploded")

    monkeypatch.setattr(services, "list_jurisdictions", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/api/v1/jurisdictions")
    assert response.status_code == 500 and response.is_json
    assert "exploded" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/v1/coding/checks/2147483648", "/coding/checks/99999999999", "/providers/2147483648"])
def test_an_id_beyond_the_database_integer_is_not_found(client, login, path):
    """Found by schemathesis on PostgreSQL: an id over 2**31 - 1 reached the database (500)."""
    login("manager")
    assert client.get(path).status_code == 404
