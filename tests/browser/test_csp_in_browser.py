"""The Content-Security-Policy breaks nothing: chromium reports no violation on the pages and
on the Swagger UI, and the scripts that replaced inline handlers still work."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def watch_csp(page) -> list[str]:
    """Console messages about the Content-Security-Policy, as chromium reports them."""
    violations: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    return violations


def test_swagger_ui_runs_under_the_policy(page, live_server):
    violations = watch_csp(page)
    page.goto(live_server + "/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Needle Registry API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert violations == []


def test_choosing_a_profession_submits_the_form_without_inline_script(page, live_server):
    violations = watch_csp(page)
    page.goto(live_server + "/")
    page.locator('input[name="profession"][value="DC"]').check()
    expect(page).to_have_url(re.compile(r"profession=DC"))
    expect(page.locator("h1")).to_contain_text("chiropractor")
    assert violations == []
