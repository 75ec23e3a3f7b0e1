"""The providers JSON API: CRUD by NPI, credentials, roles, locking, bad input, CSRF, OpenAPI."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from registry.extensions import db
from registry.providers import services
from tests.conftest import PASSWORD

API = "/api/v1/providers"
NPI = "1234567893"
OTHER_NPI = "1245319599"
THIRD_NPI = "1003000126"
BAD_CHECK_DIGIT = "1234567890"

LICENSE = {"jurisdiction_code": "WA", "number": "PT-1"}
TRAINING = {"course_title": "Dry Needling 1", "completed_on": date(2024, 3, 1), "total_hours": 27, "practical_hours": 20}
REGISTRATION = {"jurisdiction_code": "WA", "number": "DN-1"}

#: kind -> (URL segment, a valid new one, a valid change, the field that changes)
KINDS = {
    "license": ("licenses", {"jurisdiction": "wa", "number": "PT 123", "issued_on": "2020-01-01", "expires_on": "2030-01-01", "status": "Active", "is_compact_privilege": False}, {"number": "PT 124"}, "number"),
    "training": ("trainings", {"course_title": "DN Level 1", "sponsor": "Myopain", "approving_body": "APTA", "completed_on": "2024-01-15", "total_hours": 27.5, "practical_hours": 20, "supervised_sessions": 2}, {"total_hours": 30}, "total_hours"),
    "registration": ("registrations", {"jurisdiction": "Wa", "number": "DN-77", "issued_on": "2021-05-01"}, {"status": "inactive"}, "status"),
}


def sign_in(app, role: str, make_user, email: str | None = None):
    """A new client signed in as a new user of ``role``."""
    _, email = make_user(role, email)
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


@pytest.fixture
def manager(app, make_user):
    return sign_in(app, "manager", make_user)


@pytest.fixture
def dana(make_provider):
    """A provider with one credential of each kind."""
    return make_provider(NPI, "Dana Example", "PT", license=[LICENSE], training=[TRAINING], registration=[REGISTRATION])


@pytest.fixture
def eve(make_provider):
    return make_provider(OTHER_NPI, "Eve Other", "DC", license=[{"jurisdiction_code": "OR", "number": "DC-9"}], training=[{**TRAINING, "course_title": "Other course"}], registration=[{"jurisdiction_code": "OR", "number": "DN-9"}])


def first_id(client, npi: str, plural: str) -> int:
    return client.get(f"{API}/{npi}/{plural}").json[0]["id"]


def json_errors(response) -> dict:
    assert response.is_json, response.get_data(as_text=True)
    return response.json.get("errors", {}).get("json", {})


# --- providers -----------------------------------------------------------------------------
def test_create_read_update_provider(manager):
    created = manager.post(API, json={"name": "Dana Example", "npi": NPI, "profession": "pt", "email": "Dana@Example.org"})
    assert created.status_code == 201, created.json
    assert created.headers["Location"].endswith(f"{API}/{NPI}")
    body = created.json
    assert (body["npi"], body["profession"], body["email"], body["is_active"], body["version"]) == (NPI, "PT", "dana@example.org", True, 1)
    assert body["licenses"] == body["trainings"] == body["registrations"] == []
    assert body["user_email"] is None

    read = manager.get(f"{API}/{NPI}")
    assert read.status_code == 200 and read.json["name"] == "Dana Example"

    changed = manager.patch(f"{API}/{NPI}", json={"name": "Dana Q. Example", "is_active": False, "version": 1})
    assert changed.status_code == 200, changed.json
    assert changed.json["name"] == "Dana Q. Example" and changed.json["is_active"] is False
    assert changed.json["version"] == 2
    assert manager.get(f"{API}/{NPI}").json["version"] == 2


def test_provider_detail_has_credentials_and_training_totals(manager, dana, make_provider):
    body = manager.get(f"{API}/{NPI}").json
    assert [lic["jurisdiction"] for lic in body["licenses"]] == ["WA"]
    assert body["licenses"][0]["profession"] == "PT" and body["licenses"][0]["held_today"] is True
    assert [t["course_title"] for t in body["trainings"]] == ["Dry Needling 1"]
    assert [r["number"] for r in body["registrations"]] == ["DN-1"]
    assert body["training_totals"] == {"as_of": date.today().isoformat(), "total_hours": 27.0, "practical_hours": 20.0, "supervised_sessions": 0}


def test_npi_can_change_and_the_new_one_is_the_key(manager, dana):
    response = manager.patch(f"{API}/{NPI}", json={"npi": THIRD_NPI, "version": 1})
    assert response.status_code == 200 and response.json["npi"] == THIRD_NPI
    assert manager.get(f"{API}/{THIRD_NPI}").status_code == 200
    assert manager.get(f"{API}/{NPI}").status_code == 404


def test_link_and_unlink_an_account(app, manager, make_user):
    make_user("clinician", "dana@example.org")
    created = manager.post(API, json={"name": "Dana", "npi": NPI, "profession": "PT", "user_email": "DANA@example.org"})
    assert created.status_code == 201 and created.json["user_email"] == "dana@example.org"
    unlinked = manager.patch(f"{API}/{NPI}", json={"user_email": None, "version": 1})
    assert unlinked.status_code == 200 and unlinked.json["user_email"] is None


def test_unknown_account_is_422_and_nothing_is_saved(manager):
    response = manager.post(API, json={"name": "Dana", "npi": NPI, "profession": "PT", "user_email": "nobody@example.org"})
    assert response.status_code == 422 and "user_email" in json_errors(response)
    assert manager.get(f"{API}/{NPI}").status_code == 404
    assert manager.get(API).json["total"] == 0


def test_duplicate_npi_is_422_naming_npi(manager, dana):
    response = manager.post(API, json={"name": "Someone", "npi": NPI, "profession": "DC"})
    assert response.status_code == 422 and "already belongs to Dana Example" in json_errors(response)["npi"][0]


# --- list, search, paging ------------------------------------------------------------------
@pytest.fixture
def five(make_provider):
    make_provider("1234567893", "Alice Adams", "PT", license=[{"jurisdiction_code": "WA", "number": "1"}])
    make_provider("1245319599", "Bob Brown", "DC", license=[{"jurisdiction_code": "OR", "number": "2"}])
    make_provider("1003000126", "Carol Clark", "PT", license=[{"jurisdiction_code": "OR", "number": "3"}])
    make_provider("1992999999", "Dan Adamson", "PT")
    make_provider("1234567901", "Erin Evans", "DC", license=[{"jurisdiction_code": "WA", "number": "5"}])


def names(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [p["name"] for p in response.json["items"]]


def test_list_search_and_paging(manager, five):
    everyone = manager.get(API)
    assert names(everyone) == ["Alice Adams", "Bob Brown", "Carol Clark", "Dan Adamson", "Erin Evans"]
    assert {k: everyone.json[k] for k in ("page", "page_size", "total", "pages")} == {"page": 1, "page_size": 25, "total": 5, "pages": 1}
    assert names(manager.get(f"{API}?q=adam")) == ["Alice Adams", "Dan Adamson"]
    assert names(manager.get(f"{API}?q=12345")) == ["Alice Adams", "Erin Evans"]
    assert names(manager.get(f"{API}?profession=dc")) == ["Bob Brown", "Erin Evans"]
    assert names(manager.get(f"{API}?jurisdiction=or")) == ["Bob Brown", "Carol Clark"]
    assert names(manager.get(f"{API}?jurisdiction=WA&profession=PT")) == ["Alice Adams"]
    second = manager.get(f"{API}?page=2&page_size=2")
    assert names(second) == ["Carol Clark", "Dan Adamson"]
    assert (second.json["total"], second.json["pages"], second.json["page_size"]) == (5, 3, 2)
    assert names(manager.get(f"{API}?page=9&page_size=2")) == []


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"), ("page=abc", "page"), ("page=99999999999999999999999", "page"), ("page_size=201", "page_size"),
    ("page_size=NaN", "page_size"), ("jurisdiction=XX", "jurisdiction"), ("profession=OT", "profession"),
    ("q=a%00b", "q"), ("colour=blue", "colour"),
])
def test_bad_list_query_is_422_naming_the_field(manager, query, field):
    response = manager.get(f"{API}?{query}")
    assert response.status_code == 422 and response.is_json
    assert field in response.json["errors"]["query"]


# --- credentials ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_credential_add_read_change_end(manager, make_provider, kind):
    plural, new, change, field = KINDS[kind]
    make_provider(NPI, "Dana Example", "PT")
    added = manager.post(f"{API}/{NPI}/{plural}", json=new)
    assert added.status_code == 201, added.json
    credential = added.json
    assert credential["version"] == 1 and credential["ended_on"] is None and credential["held_today"] is True
    url = f"{API}/{NPI}/{plural}/{credential['id']}"
    assert added.headers["Location"].endswith(url)
    if "jurisdiction" in new:
        assert credential["jurisdiction"] == "WA"
    if "status" in new:
        assert credential["status"] == "active"

    listed = manager.get(f"{API}/{NPI}/{plural}")
    assert [c["id"] for c in listed.json] == [credential["id"]]
    assert manager.get(url).json == credential

    changed = manager.patch(url, json={**change, "version": 1})
    assert changed.status_code == 200, changed.json
    assert changed.json[field] == change[field] and changed.json["version"] == 2

    ended = manager.post(f"{url}/end", json={"ended_on": date.today().isoformat(), "reason": "Moved away", "version": 2})
    assert ended.status_code == 200, ended.json
    assert ended.json["ended_on"] == date.today().isoformat() and ended.json["end_reason"] == "Moved away"
    assert ended.json["held_today"] is False and ended.json["version"] == 3
    # the row is kept
    assert [c["id"] for c in manager.get(f"{API}/{NPI}/{plural}").json] == [credential["id"]]
    assert manager.get(url).json["ended_on"] == date.today().isoformat()


def test_ending_twice_or_without_a_reason_is_refused(manager, dana):
    license_id = first_id(manager, NPI, "licenses")
    url = f"{API}/{NPI}/licenses/{license_id}/end"
    no_reason = manager.post(url, json={"ended_on": "2025-01-01", "reason": "   ", "version": 1})
    assert no_reason.status_code == 422 and "reason" in json_errors(no_reason)
    missing = manager.post(url, json={"ended_on": "2025-01-01", "version": 1})
    assert missing.status_code == 422 and "reason" in json_errors(missing)
    assert manager.post(url, json={"ended_on": "2025-01-01", "reason": "Lapsed", "version": 1}).status_code == 200
    again = manager.post(url, json={"ended_on": "2025-02-01", "reason": "Lapsed", "version": 2})
    assert again.status_code == 422 and "already ended" in json_errors(again)["ended_on"][0]


def test_no_delete(manager, dana):
    license_id = first_id(manager, NPI, "licenses")
    response = manager.delete(f"{API}/{NPI}/licenses/{license_id}")
    assert response.status_code == 405 and response.is_json
    assert "DELETE" not in response.headers["Allow"]
    assert manager.delete(f"{API}/{NPI}").status_code == 405


@pytest.mark.parametrize("kind", KINDS)
def test_credential_of_another_provider_is_404(manager, dana, eve, kind):
    plural = KINDS[kind][0]
    eves = first_id(manager, OTHER_NPI, plural)
    url = f"{API}/{NPI}/{plural}/{eves}"
    assert manager.get(url).status_code == 404
    assert manager.patch(url, json={"version": 1}).status_code == 404
    assert manager.post(f"{url}/end", json={"ended_on": "2025-01-01", "reason": "x", "version": 1}).status_code == 404
    assert manager.get(f"{API}/{OTHER_NPI}/{plural}/{eves}").json["version"] == 1  # untouched


@pytest.mark.parametrize("credential_id", ["999", "99999999999999999999", "-1", "abc"])
def test_unknown_credential_id_is_404(manager, dana, credential_id):
    response = manager.get(f"{API}/{NPI}/licenses/{credential_id}")
    assert response.status_code == 404 and response.is_json


# --- optimistic locking --------------------------------------------------------------------
def test_stale_provider_version_is_409_naming_the_current_version(manager, dana):
    assert manager.patch(f"{API}/{NPI}", json={"email": "a@example.org", "version": 1}).status_code == 200
    stale = manager.patch(f"{API}/{NPI}", json={"name": "Overwritten", "version": 1})
    assert stale.status_code == 409 and stale.is_json
    assert "now at version 2" in stale.json["message"] and "version" in json_errors(stale)
    assert manager.get(f"{API}/{NPI}").json["name"] == "Dana Example"


@pytest.mark.parametrize("kind", KINDS)
def test_stale_credential_version_is_409(manager, dana, kind):
    plural, _, change, _ = KINDS[kind]
    url = f"{API}/{NPI}/{plural}/{first_id(manager, NPI, plural)}"
    assert manager.patch(url, json={**change, "version": 1}).status_code == 200
    stale = manager.patch(url, json={**change, "version": 1})
    assert stale.status_code == 409 and "now at version 2" in stale.json["message"]
    stale_end = manager.post(f"{url}/end", json={"ended_on": "2025-01-01", "reason": "x", "version": 1})
    assert stale_end.status_code == 409 and manager.get(url).json["ended_on"] is None


def test_version_is_required(manager, dana):
    response = manager.patch(f"{API}/{NPI}", json={"name": "No version"})
    assert response.status_code == 422 and "version" in json_errors(response)


# --- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("body, field", [
    ({"npi": BAD_CHECK_DIGIT}, "npi"),
    ({"npi": "12345"}, "npi"),
    ({"npi": 1234567893}, "npi"),
    ({"profession": "OT"}, "profession"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": None}, "name"),
    ({"name": ["Dana"]}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "Da\u0000na"}, "name"),
    ({"email": "not an email"}, "email"),
    ({"email": "a\u0000@example.org"}, "email"),
    ({"is_active": "maybe"}, "is_active"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_provider_is_422_naming_the_field(manager, body, field):
    response = manager.post(API, json={"name": "Dana", "npi": NPI, "profession": "PT", **body})
    assert response.status_code == 422, response.json
    assert field in json_errors(response)
    assert manager.get(API).json["total"] == 0


@pytest.mark.parametrize("kind, body, field", [
    ("license", {"jurisdiction": "XX"}, "jurisdiction"),
    ("license", {"jurisdiction": None}, "jurisdiction"),
    ("license", {"profession": "OT"}, "profession"),
    ("license", {"profession": "DC", "is_compact_privilege": True}, "is_compact_privilege"),
    ("license", {"status": "lapsed"}, "status"),
    ("license", {"issued_on": "2024-05-01", "expires_on": "2024-04-01"}, "expires_on"),
    ("license", {"issued_on": "2024-02-30"}, "issued_on"),
    ("license", {"number": "N\u0000"}, "number"),
    ("license", {"number": "x" * 65}, "number"),
    ("license", {"number": "WA-1"}, "number"),  # the provider already holds it
    ("training", {"practical_hours": 30}, "practical_hours"),
    ("training", {"total_hours": -1}, "total_hours"),
    ("training", {"total_hours": "NaN"}, "total_hours"),
    ("training", {"total_hours": "Infinity"}, "total_hours"),
    ("training", {"total_hours": 1e300}, "total_hours"),
    ("training", {"total_hours": 10**30}, "total_hours"),
    ("training", {"total_hours": 12.25}, "total_hours"),
    ("training", {"total_hours": "twelve"}, "total_hours"),
    ("training", {"total_hours": True}, "total_hours"),
    ("training", {"supervised_sessions": 2**40}, "supervised_sessions"),
    ("training", {"supervised_sessions": 1.5}, "supervised_sessions"),
    ("training", {"supervised_sessions": -1}, "supervised_sessions"),
    ("training", {"completed_on": (date.today() + timedelta(days=2)).isoformat()}, "completed_on"),
    ("training", {"completed_on": "yesterday"}, "completed_on"),
    ("training", {"completed_on": "2024-01-15", "expires_on": "2023-01-01"}, "expires_on"),
    ("training", {"course_title": "\u0000"}, "course_title"),
    ("training", {"sponsor": "\ud800"}, "sponsor"),
    ("registration", {"jurisdiction": "ZZ"}, "jurisdiction"),
    ("registration", {"number": ""}, "number"),
    ("registration", {"hours": 3}, "hours"),
])
def test_bad_credential_is_422_naming_the_field(manager, make_provider, kind, body, field):
    make_provider(NPI, "Dana Example", "PT", license=[{"jurisdiction_code": "WA", "number": "WA-1"}])
    plural, new, _, _ = KINDS[kind]
    response = manager.post(f"{API}/{NPI}/{plural}", json={**new, **body})
    assert response.status_code == 422, response.json
    assert field in json_errors(response), response.json


def test_nan_literal_and_special_numbers_in_raw_json(manager, dana):
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        body = b'{"course_title": "X", "completed_on": "2024-01-01", "total_hours": ' + literal + b"}"
        response = manager.post(f"{API}/{NPI}/trainings", data=body, content_type="application/json")
        assert response.status_code == 422 and "total_hours" in json_errors(response), literal


@pytest.mark.parametrize("body", [
    b"{not json", b"\xff\xfe{}", b'{"name": ' + b"9" * 5000 + b"}", b"[" * 100_000 + b"]" * 100_000,
])
def test_unreadable_json_is_400(manager, body):
    response = manager.post(API, data=body, content_type="application/json")
    assert response.status_code == 400 and response.is_json


@pytest.mark.parametrize("body", [b"[]", b"42", b'"text"', b"null"])
def test_json_that_is_not_an_object_is_422(manager, body):
    response = manager.post(API, data=body, content_type="application/json")
    assert response.status_code == 422 and response.is_json


def test_edit_with_bad_values_changes_nothing(manager, dana):
    url = f"{API}/{NPI}/trainings/{first_id(manager, NPI, 'trainings')}"
    response = manager.patch(url, json={"practical_hours": 99, "version": 1})
    assert response.status_code == 422 and "practical_hours" in json_errors(response)
    after = manager.get(url).json
    assert after["practical_hours"] == 20.0 and after["version"] == 1


@pytest.mark.parametrize("npi", [BAD_CHECK_DIGIT, "12345", "abcdefghij", "%00", "1234567893%00"])
def test_invalid_npi_in_path_is_404_with_a_message(manager, npi):
    response = manager.get(f"{API}/{npi}")
    assert response.status_code == 404 and response.is_json
    assert "NPI" in response.json["message"] and "npi" in response.json["errors"]


def test_bad_check_digit_names_the_expected_digit(manager):
    response = manager.get(f"{API}/{BAD_CHECK_DIGIT}/licenses")
    assert response.status_code == 404 and "check digit" in response.json["message"]


def test_unknown_npi_is_404(manager):
    response = manager.get(f"{API}/{NPI}")
    assert response.status_code == 404 and response.json["message"] == f"No provider with NPI {NPI}."
    assert manager.patch(f"{API}/{NPI}", json={"name": "x", "version": 1}).status_code == 404


# --- history -------------------------------------------------------------------------------
def test_history_shows_who_and_before_after(manager, dana):
    manager.patch(f"{API}/{NPI}", json={"name": "Dana Renamed", "version": 1})
    license_id = first_id(manager, NPI, "licenses")
    manager.post(f"{API}/{NPI}/licenses/{license_id}/end", json={"ended_on": "2025-01-31", "reason": "Not renewed", "version": 1})
    response = manager.get(f"{API}/{NPI}/history")
    assert response.status_code == 200
    events = response.json
    assert [e["action"] for e in events[:2]] == ["license.end", "provider.update"]
    end, update = events[0], events[1]
    assert end["actor"] == "manager@example.org" and end["reason"] == "Not renewed"
    assert end["before"]["ended_on"] is None and end["after"]["ended_on"] == "2025-01-31"
    assert update["before"]["name"] == "Dana Example" and update["after"]["name"] == "Dana Renamed"
    assert {"provider.create", "license.add", "training.add", "registration.add"} <= {e["action"] for e in events}
    assert all(re.match(r"\d{4}-\d\d-\d\dT", e["occurred_at"]) for e in events)


# --- who may do what -----------------------------------------------------------------------
def read_paths(npi: str = NPI) -> list[str]:
    return [f"{API}/{npi}", f"{API}/{npi}/history", f"{API}/{npi}/licenses", f"{API}/{npi}/trainings", f"{API}/{npi}/registrations"]


@pytest.mark.parametrize("role", ["manager", "auditor", "biller"])
def test_these_roles_read_every_provider(app, make_user, dana, eve, role):
    client = sign_in(app, role, make_user)
    assert names(client.get(API)) == ["Dana Example", "Eve Other"]
    for path in read_paths(NPI) + read_paths(OTHER_NPI):
        assert client.get(path).status_code == 200, path
    license_id = first_id(client, OTHER_NPI, "licenses")
    assert client.get(f"{API}/{OTHER_NPI}/licenses/{license_id}").status_code == 200


def test_clinician_reads_only_their_own_provider(app, make_user, make_provider, eve):
    user_id, _ = make_user("clinician", "dana@example.org")
    make_provider(NPI, "Dana Example", "PT", license=[LICENSE])
    with app.app_context():
        services.get_by_npi(NPI).user_id = user_id
        db.session.commit()
    client = app.test_client()
    assert client.post("/login", data={"email": "dana@example.org", "password": PASSWORD}).status_code == 302

    for path in read_paths(NPI):
        assert client.get(path).status_code == 200, path
    own_license = first_id(client, NPI, "licenses")
    assert client.get(f"{API}/{NPI}/licenses/{own_license}").status_code == 200
    assert names(client.get(API)) == ["Dana Example"]
    assert names(client.get(f"{API}?q=eve")) == []
    assert names(client.get(f"{API}?jurisdiction=WA")) == ["Dana Example"]
    assert names(client.get(f"{API}?jurisdiction=OR")) == []
    assert names(client.get(f"{API}?page=2")) == []

    # another provider answers exactly like a missing one
    unknown = client.get(f"{API}/{THIRD_NPI}")
    for path in read_paths(OTHER_NPI):
        response = client.get(path)
        assert response.status_code == 404, path
    assert client.get(f"{API}/{OTHER_NPI}").json["message"] == unknown.json["message"].replace(THIRD_NPI, OTHER_NPI)
    # and their own record stays read-only
    assert client.patch(f"{API}/{NPI}", json={"name": "Me", "version": 1}).status_code == 403


def test_clinician_without_a_record_sees_nothing(app, make_user, dana):
    client = sign_in(app, "clinician", make_user)
    assert names(client.get(API)) == []
    assert client.get(f"{API}/{NPI}").status_code == 404


def write_requests(client) -> list:
    """One request per kind of write, against Dana's records (``client`` looks up ids)."""
    license_url = f"{API}/{NPI}/licenses/{first_id(client, NPI, 'licenses')}"
    return [
        ("POST", API, {"name": "New", "npi": OTHER_NPI, "profession": "PT"}),
        ("PATCH", f"{API}/{NPI}", {"name": "Changed", "version": 1}),
        ("POST", f"{API}/{NPI}/licenses", KINDS["license"][1]),
        ("PATCH", license_url, {"number": "X", "version": 1}),
        ("POST", f"{license_url}/end", {"ended_on": "2025-01-01", "reason": "x", "version": 1}),
        ("POST", f"{API}/{NPI}/trainings", KINDS["training"][1]),
        ("POST", f"{API}/{NPI}/registrations", KINDS["registration"][1]),
    ]


@pytest.mark.parametrize("role", ["auditor", "biller", "clinician"])
def test_only_managers_write(app, make_user, dana, role):
    client = sign_in(app, role, make_user)
    reader = sign_in(app, "auditor", make_user, "reader@example.org")
    for method, path, body in write_requests(reader):
        response = client.open(path, method=method, json=body)
        assert response.status_code == 403 and response.is_json, (method, path)
    after = reader.get(f"{API}/{NPI}").json
    assert after["version"] == 1 and len(after["licenses"]) == len(after["trainings"]) == 1


def test_anonymous_gets_401_json(app, make_user, dana):
    reader = sign_in(app, "auditor", make_user)
    anonymous = app.test_client()
    for path in [API, *read_paths(NPI)]:
        response = anonymous.get(path)
        assert response.status_code == 401 and response.is_json, path
    for method, path, body in write_requests(reader):
        response = anonymous.open(path, method=method, json=body)
        assert response.status_code == 401 and response.is_json, (method, path)


# --- CSRF ----------------------------------------------------------------------------------
def test_writes_need_the_csrf_header(csrf_app, make_user):
    make_user("manager")
    client = csrf_app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    assert client.post("/login", data={"email": "manager@example.org", "password": PASSWORD, "csrf_token": token}).status_code == 302
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    body = {"name": "Dana", "npi": NPI, "profession": "PT"}

    refused = client.post(API, json=body)
    assert refused.status_code == 400 and refused.is_json
    assert "CSRF" in refused.json["message"]
    assert client.post(API, json=body, headers={"X-CSRFToken": "forged"}).status_code == 400
    assert client.get(API).json["total"] == 0

    created = client.post(API, json=body, headers={"X-CSRFToken": token})
    assert created.status_code == 201, created.json
    assert client.patch(f"{API}/{NPI}", json={"name": "X", "version": 1}).status_code == 400
    assert client.patch(f"{API}/{NPI}", json={"name": "X", "version": 1}, headers={"X-CSRFToken": token}).status_code == 200


# --- OpenAPI -------------------------------------------------------------------------------
def test_openapi_lists_the_provider_paths(client):
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    paths = spec.json["paths"]
    expected = {f"{API}", f"{API}/{{npi}}", f"{API}/{{npi}}/history"}
    for plural in ("licenses", "trainings", "registrations"):
        expected |= {f"{API}/{{npi}}/{plural}", f"{API}/{{npi}}/{plural}/{{credential_id}}", f"{API}/{{npi}}/{plural}/{{credential_id}}/end"}
    assert expected <= set(paths)
    assert set(paths[f"{API}/{{npi}}"]) >= {"get", "patch"} and "delete" not in paths[f"{API}/{{npi}}/licenses/{{credential_id}}"]
    assert "409" in paths[f"{API}/{{npi}}"]["patch"]["responses"]
    schemas = spec.json["components"]["schemas"]
    assert "version" in schemas["ProviderPatchInput"]["required"]
    assert set(schemas["ProviderPage"]["properties"]) == {"items", "page", "page_size", "total", "pages"}


# --- races the version check cannot see ----------------------------------------------------
@pytest.mark.parametrize("error", [StaleDataError("0 rows matched"), IntegrityError("INSERT", {}, Exception("unique"))])
def test_a_change_saved_at_the_same_moment_is_409(manager, dana, monkeypatch, error):
    """Another request committing between our read and our write: the flush fails; 409, rolled back."""
    real = services.update_provider

    def racing(provider, values, **kwargs):
        real(provider, values, **kwargs)
        raise error

    monkeypatch.setattr(services, "update_provider", racing)
    response = manager.patch(f"{API}/{NPI}", json={"name": "Lost", "version": 1})
    assert response.status_code == 409 and response.is_json and "reload" in response.json["message"].lower()
    monkeypatch.undo()
    after = manager.get(f"{API}/{NPI}").json
    assert after["name"] == "Dana Example" and after["version"] == 1
