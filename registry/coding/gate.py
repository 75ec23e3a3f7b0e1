"""The coding gate for dry needling (CPT 20560/20561): pure functions over plain data.

``check(visit, decision=..., profession=..., tables=...)`` says whether a visit's claim lines
may go out: ``allow``, ``allow_with_warnings`` or ``block``, with every edit in plain words,
its source and what would fix it. No Flask, no database, no clock: the eligibility decision and
the edit tables (data/*.csv, see :mod:`registry.coding.tables`) come in as arguments.

The edits follow /work/shared/research/coding_rules.md; the keys in brackets ([C1], [P6], ...)
are that file's source keys, and G-xx its edit ids. Severities: **block** (the lines cannot go
out), **warn** (they can, once someone acknowledges the warning), **info** (shown only).

Deterministic: the same visit gives the same result, whatever the order of its lines, muscles
and diagnoses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Iterable

from registry.coding.tables import (
    BLOCK,
    DRY_NEEDLING_CODES,
    INFO,
    PAYER_TYPES,
    URL_SEPARATOR,
    WARN,
    CodePair,
    EditTables,
    PayerPolicy,
    normalise_name,
)
from registry.eligibility.engine import ELIGIBLE, NEEDS_REVIEW, NOT_ELIGIBLE, Decision

__all__ = [
    "ALLOW", "ALLOW_WITH_WARNINGS", "BLOCK", "BLOCKED", "INFO", "PAYER_TYPES", "SIDES", "WARN",
    "Edit", "GateResult", "Line", "Muscle", "Visit", "check", "code_for", "distinct_muscles",
]

SIDES = ("left", "right", "bilateral", "midline")  # "bilateral" counts as left + right
ALLOW, ALLOW_WITH_WARNINGS, BLOCKED = "allow", "allow_with_warnings", "block"
_RANK = {BLOCK: 0, WARN: 1, INFO: 2}

#: 20560: needle insertion(s) without injection, 1 or 2 muscles; 20561: 3 or more [C1, C10]
CODE_1_2_MUSCLES, CODE_3_PLUS_MUSCLES = DRY_NEEDLING_CODES

#: the engine's reasons that inform rather than refuse (README, "Reason codes")
_INFORMATIONAL_REASONS = frozenset({"no_training_figure", "rule_silent_treated_as_permitted"})


# --- the facts the gate cites itself (the tables carry their own) -----------------------------
@dataclass(frozen=True)
class _Cite:
    text: str
    url: str = ""


_SOURCES = {
    "C1": _Cite("APTA Compliance Matters, Feb 2020 [C1]", "http://www.apta.org/PTinMotion/2020/2/ComplianceMatters/"),
    "C5": _Cite("CMS NCD 30.3.3, documented improvement to continue [C5]", "https://www.cms.gov/Medicare-Coverage-Database/view/ncd.aspx?ncdid=373&ncdver=1"),
    "C9": _Cite("ACA, Billing for dry needling services [C9]", "https://www.acatoday.org/?p=1991"),
    "C10": _Cite("myzhealth, CPT 20560 billing guide [C10]", "https://myzhealth.io/blog/cpt-20560-dry-needling-billing-guide"),
    "C14c": _Cite("CGS, 2014-12-05: no ABN for NCCI denials [C14c]", "http://cgsmedicare.com/partb/pubs/news/2014/1214/cope27626.html"),
    "C16": _Cite("Gawenda, Dry needling: what CPT code to bill [C16]", "https://gawendaseminars.com/dry-needling-what-cpt-code-to-bill/"),
    "C18": _Cite("Aetna CPB 0135: re-evaluation at 4 weeks, an analogue [C18]", "https://www.aetna.com/cpb/medical/data/100_199/0135.html"),
    "C23": _Cite("Dry-needling documentation: each muscle by name and side (DocHub, TheraPlatform) [C23]", "https://www.dochub.com/fillable-form/247560-dry-needling-documentation-template"),
    "C23c": _Cite("Prombs, muscle-count billing errors (CR R12185) [C23c]", "https://prombs.com/?p=98474"),
    "C24c": _Cite("ICD-10-CM code structure, e.g. M79.10 and M79.11 in the IBX notice of 2020-02-18 [C24c]", "http://medpolicy.ibx.com/policies/MedAdvMPI.nsf/6a827f8172ac2f8185257d3100532b7a/66554a217be65de68525856c00754bd5!OpenDocument"),
    "P6": _Cite("Colorado 4 CCR 732-1 Rule 11: signed written consent from every patient [P6]", "https://www.masterdryneedling.com/state-training-guidelines/"),
    "P14": _Cite("PT Compact: practice takes place where the patient is, 26 V.S.A. §2133 [P14]", "https://legislature.vermont.gov/statutes/section/26/038/02133"),
    "input": _Cite("Needle Registry input check"),
}


def _cite(*keys: str) -> dict:
    """``source``, ``source_url`` and ``source_urls`` for an Edit citing ``keys``."""
    cites = [_SOURCES[k] for k in keys]
    urls = tuple(c.url for c in cites if c.url)
    return {"source": "; ".join(c.text for c in cites), "source_url": urls[0] if urls else "", "source_urls": urls}


# --- the facts in ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Muscle:
    name: str  # compared case- and space-insensitively
    side: str  # one of SIDES


@dataclass(frozen=True)
class Line:
    code: str
    units: int = 1
    modifiers: tuple[str, ...] = ()
    #: on a 20552/20553 line: the muscles injected (for the same-muscle test, G-20)
    muscles: tuple[Muscle, ...] = ()


@dataclass(frozen=True)
class Visit:
    npi: str
    jurisdiction: str  # the patient's state on the day: where the care takes place [P14]
    day: date
    payer_type: str  # one of PAYER_TYPES
    payer_name: str
    muscles: tuple[Muscle, ...]  # the muscles dry-needled, by name and side
    lines: tuple[Line, ...]
    diagnoses: tuple[str, ...] = ()
    consent_on_file: bool = False
    plan_of_care_on_file: bool = False
    reassessment_done: bool = False
    abn_on_file: bool = False
    referral_on_file: bool = False


# --- the answer out ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Edit:
    code: str  # stable machine code, e.g. "muscle_count_mismatch"
    severity: str  # block | warn | info
    message: str  # plain words naming the figures
    source: str  # citation text
    source_url: str = ""  # the main source's URL
    line_code: str | None = None  # the claim line it concerns, if any
    fix: str = ""  # what would fix it, in plain words
    #: the table row behind the edit: a code-pair edit id ("G-20"), a payer policy id
    #: ("CPB 0135") or a unit limit ("20560/date_of_service"); "" for the gate's own edits
    rule_id: str = ""
    #: for "not_eligible" / "eligibility_needs_review": the engine's reason code
    reason_code: str = ""
    #: every source URL (``source_url`` is the first)
    source_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class GateResult:
    outcome: str  # allow | allow_with_warnings | block
    computed_code: str | None  # 20560 (1-2 distinct muscles), 20561 (3+), None when no muscle
    distinct_muscles: int
    edits: tuple[Edit, ...]  # blocks, then warns, then infos
    billable_lines: tuple[Line, ...]  # the lines as submitted; () when blocked

    @property
    def allowed(self) -> bool:
        return self.outcome != BLOCKED


# --- muscles and codes -------------------------------------------------------------------------
def _muscle_keys(muscle: Muscle) -> tuple[tuple[str, str], ...]:
    """(name, side) pairs a muscle stands for: two for bilateral, none if it has no name or
    no known side."""
    name, side = normalise_name(muscle.name), normalise_name(muscle.side)
    if not name or side not in SIDES:
        return ()
    if side == "bilateral":
        return ((name, "left"), (name, "right"))
    return ((name, side),)


def _keys(muscles: Iterable[Muscle]) -> set[tuple[str, str]]:
    return {k for m in muscles for k in _muscle_keys(m)}


def distinct_muscles(muscles: Iterable[Muscle]) -> int:
    """How many muscles were needled, counted by name and side: a muscle listed twice counts
    once, "bilateral" counts as left and right, and an entry with no name or an unknown side
    does not count. Muscles are counted, not needles or insertions [C1, C10]."""
    return len(_keys(muscles))


def code_for(count: int) -> str | None:
    """The dry-needling code for ``count`` distinct muscles: 1-2 -> 20560, 3+ -> 20561 [C1]."""
    if count < 1:
        return None
    return CODE_1_2_MUSCLES if count <= 2 else CODE_3_PLUS_MUSCLES


def _code(line: Line) -> str:
    return line.code.strip().upper()


def _modifiers(line: Line) -> set[str]:
    return {m.strip().upper() for m in line.modifiers}


def _names(keys: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{name} ({side})" for name, side in sorted(keys))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _split_urls(urls: str) -> tuple[str, ...]:
    return tuple(u.strip() for u in urls.split(URL_SEPARATOR) if u.strip()) if urls else ()


# --- the checks --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Facts:
    """What every check reads, worked out once."""

    visit: Visit
    decision: Decision | None
    profession: str | None
    payer_type: str
    lines: tuple[Line, ...]  # sorted, so that the edits do not depend on the input order
    dn_lines: tuple[Line, ...]  # the 20560/20561 lines
    muscle_keys: frozenset[tuple[str, str]]
    count: int
    computed: str | None
    tables: EditTables  # only the rows in force on the visit's day


def _eligibility(f: _Facts) -> list[Edit]:
    """G-01: the rendering provider must be eligible in the patient's state on the date of
    service [P14]. The engine decides; the gate refuses anything short of eligible."""
    v, d = f.visit, f.decision
    if d is None:
        return [Edit("unknown_provider", BLOCK, f"No provider with NPI {v.npi} is in the registry, so nothing shows they may dry-needle in {v.jurisdiction} on {v.day.isoformat()}.", fix="Add the provider and their credentials to the registry, or correct the NPI.", **_cite("P14"))]
    edits: list[Edit] = []
    d_jur, d_day, d_prof = getattr(d, "jurisdiction", None), getattr(d, "day", None), getattr(d, "profession", None)
    if (d_jur and d_jur.upper() != v.jurisdiction.strip().upper()) or (d_day and d_day != v.day) or (f.profession and d_prof and d_prof != f.profession):
        edits.append(Edit("eligibility_mismatch", BLOCK, f"The eligibility decision is for {d_prof} in {d_jur} on {d_day}; the visit is in {v.jurisdiction} on {v.day.isoformat()}" + (f" by a {f.profession}." if f.profession else "."), fix="Decide eligibility for this provider in the patient's state on the date of service.", **_cite("P14")))

    rule = d.rule
    if rule is None:
        source = {"source": "no rule on record", "source_url": "", "source_urls": ()}
    else:
        urls = _split_urls(rule.source_url)
        source = {"source": rule.citation or f"{rule.jurisdiction} {rule.profession} rule (no citation recorded)", "source_url": urls[0] if urls else "", "source_urls": urls}
    place = f"{d.jurisdiction} on {d.day.isoformat()}"
    refusals = [g for g in d.reasons if g.code not in _INFORMATIONAL_REASONS]
    if d.outcome == NOT_ELIGIBLE:
        for gap in refusals:
            fix = (f"Time alone fixes this: eligible from {gap.met_from.isoformat()}, but not for this visit." if gap.met_from
                   else "Correct the provider's record if it is wrong; otherwise this clinician cannot bill dry needling for this visit.")
            edits.append(Edit("not_eligible", BLOCK, f"Not eligible to dry-needle in {place}: {gap.message}", fix=fix, reason_code=gap.code, **source))
        if not refusals:
            edits.append(Edit("not_eligible", BLOCK, f"Not eligible to dry-needle in {place}.", fix="Check the provider's record.", **source))
    elif d.outcome != ELIGIBLE:  # needs_review, or anything unforeseen: never permission
        fix = f"A manager must review the {d.jurisdiction} rule for {d.profession}; until then the lines cannot go out."
        for gap in refusals:
            edits.append(Edit("eligibility_needs_review", BLOCK, f"Eligibility to dry-needle in {place} needs review: {gap.message}", fix=fix, reason_code=gap.code, **source))
        if not refusals:
            edits.append(Edit("eligibility_needs_review", BLOCK, f"Eligibility to dry-needle in {place} needs review" + ("." if d.outcome == NEEDS_REVIEW else f" (outcome '{d.outcome}')."), fix=fix, **source))
    for gap in d.reasons:
        if gap.code in _INFORMATIONAL_REASONS:
            edits.append(Edit("eligibility_note", INFO, gap.message, reason_code=gap.code, **source))
    return edits


def _inputs(f: _Facts) -> list[Edit]:
    """Facts the other checks cannot read: an unknown payer type, a muscle without a name or
    side (each muscle is documented by name and side [C23]), a line with no units."""
    edits: list[Edit] = []
    if f.payer_type not in PAYER_TYPES:
        edits.append(Edit("payer_type_unknown", BLOCK, f"Payer type '{f.visit.payer_type}' is not one of: {', '.join(PAYER_TYPES)}; the payer's rules cannot be applied.", fix="Record the payer type.", **_cite("input")))
    bad = sorted({(m.name.strip(), m.side.strip()) for m in f.visit.muscles if not _muscle_keys(m)})
    for name, side in bad:
        edits.append(Edit("muscle_invalid", BLOCK, f"The muscle entry '{name}' ({side or 'no side'}) cannot be counted: each muscle needs a name and a side ({', '.join(SIDES)}).", fix="Record the muscle's name and side in the note.", **_cite("C23")))
    for line in f.lines:
        if line.units < 1:
            edits.append(Edit("units_invalid", BLOCK, f"The {_code(line)} line has {line.units} units; a line needs 1 or more.", line_code=_code(line), fix=f"Correct the units on the {_code(line)} line.", **_cite("input")))
    return edits


def _code_selection(f: _Facts) -> list[Edit]:
    """G-10, G-11, G-12, G-13: the code follows the muscle count; one code, once a day."""
    edits: list[Edit] = []
    billed = sorted({_code(line) for line in f.dn_lines})
    if f.count == 0:
        # G-12: the note must name the muscles; the gate counts them rather than trusting a
        # typed number [C10, C23c, C9]
        edits.append(Edit("no_muscle_documented", BLOCK, "No dry-needled muscle is documented" + (f", so the {'/'.join(billed)} line cannot be checked" if billed else "") + ": the note must name each muscle treated and its side.", fix="Record every muscle needled, by name and side.", **_cite("C10", "C23c", "C9")))
    else:
        for code in billed:
            if code != f.computed:
                # G-10: 1-2 muscles -> 20560; 3 or more -> 20561 [C1, C10]
                are = "is" if f.count == 1 else "are"
                edits.append(Edit("muscle_count_mismatch", BLOCK, f"{_plural(f.count, 'distinct muscle')} {are} documented: the code is {f.computed}, not {code}.", line_code=code, fix=f"Bill {f.computed}, or correct the muscles in the note.", **_cite("C1", "C10")))
    if len(billed) > 1:
        # G-11: the two codes are alternatives chosen by muscle count, not add-ons [C23c]
        edits.append(Edit("both_codes_billed", BLOCK, "20560 and 20561 are both billed for this visit; they are alternatives chosen by the muscle count, never billed together" + (f" ({_plural(f.count, 'muscle')}: {f.computed})." if f.computed else "."), fix=f"Keep one line: {f.computed}." if f.computed else "Keep one line, chosen by the muscle count.", **_cite("C23c")))
    edits.extend(_unit_limits(f))
    if f.count and not f.dn_lines and not _reported_by_other_codes(f):
        edits.append(Edit("no_dry_needling_line", BLOCK, f"{_plural(f.count, 'dry-needled muscle')} {'is' if f.count == 1 else 'are'} documented but neither 20560 nor 20561 is billed; dry needling has had its own codes since 2020-01-01.", fix=f"Add a {f.computed} line (1 unit).", **_cite("C16", "C10")))
    return edits


def _unit_limits(f: _Facts) -> list[Edit]:
    """G-13: units per date of service or per line, from data/unit_limits.csv."""
    edits: list[Edit] = []
    for limit in f.tables.unit_limits:
        lines = [line for line in f.lines if _code(line) == limit.code and line.units >= 1]
        if not lines:
            continue
        totals = [sum(line.units for line in lines)] if limit.per == "date_of_service" else [line.units for line in lines]
        where = "per date of service" if limit.per == "date_of_service" else "per line"
        for units in totals:
            if units > limit.max_units:
                edits.append(Edit(
                    "units_exceed_limit", limit.severity,
                    _unconfirmed(f"{limit.code} is billed for {_plural(units, 'unit')}; at most {limit.max_units} {where}. {limit.message}", limit.confirmed),
                    limit.source, limit.source_urls[0] if limit.source_urls else "", limit.code,
                    fix=f"Bill {limit.code} for {_plural(limit.max_units, 'unit')}.", rule_id=f"{limit.code}/{limit.per}", source_urls=limit.source_urls,
                ))
    return edits


def _unconfirmed(message: str, confirmed: bool) -> str:
    return message if confirmed else f"{message} (Unconfirmed: not yet checked against a primary source.)"


def _documentation(f: _Facts) -> list[Edit]:
    """G-50, G-03, G-52: consent, referral, plan of care, reassessment."""
    v, edits = f.visit, []
    rule = f.decision.rule if f.decision is not None else None
    urls = _split_urls(rule.source_url) if rule is not None else ()
    if not v.consent_on_file:
        # The registry demands written consent for every dry-needling visit; Colorado Rule 11
        # requires it of every patient [P6]; some state rules require it too.
        message = "No written consent is on file: the patient's signed consent is required before dry needling."
        cite = _cite("P6")
        if getattr(rule, "written_consent_required", None) is True:
            message += f" The {rule.jurisdiction} rule in force requires it ({rule.citation})."
            cite = {"source": f"{rule.citation}; {cite['source']}", "source_url": (urls or cite["source_urls"])[0], "source_urls": urls + cite["source_urls"]}
        edits.append(Edit("no_consent", BLOCK, message, fix="File the patient's signed written consent (and give the patient a copy).", **cite))
    if getattr(rule, "referral_required", None) is True and not v.referral_on_file:
        # G-03: a referral on file where the state rule requires one
        edits.append(Edit("no_referral", BLOCK, f"No referral is on file; the {rule.jurisdiction} rule in force requires one for dry needling.", rule.citation or f"{rule.jurisdiction} rule (no citation recorded)", urls[0] if urls else "", fix="File the referral before releasing the claim.", source_urls=urls))
    if not v.plan_of_care_on_file:
        edits.append(Edit("no_plan_of_care", WARN, "No plan of care is on file: the claim rests on an assessment, medical necessity and a plan of care with goals.", fix="File the plan of care with its goals.", **_cite("C18", "C5")))
    if not v.reassessment_done:
        edits.append(Edit("no_reassessment", WARN, "No reassessment is recorded: reassess on a set interval; continued treatment needs documented improvement.", fix="Record the reassessment and the patient's progress.", **_cite("C18", "C5")))
    return edits


def _reported_by_other_codes(f: _Facts) -> bool:
    """Whether a code (acupuncture, G-21) reports the encounter instead of 20560/20561."""
    return any(row.action == "report_other_only" and any(_code(line) in row.other_codes for line in f.lines) for row in f.tables.code_pairs)


def _code_pairs(f: _Facts) -> list[Edit]:
    """G-20, G-21, G-23, G-24 (and any later row): codes that conflict with dry needling on
    the same visit, from data/code_pairs.csv."""
    edits: list[Edit] = []
    for row in f.tables.code_pairs:
        others = [line for line in f.lines if _code(line) in row.other_codes and _code(line) not in DRY_NEEDLING_CODES]
        if not others:
            continue
        dn = [line for line in f.dn_lines if row.dry_needling is not None and _code(line) in row.dry_needling]
        present = bool(dn) if row.dry_needling is not None else f.count > 0
        dn_text = "/".join(sorted({_code(line) for line in dn})) or "dry needling"
        other_text = ", ".join(sorted({_code(line) for line in others}))

        def edit(code_line: str, severity: str, message: str, fix: str, row: CodePair = row) -> Edit:
            return Edit(row.edit_code, severity, _unconfirmed(f"{message} {row.message}", row.confirmed), row.source, row.source_urls[0] if row.source_urls else "", code_line, fix=fix, rule_id=row.edit_id, source_urls=row.source_urls)

        if row.action == "report_other_only":
            # G-21: acupuncture and dry needling in one encounter: report acupuncture only [C9b]
            if dn:
                edits.extend(edit(_code(line), BLOCK, f"{other_text} and {_code(line)} are billed for the same encounter.", f"Remove the {_code(line)} line; report {other_text} only.") for line in dn)
            elif f.count:
                edits.append(edit(other_text, INFO, f"Dry needling is documented and reported with {other_text} only.", ""))
            continue
        if not present:
            continue
        for other in others:
            code = _code(other)
            if row.action in ("block", "warn", "info"):
                context = "documents dry needling" if row.dry_needling is None else f"bills {dn_text}"
                edits.append(edit(code, row.action, f"{code} is billed on a visit that {context}.", f"Remove the {code} line unless it reports a separate, documented service."))
            elif row.action in ("block_unless_modifier", "warn_unless_modifier"):
                if row.modifier not in _modifiers(other):
                    severity = BLOCK if row.action == "block_unless_modifier" else WARN
                    edits.append(edit(code, severity, f"{code} is billed with {dn_text} without modifier {row.modifier}.", f"Add modifier {row.modifier} to the {code} line if the documentation supports it; otherwise remove the line."))
            elif row.action == "block_same_muscle_else_warn":
                # G-20: the same muscle injected and dry-needled: block; otherwise warn [C11, C12]
                injected = _keys(other.muscles)
                shared = injected & f.muscle_keys
                if shared:
                    edits.append(edit(code, BLOCK, f"{code} and {dn_text} are billed for the same muscle(s): {_names(shared)}.", f"Remove the {code} line for the dry-needled muscle(s), or correct the muscles."))
                elif injected:
                    edits.append(edit(code, WARN, f"{code} is billed with {dn_text} for other muscles ({_names(injected)}).", "Make sure the note documents the injections and the dry needling in different muscles."))
                else:
                    edits.append(edit(code, WARN, f"{code} is billed with {dn_text} but lists no muscles, so the gate cannot tell whether a dry-needled muscle was injected.", f"List the injected muscles on the {code} line."))
    return edits


def _payer_prefix(row: PayerPolicy) -> str:
    """``medicare_pt`` for the Medicare PT row; the stable prefix of its ABN edit code."""
    parts = [row.payer_type or "payer", (row.profession or "").lower()]
    return "_".join(p for p in parts if p)


def _payers(f: _Facts) -> list[Edit]:
    """G-30, G-31 and the payers' own policies, from data/payer_policies.csv."""
    if not f.count and not f.dn_lines:
        return []
    edits: list[Edit] = []
    dn_text = "/".join(sorted({_code(line) for line in f.dn_lines})) or "20560/20561"
    for row in f.tables.payer_policies:
        if not row.matches(f.payer_type, f.visit.payer_name, f.profession):
            continue
        # an unconfirmed policy never hard-blocks (the loader refuses one; this is the backstop)
        severity = WARN if row.severity == BLOCK and not row.confirmed else row.severity
        base = {"source": row.source, "source_url": row.source_urls[0] if row.source_urls else "", "rule_id": row.policy_id, "source_urls": row.source_urls}
        modifier = row.required_modifier
        then = f" and bill {dn_text} with modifier {modifier}" if modifier else ""
        if row.requires_abn and not f.visit.abn_on_file:
            # Medicare, PT: non-covered; voluntary ABN, GX, patient responsibility [C1, C2, C3]
            edits.append(Edit(f"{_payer_prefix(row)}_no_abn", severity, _unconfirmed(f"No ABN is on file. {row.message}", row.confirmed), fix=f"Have the patient sign a voluntary ABN before the service{then}, as the patient's responsibility.", **base))
            continue
        missing = [line for line in f.dn_lines if modifier and modifier not in _modifiers(line)]
        for line in missing:
            # GX with the ABN for a PT [C1]; GY for a chiropractor's excluded service [C8]
            edits.append(Edit(f"{row.payer_type or 'payer'}_modifier_missing", severity, _unconfirmed(f"Modifier {modifier} is missing on the {_code(line)} line. {row.message}", row.confirmed), line_code=_code(line), fix=f"Add modifier {modifier} to the {_code(line)} line.", **base))
        if missing:
            continue
        if row.requires_abn or modifier:  # every condition met: the claim goes out as non-covered
            edits.append(Edit("payer_policy", INFO, row.message, **base))
        else:
            edits.append(Edit("payer_policy", severity, _unconfirmed(row.message, row.confirmed), fix="Tell the patient a denial is likely and collect their signed consent to pay.", **base))
    return edits


#: ICD-10-CM: a letter, a digit, a letter or digit, then up to 4 more letters or digits, after a
#: dot (M79.18) or, as on electronic claims, without one (M7918)
_ICD10CM = re.compile(r"^[A-Z][0-9][A-Z0-9](?:\.?[A-Z0-9]{1,4})?$")


def _diagnoses(f: _Facts) -> list[Edit]:
    """G-40, syntax only: whether a code is billable on the day needs the CMS ICD-10-CM file,
    which the registry does not hold, so no list of codes is invented here."""
    bad = sorted({dx.strip() for dx in f.visit.diagnoses if not _ICD10CM.match(dx.strip().upper())})
    return [Edit("diagnosis_malformed", BLOCK, f"'{dx}' is not an ICD-10-CM code: a letter, a digit, a letter or digit, then optionally a dot and 1 to 4 letters or digits (e.g. M79.18).", fix=f"Correct the diagnosis code '{dx}'.", **_cite("C24c")) for dx in bad]


def _notes(f: _Facts, edits: list[Edit]) -> list[Edit]:
    """G-25: an ABN does not move liability to the patient for a coding (NCCI/MUE) denial [C14c]."""
    coding = {"units_exceed_limit", *(row.edit_code for row in f.tables.code_pairs)}
    if f.payer_type == "medicare" and f.visit.abn_on_file and any(e.code in coding and e.severity != INFO for e in edits):
        return [Edit("abn_does_not_cover_ncci", INFO, "The ABN on file does not make the patient liable for a coding denial (NCCI code pair or units): resolve the code-pair and unit edits.", **_cite("C14c"))]
    return []


# --- the gate ----------------------------------------------------------------------------------
def check(visit: Visit, *, decision: Decision | None, profession: str | None, tables: EditTables) -> GateResult:
    """May the visit's lines go out? ``decision`` is the eligibility decision for the rendering
    provider in ``visit.jurisdiction`` on ``visit.day`` (None when the NPI is unknown);
    ``profession`` is "PT" or "DC" (None if unknown: then the decision's is used)."""
    profession = (profession or getattr(decision, "profession", None) or "").strip().upper() or None
    lines = tuple(sorted(visit.lines, key=lambda line: (_code(line), line.units, tuple(sorted(_modifiers(line))), tuple(sorted(_keys(line.muscles))))))
    keys = frozenset(_keys(visit.muscles))
    facts = _Facts(
        visit=visit, decision=decision, profession=profession,
        payer_type=visit.payer_type.strip().lower(), lines=lines,
        dn_lines=tuple(line for line in lines if _code(line) in DRY_NEEDLING_CODES),
        muscle_keys=keys, count=len(keys), computed=code_for(len(keys)),
        tables=tables.in_force(visit.day),
    )
    stages = [_eligibility(facts), _inputs(facts), _code_selection(facts), _documentation(facts), _code_pairs(facts), _payers(facts), _diagnoses(facts)]
    stages.append(_notes(facts, [e for stage in stages for e in stage]))
    ranked = sorted((_RANK[e.severity], stage, i, e) for stage, edits in enumerate(stages) for i, e in enumerate(edits))
    edits = tuple(dict.fromkeys(e for *_, e in ranked))  # drop exact repeats, keep the order
    severities = {e.severity for e in edits}
    outcome = BLOCKED if BLOCK in severities else ALLOW_WITH_WARNINGS if WARN in severities else ALLOW
    return GateResult(outcome, facts.computed, facts.count, edits, () if outcome == BLOCKED else tuple(visit.lines))
