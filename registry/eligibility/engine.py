"""The eligibility engine: pure functions over plain data. No Flask, no database session.

This first part answers "what does the state's rule ask that this clinician does not have
on this date?". The full decision (eligible / not eligible / needs review, with the rule's
status and the license check) builds on it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


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
    citation: str = ""


@dataclass(frozen=True)
class CredentialFacts:
    """A license, registration or training record reduced to what the engine needs."""

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


def requirement_gaps(rule: RuleFacts, credentials: list[CredentialFacts], day: date) -> list[Gap]:
    """What ``rule`` demands that ``credentials`` do not meet on ``day``.

    Only the requirements the rule states are checked: a requirement the sources give no
    figure for (None) is not invented here.
    """
    gaps: list[Gap] = []
    trainings = [c for c in credentials if c.kind == "training" and c.held_on(day)]
    total = sum((c.total_hours for c in trainings), Decimal("0"))
    practical = sum((c.practical_hours for c in trainings), Decimal("0"))
    sessions = sum(c.supervised_sessions for c in trainings)
    if rule.min_training_hours is not None and total < rule.min_training_hours:
        gaps.append(Gap("training_hours_short", f"Dry-needling training: {_fmt(total)} hours, {rule.jurisdiction} requires {_fmt(rule.min_training_hours)}.", _fmt(total), _fmt(rule.min_training_hours)))
    if rule.min_practical_hours is not None and practical < rule.min_practical_hours:
        gaps.append(Gap("practical_hours_short", f"In-person training: {_fmt(practical)} hours, {rule.jurisdiction} requires {_fmt(rule.min_practical_hours)}.", _fmt(practical), _fmt(rule.min_practical_hours)))
    if rule.supervised_sessions is not None and sessions < rule.supervised_sessions:
        gaps.append(Gap("supervised_sessions_short", f"Supervised sessions: {sessions}, {rule.jurisdiction} requires {rule.supervised_sessions}.", str(sessions), str(rule.supervised_sessions)))
    if rule.years_licensed is not None:
        starts = [c.starts_on for c in credentials if c.kind == "license" and c.profession == rule.profession and c.starts_on]
        first = min(starts) if starts else None
        met_from = add_years(first, rule.years_licensed) if first else None
        if met_from is None or day < met_from:
            have = f"licensed since {first.isoformat()}" if first else "no license issue date on record"
            gaps.append(Gap("licensed_too_few_years", f"{rule.jurisdiction} requires {_fmt(rule.years_licensed)} year(s) of licensed practice; {have}" + (f": met from {met_from.isoformat()}." if met_from else "."), have, _fmt(rule.years_licensed), met_from=met_from))
    if rule.board_registration_required is True:
        held = [c for c in credentials if c.kind == "registration" and c.jurisdiction == rule.jurisdiction and c.held_on(day)]
        if not held:
            gaps.append(Gap("board_registration_missing", f"{rule.jurisdiction} requires a board registration or endorsement for dry needling; none is held on {day.isoformat()}."))
    return gaps
