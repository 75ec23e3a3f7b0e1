"""Eligibility pages: the question form, the provider's map, and a rule change's impact."""

from __future__ import annotations

import re
from datetime import date

import pytest

from registry.extensions import db
from registry.providers import services as providers
from registry.rules import services as rules
from registry.rules.services import Actor
from tests.test_pages import form_for

ACTOR = Actor(None, "test")


def text_of(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def wa_pt(app, real_rules):
    """A PT licensed in WA since 2016 with enough training and an endorsement."""
    with app.app_context():
        p = providers.create_provider({"name": "Wren Ready", "npi": "1234567893", "profession_code": "PT"}, actor=ACTOR)
        providers.add_credential("license", p, {"jurisdiction_code": "WA", "number": "W-1", "issued_on": date(2016, 1, 1), "status": "active"}, actor=ACTOR)
        providers.add_credential("training", p, {"course_title": "DN", "completed_on": date(2024, 1, 1), "total_hours": 330, "practical_hours": 80, "supervised_sessions": 160}, actor=ACTOR)
        providers.add_credential("registration", p, {"jurisdiction_code": "WA", "number": "E-1", "issued_on": date(2024, 7, 1), "status": "active"}, actor=ACTOR)
        db.session.commit()
        return p.id


def link(app, provider_id: int, user_id: int) -> None:
    with app.app_context():
        providers.update_provider(providers.get_provider(provider_id), {"user_id": user_id}, actor=ACTOR, expected_version=None)
        db.session.commit()


def test_clinician_asks_about_their_own_record(app, client, make_user, wa_pt):
    uid, email = make_user("clinician")
    link(app, wa_pt, uid)
    client.post("/login", data={"email": email, "password": "correct horse battery staple"})
    page = text_of(client.get("/eligibility"))
    assert "Can I dry-needle here?" in page and 'name="npi"' not in page
    yes = text_of(client.get("/eligibility?jurisdiction=WA&date=2025-03-14"))
    assert "Wren Ready may dry-needle in WA on 2025-03-14." in yes
    assert 'class="citation"' in yes and "WAC 246-915-390" in yes
    no = text_of(client.get("/eligibility?jurisdiction=WA&date=2024-01-01"))
    assert "may not dry-needle in WA on 2024-01-01" in no and 'data-code="state_prohibits"' in no
    review = text_of(client.get("/eligibility?jurisdiction=PA&date=2025-03-14"))
    assert "need a credentialing review" in review and 'data-code="rule_silent"' in review


def test_clinician_without_a_record_is_told(client, login):
    login("clinician")
    assert client.get("/eligibility").status_code == 404


def test_biller_asks_about_a_provider_by_npi(client, login, wa_pt):
    login("biller")
    page = text_of(client.get("/eligibility?npi=1234567893&jurisdiction=CA&date=2025-03-14"))
    assert 'data-code="state_prohibits"' in page


@pytest.mark.parametrize(
    "query, message",
    [
        ("jurisdiction=WA&date=2025-03-14", "Give the NPI"),
        ("npi=1234567890&jurisdiction=WA&date=2025-03-14", "check digit"),
        ("npi=1245319599&jurisdiction=WA&date=2025-03-14", "No provider with NPI 1245319599"),
        ("npi=1234567893&jurisdiction=ZZ&date=2025-03-14", "Not a valid choice"),
        ("npi=1234567893&jurisdiction=WA&date=2025-02-30", "Not a valid date"),
    ],
)
def test_bad_questions_are_400_with_a_message(client, login, wa_pt, query, message):
    login("manager")
    response = client.get(f"/eligibility?{query}")
    assert response.status_code == 400 and message in text_of(response)


def test_provider_page_map_coloured_by_eligibility(client, login, wa_pt):
    login("manager")
    page = text_of(client.get(f"/providers/{wa_pt}?as_of=2025-03-14"))
    assert page.count('class="state el-') == 52
    assert re.search(r'class="state el-eligible" data-code="WA"', page)
    assert re.search(r'class="state el-not_eligible" data-code="CA"', page)
    assert re.search(r'class="state el-needs_review" data-code="PA"', page)
    earlier = text_of(client.get(f"/providers/{wa_pt}?as_of=2024-01-01"))
    assert re.search(r'class="state el-not_eligible" data-code="WA"', earlier)
    assert client.get(f"/providers/{wa_pt}?as_of=nope").status_code == 400


def test_impact_preview_before_saving(app, client, login, wa_pt):
    login("manager")
    data = form_for(client, "/jurisdictions/WA/PT/edit")
    data.update(effective_from="2026-12-01", min_training_hours="400", reason="proposed increase", preview="1")
    response = client.post("/jurisdictions/WA/PT/edit", data=data)
    page = text_of(response)
    assert response.status_code == 200 and 'id="impact"' in page
    assert "0 would gain</strong> eligibility" in page and "1 would lose</strong>" in page
    assert "Wren Ready" in page.split('id="impact-lose"')[1] and "WA requires 400" in page
    with app.app_context():
        assert rules.current_rule("WA", "PT").min_training_hours == 325  # nothing saved
    data.pop("preview")
    assert client.post("/jurisdictions/WA/PT/edit", data=data).status_code == 302


def test_impact_preview_shows_gains(client, login, wa_pt, app):
    with app.app_context():
        p = providers.get_provider(wa_pt)
        providers.add_credential("license", p, {"jurisdiction_code": "CA", "number": "C-1", "issued_on": date(2016, 1, 1), "status": "active"}, actor=ACTOR)
        db.session.commit()
    login("manager")
    data = form_for(client, "/jurisdictions/CA/PT/edit")
    data.update(effective_from="2026-12-01", status="permitted", reason="hypothetical", preview="1")
    page = text_of(client.post("/jurisdictions/CA/PT/edit", data=data))
    assert "1 would gain</strong>" in page and "Wren Ready" in page.split('id="impact-gain"')[1]
