"""A credentialing manager adds a provider, a license and a training record in the browser."""

from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import expect

from tests.browser.test_rules_in_browser import shot
from tests.conftest import PASSWORD


def sign_in(page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash")).to_contain_text("Signed in")


def test_manager_adds_provider_license_and_training(page, live_server, make_user):
    make_user("manager")
    sign_in(page, live_server, "manager@example.org")
    page.get_by_role("link", name="Providers").click()
    page.get_by_role("link", name="Add a provider").click()

    page.get_by_label("Full name").fill("Avery Browser")
    page.get_by_label("NPI").fill("1234567890")  # wrong check digit first
    page.get_by_label("Profession").select_option("PT")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#npi-error")).to_contain_text("check digit")
    page.get_by_label("NPI").fill("1234567893")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Added Avery Browser")
    expect(page.locator("h1")).to_contain_text("Avery Browser")

    expires = date.today() + timedelta(days=40)
    page.get_by_role("link", name="Add a license").click()
    page.get_by_label("Jurisdiction").select_option("WA")
    page.get_by_label("License number").fill("PT61234")
    page.get_by_label("Issued on").fill("2016-03-01")
    page.get_by_label("Expires on").fill(expires.isoformat())
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#license")).to_contain_text("PT61234")
    expect(page.locator("#license")).to_contain_text("40 days left")

    page.get_by_role("link", name="Add training").click()
    page.get_by_label("Course title").fill("Dry Needling Level 1")
    page.get_by_label("Approving body").fill("APTA")
    page.get_by_label("Completed on").fill("2024-04-20")
    page.get_by_label("Total hours").fill("27")
    page.get_by_label("In-person / practical hours").fill("24")
    page.get_by_role("button", name="Save").click()
    training = page.locator("#training")
    expect(training).to_contain_text("Dry Needling Level 1")
    expect(training).to_contain_text("27 hours")
    # Washington (from the real rules) requires more than 27 hours and an endorsement
    expect(page.get_by_label("Missing requirements")).to_contain_text("WA requires 325")
    expect(page.locator("#history")).to_contain_text("training add")
    shot(page, "provider")

    page.get_by_role("link", name="Worklist").click()
    expect(page.locator("#within-60")).to_contain_text("Avery Browser")
    expect(page.locator("#missing")).to_contain_text("Avery Browser")
    expect(page).to_have_url(re.compile(r"/worklist$"))
    shot(page, "worklist")
