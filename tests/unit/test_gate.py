"""The 20560/20561 coding gate, with no app and no database: every edit fires when it should and
stays quiet when it should not, the outcome and the order of the edits."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date

import pytest

from registry.coding.gate import (
    ALLOW,
    ALLOW_WITH_WARNINGS,
    BLOCK,
    BLOCKED,
    INFO,
    WARN,
    Line,
    Muscle,
    Visit,
    check,
    code_for,
    distinct_muscles,
)
from registry.coding.tables import (
    CodePair,
    CodeSet,
    EditTables,
    PayerPolicy,
    UnitLimit,
    default_tables,
)
from registry.eligibility.engine import (
    ELIGIBLE,
    NEEDS_REVIEW,
    NOT_ELIGIBLE,
    Decision,
    Gap,
    RuleFacts,
)


@dataclass(frozen=True)
class Rule(RuleFacts):
    """RuleFacts with the two facts the gate reads (which the gate reads with getattr)
    declared here as well, so the tests do not depend on the engine version carrying them."""

    written_consent_required: bool | None = None
    referral_required: bool | None = None


DAY = date(2025, 6, 2)
CO = Rule("CO", "PT", "permitted", citation="4 CCR 732-1", source_url="https://co.example/rule ; https://co.example/more")

TRAP_L = Muscle("Upper trapezius", "left")
LEVATOR_L = Muscle("Levator scapulae", "left")
THREE = (Muscle("Upper trapezius", "bilateral"), LEVATOR_L)  # 3 muscles: bilateral counts twice


def decided(outcome=ELIGIBLE, rule=CO, reasons=(), jurisdiction="CO", profession="PT", day=DAY):
    return Decision(outcome, jurisdiction, profession, day, rule, tuple(reasons))


ELIGIBLE_IN_CO = decided()


def visit(**changes) -> Visit:
    """A visit that passes every edit: one muscle, 20560, a commercial payer with no policy,
    every document on file."""
    base = Visit(
        npi="1234567893", jurisdiction="CO", day=DAY, payer_type="commercial", payer_name="Acme Health",
        muscles=(TRAP_L,), lines=(Line("20560"),), diagnoses=("M79.18",),
        consent_on_file=True, plan_of_care_on_file=True, reassessment_done=True,
    )
    return replace(base, **changes)


def run(v: Visit | None = None, *, decision=ELIGIBLE_IN_CO, profession="PT", tables=None):
    return check(v or visit(), decision=decision, profession=profession, tables=tables or default_tables())


def found(result, code):
    return [e for e in result.edits if e.code == code]


MEDICARE_PT_OK = dict(payer_type="medicare", payer_name="Medicare Part B", abn_on_file=True, lines=(Line("20560", modifiers=("GX",)),))
MEDICARE_DC_OK = dict(payer_type="medicare", payer_name="Medicare Part B", lines=(Line("20560", modifiers=("GY",)),))
DC_ELIGIBLE = decided(rule=replace(CO, profession="DC"), profession="DC")


# --- counting muscles --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "muscles, count",
    [
        ((), 0),
        ((TRAP_L,), 1),
        ((TRAP_L, Muscle("  upper   TRAPEZIUS ", "Left")), 1),  # listed twice, written differently
        ((Muscle("Upper trapezius", "bilateral"),), 2),
        ((Muscle("Upper trapezius", "bilateral"), TRAP_L), 2),  # left already in bilateral
        ((Muscle("Multifidus", "midline"), Muscle("Multifidus", "left")), 2),
        ((TRAP_L, LEVATOR_L, Muscle("Infraspinatus", "right")), 3),
        ((Muscle("Upper trapezius", "front"), Muscle("", "left")), 0),  # not countable
    ],
)
def test_distinct_muscles(muscles, count):
    assert distinct_muscles(muscles) == count


@pytest.mark.parametrize("count, code", [(0, None), (1, "20560"), (2, "20560"), (3, "20561"), (12, "20561")])
def test_code_for(count, code):
    assert code_for(count) == code


# --- outcomes ----------------------------------------------------------------------------------
def test_a_clean_visit_is_allowed_as_submitted():
    v = visit(lines=(Line("20560"), Line("97110")))
    result = run(v)
    assert (result.outcome, result.allowed, result.edits) == (ALLOW, True, ())
    assert (result.computed_code, result.distinct_muscles, result.billable_lines) == ("20560", 1, v.lines)


def test_warnings_alone_allow_with_warnings():
    result = run(visit(plan_of_care_on_file=False))
    assert (result.outcome, result.allowed, [e.code for e in result.edits]) == (ALLOW_WITH_WARNINGS, True, ["no_plan_of_care"])
    assert result.billable_lines == visit().lines


def test_infos_alone_allow():
    result = run(visit(payer_name="Paramount Advantage"))
    assert (result.outcome, [(e.code, e.severity) for e in result.edits]) == (ALLOW, [("payer_policy", INFO)])


def test_a_block_keeps_every_line_back():
    result = run(visit(consent_on_file=False))
    assert (result.outcome, result.allowed, result.billable_lines) == (BLOCKED, False, ())


def test_edits_come_blocks_first_then_warns_then_infos():
    result = run(visit(consent_on_file=False, plan_of_care_on_file=False, payer_name="Paramount"), decision=decided(reasons=[Gap("no_training_figure", "No figure.")]))
    assert [e.severity for e in result.edits] == [BLOCK, WARN, INFO, INFO]


def test_the_order_of_lines_muscles_and_diagnoses_does_not_matter():
    v = visit(
        muscles=(*THREE, Muscle("Infraspinatus", "right"), Muscle("bad", "front")),
        lines=(Line("20560", units=2), Line("97140"), Line("99213"), Line("20552", muscles=(LEVATOR_L,)), Line("20561")),
        diagnoses=("M79.18", "bad", "G89.29", "also bad"), payer_type="medicare", consent_on_file=False,
    )
    expected = run(v).edits
    rng = random.Random(7)
    for _ in range(5):
        shuffled = replace(v, muscles=tuple(rng.sample(v.muscles, len(v.muscles))), lines=tuple(rng.sample(v.lines, len(v.lines))), diagnoses=tuple(rng.sample(v.diagnoses, len(v.diagnoses))))
        assert run(shuffled).edits == expected


# --- every edit: a case that fires it, a case that does not ------------------------------------
# (code, severity, what fires it, what does not fire it at that severity); each "what" is the
# keyword arguments of ``scenario``: visit fields, plus decision / profession / tables.
THREE_MUSCLES_20561 = dict(muscles=THREE, lines=(Line("20561"),))
CASES = [
    ("unknown_provider", BLOCK, dict(decision=None), dict()),
    ("eligibility_mismatch", BLOCK, dict(decision=decided(jurisdiction="WA")), dict()),
    ("eligibility_mismatch", BLOCK, dict(decision=decided(day=date(2025, 6, 1))), dict()),
    ("not_eligible", BLOCK, dict(decision=decided(NOT_ELIGIBLE, reasons=[Gap("no_license", "No PT license in CO.")])), dict()),
    ("eligibility_needs_review", BLOCK, dict(decision=decided(NEEDS_REVIEW, rule=None, reasons=[Gap("no_rule_on_record", "No PT rule for CO.")])), dict()),
    ("eligibility_note", INFO, dict(decision=decided(reasons=[Gap("no_training_figure", "No figure.")])), dict()),
    ("payer_type_unknown", BLOCK, dict(payer_type="medicare advantage"), dict(payer_type=" Commercial ")),
    ("muscle_invalid", BLOCK, dict(muscles=(TRAP_L, Muscle("Levator scapulae", "front"))), dict(muscles=(TRAP_L, Muscle("Levator scapulae", "LEFT")))),
    ("units_invalid", BLOCK, dict(lines=(Line("20560", units=0),)), dict()),
    ("no_muscle_documented", BLOCK, dict(muscles=()), dict()),
    ("muscle_count_mismatch", BLOCK, dict(muscles=THREE), THREE_MUSCLES_20561),
    ("muscle_count_mismatch", BLOCK, dict(lines=(Line("20561"),)), dict()),
    ("both_codes_billed", BLOCK, dict(lines=(Line("20560"), Line("20561"))), dict()),
    ("units_exceed_limit", BLOCK, dict(lines=(Line("20560", units=2),)), dict()),
    ("units_exceed_limit", BLOCK, dict(lines=(Line("20560"), Line("20560"))), dict()),  # per date of service
    ("no_dry_needling_line", BLOCK, dict(lines=(Line("97110"),)), dict(lines=(Line("97810"),))),
    ("no_consent", BLOCK, dict(consent_on_file=False), dict()),
    ("no_referral", BLOCK, dict(decision=decided(rule=replace(CO, referral_required=True))), dict(referral_on_file=True, decision=decided(rule=replace(CO, referral_required=True)))),
    ("no_referral", BLOCK, dict(decision=decided(rule=replace(CO, referral_required=True))), dict(decision=decided(rule=replace(CO, referral_required=None)))),
    ("no_plan_of_care", WARN, dict(plan_of_care_on_file=False), dict()),
    ("no_reassessment", WARN, dict(reassessment_done=False), dict()),
    ("trigger_point_injection", BLOCK, dict(lines=(Line("20560"), Line("20552", muscles=(Muscle("upper trapezius", "Bilateral"),)))), dict(lines=(Line("20560"), Line("20552", muscles=(Muscle("upper trapezius", "right"),))))),
    ("acupuncture_same_encounter", BLOCK, dict(lines=(Line("20560"), Line("97811"))), dict(lines=(Line("20560"), Line("97815")))),
    ("em_without_modifier_25", WARN, dict(lines=(Line("20560"), Line("99213"))), dict(lines=(Line("20560"), Line("99213", modifiers=("25",))))),
    ("dry_needling_coded_as_other", WARN, dict(lines=(Line("20560"), Line("97140"))), dict(muscles=(), lines=(Line("97140"),))),
    ("dry_needling_coded_as_other", WARN, dict(lines=(Line("20560"), Line("97140"))), dict(day=date(2019, 12, 31), lines=(Line("20560"), Line("97140")))),
    ("medicare_pt_no_abn", BLOCK, {**MEDICARE_PT_OK, "abn_on_file": False}, MEDICARE_PT_OK),
    ("medicare_modifier_missing", BLOCK, {**MEDICARE_PT_OK, "lines": (Line("20560"),)}, MEDICARE_PT_OK),
    ("medicare_modifier_missing", BLOCK, dict(MEDICARE_DC_OK, lines=(Line("20560"),), decision=DC_ELIGIBLE, profession="DC"), dict(MEDICARE_DC_OK, decision=DC_ELIGIBLE, profession="DC")),
    ("payer_policy", WARN, dict(payer_name="Aetna Choice POS II"), dict(payer_name="Aetna Choice POS II", day=date(2025, 4, 1))),
    ("diagnosis_malformed", BLOCK, dict(diagnoses=("M79.18", "M79-18")), dict(diagnoses=("M79.18", "m62.830", "G89.29", "M7918", "M79"))),
    ("abn_does_not_cover_ncci", INFO, {**MEDICARE_PT_OK, "lines": (Line("20560", units=2, modifiers=("GX",)),)}, {**MEDICARE_PT_OK, "abn_on_file": False, "lines": (Line("20560", units=2, modifiers=("GX",)),)}),
]


def scenario(decision=ELIGIBLE_IN_CO, profession="PT", tables=None, **visit_changes):
    return run(visit(**visit_changes), decision=decision, profession=profession, tables=tables)


@pytest.mark.parametrize("code, severity, fires, quiet", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_the_edit_fires(code, severity, fires, quiet):
    edits = found(scenario(**fires), code)
    assert edits and {e.severity for e in edits} == {severity}
    assert all(e.message and e.source for e in edits)


@pytest.mark.parametrize("code, severity, fires, quiet", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_the_edit_stays_quiet(code, severity, fires, quiet):
    # quiet at that severity: a trigger-point injection in another muscle still warns
    assert [e for e in found(scenario(**quiet), code) if e.severity == severity] == []


# --- what the edits say ------------------------------------------------------------------------
def test_the_muscle_count_mismatch_names_the_figures():
    [edit] = found(run(visit(muscles=THREE)), "muscle_count_mismatch")
    assert edit.message == "3 distinct muscles are documented: the code is 20561, not 20560."
    assert (edit.line_code, edit.fix) == ("20560", "Bill 20561, or correct the muscles in the note.")
    assert "[C1]" in edit.source


def test_each_eligibility_reason_is_carried_over_with_the_rule_cited():
    reasons = [Gap("no_license", "No PT license in CO."), Gap("training_hours_short", "Dry-needling training: 20 hours, CO requires 50."), Gap("no_training_figure", "No figure.")]
    result = run(decision=decided(NOT_ELIGIBLE, reasons=reasons))
    blocks = found(result, "not_eligible")
    assert [(e.reason_code, e.message) for e in blocks] == [
        ("no_license", "Not eligible to dry-needle in CO on 2025-06-02: No PT license in CO."),
        ("training_hours_short", "Not eligible to dry-needle in CO on 2025-06-02: Dry-needling training: 20 hours, CO requires 50."),
    ]
    assert {(e.source, e.source_url, e.source_urls) for e in blocks} == {("4 CCR 732-1", "https://co.example/rule", ("https://co.example/rule", "https://co.example/more"))}
    assert [e.reason_code for e in found(result, "eligibility_note")] == ["no_training_figure"]


def test_a_reason_time_will_fix_says_when():
    gap = Gap("licensed_too_few_years", "CO requires 2 years.", met_from=date(2026, 1, 1))
    [edit] = found(run(decision=decided(NOT_ELIGIBLE, reasons=[gap])), "not_eligible")
    assert "eligible from 2026-01-01" in edit.fix


def test_needs_review_without_a_rule_cites_no_rule_on_record():
    [edit] = found(run(decision=decided(NEEDS_REVIEW, rule=None, reasons=[Gap("no_rule_on_record", "No PT rule for CO on record.")])), "eligibility_needs_review")
    assert (edit.source, edit.reason_code) == ("no rule on record", "no_rule_on_record")
    assert "No PT rule for CO on record." in edit.message


def test_consent_cites_colorado_and_the_state_rule_that_requires_it():
    [plain] = found(run(visit(consent_on_file=False)), "no_consent")
    assert "[P6]" in plain.source and "4 CCR 732-1;" not in plain.source
    [state] = found(run(visit(consent_on_file=False), decision=decided(rule=replace(CO, written_consent_required=True))), "no_consent")
    assert state.source.startswith("4 CCR 732-1; ") and "[P6]" in state.source
    assert "The CO rule in force requires it" in state.message and state.source_url == "https://co.example/rule"


def test_a_referral_edit_cites_the_state_rule():
    [edit] = found(run(decision=decided(rule=replace(CO, referral_required=True))), "no_referral")
    assert (edit.source, edit.source_url) == ("4 CCR 732-1", "https://co.example/rule")


def test_medicare_pt_without_abn_says_never_covered_and_how_to_bill():
    result = run(visit(**{**MEDICARE_PT_OK, "abn_on_file": False}))
    [edit] = found(result, "medicare_pt_no_abn")
    assert "never covered by Medicare" in edit.message and "2020 Physician Fee Schedule" in edit.message
    assert "ABN" in edit.fix and "GX" in edit.fix and "[C1]" in edit.source
    assert found(result, "medicare_modifier_missing") == []  # the ABN comes first


def test_medicare_pt_with_abn_and_gx_goes_out_as_patient_responsibility():
    result = run(visit(**MEDICARE_PT_OK))
    assert result.outcome == ALLOW
    [edit] = found(result, "payer_policy")
    assert edit.severity == INFO and edit.rule_id == "CMS PFS 2020 final rule"


def test_medicare_chiropractor_needs_gy_not_an_abn():
    result = run(visit(**{**MEDICARE_DC_OK, "lines": (Line("20560"),)}), decision=DC_ELIGIBLE, profession="DC")
    [edit] = found(result, "medicare_modifier_missing")
    assert "42 CFR 410.21(b)" in edit.message and edit.line_code == "20560" and "GY" in edit.fix
    assert not [e for e in result.edits if e.code.endswith("no_abn")]


def test_the_profession_falls_back_to_the_decision():
    result = run(visit(**{**MEDICARE_PT_OK, "abn_on_file": False}), profession=None)
    assert found(result, "medicare_pt_no_abn")


def test_a_commercial_policy_warns_with_its_id_and_source():
    [edit] = found(run(visit(payer_name="Aetna")), "payer_policy")
    assert edit.message.startswith("Aetna CPB 0135 considers dry needling experimental/investigational; likely denial")
    assert (edit.severity, edit.rule_id) == (WARN, "CPB 0135") and "[C18]" in edit.source


def test_an_unconfirmed_policy_says_so():
    [edit] = found(run(visit(payer_name="Cigna")), "payer_policy")
    assert edit.severity == WARN and "Unconfirmed" in edit.message


def test_an_unconfirmed_policy_never_blocks_even_if_a_row_says_block():
    policy = PayerPolicy("Acme", "A-1", "not_covered", BLOCK, "Acme does not pay.", "src", aliases=("acme",), confirmed=False)
    [edit] = found(run(tables=EditTables(payer_policies=(policy,))), "payer_policy")
    assert edit.severity == WARN


def test_policies_for_payers_are_not_applied_to_a_visit_without_dry_needling():
    result = run(visit(muscles=(), lines=(Line("97110"),), payer_name="Aetna"))
    assert found(result, "payer_policy") == []


# --- code pairs --------------------------------------------------------------------------------
def test_trigger_point_injection_same_muscle_blocks_naming_it():
    v = visit(lines=(Line("20560"), Line("20553", muscles=(Muscle("Upper Trapezius", "left"), LEVATOR_L))))
    [edit] = found(run(v), "trigger_point_injection")
    assert edit.severity == BLOCK and edit.line_code == "20553" and edit.rule_id == "G-20"
    assert "same muscle(s): upper trapezius (left)." in edit.message and "Unconfirmed" in edit.message


@pytest.mark.parametrize(
    "injected, words",
    [((LEVATOR_L,), "for other muscles (levator scapulae (left))"), ((), "lists no muscles")],
)
def test_trigger_point_injection_elsewhere_or_unknown_warns(injected, words):
    [edit] = found(run(visit(lines=(Line("20560"), Line("20552", muscles=injected)))), "trigger_point_injection")
    assert edit.severity == WARN and words in edit.message


def test_acupuncture_reports_the_encounter_instead_of_dry_needling():
    [edit] = found(run(visit(lines=(Line("20560"), Line("97810"), Line("97811")))), "acupuncture_same_encounter")
    assert (edit.severity, edit.line_code) == (BLOCK, "20560")
    assert edit.fix == "Remove the 20560 line; report 97810, 97811 only."
    quiet = run(visit(lines=(Line("97810"),)))
    assert quiet.outcome == ALLOW and [(e.code, e.severity) for e in quiet.edits] == [("acupuncture_same_encounter", INFO)]


def table_with(*, pairs=(), limits=()):
    return EditTables(code_pairs=tuple(pairs), unit_limits=tuple(limits))


def pair(action, other="97140", dn="20560|20561", modifier=""):
    return CodePair("G-99", "test_pair", CodeSet.parse(dn) if dn else None, CodeSet.parse(other), action, "Test message.", "Test source", modifier=modifier)


@pytest.mark.parametrize(
    "row, lines, expected",
    [
        (pair("block"), (Line("20560"), Line("97140")), [BLOCK]),
        (pair("info"), (Line("20560"), Line("97140")), [INFO]),
        (pair("block"), (Line("20560"), Line("97110")), []),
        (pair("block", dn="20561"), (Line("20560"), Line("97140")), []),  # only with 20561
        (pair("block", dn=None), (Line("20560"), Line("97140")), [BLOCK]),  # any documented needling
        (pair("block_unless_modifier", modifier="59"), (Line("20560"), Line("97140")), [BLOCK]),
        (pair("block_unless_modifier", modifier="59"), (Line("20560"), Line("97140", modifiers=(" 59",))), []),
    ],
)
def test_code_pair_actions(row, lines, expected):
    result = run(visit(lines=lines), tables=table_with(pairs=[row]))
    assert [e.severity for e in found(result, "test_pair")] == expected


def test_code_pairs_apply_only_on_the_days_they_are_in_force():
    row = replace(pair("block"), effective_from=date(2025, 6, 3))
    lines = (Line("20560"), Line("97140"))
    assert found(run(visit(lines=lines), tables=table_with(pairs=[row])), "test_pair") == []
    assert found(run(visit(lines=lines, day=date(2025, 6, 3)), decision=decided(day=date(2025, 6, 3)), tables=table_with(pairs=[row])), "test_pair")


@pytest.mark.parametrize(
    "per, lines, fired",
    [
        ("line", (Line("20560", units=2),), 1),
        ("line", (Line("20560"), Line("20560")), 0),  # one unit on each line
        ("date_of_service", (Line("20560"), Line("20560")), 1),
    ],
)
def test_unit_limits_per_line_or_per_date_of_service(per, lines, fired):
    limit = UnitLimit("20560", 1, per, WARN, "Once.", "Test source")
    assert len(found(run(visit(lines=lines), tables=table_with(limits=[limit])), "units_exceed_limit")) == fired


def test_the_unit_limit_names_the_figures():
    [edit] = found(run(visit(lines=(Line("20560", units=3),))), "units_exceed_limit")
    assert edit.message.startswith("20560 is billed for 3 units; at most 1 per date of service.")
    assert (edit.line_code, edit.rule_id) == ("20560", "20560/date_of_service") and "[C23c]" in edit.source


def test_no_muscle_means_no_code_and_nothing_to_compare():
    result = run(visit(muscles=(), lines=(Line("20561"),)))
    assert (result.computed_code, result.distinct_muscles) == (None, 0)
    assert [e.code for e in result.edits] == ["no_muscle_documented"]


def test_a_malformed_diagnosis_is_named():
    [edit] = found(run(visit(diagnoses=("M79.18", "79.1"))), "diagnosis_malformed")
    assert edit.message.startswith("'79.1' is not an ICD-10-CM code")
