"""The engine's requirement check, with no app and no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from registry.eligibility.engine import CredentialFacts, RuleFacts, add_years, requirement_gaps

WA = RuleFacts("WA", "PT", "permitted", Decimal("325"), Decimal("75"), 150, Decimal("1"), True)
DAY = date(2025, 3, 14)


def lic(issued=date(2020, 1, 1), **kw):
    return CredentialFacts("license", "WA", "PT", starts_on=issued, **kw)


def course(hours, practical, sessions, completed=date(2024, 1, 1), **kw):
    return CredentialFacts("training", total_hours=Decimal(hours), practical_hours=Decimal(practical), supervised_sessions=sessions, starts_on=completed, **kw)


def reg(**kw):
    return CredentialFacts("registration", "WA", starts_on=date(2024, 7, 1), **kw)


def codes(gaps):
    return [g.code for g in gaps]


def test_all_met_when_hours_add_up_across_courses():
    creds = [lic(), course("200", "40", 100), course("125", "35", 50), reg()]
    assert requirement_gaps(WA, creds, DAY) == []


def test_each_shortfall_has_its_figures():
    gaps = requirement_gaps(WA, [lic(), course("100", "20", 10)], DAY)
    assert codes(gaps) == ["training_hours_short", "practical_hours_short", "supervised_sessions_short", "board_registration_missing"]
    assert (gaps[0].have, gaps[0].need) == ("100", "325")


def test_expired_or_suspended_credentials_do_not_count():
    creds = [lic(), course("325", "75", 150, expires_on=date(2025, 1, 1)), reg(status="suspended")]
    assert codes(requirement_gaps(WA, creds, DAY)) == ["training_hours_short", "practical_hours_short", "supervised_sessions_short", "board_registration_missing"]


def test_expiry_day_still_counts_and_day_after_does_not():
    creds = [lic(), course("325", "75", 150), reg(expires_on=DAY)]
    assert requirement_gaps(WA, creds, DAY) == []
    assert codes(requirement_gaps(WA, creds, date(2025, 3, 15))) == ["board_registration_expired"]


def test_years_licensed_says_when_time_will_fix_it():
    creds = [lic(issued=date(2024, 9, 30)), course("325", "75", 150), reg()]
    gaps = requirement_gaps(WA, creds, DAY)
    assert codes(gaps) == ["licensed_too_few_years"]
    assert gaps[0].met_from == date(2025, 9, 30)
    assert requirement_gaps(WA, creds, date(2025, 9, 30)) == []


def test_years_counted_from_the_earliest_license_of_the_profession():
    creds = [lic(issued=date(2024, 9, 30)), CredentialFacts("license", "OR", "PT", starts_on=date(2015, 1, 1)), course("325", "75", 150), reg()]
    assert requirement_gaps(WA, creds, DAY) == []


def test_unstated_requirements_are_not_invented():
    silent = RuleFacts("AK", "PT", "permitted")
    assert requirement_gaps(silent, [], DAY) == []


def test_registration_elsewhere_does_not_count():
    creds = [lic(), course("325", "75", 150), CredentialFacts("registration", "OR", starts_on=date(2024, 1, 1))]
    assert codes(requirement_gaps(WA, creds, DAY)) == ["board_registration_missing"]


def test_add_years_clamps_to_month_end():
    assert add_years(date(2024, 2, 29), Decimal("1")) == date(2025, 2, 28)
    assert add_years(date(2024, 1, 31), Decimal("0.5")) == date(2024, 7, 31)
    assert add_years(date(2024, 8, 31), Decimal("0.5")) == date(2025, 2, 28)
