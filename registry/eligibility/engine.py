"""The eligibility engine: pure functions over plain data. No Flask, no database session.

``decide(rule, credentials, day)`` answers "may this clinician dry-needle in this state on
this date?" as ``eligible``, ``not_eligible`` or ``needs_review``, with the rule version used
and every reason (a stable code, its figures and plain words). Only a ``permitted`` rule can
lead to ``eligible``: a rule that is unknown, unclear or silent means *needs review*, never
permission (an organisation may choose to treat a silent rule as permitting).

Deterministic: the same facts in any order give the same decision.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

ELIGIBLE, NOT_ELIGIBLE, NEEDS_REVIEW = "eligible", "not_eligible", "needs_review"


@dataclass(frozen=True)
class RuleFacts:
    jurisdiction: str
    profession: str
    status: str
    min_training_hours: Decimal | None = None
    min_practical_hours: Decimal | None = None
    supervised_sessions: int | None = None
    years_licensed: Decimal | None = None
    board_registration_required: bool | None = None
    completion_window_months: int | None = None
    citation: str = ""
    source_url: str = ""
    effective_from: date | None = None
    effective_to: date | None = None
    #: the stored version's id, when there is one (None for a proposed, unsaved version)
    version_id: int | None = None
    #: not read by ``decide``; carried for the coding gate (None: the sources do not say)
    written_consent_required: bool | None = None
    referral_required: bool | None = None


class CredentialFacts(NamedTuple):
    """A license, registration or training record reduced to what the engine needs.

    A NamedTuple rather than a frozen dataclass: just as immutable, and several times cheaper
    to build, which matters when a batch builds tens of thousands of them.
    """

    kind: str  # license | registration | training
    jurisdiction: str | None = None
    profession: str | None = None
    status: str = "active"
    starts_on: date | None = None  # issued_on, or completed_on for training
    expires_on: date | None = None
    ended_on: date | None = None
    total_hours: Decimal = Decimal("0")
    practical_hours: Decimal = Decimal("0")
    supervised_sessions: int = 0

    def held_on(self, day: date) -> bool:
        """Active, begun, not expired (the expiry day itself still counts), not ended."""
        if self.status != "active":
            return False
        if self.starts_on and day < self.starts_on:
            return False
        if self.expires_on and day > self.expires_on:
            return False
        return not (self.ended_on and day >= self.ended_on)


class Gap(NamedTuple):
    """One unmet requirement (or a note): a stable code, plain words, and the figures.

    Immutable; a NamedTuple because a batch builds one or two per question.
    """

    code: str
    message: str
    have: str | None = None
    need: str | None = None
    #: where time alone fixes it, the first day it will be met
    met_from: date | None = None


ZERO = Decimal("0")


@lru_cache(maxsize=4096)
def _fmt(value: Decimal | int) -> str:
    """A figure for a message: 24 rather than 24.0, 24.5 rather than 24.50. Depends only on
    the value (equal values, such as 24 and 24.0, share a cache entry), and cached: a batch
    formats the same few hundred figures over and over."""
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


def add_years(day: date, years: Decimal) -> date:
    """``day`` plus a (possibly fractional) number of years, counted in whole months."""
    months = int((years * 12).to_integral_value())
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _months_before(day: date, months: int) -> date:
    return add_years(day, Decimal(-months) / 12)


def best_hours_within(trainings: list[CredentialFacts], months: int) -> Decimal:
    """The most training hours completed within any span of ``months`` months."""
    best = Decimal("0")
    ends = sorted({t.starts_on for t in trainings if t.starts_on})
    for end in ends:
        start = _months_before(end, months)
        best = max(best, sum((t.total_hours for t in trainings if t.starts_on and start <= t.starts_on <= end), Decimal("0")))
    return best


def requirement_gaps(rule: RuleFacts, credentials: list[CredentialFacts], day: date) -> list[Gap]:
    """What ``rule`` demands that ``credentials`` do not meet on ``day``.

    Only the requirements the rule states are checked: a requirement the sources give no
    figure for (None) is not invented here.
    """
    gaps: list[Gap] = []
    # The training sums are only worked out for the figures the rule states (most state none).
    min_total, min_practical, min_sessions = rule.min_training_hours, rule.min_practical_hours, rule.supervised_sessions
    if min_total is not None or min_practical is not None or min_sessions is not None:
        trainings = [c for c in credentials if c.kind == "training" and c.held_on(day)]
        if min_total is not None:
            total = sum([c.total_hours for c in trainings], ZERO)
            if total < min_total:
                gaps.append(Gap("training_hours_short", f"Dry-needling training: {_fmt(total)} hours, {rule.jurisdiction} requires {_fmt(min_total)}.", _fmt(total), _fmt(min_total)))
        if min_practical is not None:
            practical = sum([c.practical_hours for c in trainings], ZERO)
            if practical < min_practical:
                gaps.append(Gap("practical_hours_short", f"In-person training: {_fmt(practical)} hours, {rule.jurisdiction} requires {_fmt(min_practical)}.", _fmt(practical), _fmt(min_practical)))
        if min_total is not None and total >= min_total and rule.completion_window_months:
            within = best_hours_within(trainings, rule.completion_window_months)
            if within < min_total:
                gaps.append(Gap("outside_completion_window", f"{rule.jurisdiction} requires {_fmt(min_total)} training hours completed within {rule.completion_window_months} months; the most within any such span is {_fmt(within)}.", _fmt(within), _fmt(min_total)))
        if min_sessions is not None:
            sessions = sum([c.supervised_sessions for c in trainings])
            if sessions < min_sessions:
                gaps.append(Gap("supervised_sessions_short", f"Supervised sessions: {sessions}, {rule.jurisdiction} requires {min_sessions}.", str(sessions), str(min_sessions)))
    if rule.years_licensed is not None:
        starts = [c.starts_on for c in credentials if c.kind == "license" and c.profession == rule.profession and c.starts_on]
        first = min(starts) if starts else None
        met_from = add_years(first, rule.years_licensed) if first else None
        if met_from is None or day < met_from:
            have = f"licensed since {first.isoformat()}" if first else "no license issue date on record"
            gaps.append(Gap("licensed_too_few_years", f"{rule.jurisdiction} requires {_fmt(rule.years_licensed)} year(s) of licensed practice; {have}" + (f": met from {met_from.isoformat()}." if met_from else "."), have, _fmt(rule.years_licensed), met_from=met_from))
    if rule.board_registration_required is True:
        mine = [c for c in credentials if c.kind == "registration" and c.jurisdiction == rule.jurisdiction]
        if not any(c.held_on(day) for c in mine):
            expired = [c for c in mine if c.expires_on and c.expires_on < day and c.status == "active"]
            if expired:
                last = max(c.expires_on for c in expired)
                gaps.append(Gap("board_registration_expired", f"{rule.jurisdiction} requires a board registration or endorsement for dry needling; it expired on {last.isoformat()}.", last.isoformat()))
            else:
                gaps.append(Gap("board_registration_missing", f"{rule.jurisdiction} requires a board registration or endorsement for dry needling; none is held on {day.isoformat()}."))
    return gaps


# --- the decision ------------------------------------------------------------------------------
class Decision(NamedTuple):
    """The answer, with the rule version used and every reason. Immutable (a NamedTuple: a
    batch of 10,000 questions builds 10,000 of them, and a frozen dataclass costs several
    times more to build)."""

    outcome: str  # eligible | not_eligible | needs_review
    jurisdiction: str
    profession: str
    day: date
    #: the rule version in force on ``day`` (None: no rule on record for that date)
    rule: RuleFacts | None
    #: every reason, in a stable order; for ``eligible`` they are informational
    reasons: tuple[Gap, ...]
    #: when time alone makes the clinician eligible (years licensed), the first such day
    eligible_from: date | None = None

    @property
    def eligible(self) -> bool:
        return self.outcome == ELIGIBLE


_LICENSE_TROUBLE = {"suspended": "license_suspended", "revoked": "license_revoked", "inactive": "license_inactive"}


def _license_problem(rule: RuleFacts, credentials: list[CredentialFacts], day: date) -> Gap | None:
    """None if a license (or PT Compact privilege) for the profession is held in the
    jurisdiction on ``day``; otherwise the most telling reason why not."""
    jurisdiction, profession = rule.jurisdiction, rule.profession
    mine = [c for c in credentials if c.jurisdiction == jurisdiction and c.kind == "license" and c.profession == profession]
    if not mine:  # the common case, and what the checks below come to with no license at all
        return _no_license(rule, day)
    for c in mine:
        if c.held_on(day):
            return None
    for status in ("revoked", "suspended", "inactive"):
        if any(c.status == status for c in mine):
            return Gap(_LICENSE_TROUBLE[status], f"The {rule.profession} license in {rule.jurisdiction} is {status}.")
    if any(c.ended_on and c.ended_on <= day for c in mine):
        last = max(c.ended_on for c in mine if c.ended_on and c.ended_on <= day)
        return Gap("license_ended", f"The {rule.profession} license in {rule.jurisdiction} stopped being held on {last.isoformat()}.")
    if any(c.expires_on and c.expires_on < day for c in mine):
        last = max(c.expires_on for c in mine if c.expires_on and c.expires_on < day)
        return Gap("license_expired", f"The {rule.profession} license in {rule.jurisdiction} expired on {last.isoformat()}.", last.isoformat())
    if any(c.starts_on and c.starts_on > day for c in mine):
        first = min(c.starts_on for c in mine if c.starts_on and c.starts_on > day)
        return Gap("license_not_yet_issued", f"The {rule.profession} license in {rule.jurisdiction} is issued only on {first.isoformat()}.", met_from=first)
    return _no_license(rule, day)


def _no_license(rule: RuleFacts, day: date) -> Gap:
    return Gap("no_license", f"No {rule.profession} license or PT Compact privilege in {rule.jurisdiction} on {day.isoformat()}.")


def reads_credentials(rule: RuleFacts | None, *, not_addressed_is_permitted: bool = False) -> bool:
    """Whether ``decide`` looks at the credentials at all under ``rule``: only under a permitted
    rule, or a silent one the organisation treats as permitted. Under any other rule (or none)
    the decision follows from the rule alone, so a batch need not read those credentials.
    Keep in step with the early returns of ``decide``."""
    if rule is None:
        return False
    return rule.status == "permitted" or (rule.status == "not_addressed" and not_addressed_is_permitted)


def credential_kinds(rule: RuleFacts | None, *, not_addressed_is_permitted: bool = False) -> frozenset[str]:
    """Which credentials ``decide`` reads under ``rule``, so that a batch reads no more:

    * nothing when ``reads_credentials`` is false;
    * ``license``: the licenses held in the rule's jurisdiction (always, otherwise);
    * ``all_licenses``: every license, only when the rule states a number of years licensed
      (counted from the earliest license of the profession, wherever it was issued);
    * ``training``: training records, only when the rule states a training figure;
    * ``registration``: board registrations, only when the rule requires one.

    Keep in step with ``_license_problem`` and ``requirement_gaps``."""
    if not reads_credentials(rule, not_addressed_is_permitted=not_addressed_is_permitted):
        return _NOTHING
    training = rule.min_training_hours is not None or rule.min_practical_hours is not None or rule.supervised_sessions is not None
    return _KINDS[training, rule.board_registration_required is True, rule.years_licensed is not None]


_NOTHING: frozenset[str] = frozenset()
_KINDS = {
    (training, registration, years): frozenset(
        {"license"} | ({"training"} if training else set()) | ({"registration"} if registration else set()) | ({"all_licenses"} if years else set())
    )
    for training in (False, True) for registration in (False, True) for years in (False, True)
}


def decide(
    rule: RuleFacts | None,
    credentials: list[CredentialFacts],
    day: date,
    *,
    jurisdiction: str,
    profession: str,
    not_addressed_is_permitted: bool = False,
) -> Decision:
    """May a clinician with ``credentials`` dry-needle under ``rule`` on ``day``?

    The credentials are read only when ``reads_credentials(rule, ...)`` is true.
    """
    if rule is None:
        return Decision(NEEDS_REVIEW, jurisdiction, profession, day, rule, (Gap("no_rule_on_record", f"No {profession} rule for {jurisdiction} is on record for {day.isoformat()}: needs review."),))
    status = rule.status
    notes: tuple[Gap, ...] = ()
    if status != "permitted":
        if status == "not_addressed" and not_addressed_is_permitted:
            notes = (_rule_note("rule_silent_treated_as_permitted", jurisdiction, profession),)
        else:  # the answer follows from the rule alone
            outcome = NOT_ELIGIBLE if status == "prohibited" else NEEDS_REVIEW
            return Decision(outcome, jurisdiction, profession, day, rule, (_rule_note(_RULE_ONLY.get(status, "rule_unrecognised"), jurisdiction, profession, status),))

    license_problem = _license_problem(rule, credentials, day)
    blocking = requirement_gaps(rule, credentials, day)
    if license_problem is not None:
        blocking.insert(0, license_problem)
    if not blocking:
        if rule.min_training_hours is None:
            notes = (*notes, _rule_note("no_training_figure", jurisdiction, profession))
        return Decision(ELIGIBLE, jurisdiction, profession, day, rule, notes)
    timed = [g.met_from for g in blocking if g.code in ("licensed_too_few_years", "license_not_yet_issued")]
    eligible_from = max(timed) if timed and len(timed) == len(blocking) and all(timed) else None
    return Decision(NOT_ELIGIBLE, jurisdiction, profession, day, rule, (*blocking, *notes), eligible_from)


#: the reason when the rule alone settles the answer, by its status (any other: rule_unrecognised)
_RULE_ONLY = {"prohibited": "state_prohibits", "unknown": "rule_unknown", "unclear": "rule_unclear", "not_addressed": "rule_silent"}


@lru_cache(maxsize=2048)
def _rule_note(code: str, jurisdiction: str, profession: str, status: str = "") -> Gap:
    """A reason that depends only on the rule's state and profession: built once for each (the
    Gap is immutable, so every decision may share it)."""
    message = {
        "state_prohibits": f"{jurisdiction} does not allow dry needling by this profession ({profession}).",
        "rule_unknown": f"The {jurisdiction} rule for {profession} is unknown: needs review, not permission.",
        "rule_unclear": f"The {jurisdiction} rule for {profession} is unclear: needs review, not permission.",
        "rule_silent": f"{jurisdiction} law is silent on dry needling by {profession}: needs review (your organisation does not treat silence as permission).",
        "rule_silent_treated_as_permitted": f"{jurisdiction} law is silent on dry needling by {profession}; your organisation treats silence as permission.",
        "no_training_figure": f"The sources give no minimum training for {profession} dry needling in {jurisdiction}; the clinician remains responsible for competence.",
        "rule_unrecognised": f"Unrecognised rule status '{status}'.",
    }[code]
    return Gap(code, message)
