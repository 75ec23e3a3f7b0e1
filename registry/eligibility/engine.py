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
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
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


@dataclass(frozen=True)
class Gap:
    """One unmet requirement: a stable code, the figures, and plain words."""

    code: str
    message: str
    have: str | None = None
    need: str | None = None
    #: where time alone fixes it, the first day it will be met
    met_from: date | None = None
    figures: dict = field(default_factory=dict)


def _fmt(value: Decimal | int) -> str:
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return text[:-2] if text.endswith(".0") else text


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
    if rule.min_training_hours is not None or rule.min_practical_hours is not None or rule.supervised_sessions is not None:
        trainings = [c for c in credentials if c.kind == "training" and c.held_on(day)]
        if rule.min_training_hours is not None:
            total = sum((c.total_hours for c in trainings), Decimal("0"))
            if total < rule.min_training_hours:
                gaps.append(Gap("training_hours_short", f"Dry-needling training: {_fmt(total)} hours, {rule.jurisdiction} requires {_fmt(rule.min_training_hours)}.", _fmt(total), _fmt(rule.min_training_hours)))
        if rule.min_practical_hours is not None:
            practical = sum((c.practical_hours for c in trainings), Decimal("0"))
            if practical < rule.min_practical_hours:
                gaps.append(Gap("practical_hours_short", f"In-person training: {_fmt(practical)} hours, {rule.jurisdiction} requires {_fmt(rule.min_practical_hours)}.", _fmt(practical), _fmt(rule.min_practical_hours)))
        if rule.min_training_hours is not None and total >= rule.min_training_hours and rule.completion_window_months:
            within = best_hours_within(trainings, rule.completion_window_months)
            if within < rule.min_training_hours:
                gaps.append(Gap("outside_completion_window", f"{rule.jurisdiction} requires {_fmt(rule.min_training_hours)} training hours completed within {rule.completion_window_months} months; the most within any such span is {_fmt(within)}.", _fmt(within), _fmt(rule.min_training_hours)))
        if rule.supervised_sessions is not None:
            sessions = sum(c.supervised_sessions for c in trainings)
            if sessions < rule.supervised_sessions:
                gaps.append(Gap("supervised_sessions_short", f"Supervised sessions: {sessions}, {rule.jurisdiction} requires {rule.supervised_sessions}.", str(sessions), str(rule.supervised_sessions)))
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
@dataclass(frozen=True)
class Decision:
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
    mine = [c for c in credentials if c.kind == "license" and c.jurisdiction == rule.jurisdiction and c.profession == rule.profession]
    if not mine:  # the common case, and what the checks below come to with no license at all
        return _no_license(rule, day)
    if any(c.held_on(day) for c in mine):
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
    def result(outcome: str, reasons: list[Gap], eligible_from: date | None = None) -> Decision:
        return Decision(outcome, jurisdiction, profession, day, rule, tuple(reasons), eligible_from)

    if rule is None:
        return result(NEEDS_REVIEW, [Gap("no_rule_on_record", f"No {profession} rule for {jurisdiction} is on record for {day.isoformat()}: needs review.")])
    if rule.status == "prohibited":
        return result(NOT_ELIGIBLE, [Gap("state_prohibits", f"{jurisdiction} does not allow dry needling by this profession ({profession}).")])
    if rule.status in ("unknown", "unclear"):
        return result(NEEDS_REVIEW, [Gap(f"rule_{rule.status}", f"The {jurisdiction} rule for {profession} is {rule.status}: needs review, not permission.")])
    notes: list[Gap] = []
    if rule.status == "not_addressed":
        if not not_addressed_is_permitted:
            return result(NEEDS_REVIEW, [Gap("rule_silent", f"{jurisdiction} law is silent on dry needling by {profession}: needs review (your organisation does not treat silence as permission).")])
        notes.append(Gap("rule_silent_treated_as_permitted", f"{jurisdiction} law is silent on dry needling by {profession}; your organisation treats silence as permission."))
    elif rule.status != "permitted":  # pragma: no cover - the statuses are a closed set
        return result(NEEDS_REVIEW, [Gap("rule_unrecognised", f"Unrecognised rule status '{rule.status}'.")])

    blocking: list[Gap] = []
    license_problem = _license_problem(rule, credentials, day)
    if license_problem is not None:
        blocking.append(license_problem)
    blocking.extend(requirement_gaps(rule, credentials, day))
    if not blocking:
        if rule.min_training_hours is None:
            notes.append(Gap("no_training_figure", f"The sources give no minimum training for {profession} dry needling in {jurisdiction}; the clinician remains responsible for competence."))
        return result(ELIGIBLE, notes)
    timed = [g.met_from for g in blocking if g.code in ("licensed_too_few_years", "license_not_yet_issued")]
    eligible_from = max(timed) if timed and len(timed) == len(blocking) and all(timed) else None
    return result(NOT_ELIGIBLE, [*blocking, *notes], eligible_from)
