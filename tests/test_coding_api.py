"""The coding API against the real data/state_rules.csv and edit tables: one visit, batches,
the record (list, filter, reopen after a rule change), access, bad input, CSRF and the query
count of a batch (both databases)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from registry.coding.models import CodingCheck
from registry.coding.services import MAX_VISITS
from registry.extensions import db
from registry.rules import services as rules
from registry.rules.csvio import CONTENT_COLUMNS
from tests import test_eligibility_api
from tests.conftest import PASSWORD
from tests.test_eligibility_api import NPI, UNKNOWN_NPI, link_account, sign_in

pt = test_eligibility_api.pt  # the fixture: Pat Table, a PT eligible in WA on 2025-03-14

CHECK = "/api/v1/coding/check"
BATCH = "/api/v1/coding/check/batch"
CHECKS = "/api/v1/coding/checks"
BAD_CHECK_DIGIT = "1234567890"


def visit(**overrides) -> dict:
    """Pat Table (PT, eligible in WA on 2025-03-14) needling three distinct muscles, coded
    20561, with everything on file: allowed."""
    base = {
        "npi": NPI, "jurisdiction": "WA", "date": "2025-03-14", "payer_type": "commercial", "payer_name": "Regence",
        "muscles": [{"name": "Upper trapezius", "side": "bilateral"}, {"name": "levator scapulae", "side": "left"}],
        "lines": [{"code": "20561", "units": 1}], "diagnoses": ["M79.18"],
        "consent_on_file": True, "plan_of_care_on_file": True, "reassessment_done": True,
    }
    base.update(overrides)
    return base


def checked(client, body: dict) -> dict:
    response = client.post(CHECK, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.json


def codes(answer: dict, severity: str | None = None) -> list[str]:
    return [e["code"] for e in answer["edits"] if severity is None or e["severity"] == severity]


def errors_at(response) -> dict:
    assert response.status_code == 422 and response.is_json, (response.status_code, response.get_data(as_text=True)[:2000])
    return response.json["errors"]["json"]


@pytest.fixture
def biller(app, make_user, pt):
    return sign_in(app, "biller", make_user)


# --- one visit, on the real rules ----------------------------------------------------------------
def test_an_eligible_clinician_coding_right_is_allowed_and_recorded(app, biller):
    answer = checked(biller, visit())
    assert answer["outcome"] == "allow" and answer["edits"] == []
    assert answer["computed_code"] == "20561" and answer["distinct_muscles"] == 3  # bilateral counts twice
    assert answer["eligibility_outcome"] == "eligible"
    assert answer["billable_lines"] == [{"code": "20561", "units": 1, "modifiers": []}]
    assert "WAC 246-915-390" in answer["rule"]["citation"] and answer["rule"]["effective_from"] == "2024-06-22"
    with app.app_context():
        record = db.session.get(CodingCheck, answer["check_id"])
        assert (record.outcome, record.channel, record.actor, record.rule_version_id) == ("allow", "api", "biller@example.org", answer["rule"]["id"])
        assert record.visit["muscles"][0] == {"name": "Upper trapezius", "side": "bilateral"}


def test_the_same_clinician_is_blocked_in_a_prohibiting_state(biller):
    answer = checked(biller, visit(jurisdiction="CA"))
    assert answer["outcome"] == "block" and answer["billable_lines"] == []
    blocking = [e for e in answer["edits"] if e["severity"] == "block"]
    assert [e["code"] for e in blocking] == ["not_eligible"]
    assert blocking[0]["reason_code"] == "state_prohibits" and "CA does not allow dry needling" in blocking[0]["message"]
    assert answer["eligibility_reasons"][0]["code"] == "state_prohibits"


def test_before_washington_allowed_it_the_visit_is_blocked(biller):
    answer = checked(biller, visit(date="2024-01-01"))
    assert answer["outcome"] == "block" and answer["eligibility_outcome"] == "not_eligible"
    assert answer["rule"]["status"] == "prohibited"


def test_wrong_code_for_the_muscle_count_is_blocked_with_the_right_code(biller):
    answer = checked(biller, visit(lines=[{"code": "20560", "units": 1}]))
    assert answer["outcome"] == "block" and "muscle_count_mismatch" in codes(answer, "block")
    assert answer["computed_code"] == "20561"


def test_no_consent_blocks_and_missing_plan_warns(biller):
    answer = checked(biller, visit(consent_on_file=False, plan_of_care_on_file=False))
    assert "no_consent" in codes(answer, "block") and "no_plan_of_care" in codes(answer, "warn")


@pytest.mark.parametrize(
    ("abn", "modifiers", "outcome", "edit"),
    [
        (False, [], "block", "medicare_pt_no_abn"),
        (True, [], "block", "medicare_modifier_missing"),
        (True, ["GX"], None, None),
    ],
)
def test_medicare_pt_needs_an_abn_and_gx(biller, abn, modifiers, outcome, edit):
    answer = checked(biller, visit(payer_type="medicare", payer_name="Medicare", abn_on_file=abn, lines=[{"code": "20561", "units": 1, "modifiers": modifiers}]))
    if edit:
        assert answer["outcome"] == outcome and edit in codes(answer, "block")
        assert any("never covered" in e["message"] for e in answer["edits"] if e["code"] == edit) or edit == "medicare_modifier_missing"
    else:
        assert answer["outcome"] != "block", answer["edits"]
        assert answer["billable_lines"] == [{"code": "20561", "units": 1, "modifiers": ["GX"]}]


def test_an_unknown_npi_or_a_bad_check_digit_is_blocked(biller):
    for npi in (UNKNOWN_NPI, BAD_CHECK_DIGIT):
        answer = checked(biller, visit(npi=npi))
        assert answer["outcome"] == "block" and codes(answer, "block") == ["unknown_provider"] and answer["eligibility_outcome"] is None


# --- batches ------------------------------------------------------------------------------------
def test_batch_answers_in_order_and_records_each(app, biller):
    visits = [visit(), visit(jurisdiction="CA"), visit(consent_on_file=False), visit(npi=UNKNOWN_NPI)]
    response = biller.post(BATCH, json={"visits": visits})
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    results = response.json["results"]
    assert [r["outcome"] for r in results] == ["allow", "block", "block", "block"]
    assert [r["jurisdiction"] for r in results] == ["WA", "CA", "WA", "WA"]
    assert response.json["counts"] == {"allow": 1, "block": 3}
    with app.app_context():
        rows = db.session.scalars(select(CodingCheck).order_by(CodingCheck.id)).all()
        assert [r.id for r in rows] == [r["check_id"] for r in results]
        assert {r.channel for r in rows} == {"api_batch"} and len({r.batch_key for r in rows}) == 1


def test_a_batch_costs_the_same_queries_whatever_its_size(app, biller):
    def statements(n: int) -> int:
        seen = []
        with app.app_context():
            listener = lambda *_a, **_k: seen.append(1)  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                body = {"visits": [visit(jurisdiction=code) for code in ("WA", "CA", "CO", "FL", "AK") * (n // 5)]}
                assert biller.post(BATCH, json=body).status_code == 200
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    statements(5)  # the first request also reads the live rule versions, kept for later ones
    assert statements(10) == statements(250)


def test_an_oversized_batch_is_refused_before_reading_the_visits(biller):
    response = biller.post(BATCH, json={"visits": [{}] * (MAX_VISITS + 1)})
    assert errors_at(response) == {"visits": [f"Send 1 to {MAX_VISITS:,} visits per batch."]}


def test_a_bad_visit_in_a_batch_names_its_index_and_records_nothing(app, biller):
    response = biller.post(BATCH, json={"visits": [visit(), visit(date="2025-02-30")]})
    assert "date" in errors_at(response)["visits"]["1"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CodingCheck)) == 0


# --- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"muscles": [{"name": "trapezius", "side": "up"}]}, ("muscles", "0", "side")),
        ({"lines": [{"code": "2056", "units": 1}]}, ("lines", "0", "code")),
        ({"lines": [{"code": "20561", "units": 0}]}, ("lines", "0", "units")),
        ({"lines": [{"code": "20561", "modifiers": ["GXX"]}]}, ("lines", "0", "modifiers", "0")),
        ({"lines": []}, ("lines",)),
        ({"payer_type": "medigap"}, ("payer_type",)),
        ({"jurisdiction": "XX"}, ("jurisdiction",)),
        ({"npi": "12345"}, ("npi",)),
        ({"date": "yesterday"}, ("date",)),
        ({"consent_on_file": "perhaps"}, ("consent_on_file",)),
        ({"surprise": 1}, ("surprise",)),
        ({"payer_name": "Aetna\x00"}, ("payer_name",)),
    ],
)
def test_bad_input_is_422_naming_the_field(app, biller, change, path):
    errors = errors_at(biller.post(CHECK, json=visit(**change)))
    for key in path:
        errors = errors[key]
    assert errors
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CodingCheck)) == 0


def test_missing_required_fields_are_named(biller):
    errors = errors_at(biller.post(CHECK, json={}))
    assert {"npi", "jurisdiction", "date", "payer_type", "muscles", "lines"} <= set(errors)


def test_not_json_is_400_or_422(biller):
    assert biller.post(CHECK, data="not json", content_type="application/json").status_code in (400, 422)


# --- access --------------------------------------------------------------------------------------
def test_anonymous_gets_401(app, pt):
    response = app.test_client().post(CHECK, json=visit())
    assert response.status_code == 401 and response.is_json


def test_auditors_read_the_record_but_do_not_check(app, make_user, biller):
    checked(biller, visit())
    auditor = sign_in(app, "auditor", make_user)
    assert auditor.post(CHECK, json=visit()).status_code == 403
    assert auditor.get(CHECKS).json["total"] == 1


def test_batches_are_for_managers_and_billers(app, make_user, pt):
    clinician = link_account(app, make_user, NPI)
    assert clinician.post(BATCH, json={"visits": [visit()]}).status_code == 403
    assert sign_in(app, "manager", make_user).post(BATCH, json={"visits": [visit()]}).status_code == 200


def test_a_clinician_checks_only_their_own_visits(app, make_user, pt, make_provider):
    clinician = link_account(app, make_user, NPI)
    assert checked(clinician, visit())["outcome"] == "allow"
    make_provider("1245319599", "Nia New", "PT")
    assert clinician.post(CHECK, json=visit(npi="1245319599")).status_code == 403
    assert clinician.get(CHECKS).status_code == 403  # the record is for managers, billers, auditors


def test_a_check_needs_the_csrf_header(csrf_app, make_user, pt):
    make_user("biller")
    client = csrf_app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"email": "biller@example.org", "password": PASSWORD, "csrf_token": token}).status_code == 302
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    refused = client.post(CHECK, json=visit())
    assert refused.status_code == 400 and "CSRF" in refused.json["message"]
    assert client.post(CHECK, json=visit(), headers={"X-CSRFToken": token}).status_code == 200


# --- the record ----------------------------------------------------------------------------------
def test_the_record_lists_and_filters(app, make_user, biller):
    checked(biller, visit())
    checked(biller, visit(jurisdiction="CA"))
    checked(biller, visit(consent_on_file=False))
    auditor = sign_in(app, "auditor", make_user)
    assert auditor.get(CHECKS).json["total"] == 3
    assert auditor.get(f"{CHECKS}?outcome=block").json["total"] == 2
    assert auditor.get(f"{CHECKS}?jurisdiction=ca").json["total"] == 1
    assert auditor.get(f"{CHECKS}?edit=no_consent").json["total"] == 1
    assert auditor.get(f"{CHECKS}?npi={NPI}&from=2025-03-14&to=2025-03-14").json["total"] == 3
    assert auditor.get(f"{CHECKS}?from=2025-03-15").json["total"] == 0
    newest = auditor.get(f"{CHECKS}?page_size=1").json
    assert newest["items"][0]["edits"][0]["code"] == "no_consent" and newest["total"] == 3
    assert errors_at_query(auditor.get(f"{CHECKS}?outcome=maybe")) == ["outcome"]


def errors_at_query(response) -> list[str]:
    assert response.status_code == 422, response.get_data(as_text=True)
    return sorted(response.json["errors"]["query"])


def test_a_decision_is_explained_later_under_the_rule_used_then(app, make_user, biller):
    """Washington raises its hours after the check: the record still shows the rule version
    the decision used, and a re-check today says the visit would now be blocked."""
    answer = checked(biller, visit())
    with app.app_context():
        current = rules.current_rule("WA", "PT")
        values = {c: getattr(current, c) for c in CONTENT_COLUMNS if c != "effective_to"}
        values.update(min_training_hours=Decimal("500"), effective_from=date(2025, 1, 1), citation="WAC 246-915-390 (amended, test)")
        rules.revise_rule("WA", "PT", values, reason="test: hours raised", actor=rules.Actor(None, "test"), expected_id=current.id, expected_version=current.version_id)
        db.session.commit()
        from registry.coding import services

        result, decision = services.recheck(services.get_check(answer["check_id"]))
        assert result.outcome == "block" and decision.rule.citation == "WAC 246-915-390 (amended, test)"
    auditor = sign_in(app, "auditor", make_user)
    record = auditor.get(f"{CHECKS}/{answer['check_id']}").json
    assert record["outcome"] == "allow" and record["rule"]["id"] == answer["rule"]["id"]
    assert record["rule"]["citation"] == answer["rule"]["citation"] and "amended" not in record["rule"]["citation"]
    assert record["visit"]["lines"] == [{"code": "20561", "units": 1, "modifiers": [], "muscles": []}]
    assert auditor.get(f"{CHECKS}/999999").status_code == 404


def test_the_openapi_document_describes_the_coding_api(app):
    spec = app.test_client().get("/api/openapi.json").json
    assert {"/api/v1/coding/check", "/api/v1/coding/check/batch", "/api/v1/coding/checks", "/api/v1/coding/checks/{check_id}"} <= set(spec["paths"])
    assert "422" in spec["paths"]["/api/v1/coding/check"]["post"]["responses"]
