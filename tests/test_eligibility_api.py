"""The eligibility JSON API against the real data/state_rules.csv: one decision, the matrix,
batches, access, bad input, CSRF, the query count of a batch, OpenAPI (both databases)."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import event

from registry.eligibility.services import MAX_BATCH
from registry.extensions import db
from registry.providers import services as providers
from tests.conftest import PASSWORD

API = "/api/v1"
NPI = "1234567893"  # Pat Table, the PT of tests/test_eligibility.py
NEW_NPI = "1245319599"  # Nia New, licensed in WA only since 2025
UNKNOWN_NPI = "1003000126"  # valid check digit, not in the registry
BAD_CHECK_DIGIT = "1234567890"
DAY = "2025-03-14"


def eligibility_url(npi: str = NPI, **query) -> str:
    url = f"{API}/providers/{npi}/eligibility"
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def matrix_url(npi: str = NPI, **query) -> str:
    return eligibility_url(npi).replace("/eligibility", "/eligibility/matrix") + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


BATCH = f"{API}/eligibility/batch"


def sign_in(app, role: str, make_user, email: str | None = None):
    """A new client signed in as a new user of ``role``."""
    _, email = make_user(role, email)
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


def ok(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.json


def errors_at(response, location: str = "json") -> dict:
    assert response.status_code == 422 and response.is_json, (response.status_code, response.get_data(as_text=True)[:2000])
    return response.json["errors"][location]


@pytest.fixture
def pt(real_rules, make_provider):
    """A PT licensed in WA (2016), CA, CO, FL and AK, with 330 h of training and a WA endorsement."""
    licenses = [{"jurisdiction_code": code, "number": f"{code}-1", "issued_on": date(2016, 1, 1), "expires_on": date(2030, 1, 1), "status": "active"} for code in ("WA", "CA", "CO", "FL", "AK")]
    trainings = [
        {"course_title": "DN 1", "completed_on": date(2023, 9, 1), "total_hours": 200, "practical_hours": 50, "supervised_sessions": 100},
        {"course_title": "DN 2", "completed_on": date(2024, 2, 1), "total_hours": 130, "practical_hours": 30, "supervised_sessions": 60},
    ]
    registration = [{"jurisdiction_code": "WA", "number": "END-1", "issued_on": date(2024, 7, 1), "expires_on": date(2027, 1, 1), "status": "active"}]
    return make_provider(NPI, "Pat Table", "PT", license=licenses, training=trainings, registration=registration)


@pytest.fixture
def nia(pt, make_provider):
    """Everything WA asks for but the year of licensed practice: eligible from 2026-01-01."""
    return make_provider(
        NEW_NPI, "Nia New", "PT",
        license=[{"jurisdiction_code": "WA", "number": "WA-2", "issued_on": date(2025, 1, 1), "status": "active"}],
        training=[{"course_title": "DN", "completed_on": date(2024, 12, 1), "total_hours": 330, "practical_hours": 80, "supervised_sessions": 160}],
        registration=[{"jurisdiction_code": "WA", "number": "END-2", "issued_on": date(2025, 1, 2), "status": "active"}],
    )


@pytest.fixture
def manager(app, make_user):
    return sign_in(app, "manager", make_user)


def link_account(app, make_user, npi: str, email: str = "pat@example.org"):
    """A clinician account linked to the provider ``npi``, signed in."""
    user_id, _ = make_user("clinician", email)
    with app.app_context():
        providers.get_by_npi(npi).user_id = user_id
        db.session.commit()
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


# --- one decision --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "jurisdiction, day, outcome, first_reason",
    [
        ("WA", DAY, "eligible", None),  # permitted, hours and endorsement held
        ("WA", "2024-01-01", "not_eligible", "state_prohibits"),  # before the 2024-06-22 rule
        ("WA", "2024-06-30", "not_eligible", "board_registration_missing"),  # endorsement not yet held
        ("CA", DAY, "not_eligible", "state_prohibits"),
        ("PA", DAY, "needs_review", "rule_silent"),
        ("FL", DAY, "not_eligible", "board_registration_missing"),
        ("AK", DAY, "eligible", "no_training_figure"),
    ],
)
def test_single_decision(manager, pt, jurisdiction, day, outcome, first_reason):
    body = ok(manager.get(eligibility_url(jurisdiction=jurisdiction, date=day)))
    assert (body["npi"], body["provider_name"], body["jurisdiction"], body["profession"], body["date"]) == (NPI, "Pat Table", jurisdiction, "PT", day)
    assert body["outcome"] == outcome, body["reasons"]
    assert (body["reasons"][0]["code"] if body["reasons"] else None) == first_reason
    assert all(set(r) == {"code", "message", "have", "need", "met_from"} for r in body["reasons"])
    assert body["missing"] == (body["reasons"] if outcome == "not_eligible" else [])
    assert body["eligible_from"] is None


def test_the_rule_and_its_citation_are_in_the_answer(manager, pt):
    body = ok(manager.get(eligibility_url(jurisdiction="WA", date=DAY)))
    rule = body["rule"]
    in_force = ok(manager.get(f"{API}/rules?jurisdiction=WA&profession=PT&as_of={DAY}"))[0]
    assert rule["id"] == in_force["id"] and rule["status"] == "permitted"
    assert (rule["jurisdiction"], rule["profession"]) == ("WA", "PT")
    assert rule["effective_from"] == "2024-06-22" and rule["effective_to"] is None
    assert "WAC 246-915-390" in rule["citation"]
    assert rule["source_urls"] == in_force["source_urls"] and all(u.startswith("http") for u in rule["source_urls"])
    assert (rule["min_training_hours"], rule["min_practical_hours"], rule["board_registration_required"]) == (325.0, 75.0, True)
    assert "confidence" not in rule
    # the earlier version, a prohibition, is the one used for an earlier date
    before = ok(manager.get(eligibility_url(jurisdiction="WA", date="2024-01-01")))["rule"]
    assert before["status"] == "prohibited" and before["id"] != rule["id"] and before["effective_to"] == "2024-06-22"


def test_pa_lists_several_sources(manager, pt):
    rule = ok(manager.get(eligibility_url(jurisdiction="PA", date=DAY)))["rule"]
    assert len(rule["source_urls"]) >= 2 and not any(" ; " in u or not u.strip() for u in rule["source_urls"])


def test_no_rule_on_record_is_needs_review_with_a_null_rule(manager, pt):
    body = ok(manager.get(eligibility_url(jurisdiction="WA", date="1900-01-01")))
    assert (body["outcome"], body["rule"], body["reasons"][0]["code"]) == ("needs_review", None, "no_rule_on_record")


def test_date_defaults_to_today_and_the_code_is_case_insensitive(manager, pt):
    body = ok(manager.get(eligibility_url(jurisdiction="wa")))
    assert body["date"] == date.today().isoformat() and body["jurisdiction"] == "WA"
    assert ok(manager.get(eligibility_url(jurisdiction="%20Ca%20", date=DAY)))["jurisdiction"] == "CA"


def test_time_alone_gives_eligible_from(manager, nia):
    body = ok(manager.get(eligibility_url(NEW_NPI, jurisdiction="WA", date=DAY)))
    assert body["outcome"] == "not_eligible" and body["eligible_from"] == "2026-01-01"
    assert [(r["code"], r["met_from"], r["need"]) for r in body["missing"]] == [("licensed_too_few_years", "2026-01-01", "1")]
    assert ok(manager.get(eligibility_url(NEW_NPI, jurisdiction="WA", date="2026-01-01")))["outcome"] == "eligible"


def test_missing_leaves_out_informational_reasons(app, manager, pt):
    app.config["NOT_ADDRESSED_IS_PERMITTED"] = True
    body = ok(manager.get(eligibility_url(jurisdiction="PA", date=DAY)))
    assert body["outcome"] == "not_eligible"
    assert [r["code"] for r in body["reasons"]] == ["no_license", "rule_silent_treated_as_permitted"]
    assert [r["code"] for r in body["missing"]] == ["no_license"]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"date": DAY}, "jurisdiction"),  # required
        ({"jurisdiction": "XX"}, "jurisdiction"),
        ({"jurisdiction": ""}, "jurisdiction"),
        ({"jurisdiction": "W%00A"}, "jurisdiction"),
        ({"jurisdiction": "WA", "date": "2024-02-30"}, "date"),
        ({"jurisdiction": "WA", "date": "14/03/2025"}, "date"),
        ({"jurisdiction": "WA", "date": "%00"}, "date"),
        ({"jurisdiction": "WA", "date": "99999-01-01"}, "date"),
        ({"jurisdiction": "WA", "as_of": DAY}, "as_of"),  # unknown parameter
    ],
)
def test_bad_query_is_422_naming_the_field(manager, pt, query, field):
    response = manager.get(eligibility_url(**query))
    assert field in errors_at(response, "query"), response.json


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_extreme_dates_are_answered(manager, pt, day):
    assert ok(manager.get(eligibility_url(jurisdiction="WA", date=day)))["date"] == day
    assert ok(manager.get(matrix_url(date=day, scope="all")))["date"] == day
    assert ok(manager.post(BATCH, json={"items": [{"npi": NPI, "jurisdiction": "WA", "date": day}]}))["results"][0]["date"] == day


@pytest.mark.parametrize("npi, message", [(UNKNOWN_NPI, f"No provider with NPI {UNKNOWN_NPI}."), (BAD_CHECK_DIGIT, "check digit"), ("12345", "10 digits"), ("%00", "NPI")])
def test_unknown_or_invalid_npi_is_404(manager, pt, npi, message):
    for url in (eligibility_url(npi, jurisdiction="WA"), matrix_url(npi)):
        response = manager.get(url)
        assert response.status_code == 404 and response.is_json, url
        assert message in response.json["message"] and "npi" in response.json["errors"]


# --- who may ask ---------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["manager", "auditor", "biller"])
def test_these_roles_ask_about_any_provider(app, make_user, nia, role):
    client = sign_in(app, role, make_user)
    for npi in (NPI, NEW_NPI):
        assert ok(client.get(eligibility_url(npi, jurisdiction="WA", date=DAY)))["npi"] == npi
        assert ok(client.get(matrix_url(npi, date=DAY)))["npi"] == npi


def test_clinician_asks_only_about_their_own_provider(app, make_user, nia):
    client = link_account(app, make_user, NPI)
    assert ok(client.get(eligibility_url(jurisdiction="WA", date=DAY)))["outcome"] == "eligible"
    assert len(ok(client.get(matrix_url(date=DAY)))["decisions"]) == 5
    # another provider answers exactly like a missing one
    other = client.get(eligibility_url(NEW_NPI, jurisdiction="WA"))
    unknown = client.get(eligibility_url(UNKNOWN_NPI, jurisdiction="WA"))
    assert other.status_code == unknown.status_code == 404
    assert other.json["message"] == unknown.json["message"].replace(UNKNOWN_NPI, NEW_NPI)
    assert client.get(matrix_url(NEW_NPI)).status_code == 404


def test_clinician_without_a_record_gets_404(app, make_user, pt):
    client = sign_in(app, "clinician", make_user)
    assert client.get(eligibility_url(jurisdiction="WA")).status_code == 404
    assert client.get(matrix_url()).status_code == 404


def test_anonymous_gets_401_json(app, pt):
    anonymous = app.test_client()
    for response in (
        anonymous.get(eligibility_url(jurisdiction="WA")),
        anonymous.get(eligibility_url(jurisdiction="nonsense", bogus=1)),  # the role is checked first
        anonymous.get(matrix_url()),
        anonymous.post(BATCH, json={"items": [{"npi": NPI, "jurisdiction": "WA", "date": DAY}]}),
    ):
        assert response.status_code == 401 and response.is_json


# --- matrix --------------------------------------------------------------------------------
def test_matrix_licensed_and_all(manager, pt):
    licensed = ok(manager.get(matrix_url(date=DAY)))
    assert (licensed["npi"], licensed["date"], licensed["scope"]) == (NPI, DAY, "licensed")
    assert [d["jurisdiction"] for d in licensed["decisions"]] == ["AK", "CA", "CO", "FL", "WA"]
    assert {d["jurisdiction"]: d["outcome"] for d in licensed["decisions"]} == {"AK": "eligible", "CA": "not_eligible", "CO": "eligible", "FL": "not_eligible", "WA": "eligible"}
    single = ok(manager.get(eligibility_url(jurisdiction="FL", date=DAY)))
    assert licensed["decisions"][3] == single

    everywhere = ok(manager.get(matrix_url(date=DAY, scope="all")))
    assert everywhere["scope"] == "all" and len(everywhere["decisions"]) == 52
    assert {d["jurisdiction"] for d in everywhere["decisions"] if d["outcome"] == "eligible"} == {"AK", "CO", "WA"}
    assert ok(manager.get(matrix_url()))["date"] == date.today().isoformat()


@pytest.mark.parametrize("query, field", [({"scope": "some"}, "scope"), ({"scope": "%00"}, "scope"), ({"date": "2024-02-30"}, "date"), ({"jurisdiction": "WA"}, "jurisdiction")])
def test_bad_matrix_query_is_422_naming_the_field(manager, pt, query, field):
    assert field in errors_at(manager.get(matrix_url(**query)), "query")


# --- batch ---------------------------------------------------------------------------------
def test_batch_answers_in_order_with_each_rule_once(manager, nia):
    items = [
        {"npi": NPI, "jurisdiction": "WA", "date": DAY},
        {"npi": UNKNOWN_NPI, "jurisdiction": "WA", "date": DAY},
        {"npi": NPI, "jurisdiction": "ca", "date": DAY},
        {"npi": NPI, "jurisdiction": "WA", "date": "2024-01-01"},
        {"npi": BAD_CHECK_DIGIT, "jurisdiction": "WA", "date": DAY},
        {"npi": NEW_NPI, "jurisdiction": "WA", "date": DAY},
        {"npi": NPI, "jurisdiction": "PA", "date": DAY},
        {"npi": NPI, "jurisdiction": "WA", "date": DAY},
        {"npi": NPI, "jurisdiction": "WA", "date": "1900-01-01"},
    ]
    body = ok(manager.post(BATCH, json={"items": items}))
    results = body["results"]
    assert [(r["npi"], r["jurisdiction"], r["date"]) for r in results] == [(i["npi"], i["jurisdiction"].upper(), i["date"]) for i in items]
    assert [r.get("outcome") for r in results] == ["eligible", None, "not_eligible", "not_eligible", None, "not_eligible", "needs_review", "eligible", "needs_review"]
    assert results[1] == {"npi": UNKNOWN_NPI, "jurisdiction": "WA", "date": DAY, "error": f"No provider with NPI {UNKNOWN_NPI} in the registry."}
    assert set(results[4]) == {"npi", "jurisdiction", "date", "error"} and "check digit" in results[4]["error"]
    assert set(results[0]) == {"npi", "jurisdiction", "date", "outcome", "eligible_from", "rule_id", "reasons"}
    assert results[2]["reasons"] == [{"code": "state_prohibits", "message": results[2]["reasons"][0]["message"]}]
    assert (results[5]["eligible_from"], results[5]["reasons"][0]["code"]) == ("2026-01-01", "licensed_too_few_years")
    assert results[8]["rule_id"] is None and results[8]["reasons"][0]["code"] == "no_rule_on_record"

    # the same answers as the single decision, rule by rule
    for index in (0, 2, 3, 6):
        item = items[index]
        single = ok(manager.get(eligibility_url(item["npi"], jurisdiction=item["jurisdiction"], date=item["date"])))
        assert results[index]["outcome"] == single["outcome"] and results[index]["rule_id"] == single["rule"]["id"]
        assert results[index]["reasons"] == [{"code": r["code"], "message": r["message"]} for r in single["reasons"]]
        described = body["rules"][str(single["rule"]["id"])]
        assert described == {k: single["rule"][k] for k in ("status", "citation", "source_urls", "effective_from", "effective_to")}

    used = {r["rule_id"] for r in results if r.get("rule_id") is not None}
    assert set(body["rules"]) == {str(i) for i in used} and len(used) == 4  # WA now, WA 2024-01-01, CA, PA
    assert "WAC 246-915-390" in body["rules"][str(results[0]["rule_id"])]["citation"]


def test_batch_text_is_not_repeated_per_item(manager, pt):
    items = [{"npi": NPI, "jurisdiction": "WA", "date": DAY}] * 500
    raw = manager.post(BATCH, json={"items": items}).get_data(as_text=True)
    assert raw.count("WAC 246-915-390") == 1


@pytest.mark.parametrize("role", ["auditor", "biller"])
def test_batch_roles(app, make_user, pt, role):
    client = sign_in(app, role, make_user)
    assert ok(client.post(BATCH, json={"items": [{"npi": NPI, "jurisdiction": "WA", "date": DAY}]}))["results"][0]["outcome"] == "eligible"


def test_clinicians_may_not_batch(app, make_user, pt):
    client = link_account(app, make_user, NPI)
    response = client.post(BATCH, json={"items": [{"npi": NPI, "jurisdiction": "WA", "date": DAY}]})
    assert response.status_code == 403 and response.is_json


def test_batch_size_limits(manager, pt):
    item = {"npi": NPI, "jurisdiction": "WA", "date": DAY}
    too_many = manager.post(BATCH, json={"items": [item] * (MAX_BATCH + 1)})
    assert list(errors_at(too_many)) == ["items"] and "10,000" in errors_at(too_many)["items"][0]
    # the size is refused before any item is read: no per-item errors for a huge bad array
    huge = manager.post(BATCH, data="{\"items\": [" + ",".join(["0"] * 1_000_000) + "]}", content_type="application/json")
    assert errors_at(huge) == {"items": ["Send 1 to 10,000 items per batch."]}
    assert "items" in errors_at(manager.post(BATCH, json={"items": []}))
    full = ok(manager.post(BATCH, json={"items": [item] * MAX_BATCH}))
    assert len(full["results"]) == MAX_BATCH and len(full["rules"]) == 1


@pytest.mark.parametrize(
    "item, field",
    [
        ({"npi": "12345", "jurisdiction": "WA", "date": DAY}, "npi"),
        ({"npi": "123456789٣", "jurisdiction": "WA", "date": DAY}, "npi"),  # a non-ASCII digit
        ({"npi": 1234567893, "jurisdiction": "WA", "date": DAY}, "npi"),
        ({"npi": "12345678\u00003", "jurisdiction": "WA", "date": DAY}, "npi"),
        ({"jurisdiction": "WA", "date": DAY}, "npi"),
        ({"npi": NPI, "jurisdiction": "ZZ", "date": DAY}, "jurisdiction"),
        ({"npi": NPI, "jurisdiction": ["WA"], "date": DAY}, "jurisdiction"),
        ({"npi": NPI, "jurisdiction": "WA\u0000", "date": DAY}, "jurisdiction"),
        ({"npi": NPI, "jurisdiction": "WA", "date": "2024-02-30"}, "date"),
        ({"npi": NPI, "jurisdiction": "WA", "date": 20250314}, "date"),
        ({"npi": NPI, "jurisdiction": "WA", "date": None}, "date"),
        ({"npi": NPI, "jurisdiction": "WA"}, "date"),
        ({"npi": NPI, "jurisdiction": "WA", "date": DAY, "profession": "PT"}, "profession"),
    ],
)
def test_bad_batch_item_is_422_naming_its_index_and_field(manager, pt, item, field):
    good = {"npi": NPI, "jurisdiction": "WA", "date": DAY}
    response = manager.post(BATCH, json={"items": [good, good, item]})
    assert set(errors_at(response)["items"]) == {"2"}
    assert field in errors_at(response)["items"]["2"], response.json


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"items": None},
        {"items": "WA"},
        {"items": {"npi": NPI}},
        {"items": [[NPI, "WA", DAY]]},
        {"items": ["x"]},
        {"items": [{"npi": NPI, "jurisdiction": "WA", "date": DAY}], "extra": 1},
    ],
)
def test_bad_batch_body_is_422(manager, pt, body):
    errors = errors_at(manager.post(BATCH, json=body))
    assert set(errors) <= {"items", "extra"} and errors


@pytest.mark.parametrize("raw", ["[]", "null", "\"items\"", "1"])
def test_batch_body_that_is_not_an_object_is_422(manager, pt, raw):
    response = manager.post(BATCH, data=raw, content_type="application/json")
    assert response.status_code == 422 and response.is_json


@pytest.mark.parametrize("raw", ["{", "{\"items\": [" + "[" * 100_000 + "]}", "\xff"])
def test_unreadable_batch_body_is_400(manager, pt, raw):
    response = manager.post(BATCH, data=raw, content_type="application/json")
    assert response.status_code == 400 and response.is_json


def test_batch_statement_count_does_not_grow_with_the_items(app, manager, nia):
    def statements_for(count: int) -> int:
        items = [{"npi": (NPI, NEW_NPI, UNKNOWN_NPI)[i % 3], "jurisdiction": ("WA", "CA", "PA", "CO")[i % 4], "date": f"2025-{i % 12 + 1:02d}-01"} for i in range(count)]
        seen = []

        def listener(*args, **kwargs):
            seen.append(1)

        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert len(ok(manager.post(BATCH, json={"items": items}))["results"]) == count
        finally:
            with app.app_context():
                event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    first = statements_for(10)  # also reads the live rule versions, kept for later requests
    small, large = statements_for(10), statements_for(1_000)
    assert small == large == first - 1 and small <= 10, (first, small, large)


# --- CSRF ----------------------------------------------------------------------------------
def test_batch_needs_the_csrf_header(csrf_app, make_user, pt):
    make_user("auditor")
    client = csrf_app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    assert client.post("/login", data={"email": "auditor@example.org", "password": PASSWORD, "csrf_token": token}).status_code == 302
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    body = {"items": [{"npi": NPI, "jurisdiction": "WA", "date": DAY}]}

    refused = client.post(BATCH, json=body)
    assert refused.status_code == 400 and refused.is_json and "CSRF" in refused.json["message"]
    assert client.post(BATCH, json=body, headers={"X-CSRFToken": "forged"}).status_code == 400
    answered = client.post(BATCH, json=body, headers={"X-CSRFToken": token})
    assert answered.status_code == 200 and answered.json["results"][0]["outcome"] == "eligible"
    # the GET endpoints need no token
    assert client.get(eligibility_url(jurisdiction="WA", date=DAY)).status_code == 200


# --- OpenAPI -------------------------------------------------------------------------------
def test_openapi_lists_the_eligibility_paths(client):
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    paths = spec.json["paths"]
    single, matrix = f"{API}/providers/{{npi}}/eligibility", f"{API}/providers/{{npi}}/eligibility/matrix"
    assert {single, matrix, BATCH} <= set(paths)
    assert {m for m in paths[single] if m != "parameters"} == {m for m in paths[matrix] if m != "parameters"} == {"get"}
    assert "\n" not in paths[matrix]["get"]["summary"] and "\n" not in paths[BATCH]["post"]["summary"]
    assert set(paths[BATCH]) == {"post"} and {"200", "401", "403", "422"} <= set(paths[BATCH]["post"]["responses"])
    query = {p["name"]: p for p in paths[single]["get"]["parameters"] if p["in"] == "query"}
    assert query["jurisdiction"]["required"] is True and "date" in query
    schemas = spec.json["components"]["schemas"]
    assert schemas["EligibilityBatchInput"]["properties"]["items"]["maxItems"] == MAX_BATCH
    assert {"npi", "provider_name", "outcome", "rule", "reasons", "missing", "date"} <= set(schemas["EligibilityDecision"]["properties"])
    assert json.dumps(spec.json)  # serialisable
