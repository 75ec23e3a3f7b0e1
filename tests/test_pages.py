"""The HTML pages: home map and table, jurisdiction page, the manager's edit form."""

from __future__ import annotations

import re

import pytest

from registry.rules import services
from tests.conftest import import_text, row, to_csv


@pytest.fixture
def wa(app):
    with app.app_context():
        import_text(to_csv([
            row(status="prohibited", effective_from="2014-10-10", effective_to="2024-06-22", authority_type="court_ruling", min_training_hours="", citation="King County Superior Court"),
            row(),
            row(profession="DC", status="prohibited", effective_from="", citation="", source_url=""),
        ]))


def text_of(response) -> str:
    return response.get_data(as_text=True)


def test_home_shows_map_legend_and_table(client, wa):
    page = text_of(client.get("/"))
    assert page.count('class="state st-') == 52
    assert re.search(r'data-code="WA"[^>]*data-status="Permitted"', page)
    assert re.search(r'data-code="TX"[^>]*data-status="Unknown"', page)  # no rule on record
    assert 'id="map-label"' in page and 'class="legend"' in page
    assert page.count("<tr>") == 53  # header + 52 jurisdictions
    assert "cdn" not in page.lower()


def test_home_for_another_profession_and_date(client, wa):
    assert re.search(r'data-code="WA"[^>]*data-status="Prohibited"', text_of(client.get("/?profession=DC")))
    assert re.search(r'data-code="WA"[^>]*data-status="Prohibited"', text_of(client.get("/?profession=PT&as_of=2024-01-01")))


@pytest.mark.parametrize("query, status", [("?profession=OT", 404), ("?as_of=2024-99-01", 400)])
def test_home_bad_parameters_are_4xx_html(client, query, status):
    response = client.get("/" + query)
    assert response.status_code == status and response.mimetype == "text/html"


def test_jurisdiction_page_has_citation_link_requirements_and_history(client, wa):
    page = text_of(client.get("/jurisdictions/WA"))
    assert '<a class="citation" href="https://example.org/rule" rel="noopener noreferrer" target="_blank">WAC 246-915-390</a>' in page
    assert "At least 50 hours of dry-needling training." in page
    assert "King County Superior Court" in page  # the earlier version is in the history
    assert "2014-10-10 → 2024-06-22" in page
    assert "Imported from test.csv" in page


def test_jurisdiction_page_as_of_an_earlier_date(client, wa):
    page = text_of(client.get("/jurisdictions/WA?as_of=2024-01-01"))
    assert "in force on 2024-01-01" in page


def test_jurisdiction_code_is_case_insensitive_and_unknown_is_404(client, wa):
    assert client.get("/jurisdictions/wa").status_code == 302
    assert client.get("/jurisdictions/ZZ").status_code == 404


def test_edit_button_only_for_managers(client, wa, login):
    assert "Record a change" not in text_of(client.get("/jurisdictions/WA"))
    login("manager")
    assert "Record a change" in text_of(client.get("/jurisdictions/WA"))


def form_for(client, path: str) -> dict:
    """The edit form's fields as the browser would send them (pre-filled)."""
    page = text_of(client.get(path))
    data = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page):
        data[name] = value
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>\s*(.*?)</textarea>', page, re.S):
        data[name] = body
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        selected = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', body)
        data[name] = next(g for g in selected.groups() if g is not None) if selected else ""
    return {k: v.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"') for k, v in data.items()}


def test_manager_records_a_new_version(app, client, wa, login):
    login("manager")
    data = form_for(client, "/jurisdictions/WA/PT/edit")
    assert data["citation"] == "WAC 246-915-390" and data["status"] == "permitted"
    data.update(effective_from="2026-01-01", min_training_hours="60", reason="2026 amendment raises the hours")
    response = client.post("/jurisdictions/WA/PT/edit", data=data)
    assert response.status_code == 302
    page = text_of(client.get("/jurisdictions/WA"))
    assert "2026 amendment raises the hours" in page and "manager@example.org" in page
    with app.app_context():
        assert str(services.current_rule("WA", "PT").min_training_hours) == "60.0"
        assert services.rule_in_force("WA", "PT", __import__("datetime").date(2025, 6, 1)).min_training_hours == 50


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"reason": ""}, "reason", "Say why the rule changes."),
        ({"min_training_hours": "-3"}, "min_training_hours", "Number must be between"),
        ({"min_training_hours": "12.25"}, "min_training_hours", "one decimal place"),
        ({"source_url": "javascript:alert(1)"}, "source_url", "is not an http(s) URL"),
        ({"status": "allowed"}, "status", "Not a valid choice"),
        ({"effective_from": "2020-01-01"}, "effective_from", "must take effect on or after 2024-06-22"),
        ({"effective_from": "2026-02-31"}, "effective_from", "Not a valid date value."),
        ({"min_training_hours": "Infinity"}, "min_training_hours", "Enter a number."),
        ({"min_training_hours": "NaN"}, "min_training_hours", "Enter a number."),
        ({"supervised_sessions": "1e5"}, "supervised_sessions", "Not a valid integer value."),
        ({"board_registration_required": "perhaps"}, "board_registration_required", "Not a valid choice"),
        ({"current_id": "abc"}, "current_id", "lost track of which version"),
        ({"current_version": ""}, "current_version", "lost track of which version"),
        ({"notes": "bad\x00byte"}, "notes", "NUL character"),
    ],
)
def test_bad_edit_is_refused_with_field_message_and_nothing_saved(app, client, wa, login, changes, field, message):
    login("manager")
    data = form_for(client, "/jurisdictions/WA/PT/edit")
    data.update({"effective_from": "2026-01-01", "reason": "test"})
    data.update(changes)
    response = client.post("/jurisdictions/WA/PT/edit", data=data)
    assert response.status_code == 422
    page = text_of(response)
    assert f'id="{field}-error"' in page or 'role="alert"' in page
    assert message in page
    with app.app_context():
        assert len(services.history("WA", "PT")) == 2


def test_stale_edit_is_refused_not_overwritten(app, client, wa, login):
    login("manager")
    stale = form_for(client, "/jurisdictions/WA/PT/edit")
    fresh = dict(stale, effective_from="2026-01-01", reason="first editor")
    assert client.post("/jurisdictions/WA/PT/edit", data=fresh).status_code == 302
    late = dict(stale, effective_from="2026-03-01", notes="second editor", reason="second editor")
    response = client.post("/jurisdictions/WA/PT/edit", data=late)
    assert response.status_code == 409
    assert "was changed by manager@example.org" in text_of(response)
    with app.app_context():
        assert services.current_rule("WA", "PT").change_reason == "first editor"
        assert len(services.history("WA", "PT")) == 3


def test_login_failure_and_logout(client, make_user):
    make_user("clinician")
    nul = client.post("/login", data={"email": "a\x00@example.org", "password": "whatever it is"})
    assert nul.status_code == 400
    nobody = client.post("/login", data={"email": "nobody@example.org", "password": "whatever it is"})
    assert nobody.status_code == 401 and "not correct" in text_of(nobody)
    bad = client.post("/login", data={"email": "clinician@example.org", "password": "wrong password!"})
    assert bad.status_code == 401 and "not correct" in text_of(bad)
    good = client.post("/login?next=//evil.example/x", data={"email": "clinician@example.org", "password": "correct horse battery staple"})
    assert good.status_code == 302 and good.headers["Location"] == "/"
    assert client.post("/logout").status_code == 302
    assert "Sign in" in text_of(client.get("/"))


def test_export_csv_download(client, wa):
    response = client.get("/rules/export.csv")
    assert response.mimetype == "text/csv"
    assert text_of(response).splitlines()[0].startswith("jurisdiction,profession,status")
