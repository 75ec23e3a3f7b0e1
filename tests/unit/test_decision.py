"""The eligibility decision, with no app and no database: every reason, and properties."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.eligibility.engine import (
    ELIGIBLE,
    NEEDS_REVIEW,
    NOT_ELIGIBLE,
    CredentialFacts,
    RuleFacts,
    best_hours_within,
    decide,
)

DAY = date(2025, 3, 14)
CO = RuleFacts("CO", "PT", "permitted", Decimal("50"), Decimal("40"), None, None, None, 48, "4 CCR 732-1", "https://example.org/co")


def lic(j="CO", prof="PT", issued=date(2015, 1, 1), **kw):
    return CredentialFacts("license", j, prof, starts_on=issued, **kw)


def course(hours, practical="0", sessions=0, completed=date(2023, 1, 1), **kw):
    return CredentialFacts("training", total_hours=Decimal(hours), practical_hours=Decimal(practical), supervised_sessions=sessions, starts_on=completed, **kw)


def run(rule, creds, day=DAY, **kw):
    return decide(rule, creds, day, jurisdiction=rule.jurisdiction if rule else "CO", profession="PT", **kw)


def codes(decision):
    return [r.code for r in decision.reasons]


def test_eligible_with_the_rule_used():
    d = run(CO, [lic(), course("30", "25"), course("20", "15", completed=date(2024, 1, 1))])
    assert d.outcome == ELIGIBLE and d.reasons == ()
    assert d.rule.citation == "4 CCR 732-1"


@pytest.mark.parametrize(
    "status, outcome, code",
    [
        ("prohibited", NOT_ELIGIBLE, "state_prohibits"),
        ("unknown", NEEDS_REVIEW, "rule_unknown"),
        ("unclear", NEEDS_REVIEW, "rule_unclear"),
        ("not_addressed", NEEDS_REVIEW, "rule_silent"),
    ],
)
def test_rule_status_decides_first(status, outcome, code):
    rule = RuleFacts("CO", "PT", status)
    d = run(rule, [lic(), course("100", "100")])
    assert (d.outcome, codes(d)) == (outcome, [code])


def test_silence_as_permission_is_an_organisation_setting():
    rule = RuleFacts("CO", "PT", "not_addressed")
    d = run(rule, [lic()], not_addressed_is_permitted=True)
    assert d.outcome == ELIGIBLE and codes(d) == ["rule_silent_treated_as_permitted", "no_training_figure"]
    assert run(rule, [], not_addressed_is_permitted=True).outcome == NOT_ELIGIBLE  # still needs a license


def test_no_rule_on_record_needs_review():
    d = decide(None, [lic()], DAY, jurisdiction="CO", profession="PT")
    assert (d.outcome, codes(d)) == (NEEDS_REVIEW, ["no_rule_on_record"])


@pytest.mark.parametrize(
    "licenses, code",
    [
        ([], "no_license"),
        ([lic(j="WA")], "no_license"),
        ([lic(prof="DC")], "no_license"),
        ([lic(status="suspended")], "license_suspended"),
        ([lic(status="revoked")], "license_revoked"),
        ([lic(expires_on=date(2025, 1, 31))], "license_expired"),
        ([lic(ended_on=date(2025, 1, 1))], "license_ended"),
        ([lic(issued=date(2025, 6, 1))], "license_not_yet_issued"),
    ],
)
def test_license_reasons(licenses, code):
    d = run(CO, [*licenses, course("50", "40")])
    assert d.outcome == NOT_ELIGIBLE and codes(d)[0] == code


def test_compact_privilege_counts_as_a_license_in_that_state():
    d = run(CO, [lic(j="CO"), course("50", "40")])
    assert d.eligible


def test_shortfalls_list_what_is_missing_with_figures():
    d = run(CO, [lic(), course("30", "10")])
    assert codes(d) == ["training_hours_short", "practical_hours_short"]
    assert (d.reasons[0].have, d.reasons[0].need) == ("30", "50")
    assert d.eligible_from is None  # more training is needed, not just time


def test_completion_window():
    spread = [lic(), course("25", "20", completed=date(2018, 1, 1)), course("25", "20", completed=date(2024, 1, 1))]
    d = run(CO, spread)
    assert codes(d) == ["outside_completion_window"]
    close = [lic(), course("25", "20", completed=date(2021, 2, 1)), course("25", "20", completed=date(2024, 1, 1))]
    assert run(CO, close).eligible


def test_time_alone_gives_the_date_of_eligibility():
    wa = RuleFacts("WA", "PT", "permitted", years_licensed=Decimal("1"))
    d = decide(wa, [lic(j="WA", issued=date(2024, 9, 30))], DAY, jurisdiction="WA", profession="PT")
    assert d.outcome == NOT_ELIGIBLE and codes(d) == ["licensed_too_few_years"]
    assert d.eligible_from == date(2025, 9, 30)
    assert decide(wa, [lic(j="WA", issued=date(2024, 9, 30))], date(2025, 9, 30), jurisdiction="WA", profession="PT").eligible


def test_registration_missing_or_expired():
    rule = RuleFacts("WA", "PT", "permitted", board_registration_required=True)
    base = [lic(j="WA")]
    assert codes(decide(rule, base, DAY, jurisdiction="WA", profession="PT")) == ["board_registration_missing"]
    expired = CredentialFacts("registration", "WA", starts_on=date(2023, 1, 1), expires_on=date(2025, 1, 1))
    assert codes(decide(rule, [*base, expired], DAY, jurisdiction="WA", profession="PT")) == ["board_registration_expired"]


def test_best_hours_within_a_window():
    courses = [course("10", completed=date(2020, 1, 1)), course("10", completed=date(2021, 6, 1)), course("10", completed=date(2023, 1, 1))]
    assert best_hours_within(courses, 18) == Decimal("20")
    assert best_hours_within(courses, 12) == Decimal("10")
    assert best_hours_within(courses, 48) == Decimal("30")


# --- properties ------------------------------------------------------------------------------
days = st.dates(min_value=date(2010, 1, 1), max_value=date(2030, 12, 31))
hours = st.decimals(min_value=0, max_value=200, places=1, allow_nan=False, allow_infinity=False)
rules = st.builds(
    RuleFacts, st.just("CO"), st.just("PT"), st.sampled_from(["permitted", "prohibited", "not_addressed", "unclear", "unknown"]),
    st.one_of(st.none(), hours), st.one_of(st.none(), hours), st.one_of(st.none(), st.integers(0, 200)),
    st.one_of(st.none(), st.sampled_from([Decimal("0.5"), Decimal("1"), Decimal("2")])), st.one_of(st.none(), st.booleans()),
    st.one_of(st.none(), st.sampled_from([12, 18, 48])),
)
licenses = st.builds(
    CredentialFacts, st.just("license"), st.sampled_from(["CO", "WA"]), st.sampled_from(["PT", "DC"]),
    st.sampled_from(["active", "active", "suspended", "inactive"]), st.one_of(st.none(), days), st.one_of(st.none(), days), st.one_of(st.none(), days),
)
trainings = st.builds(
    lambda h, p, s, d, e: CredentialFacts("training", total_hours=h, practical_hours=min(p, h), supervised_sessions=s, starts_on=d, expires_on=e),
    hours, hours, st.integers(0, 100), days, st.one_of(st.none(), days),
)
registrations = st.builds(CredentialFacts, st.just("registration"), st.sampled_from(["CO", "WA"]), st.none(), st.sampled_from(["active", "revoked"]), st.one_of(st.none(), days), st.one_of(st.none(), days))
credential_lists = st.lists(st.one_of(licenses, trainings, registrations), max_size=8)


def judge(rule, creds, day):
    return decide(rule, creds, day, jurisdiction="CO", profession="PT")


@settings(max_examples=300, deadline=None)
@given(rules, credential_lists, days, trainings)
def test_more_training_never_takes_eligibility_away(rule, creds, day, extra):
    if judge(rule, creds, day).eligible:
        assert judge(rule, [*creds, extra], day).eligible


@settings(max_examples=300, deadline=None)
@given(rules, credential_lists, days, st.integers(1, 3000))
def test_a_later_license_expiry_never_takes_eligibility_away(rule, creds, day, extra_days):
    later = [
        c._replace(expires_on=c.expires_on + timedelta(days=extra_days)) if c.kind == "license" and c.expires_on else c
        for c in creds
    ]
    if judge(rule, creds, day).eligible:
        assert judge(rule, later, day).eligible


@settings(max_examples=300, deadline=None)
@given(rules, credential_lists, days, st.randoms())
def test_the_order_of_records_does_not_matter(rule, creds, day, rnd):
    shuffled = list(creds)
    rnd.shuffle(shuffled)
    assert judge(rule, creds, day) == judge(rule, shuffled, day)


@settings(max_examples=300, deadline=None)
@given(rules, credential_lists, days)
def test_only_a_permitting_rule_with_a_held_license_is_eligible(rule, creds, day):
    d = judge(rule, creds, day)
    if d.eligible:
        assert rule.status == "permitted"
        assert any(c.kind == "license" and c.jurisdiction == "CO" and c.profession == "PT" and c.held_on(day) for c in creds)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), rules), credential_lists, days, st.booleans())
def test_batch_may_skip_credentials_exactly_when_the_decision_ignores_them(rule, creds, day, silence):
    """evaluate_batch reads no credentials when reads_credentials() is false: the decision must
    then be the same without them."""
    from registry.eligibility.engine import reads_credentials

    if not reads_credentials(rule, not_addressed_is_permitted=silence):
        with_them = decide(rule, creds, day, jurisdiction="CO", profession="PT", not_addressed_is_permitted=silence)
        without = decide(rule, [], day, jurisdiction="CO", profession="PT", not_addressed_is_permitted=silence)
        assert with_them == without


def only_kinds(creds, kinds, jurisdiction):
    """What evaluate_batch reads for one question, given credential_kinds."""
    def wanted(c):
        if c.kind == "license":
            return "all_licenses" in kinds or ("license" in kinds and c.jurisdiction == jurisdiction)
        return c.kind in kinds
    return [c for c in creds if wanted(c)]


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.none(), rules), credential_lists, days, st.booleans())
def test_reading_only_the_kinds_named_gives_the_same_decision(rule, creds, day, silence):
    """evaluate_batch reads only what credential_kinds() names (licenses in the state asked
    about, every license only under a years-licensed rule, training records and registrations
    only where the rule looks at them): the decision must be the same as with everything."""
    from registry.eligibility.engine import credential_kinds

    kinds = credential_kinds(rule, not_addressed_is_permitted=silence)
    everything = decide(rule, creds, day, jurisdiction="CO", profession="PT", not_addressed_is_permitted=silence)
    read = decide(rule, only_kinds(creds, kinds, "CO"), day, jurisdiction="CO", profession="PT", not_addressed_is_permitted=silence)
    assert read == everything


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("24"), "24"), (Decimal("24.0"), "24"), (Decimal("24.50"), "24.5"), (Decimal("0.5"), "0.5"),
    (Decimal("0"), "0"), (Decimal("100"), "100"), (Decimal("100.0"), "100"), (7, "7"), (Decimal("1E+2"), "100"),
])
def test_figures_read_the_same_whatever_their_representation(value, text):
    from registry.eligibility.engine import _fmt

    assert _fmt(value) == text
    assert _fmt(Decimal(text)) == text  # an equal value asked first or later gives the same text
