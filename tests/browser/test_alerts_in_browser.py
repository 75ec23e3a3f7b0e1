"""A manager opens the alert outbox, sees the job has never run, queues what is due, and sees
the message to the clinician whose license expires in 30 days."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import expect

from registry.extensions import db
from registry.providers import services as providers
from registry.rules.services import Actor
from tests.browser.test_providers_in_browser import sign_in
from tests.browser.test_rules_in_browser import shot


def test_manager_opens_the_outbox_and_queues_what_is_due(app, page, live_server, make_user):
    make_user("manager")
    actor = Actor(None, "test")
    with app.app_context():
        p = providers.create_provider({"name": "Rowan Lapse", "npi": "1234567893", "profession_code": "PT", "email": "rowan@example.org"}, actor=actor)
        providers.add_credential("license", p, {"jurisdiction_code": "WA", "number": "W-30", "issued_on": date(2016, 1, 1), "expires_on": date.today() + timedelta(days=30), "status": "active"}, actor=actor)
        db.session.commit()

    sign_in(page, live_server, "manager@example.org")
    page.get_by_role("link", name="Alerts").click()
    expect(page.locator("#stale-warning")).to_contain_text("never run successfully")
    shot(page, "outbox-never-run")

    page.get_by_role("button", name="Queue what is due today").click()
    expect(page.locator(".flash")).to_contain_text("1 queued")
    expect(page.locator("#stale-warning")).to_have_count(0)
    expect(page.locator("#last-run")).to_contain_text("last ran successfully")
    row = page.locator("#outbox tr", has_text="rowan@example.org")
    expect(row).to_contain_text("WA PT license W-30")
    expect(row.locator(".badge")).to_have_text("queued")
    expect(page.locator("#outbox tr", has_text="manager@example.org")).to_contain_text("Credential alerts")

    page.get_by_role("link", name="Queued (2)").click()
    expect(page.locator("#outbox tbody tr")).to_have_count(2)
    expect(page.locator("#runs")).to_contain_text("page")
    shot(page, "outbox-queued")
