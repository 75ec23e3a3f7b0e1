"""Rule versions in plain words, for pages."""

from __future__ import annotations

from decimal import Decimal

from registry.csvkit import decimal_text
from registry.rules.csvio import URL_SEPARATOR

STATUS_LABELS = {
    "permitted": "Permitted",
    "prohibited": "Prohibited",
    "not_addressed": "Not addressed by law",
    "unclear": "Unclear",
    "unknown": "Unknown",
}


def hours(value: Decimal | None) -> str:
    return "" if value is None else decimal_text(value)


def tristate(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown"}[value]


def split_urls(value: str) -> list[str]:
    return [u.strip() for u in value.split(URL_SEPARATOR) if u.strip()] if value else []


def plain_requirements(rule) -> list[str]:
    """What the rule asks of a clinician, one sentence per requirement, unknowns said plainly."""
    if rule.status == "prohibited":
        return ["Dry needling is not allowed for this profession."]
    if rule.status == "unknown":
        return ["No source settles whether dry needling is allowed: treat as needing review."]
    lines: list[str] = []
    if rule.status == "not_addressed":
        lines.append("The law is silent on dry needling for this profession: treat as needing review.")
    elif rule.status == "unclear":
        lines.append("The law is contested or in transition: treat as needing review.")
    if rule.min_training_hours is not None:
        lines.append(f"At least {hours(rule.min_training_hours)} hours of dry-needling training.")
    if rule.min_practical_hours is not None:
        lines.append(f"At least {hours(rule.min_practical_hours)} of those hours in person (practical, hands-on).")
    if rule.supervised_sessions is not None:
        lines.append(f"At least {rule.supervised_sessions} supervised or reviewed dry-needling sessions.")
    if rule.years_licensed is not None:
        lines.append(f"Licensed for at least {hours(rule.years_licensed)} year(s) before dry needling.")
    if rule.completion_window_months is not None:
        lines.append(f"Training completed within {rule.completion_window_months} months (see notes for what the window applies to).")
    if rule.approved_course_bodies:
        lines.append(f"Course approved by: {rule.approved_course_bodies}.")
    if rule.min_training_hours is None and rule.status == "permitted":
        lines.append("The sources give no minimum number of training hours.")
    lines.append(_flag(rule.board_registration_required, "Board registration, endorsement or filing of proof of training is required.", "No board registration is required.", "Whether board registration is required is not known."))
    lines.append(_flag(rule.written_consent_required, "The rule requires the patient's written consent.", "The rule itself does not require written consent (consent is still expected in every record).", "Whether the rule requires written consent is not known."))
    lines.append(_flag(rule.referral_required, "A referral is required.", "No referral is required.", "Whether a referral is required is not known."))
    lines.append(_flag(rule.delegation_allowed, "Delegation to assistants is allowed.", "Dry needling may not be delegated to assistants.", "Whether it may be delegated to assistants is not known."))
    return lines


def _flag(value: bool | None, yes: str, no: str, unknown: str) -> str:
    return yes if value is True else no if value is False else unknown
