"""The coding gate's pages against the real data/state_rules.csv and edit tables: code a visit
(the proposed code, validation, a clinician's own NPI), the decision (allowed, blocked,
warnings, release once, re-check after a rule change), the auditors' record and its CSV, the
billable lines and their export, access and CSRF. SQLite or PostgreSQL, like the rest."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from registry.coding import gate, services
from registry.coding.models import BillableLine, CodingCheck
from registry.extensions import db
from registry.rules import services as rules
from registry.rules.csvio import CONTENT_COLUMNS
from tests import test_eligibility_api
from tests.conftest import PASSWORD
from tests.test_eligibility_api import NPI, link_account, sign_in

pt = test_eligibility_api.pt  # the fixture: Pat Table, a PT eligible in WA on 2025-03-14
OTHER_NPI = "1245319599"  # a second provider, for what a clinician may not see
ACTOR = rules.Actor(None, "test")


def text_of(response) -> str:
    return response.get_data(as_text=True)


def visit_form(**overrides) -> dict:
    """The form as a browser sends it: Pat Table in WA on 2025-03-14, three distinct muscles
    (upper trapezius on both sides and the left levator scapulae), 20561, everything on
    file: allowed. An override of None leaves the field out (an unticked checkbox)."""
    data = {
        "npi": NPI, "jurisdiction": "WA", "date": "2025-03-14", "payer_type": "commercial", "payer_name": "Regence",
        "muscles-0-name": "Upper trapezius", "muscles-0-side": "bilateral",
        "muscles-1-name": "levator scapulae", "muscles-1-side": "left",
        "lines-0-code": "20561", "lines-0-units": "1", "diagnoses": "M79.18",
        "consent_on_file": "y", "plan_of_care_on_file": "y", "reassessment_done": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def coded(client, **overrides) -> int:
    """Post the visit form; return the recorded check's id (from the redirect)."""
    response = client.post("/coding/visit", data=visit_form(**overrides))
    assert response.status_code == 302, text_of(response)[:3000]
    match = re.fullmatch(r"/coding/checks/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def check_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CodingCheck))


def recorded(app, check_id: int) -> CodingCheck:
    with app.app_context():
        check = db.session.get(CodingCheck, check_id)
        db.session.expunge(check)
        return check


def lines_of(app, check_id: int) -> list[tuple[str, int, str, str]]:
    with app.app_context():
        rows = db.session.scalars(select(BillableLine).where(BillableLine.check_id == check_id).order_by(BillableLine.line_number))
        return [(ln.code, ln.units, ln.modifiers, ln.acknowledgement) for ln in rows]


def rows_of(response) -> list[dict[str, str]]:
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(text_of(response))))


@pytest.fixture
def biller(app, make_user, pt):
    return sign_in(app, "biller", make_user)


@pytest.fixture
def other(app, make_provider, pt):
    """A second PT (WA license only, no training): not eligible anywhere."""
    return make_provider(OTHER_NPI, "Olive Other", "PT", license=[{"jurisdiction_code": "WA", "number": "WA-9", "issued_on": date(2016, 1, 1), "status": "active"}])


def record_visits(app, *visits: gate.Visit, channel: str = "api") -> list[int]:
    """Check and record visits through the services (for the record and lines tests)."""
    with app.app_context():
        outcomes = services.check_visits(list(visits), actor=ACTOR, channel=channel)
        db.session.commit()
        return [o.check_id for o in outcomes]


def a_visit(**changes) -> gate.Visit:
    base = gate.Visit(
        npi=NPI, jurisdiction="WA", day=date(2025, 3, 14), payer_type="commercial", payer_name="Regence",
        muscles=(gate.Muscle("upper trapezius", "bilateral"), gate.Muscle("levator scapulae", "left")),
        lines=(gate.Line("20561"),), diagnoses=("M79.18",), consent_on_file=True, plan_of_care_on_file=True, reassessment_done=True,
    )
    return replace(base, **changes)


def release_all(app, check_ids) -> None:
    with app.app_context():
        for check_id in check_ids:
            services.release(services.get_check(check_id), actor=ACTOR, acknowledgement="test")
        db.session.commit()


# --- the visit page: who may use it ----------------------------------------------------------------
@pytest.mark.parametrize("role", ["manager", "biller"])
def test_managers_and_billers_pick_the_provider_by_npi(app, make_user, pt, role):
    client = sign_in(app, role, make_user)
    page = text_of(client.get("/coding/visit"))
    assert "Code a dry-needling visit" in page and 'name="npi"' in page
    assert f'<option value="{NPI}">Pat Table (PT)</option>' in page  # the datalist
    assert page.count('name="muscles-') == 2 * 8 and page.count('name="lines-') == 4 * 4
    assert 'aria-live="polite"' in page and "Leave the first line's code empty" in page
    assert ">Code a visit</a>" in page and ">Coding record</a>" in page


def test_a_clinician_codes_only_for_their_own_record(app, make_user, pt):
    client = link_account(app, make_user, NPI)
    page = text_of(client.get("/coding/visit"))
    assert "Coding for Pat Table (NPI 1234567893)" in page and 'name="npi"' not in page
    assert ">Code a visit</a>" in page and ">Coding record</a>" not in page
    check_id = coded(client, npi=OTHER_NPI)  # a posted NPI is ignored: the record's NPI is used
    assert recorded(app, check_id).npi == NPI


def test_a_clinician_without_a_linked_record_is_told(app, make_user, pt):
    client = sign_in(app, "clinician", make_user)
    response = client.get("/coding/visit")
    assert response.status_code == 404 and "No provider record is linked to your account" in text_of(response)
    assert client.post("/coding/visit", data=visit_form()).status_code == 404
    assert check_count(app) == 0


def test_auditors_read_the_record_but_do_not_code(app, make_user, pt):
    client = sign_in(app, "auditor", make_user)
    assert client.get("/coding/visit").status_code == 403
    assert client.post("/coding/visit", data=visit_form()).status_code == 403
    assert client.get("/coding/upload").status_code == 403
    assert client.get("/coding/checks").status_code == 200 and client.get("/coding/lines").status_code == 200
    assert check_count(app) == 0


def test_anonymous_is_sent_to_sign_in(client):
    for path in ("/coding/visit", "/coding/checks", "/coding/checks/1", "/coding/lines", "/coding/upload"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path


# --- an allowed visit, and releasing it ------------------------------------------------------------
def test_an_allowed_visit_is_shown_and_released_once(app, biller):
    check_id = coded(biller)
    page = text_of(biller.get(f"/coding/checks/{check_id}"))
    assert '<span class="badge co-allow">Allowed</span>' in page and "These claim lines may go out." in page
    assert "Code for the muscles: <strong>20561</strong>" in page and "3 distinct muscles" in page
    assert "No edit: nothing to correct." in page
    assert '<span class="badge el-eligible">Eligible</span>' in page
    assert "WAC 246-915-390" in page and "2024-06-22 →" in page  # the rule version used
    assert "/jurisdictions/WA?as_of=2025-03-14#PT-history" in page
    assert "Checked by biller@example.org on" in page and "through this site" in page
    assert "Edit and check again" not in page and "Create billable lines" in page
    assert 'name="acknowledgement"' not in page  # no warning, nothing to acknowledge

    released = biller.post(f"/coding/checks/{check_id}/release", data={})
    assert released.status_code == 302 and released.headers["Location"].endswith(f"/coding/checks/{check_id}#lines")
    assert lines_of(app, check_id) == [("20561", 1, "", "")]
    page = text_of(biller.get(f"/coding/checks/{check_id}"))
    assert "Created 1 billable line." in page and 'id="lines"' in page and "Create billable lines" not in page

    again = biller.post(f"/coding/checks/{check_id}/release", data={})
    assert again.status_code == 409 and "was released already" in text_of(again)
    assert len(lines_of(app, check_id)) == 1


def test_a_visit_allowed_with_warnings_needs_an_acknowledgement(app, biller):
    check_id = coded(biller, plan_of_care_on_file=None)
    page = text_of(biller.get(f"/coding/checks/{check_id}"))
    assert '<span class="badge co-allow_with_warnings">Allowed with warnings</span>' in page
    assert 'data-code="no_plan_of_care"' in page and "File the plan of care with its goals." in page
    assert 'name="acknowledgement"' in page
    refused = biller.post(f"/coding/checks/{check_id}/release", data={"acknowledgement": "  "})
    assert refused.status_code == 422 and "say why it goes out anyway" in text_of(refused)
    assert lines_of(app, check_id) == []
    ok = biller.post(f"/coding/checks/{check_id}/release", data={"acknowledgement": "Plan of care signed on paper, scanned tomorrow."})
    assert ok.status_code == 302
    assert lines_of(app, check_id) == [("20561", 1, "", "Plan of care signed on paper, scanned tomorrow.")]
    assert "Plan of care signed on paper" in text_of(biller.get(f"/coding/checks/{check_id}"))


# --- blocked visits --------------------------------------------------------------------------------
def test_a_visit_in_a_prohibiting_state_is_blocked_with_the_reason(app, biller):
    check_id = coded(biller, jurisdiction="CA")
    page = text_of(biller.get(f"/coding/checks/{check_id}"))
    assert '<span class="badge co-block">Blocked</span>' in page and "These claim lines may not go out." in page
    blocking = page.split('id="edits-block"')[1].split("</ul>")[0]
    assert 'data-code="not_eligible"' in blocking and "CA does not allow dry needling" in blocking
    assert "What would fix it:" in blocking and "Cal. Bus. &amp; Prof. Code 2620.5" in blocking
    assert 'data-code="state_prohibits"' in page  # the eligibility reason
    assert f'href="/coding/visit?from={check_id}"' in page and "Create billable lines" not in page
    assert "a blocked visit never becomes a billable line" in page

    refused = biller.post(f"/coding/checks/{check_id}/release", data={})
    assert refused.status_code == 422 and "blocked by the coding gate" in text_of(refused)
    assert lines_of(app, check_id) == []


def test_a_visit_without_consent_is_blocked_and_says_what_fixes_it(app, biller):
    check_id = coded(biller, consent_on_file=None)
    page = text_of(biller.get(f"/coding/checks/{check_id}"))
    assert "co-block" in page and 'data-code="no_consent"' in page
    assert "File the patient&#39;s signed written consent" in page
    assert '<span class="badge el-eligible">Eligible</span>' in page  # eligible, still blocked
    assert biller.post(f"/coding/checks/{check_id}/release", data={}).status_code == 422


def test_edit_and_check_again_fills_the_form_from_the_recorded_visit(app, biller):
    check_id = coded(biller, consent_on_file=None, payer_name="Regence BlueShield", **{"lines-1-code": "97140", "lines-1-modifiers": "GP 59", "lines-1-units": "2"})
    page = text_of(biller.get(f"/coding/visit?from={check_id}"))
    assert f"Filled in from check {check_id}" in page
    assert 'value="Upper trapezius"' in page and '<option selected value="bilateral">' in page
    assert '<option selected value="WA">' in page and 'value="2025-03-14"' in page and 'value="Regence BlueShield"' in page
    assert re.search(r'id="lines-1-code"[^>]*value="97140"', page) and re.search(r'id="lines-1-modifiers"[^>]*value="GP 59"', page)
    assert re.search(r'id="lines-1-units"[^>]*value="2"', page)
    assert '<input id="consent_on_file" name="consent_on_file"' in page  # still unticked
    assert '<input checked id="plan_of_care_on_file"' in page
    again = coded(biller, payer_name="Regence BlueShield")
    assert recorded(app, again).outcome == "allow" and recorded(app, check_id).outcome == "block"  # the first stays


# --- the proposed code ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "muscles, code, count",
    [
        ([("Upper trapezius", "left")], "20560", 1),
        ([("Upper trapezius", "bilateral")], "20560", 2),  # both sides: two muscles
        ([("Upper trapezius", "left"), ("upper   TRAPEZIUS", "left"), ("infraspinatus", "right")], "20560", 2),  # a repeat counts once
        ([("Upper trapezius", "bilateral"), ("levator scapulae", "left")], "20561", 3),
    ],
)
def test_a_blank_first_line_takes_the_code_the_muscles_call_for(app, biller, muscles, code, count):
    fields = {"muscles-0-name": None, "muscles-0-side": None, "muscles-1-name": None, "muscles-1-side": None, "lines-0-code": "", "lines-0-units": ""}
    for number, (name, side) in enumerate(muscles):
        fields |= {f"muscles-{number}-name": name, f"muscles-{number}-side": side}
    check = recorded(app, coded(biller, **fields))
    assert check.visit["lines"] == [{"code": code, "units": 1, "modifiers": [], "muscles": []}]
    assert (check.computed_code, check.distinct_muscles, check.outcome) == (code, count, "allow")


def test_the_proposal_keeps_the_first_lines_modifiers(app, biller):
    check = recorded(app, coded(biller, payer_type="medicare", abn_on_file="y", **{"lines-0-code": "", "lines-0-modifiers": "gx"}))
    assert check.visit["lines"][0] == {"code": "20561", "units": 1, "modifiers": ["GX"], "muscles": []}
    assert check.outcome == "allow"  # Medicare, a PT, ABN and GX: goes out as the patient's responsibility


def test_a_code_that_does_not_match_the_muscles_is_recorded_as_blocked(app, biller):
    check = recorded(app, coded(biller, **{"muscles-0-side": "left"}))  # 2 muscles, 20561 billed
    assert check.outcome == "block" and check.computed_code == "20560"
    assert [e["code"] for e in check.edits] == ["muscle_count_mismatch"]


def test_the_page_shows_the_count_when_it_comes_back(app, biller):
    response = biller.post("/coding/visit", data=visit_form(jurisdiction=""))
    page = text_of(response)
    assert response.status_code == 422 and "3 distinct muscles → 20561" in page


# --- refused input: the form says what, nothing is recorded ----------------------------------------
@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"lines-0-code": "", "muscles-0-name": "", "muscles-0-side": "", "muscles-1-name": "", "muscles-1-side": ""}, "Give the code, or enter the muscles treated"),
        ({"muscles-1-side": ""}, "Choose the side of levator scapulae."),
        ({"muscles-1-name": " "}, "Name the muscle, or clear its side."),
        ({"muscles-1-side": "both"}, "Not a valid choice"),
        ({"lines-0-code": "2056"}, "is not a CPT or HCPCS code"),
        ({"lines-0-units": "0"}, "1 to 99."),
        ({"lines-0-modifiers": "GPX"}, "&#39;GPX&#39; is not a modifier"),
        ({"lines-1-units": "2"}, "Give the code of this line, or clear the line."),
        ({"lines-1-code": "20552", "lines-1-muscles": "upper trapezius"}, "has no side"),
        ({"diagnoses": "M79.18 " + "X" * 11}, "longer than an ICD-10-CM code"),
        ({"jurisdiction": "ZZ"}, "Not a valid choice"),
        ({"jurisdiction": ""}, "Choose the state or territory where the patient was treated."),
        ({"payer_type": "insurance"}, "Not a valid choice"),
        ({"date": "2025-02-30"}, "Not a valid date"),
        ({"npi": "1234567890"}, "check digit"),
        ({"npi": "1003000126"}, "No provider with NPI 1003000126 in the registry."),
        ({"npi": ""}, "Give the NPI of the provider who treated the patient."),
        ({"payer_name": "Acme\x00"}, "NUL character"),
        ({"muscles-0-name": "Upper\x00trapezius"}, "NUL character"),
        ({f"muscles-{n}-{part}": f"muscle {n}" if part == "name" else "left" for n in range(61) for part in ("name", "side")}, "At most 60 rows."),
    ],
)
def test_bad_input_is_422_with_a_message_and_nothing_is_recorded(app, biller, overrides, words):
    response = biller.post("/coding/visit", data=visit_form(**overrides))
    assert response.status_code == 422 and words in text_of(response), text_of(response)[:3000]
    assert "Some entries need correcting" in text_of(response)
    assert check_count(app) == 0


# --- who may read and release a decision -----------------------------------------------------------
def test_a_clinician_sees_and_releases_only_their_own_checks(app, make_user, pt, other):
    mine, theirs = record_visits(app, a_visit(), a_visit(npi=OTHER_NPI))
    client = link_account(app, make_user, NPI)
    assert client.get(f"/coding/checks/{mine}").status_code == 200
    assert client.get(f"/coding/checks/{theirs}").status_code == 404
    assert client.get(f"/coding/visit?from={theirs}").status_code == 404
    assert client.post(f"/coding/checks/{theirs}/release", data={}).status_code == 404
    assert client.get("/coding/checks").status_code == 403 and client.get("/coding/lines").status_code == 403
    assert client.post(f"/coding/checks/{mine}/release", data={}).status_code == 302
    assert lines_of(app, mine) == [("20561", 1, "", "")]


def test_an_auditor_reads_any_check_but_does_not_release(app, make_user, pt):
    (check_id,) = record_visits(app, a_visit())
    client = sign_in(app, "auditor", make_user)
    page = text_of(client.get(f"/coding/checks/{check_id}"))
    assert "co-allow" in page and "Not released yet." in page and "Create billable lines" not in page
    assert client.post(f"/coding/checks/{check_id}/release", data={}).status_code == 403
    assert client.get("/coding/checks/999999").status_code == 404


# --- re-checking under today's rules -----------------------------------------------------------------
def test_a_decision_is_reopened_and_compared_after_the_rule_changed(app, make_user, pt):
    (check_id,) = record_visits(app, a_visit())
    client = sign_in(app, "auditor", make_user)
    same = text_of(client.get(f"/coding/checks/{check_id}?recheck=1"))
    assert "Today the gate gives the same outcome" in same and "Nothing was recorded by this re-check." in same
    with app.app_context():
        current = rules.current_rule("WA", "PT")
        values = {c: getattr(current, c) for c in CONTENT_COLUMNS if c != "effective_to"}
        values.update(min_training_hours=Decimal("500"), effective_from=date(2025, 1, 1), citation="WAC 246-915-390 (amended, test)")
        rules.revise_rule("WA", "PT", values, reason="test: hours raised", actor=ACTOR, expected_id=current.id, expected_version=current.version_id)
        db.session.commit()
    page = text_of(client.get(f"/coding/checks/{check_id}?recheck=1"))
    recheck = page.split('id="recheck"')[1]
    assert "Today the outcome would change" in recheck and "co-allow" in recheck and "co-block" in recheck
    assert "WAC 246-915-390 (amended, test)" in recheck and "New today: not_eligible." in recheck
    assert "WA requires 500" in recheck
    before = page.split('id="recheck"')[0]
    assert "co-allow" in before and "amended" not in before  # the decision as made, with the rule then
    assert check_count(app) == 1


# --- the record for auditors ---------------------------------------------------------------------------
@pytest.fixture
def record(app, pt, other):
    """Four checks: allowed in WA, blocked in CA, blocked without consent (through a CSV
    upload), and another provider's; ids in that order."""
    first = record_visits(app, a_visit(), a_visit(jurisdiction="CA", day=date(2025, 4, 1)))
    second = record_visits(app, a_visit(consent_on_file=False, day=date(2025, 5, 2), payer_name="=HYPERLINK(\"http://x\")"), channel="csv")
    third = record_visits(app, a_visit(npi=OTHER_NPI, day=date(2025, 6, 3)))
    return first + second + third


def listed(client, query: str = "") -> list[int]:
    response = client.get(f"/coding/checks{query}")
    assert response.status_code == 200, text_of(response)[:2000]
    return [int(n) for n in re.findall(r'<td><a href="/coding/checks/(\d+)">', text_of(response))]


def test_the_record_lists_and_filters_the_checks(app, make_user, record):
    allowed, blocked_ca, no_consent, other_npi = record
    client = sign_in(app, "auditor", make_user)
    assert listed(client) == [other_npi, no_consent, blocked_ca, allowed]  # newest first
    assert listed(client, "?outcome=block") == [other_npi, no_consent, blocked_ca]
    assert listed(client, f"?npi={OTHER_NPI}") == [other_npi]
    assert listed(client, "?jurisdiction=CA") == [blocked_ca]
    assert listed(client, "?channel=csv") == [no_consent]
    assert listed(client, "?from=2025-04-01&to=2025-05-31") == [no_consent, blocked_ca]
    assert listed(client, "?edit=no_consent") == [no_consent]
    assert listed(client, "?edit=not_eligible&npi=" + NPI) == [blocked_ca]
    assert "4 checks." in text_of(client.get("/coding/checks"))


@pytest.mark.parametrize("query, words", [("?outcome=maybe", "Not a valid choice"), ("?from=2025-13-01", "Not a valid date"), ("?npi=12", "exactly 10 digits"), ("?edit=DROP TABLE", "An edit code such as no_consent"), ("?page=0", "A page number from 1")])
def test_bad_record_filters_are_400_with_the_reason(app, make_user, record, query, words):
    client = sign_in(app, "biller", make_user)
    response = client.get(f"/coding/checks{query}")
    assert response.status_code == 400 and words in text_of(response)
    assert client.get(f"/coding/checks.csv{query}").status_code == 400


def test_the_record_is_paged(app, make_user, pt):
    ids = record_visits(app, *[a_visit(day=date(2025, 3, 14)) for _ in range(51)])
    client = sign_in(app, "manager", make_user)
    first = text_of(client.get("/coding/checks"))
    assert "51 checks, page 1 of 2." in first and 'href="/coding/checks?page=2"' in first
    assert listed(client, "?page=2") == [ids[0]]


def test_the_record_as_csv_follows_the_filters_and_escapes_formulas(app, make_user, record):
    allowed, blocked_ca, no_consent, other_npi = record
    client = sign_in(app, "auditor", make_user)
    page = text_of(client.get("/coding/checks?outcome=block&from=2025-04-01"))
    assert 'href="/coding/checks.csv?outcome=block&amp;from=2025-04-01"' in page
    rows = rows_of(client.get("/coding/checks.csv?outcome=block&from=2025-04-01"))
    assert [int(r["check_id"]) for r in rows] == [other_npi, no_consent, blocked_ca]
    by_id = {int(r["check_id"]): r for r in rows}
    assert by_id[no_consent]["payer_name"] == "'=HYPERLINK(\"http://x\")"  # escaped, not a formula
    assert by_id[no_consent]["channel"] == "csv" and by_id[no_consent]["edit_codes"] == "no_consent"
    assert by_id[blocked_ca]["edit_codes"] == "not_eligible" and by_id[blocked_ca]["eligibility"] == "not_eligible"
    assert "Cal. Bus." in by_id[blocked_ca]["rule_citation"] and by_id[blocked_ca]["actor"] == "test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", by_id[blocked_ca]["checked_at"])
    assert len(rows_of(client.get("/coding/checks.csv"))) == 4


# --- billable lines ---------------------------------------------------------------------------------
def test_exporting_marks_the_lines_and_a_second_export_is_empty(app, make_user, record):
    allowed, *_ = record
    more = record_visits(app, a_visit(day=date(2025, 7, 1)), a_visit(day=date(2025, 8, 1), lines=(gate.Line("20561"), gate.Line("97140", 1, ("GP", "59")))))
    release_all(app, [allowed, *more])
    client = sign_in(app, "biller", make_user)
    page = text_of(client.get("/coding/lines"))
    assert 'id="lines-count">4 lines.' in page and 'id="export-form"' in page

    july = text_of(client.get("/coding/lines?from=2025-07-01&to=2025-07-31")).split('id="export-form"')[1]
    assert '<input type="hidden" name="from" value="2025-07-01">' in july and "(dates of service 2025-07-01 to 2025-07-31)" in july
    in_july = rows_of(client.post("/coding/lines/export", data={"from": "2025-07-01", "to": "2025-07-31"}))
    assert [(r["check_id"], r["cpt_code"], r["date_of_service"]) for r in in_july] == [(str(more[0]), "20561", "2025-07-01")]
    exported = rows_of(client.post("/coding/lines/export", data={}))
    assert [(r["cpt_code"], r["units"], r["modifiers"]) for r in exported] == [("20561", "1", ""), ("20561", "1", ""), ("97140", "1", "GP 59")]
    first = exported[0]
    assert (first["rendering_npi"], first["jurisdiction"], first["payer_type"], first["payer_name"], first["diagnoses"], first["released_by"]) == (NPI, "WA", "commercial", "Regence", "M79.18", "test")
    assert list(first) == ["line_id", "check_id", "rendering_npi", "jurisdiction", "date_of_service", "payer_type", "payer_name", "cpt_code", "units", "modifiers", "diagnoses", "released_at", "released_by"]
    assert rows_of(client.post("/coding/lines/export", data={})) == []  # nothing new

    assert 'id="lines-count">0 lines.' in text_of(client.get("/coding/lines"))
    assert len(rows_of(client.get("/coding/lines.csv?status=exported"))) == 4
    assert len(rows_of(client.get("/coding/lines.csv?status=all&from=2025-08-01"))) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BillableLine).where(BillableLine.exported_at.is_(None))) == 0


def test_reading_the_lines_does_not_mark_them(app, make_user, record):
    release_all(app, record[:1])
    client = sign_in(app, "auditor", make_user)
    assert len(rows_of(client.get("/coding/lines.csv"))) == 1
    page = text_of(client.get("/coding/lines"))
    assert 'id="lines-count">1 line.' in page and 'id="export-form"' not in page  # auditors read only
    assert client.post("/coding/lines/export", data={}).status_code == 403
    assert len(rows_of(client.get("/coding/lines.csv?status=new"))) == 1


def test_lines_csv_escapes_formulas(app, make_user, pt):
    (check_id,) = record_visits(app, a_visit(payer_name="@SUM(1+1)"))
    release_all(app, [check_id])
    client = sign_in(app, "manager", make_user)
    (row,) = rows_of(client.post("/coding/lines/export", data={}))
    assert row["payer_name"] == "'@SUM(1+1)"


def test_bad_line_filters_are_refused(app, make_user, pt):
    client = sign_in(app, "manager", make_user)
    assert client.get("/coding/lines?status=lost").status_code == 400
    assert client.get("/coding/lines.csv?from=yesterday").status_code == 400
    assert client.post("/coding/lines/export", data={"from": "yesterday"}).status_code == 422


# --- CSRF: every coding form needs its token, and carries it -------------------------------------------
def test_every_coding_form_needs_and_carries_its_csrf_token(csrf_app, make_user, pt):
    make_user("biller")
    client = csrf_app.test_client()
    login = text_of(client.get("/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    assert client.post("/login", data={"email": "biller@example.org", "password": PASSWORD, "csrf_token": token}).status_code == 302

    def token_of(path: str) -> str:
        return re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', text_of(client.get(path))).group(1)

    assert client.post("/coding/visit", data=visit_form()).status_code == 400
    response = client.post("/coding/visit", data=visit_form(csrf_token=token_of("/coding/visit")))
    assert response.status_code == 302
    check_page = response.headers["Location"]
    assert client.post(f"{check_page}/release", data={}).status_code == 400
    assert client.post(f"{check_page}/release", data={"csrf_token": token_of(check_page)}).status_code == 302
    assert client.post("/coding/lines/export", data={}).status_code == 400
    assert len(rows_of(client.post("/coding/lines/export", data={"csrf_token": token_of("/coding/lines")}))) == 1
    sample = {"file": (io.BytesIO(b"npi\n"), "visits.csv")}
    assert client.post("/coding/upload", data=sample, content_type="multipart/form-data").status_code == 400
