"""A person's path through the app, in headless Debian chromium."""

from __future__ import annotations

import os
import re

from playwright.sync_api import expect

from tests.conftest import PASSWORD

SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def test_map_and_washington_rule(page, live_server):
    page.goto(live_server + "/")
    states = page.locator("#us-map a.state")
    expect(states).to_have_count(52)
    expect(page.locator(".legend li")).to_have_count(5)
    # hovering a state names it and its status
    page.locator('#us-map a.state[data-code="WA"] path').hover()
    expect(page.locator("#map-label")).to_have_text(re.compile(r"^Washington \(WA\): \w"))
    # keyboard users get the same label on focus
    page.locator('#us-map a.state[data-code="TX"]').focus()
    expect(page.locator("#map-label")).to_contain_text("Texas (TX)")
    shot(page, "home")
    # sorting the table by training hours puts the largest requirement first on a second click
    header = page.locator("th", has_text="Training h").locator("button")
    header.click()
    header.click()
    expect(page.locator("th", has_text="Training h")).to_have_attribute("aria-sort", "descending")

    page.locator('#us-map a.state[data-code="WA"]').click()
    expect(page).to_have_url(re.compile(r"/jurisdictions/WA$"))
    pt = page.locator("section#PT")
    expect(pt).to_contain_text("WAC 246-915-390")
    expect(pt.locator("ol.timeline > li")).not_to_have_count(0)
    assert pt.locator("ol.timeline > li").count() >= 2, "WA PT should show its pre-2024 version too"
    shot(page, "washington")


def test_manager_edits_a_rule_and_sees_it_recorded(page, live_server, make_user):
    make_user("manager")
    page.goto(live_server + "/jurisdictions/OR")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill("manager@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash")).to_contain_text("Signed in as manager@example.org")
    expect(page).to_have_url(re.compile(r"/jurisdictions/OR$"))

    page.locator("section#PT").get_by_role("link", name="Record a change").click()
    page.get_by_label("Takes effect on").fill("2027-07-01")
    page.get_by_label("Status").select_option("permitted")
    page.get_by_label("Minimum training hours").fill("40")
    page.get_by_label("Reason for this change").fill("Board rules under HB 3824 adopted (browser test)")
    shot(page, "edit-form")
    page.get_by_role("button", name="Save new version").click()

    expect(page).to_have_url(re.compile(r"/jurisdictions/OR#PT-history$"))
    expect(page.locator(".flash")).to_contain_text("Saved a new version")
    history = page.locator("#PT-history")
    expect(history).to_contain_text("Board rules under HB 3824 adopted (browser test)")
    expect(history).to_contain_text("2027-07-01 → no end date")
    expect(history).to_contain_text("by manager@example.org")
    shot(page, "after-edit")

    # the same rule on a date after the change shows the new version
    page.goto(live_server + "/jurisdictions/OR?as_of=2027-07-02")
    expect(page.locator("section#PT .facts").first).to_contain_text("Permitted")
