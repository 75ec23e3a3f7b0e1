"""A clinician asks "Can I dry-needle here?" in the browser."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import expect

from registry.extensions import db
from registry.providers import services as providers
from registry.rules.services import Actor
from tests.browser.test_providers_in_browser import sign_in
from tests.browser.test_rules_in_browser import shot


def test_clinician_asks_about_a_state_and_a_date(app, page, live_server, make_user):
    uid, email = make_user("clinician")
    actor = Actor(None, "test")
    with app.app_context():
        p = providers.create_provider({"name": "Quinn Asker", "npi": "1234567893", "profession_code": "PT", "user_id": uid}, actor=actor)
        providers.add_credential("license", p, {"jurisdiction_code": "WA", "number": "W-9", "issued_on": date(2016, 1, 1), "status": "active"}, actor=actor)
        providers.add_credential("training", p, {"course_title": "DN", "completed_on": date(2024, 1, 1), "total_hours": 330, "practical_hours": 80, "supervised_sessions": 160}, actor=actor)
        providers.add_credential("registration", p, {"jurisdiction_code": "WA", "number": "E-9", "issued_on": date(2024, 7, 1), "status": "active"}, actor=actor)
        db.session.commit()

    sign_in(page, live_server, email)
    page.get_by_role("link", name="Can I dry-needle here?").click()
    page.get_by_label("State or territory").select_option("WA")
    page.get_by_label("Date of service").fill("2025-03-14")
    page.get_by_role("button", name="Ask").click()
    answer = page.locator("#answer")
    expect(answer).to_contain_text("Quinn Asker may dry-needle in WA on 2025-03-14.")
    expect(answer.locator("a.citation")).to_contain_text("WAC 246-915-390")
    shot(page, "question-yes")

    page.get_by_label("Date of service").fill("2024-01-01")
    page.get_by_role("button", name="Ask").click()
    expect(answer).to_contain_text("may not dry-needle in WA on 2024-01-01")
    expect(answer.locator("li[data-code=state_prohibits]")).to_be_visible()

    page.get_by_label("State or territory").select_option("OR")
    page.get_by_label("Date of service").fill("2025-03-14")
    page.get_by_role("button", name="Ask").click()
    expect(answer).to_contain_text("may not dry-needle in OR")

    page.get_by_role("link", name="My record").click()
    expect(page.locator("#eligibility-map a.state.el-eligible[data-code=WA]")).to_have_count(1)
    shot(page, "own-record")
