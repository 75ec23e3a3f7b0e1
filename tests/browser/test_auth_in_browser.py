"""A manager turns on the second factor, signs out, signs in with a code from the app; the
session signed out is gone even if its cookie is replayed."""

from __future__ import annotations

import time

import pyotp
from playwright.sync_api import expect

from tests.browser.test_providers_in_browser import sign_in
from tests.browser.test_rules_in_browser import shot
from tests.conftest import PASSWORD


def test_manager_enables_totp_and_signs_in_with_a_code(page, live_server, make_user):
    make_user("manager")
    sign_in(page, live_server, "manager@example.org")
    page.get_by_role("link", name="manager@example.org").click()
    expect(page.locator("#totp-status")).to_contain_text("Off")
    page.get_by_role("link", name="Set up a second factor").click()
    expect(page.locator("figure.qr svg")).to_be_visible()
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text())
    shot(page, "totp-setup")
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator(".flash")).to_contain_text("Second factor on")
    expect(page.locator("#totp-status")).to_contain_text("On")

    old_cookies = page.context.cookies()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".flash")).to_contain_text("Signed out")

    page.context.clear_cookies()
    page.context.add_cookies(old_cookies)  # replaying the signed-out session
    page.goto(live_server + "/account")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.get_by_label("Email").fill("manager@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign in: code")).to_be_visible()
    page.get_by_label("Code").fill("000000" if totp.now() != "000000" else "111111")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#code-error")).to_contain_text("not correct")
    # the code of the next step: the one used to turn the factor on cannot serve twice
    page.get_by_label("Code").fill(totp.at(int(time.time()) + 30))
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash")).to_contain_text("Signed in as manager@example.org")
    expect(page).to_have_url(live_server + "/account")
    shot(page, "totp-signed-in")
