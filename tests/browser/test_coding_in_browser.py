"""A clinician codes dry-needling visits in the browser: the code proposed as muscles are
entered, an allowed visit released as billable lines, a blocked one with its reason."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import expect

from registry.extensions import db
from registry.providers import services as providers
from registry.rules.services import Actor
from tests.browser.test_providers_in_browser import sign_in
from tests.browser.test_rules_in_browser import shot


def clinician_with_record(app, make_user) -> str:
    """A PT licensed in WA and CA with everything WA asks for, linked to a clinician account."""
    uid, email = make_user("clinician")
    actor = Actor(None, "test")
    with app.app_context():
        p = providers.create_provider({"name": "Robin Coder", "npi": "1234567893", "profession_code": "PT", "user_id": uid}, actor=actor)
        for code in ("WA", "CA"):
            providers.add_credential("license", p, {"jurisdiction_code": code, "number": f"{code}-7", "issued_on": date(2016, 1, 1), "status": "active"}, actor=actor)
        providers.add_credential("training", p, {"course_title": "DN", "completed_on": date(2024, 1, 1), "total_hours": 330, "practical_hours": 80, "supervised_sessions": 160}, actor=actor)
        providers.add_credential("registration", p, {"jurisdiction_code": "WA", "number": "E-7", "issued_on": date(2024, 7, 1), "status": "active"}, actor=actor)
        db.session.commit()
    return email


def fill_visit(page, jurisdiction: str) -> None:
    page.get_by_label("Where the patient was treated").select_option(jurisdiction)
    page.get_by_label("Date of service").fill("2025-03-14")
    page.get_by_label("Payer type").select_option("commercial")
    page.get_by_label("Payer name").fill("Regence")


def test_clinician_codes_an_allowed_and_a_blocked_visit(app, page, live_server, make_user):
    sign_in(page, live_server, clinician_with_record(app, make_user))
    page.get_by_role("link", name="Code a visit").click()
    expect(page.locator("#coding-for")).to_contain_text("Robin Coder")
    fill_visit(page, "WA")

    proposal, first_code = page.locator("#proposed-code"), page.get_by_label("Line 1 code")
    expect(proposal).to_contain_text("No muscle entered yet")
    page.get_by_label("Muscle 1 name").fill("Upper trapezius")
    page.get_by_label("Muscle 1 side").select_option("bilateral")
    expect(proposal).to_have_text("2 distinct muscles → 20560")  # both sides count as two
    expect(first_code).to_have_value("20560")
    page.get_by_label("Muscle 2 name").fill("Levator scapulae")
    page.get_by_label("Muscle 2 side").select_option("left")
    expect(proposal).to_have_text("3 distinct muscles → 20561")
    expect(first_code).to_have_value("20561")

    muscle_rows = page.locator("#muscles tr[data-row]")
    expect(muscle_rows).to_have_count(8)
    page.get_by_role("button", name="Add a muscle").click()  # a ninth row, for a repeat that counts once
    expect(muscle_rows).to_have_count(9)
    page.get_by_label("Muscle 9 name").fill("  upper TRAPEZIUS ")
    page.get_by_label("Muscle 9 side").select_option("left")
    expect(proposal).to_have_text("3 distinct muscles → 20561")

    page.get_by_label("Diagnoses (ICD-10-CM)").fill("M79.18")
    for label in ("The patient's signed written consent to dry needling is on file", "A plan of care with goals is on file", "A reassessment is done and recorded"):
        page.get_by_label(label).check()
    shot(page, "code-a-visit")
    page.get_by_role("button", name="Check the visit").click()

    outcome = page.locator("#outcome")
    expect(outcome).to_contain_text("Allowed")
    expect(outcome).to_contain_text("These claim lines may go out.")
    expect(page.locator("#computed-code")).to_contain_text("3 distinct muscles")
    expect(page.locator("#rule-used")).to_contain_text("WAC 246-915-390")
    page.get_by_role("button", name="Create billable lines").click()
    expect(page.locator(".flash")).to_contain_text("Created 1 billable line.")
    expect(page.locator("#lines tbody tr")).to_have_count(1)
    expect(page.locator("#lines")).to_contain_text("20561")
    shot(page, "coding-allowed")

    page.get_by_role("link", name="Code a visit").click()
    fill_visit(page, "CA")
    page.get_by_label("Muscle 1 name").fill("Upper trapezius")
    page.get_by_label("Muscle 1 side").select_option("left")
    expect(first_code).to_have_value("20560")
    page.get_by_label("The patient's signed written consent to dry needling is on file").check()
    page.get_by_role("button", name="Check the visit").click()
    expect(outcome).to_contain_text("Blocked")
    expect(outcome).to_contain_text("These claim lines may not go out.")
    blocking = page.locator("ul.edits-block li[data-code=not_eligible]")
    expect(blocking).to_contain_text("CA does not allow dry needling")
    expect(blocking).to_contain_text("What would fix it:")
    expect(page.get_by_role("button", name="Create billable lines")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit and check again")).to_be_visible()
    shot(page, "coding-blocked")
