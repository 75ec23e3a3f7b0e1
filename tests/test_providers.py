"""Providers and credentials through the services: NPI, validation, ending, locking, history."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from registry.audit.models import AuditEvent
from registry.extensions import db
from registry.providers import services
from registry.providers.npi import npi_check_digit, npi_problem
from registry.rules.services import Actor

ACTOR = Actor(None, "test")

# 1234567893 is the worked example in CMS's NPI check-digit note; the others are checked
# below with the plain Luhn test over the whole 15-digit number, an independent formulation.
VALID_NPIS = ["1234567893", "1245319599", "1003000126", "1992999999"]
INVALID_NPIS = ["1234567890", "1245319590", "1003000127", "0000000001"]


def luhn_valid(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char) * (2 if index % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def test_sample_numbers_agree_with_plain_luhn():
    assert all(luhn_valid("80840" + n) for n in VALID_NPIS)
    assert not any(luhn_valid("80840" + n) for n in INVALID_NPIS)


@pytest.mark.parametrize("npi", VALID_NPIS)
def test_valid_npi(npi):
    assert npi_problem(npi) is None


@pytest.mark.parametrize("npi", INVALID_NPIS)
def test_wrong_check_digit_is_named(npi):
    problem = npi_problem(npi)
    assert problem and "check digit" in problem and f"give {npi_check_digit(npi[:9])}" in problem


@pytest.mark.parametrize("npi", ["123456789", "12345678931", "12345678a3", "", "１２３４５６７８９３"])
def test_malformed_npi(npi):
    assert "exactly 10 digits" in npi_problem(npi)


def test_create_provider_and_duplicate_npi(ctx):
    services.create_provider({"name": "Dana", "npi": "1234567893", "profession_code": "pt"}, actor=ACTOR)
    with pytest.raises(services.ProviderError) as info:
        services.create_provider({"name": "Eve", "npi": "1234567893", "profession_code": "DC"}, actor=ACTOR)
    assert info.value.field == "npi" and "already belongs to Dana" in info.value.message


@pytest.mark.parametrize(
    "values, field",
    [
        ({"npi": "1234567890"}, "npi"),
        ({"name": "  "}, "name"),
        ({"profession_code": "OT"}, "profession"),
        ({"email": "not an email"}, "email"),
    ],
)
def test_provider_validation(ctx, values, field):
    base = {"name": "Dana", "npi": "1234567893", "profession_code": "PT"}
    with pytest.raises(services.ProviderError) as info:
        services.create_provider(base | values, actor=ACTOR)
    assert info.value.field == field


def provider():
    return services.create_provider({"name": "Dana", "npi": "1234567893", "profession_code": "PT"}, actor=ACTOR)


LICENSE = {"jurisdiction_code": "wa", "number": "PT60001", "issued_on": date(2020, 1, 1), "expires_on": date(2027, 1, 1), "status": "active"}
TRAINING = {"course_title": "DN level 1", "completed_on": date(2023, 5, 1), "total_hours": Decimal("27"), "practical_hours": Decimal("20"), "supervised_sessions": 10}


@pytest.mark.parametrize(
    "kind, values, field",
    [
        ("license", LICENSE | {"jurisdiction_code": "XX"}, "jurisdiction"),
        ("license", LICENSE | {"number": ""}, "number"),
        ("license", LICENSE | {"status": "lapsed"}, "status"),
        ("license", LICENSE | {"expires_on": date(2019, 1, 1)}, "expires_on"),
        ("license", LICENSE | {"profession_code": "DC", "is_compact_privilege": True}, "is_compact_privilege"),
        ("training", TRAINING | {"practical_hours": Decimal("30")}, "practical_hours"),
        ("training", TRAINING | {"completed_on": date.today() + timedelta(days=1)}, "completed_on"),
        ("training", TRAINING | {"expires_on": date(2020, 1, 1)}, "expires_on"),
        ("registration", {"jurisdiction_code": "WA", "number": ""}, "number"),
    ],
)
def test_credential_validation(ctx, kind, values, field):
    p = provider()
    with pytest.raises(services.ProviderError) as info:
        services.add_credential(kind, p, values, actor=ACTOR)
    assert info.value.field == field, info.value.message


def test_duplicate_license_refused(ctx):
    p = provider()
    services.add_credential("license", p, LICENSE, actor=ACTOR)
    with pytest.raises(services.ProviderError, match="already has license PT60001 in WA"):
        services.add_credential("license", p, LICENSE, actor=ACTOR)


def test_hours_add_up_across_courses(ctx):
    p = provider()
    services.add_credential("training", p, TRAINING, actor=ACTOR)
    services.add_credential("training", p, TRAINING | {"course_title": "DN level 2", "completed_on": date(2024, 2, 1), "total_hours": Decimal("27.5"), "practical_hours": Decimal("22")}, actor=ACTOR)
    db.session.flush()
    db.session.refresh(p)
    assert services.training_totals(p.trainings, date(2024, 3, 1)) == services.TrainingTotals(Decimal("54.5"), Decimal("42"), 20)
    assert services.training_totals(p.trainings, date(2023, 6, 1)).total_hours == Decimal("27")


def test_end_keeps_the_row_and_records_why(ctx):
    p = provider()
    lic = services.add_credential("license", p, LICENSE, actor=ACTOR)
    version = lic.version_id
    services.end_credential(lic, ended_on=date(2025, 3, 1), reason="moved out of state", actor=ACTOR, expected_version=version)
    assert services.is_held_on(lic, date(2025, 2, 28)) and not services.is_held_on(lic, date(2025, 3, 1))
    with pytest.raises(services.ProviderError, match="already ended"):
        services.end_credential(lic, ended_on=date(2025, 4, 1), reason="again", actor=ACTOR, expected_version=None)


def test_held_on_respects_status_and_expiry(ctx):
    p = provider()
    lic = services.add_credential("license", p, LICENSE | {"expires_on": date(2025, 6, 30)}, actor=ACTOR)
    assert services.is_held_on(lic, date(2025, 6, 30))  # the expiry day itself is still valid
    assert not services.is_held_on(lic, date(2025, 7, 1))
    assert not services.is_held_on(lic, date(2019, 12, 31))  # before issue
    services.update_credential(lic, {"status": "suspended"}, actor=ACTOR, expected_version=lic.version_id)
    assert not services.is_held_on(lic, date(2025, 1, 1))


def test_stale_edit_is_refused(ctx):
    p = provider()
    lic = services.add_credential("license", p, LICENSE, actor=ACTOR)
    seen = lic.version_id
    services.update_credential(lic, {"number": "PT60002"}, actor=ACTOR, expected_version=seen)
    with pytest.raises(services.StaleEditError):
        services.update_credential(lic, {"number": "PT60003"}, actor=ACTOR, expected_version=seen)
    with pytest.raises(services.StaleEditError):
        services.update_provider(p, {"name": "Late"}, actor=ACTOR, expected_version=p.version_id - 1 if p.version_id > 1 else 99)


def test_history_records_before_and_after(ctx):
    p = provider()
    lic = services.add_credential("license", p, LICENSE, actor=ACTOR)
    services.update_credential(lic, {"expires_on": date(2029, 1, 1)}, actor=ACTOR, expected_version=lic.version_id)
    events = services.history(p.id)
    assert [e.action for e in events] == ["license.update", "license.add", "provider.create"]
    assert events[0].before["expires_on"] == "2027-01-01" and events[0].after["expires_on"] == "2029-01-01"
    assert db.session.scalars(select(AuditEvent)).all()[0].actor == "test"


def test_no_change_writes_no_history(ctx):
    p = provider()
    services.update_provider(p, {"name": "Dana"}, actor=ACTOR, expected_version=p.version_id)
    assert [e.action for e in services.history(p.id)] == ["provider.create"]


def test_search(ctx):
    a = provider()
    services.add_credential("license", a, LICENSE, actor=ACTOR)
    services.create_provider({"name": "Bo Chiro", "npi": "1245319599", "profession_code": "DC"}, actor=ACTOR)
    db.session.flush()
    assert [p.name for p in services.search_providers(text="dan").items] == ["Dana"]
    assert [p.name for p in services.search_providers(text="124531").items] == ["Bo Chiro"]
    assert [p.name for p in services.search_providers(jurisdiction="wa").items] == ["Dana"]
    assert [p.name for p in services.search_providers(profession="DC").items] == ["Bo Chiro"]
    assert services.search_providers(per_page=1, page=2).items[0].name == "Dana"
