"""The coding gate's edit tables (data/payer_policies.csv, code_pairs.csv, unit_limits.csv):
the shipped files load, effective dating works, and a bad file is refused naming the file,
the line and the column. No app, no database."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import pytest

from registry.coding.tables import (
    BLOCK,
    CODE_PAIRS_FILE,
    DATA_DIR,
    PAYER_POLICIES_FILE,
    UNIT_LIMITS_FILE,
    CodeSet,
    EditTables,
    PayerPolicy,
    TableError,
    UnitLimit,
    default_tables,
    load_tables,
)

FILES = (PAYER_POLICIES_FILE, CODE_PAIRS_FILE, UNIT_LIMITS_FILE)


# --- the shipped files -------------------------------------------------------------------------
def test_the_shipped_files_load():
    tables = load_tables(DATA_DIR)
    assert {p.policy_id for p in tables.payer_policies} == {
        "CMS PFS 2020 final rule", "42 CFR 410.21(b)", "CPB 0135", "0139",
        "Rehabilitative PT/OT/ST guideline", "08.01.31", "2.01.100", "PG0465",
        "TRICARE no-pay list", "AmeriHealth MA acupuncture policy",
    }
    assert [r.edit_id for r in tables.code_pairs] == ["G-20", "G-21", "G-23", "G-24"]
    assert [(u.code, u.max_units, u.per) for u in tables.unit_limits] == [("20560", 1, "date_of_service"), ("20561", 1, "date_of_service")]


def test_default_tables_are_the_shipped_files_read_once():
    assert default_tables() == load_tables(DATA_DIR)
    assert default_tables() is default_tables()


def test_every_shipped_row_carries_its_source_and_dates():
    tables = default_tables()
    for row in (*tables.payer_policies, *tables.code_pairs, *tables.unit_limits):
        assert row.source and row.source_urls and row.effective_from and row.last_checked, row


def test_no_payer_policy_without_a_source_and_no_unconfirmed_block():
    policies = default_tables().payer_policies
    assert not any("united" in alias or "uhc" in alias for p in policies for alias in p.aliases)
    assert all(p.confirmed for p in policies if p.severity == BLOCK)


def test_medicare_rows_demand_abn_and_gx_from_a_pt_and_gy_from_a_chiropractor():
    medicare = {p.profession: p for p in default_tables().payer_policies if p.payer_type == "medicare"}
    assert (medicare["PT"].requires_abn, medicare["PT"].required_modifier) == (True, "GX")
    assert (medicare["DC"].requires_abn, medicare["DC"].required_modifier) == (False, "GY")


# --- code sets and dates -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, inside, outside",
    [
        ("20560|20561", ["20560", "20561", " 20561 "], ["20562", "2056", ""]),
        ("97810-97814", ["97810", "97812", "97814"], ["97809", "97815", "9781"]),
        ("99202-99205|99211-99215", ["99203", "99211", "99215"], ["99201", "99210", "99216"]),
        ("G0281-G0283", ["G0282", "g0282"], ["G0284", "H0282", "00282"]),
    ],
)
def test_code_sets(text, inside, outside):
    codes = CodeSet.parse(text)
    assert all(c in codes for c in inside)
    assert not any(c in codes for c in outside)


def test_a_code_range_expands_for_messages():
    assert CodeSet.parse("97810-97812|20999").all_codes() == ("20999", "97810", "97811", "97812")


@pytest.mark.parametrize("text", ["", "20560|", "2056", "97814-97810", "9781-97814", "G0281-H0283", "20560,20561"])
def test_bad_code_sets_are_refused(text):
    with pytest.raises(ValueError):
        CodeSet.parse(text)


def test_in_force_from_inclusive_to_exclusive():
    limit = UnitLimit("20560", 1, "line", BLOCK, "m", "s", effective_from=date(2020, 1, 1), effective_to=date(2021, 1, 1))
    assert [limit.in_force(d) for d in (date(2019, 12, 31), date(2020, 1, 1), date(2020, 12, 31), date(2021, 1, 1))] == [False, True, True, False]
    open_ended = UnitLimit("20560", 1, "line", BLOCK, "m", "s", effective_from=date(2020, 1, 1))
    assert open_ended.in_force(date(2099, 1, 1))


def test_edit_tables_in_force_keeps_only_the_rows_of_the_day():
    old = UnitLimit("20560", 2, "line", BLOCK, "m", "s", effective_from=date(2020, 1, 1), effective_to=date(2021, 1, 1))
    new = UnitLimit("20560", 1, "line", BLOCK, "m", "s", effective_from=date(2021, 1, 1))
    tables = EditTables(unit_limits=(old, new))
    assert tables.in_force(date(2020, 6, 1)).unit_limits == (old,)
    assert tables.in_force(date(2021, 6, 1)).unit_limits == (new,)


@pytest.mark.parametrize(
    "payer_name, matches",
    [("Aetna", True), ("AETNA Choice POS II", True), ("  aetna   health ", True), ("Vaetna", False), ("Cigna", False), ("", False)],
)
def test_payer_aliases_match_whole_words_case_insensitively(payer_name, matches):
    policy = PayerPolicy("Aetna", "CPB 0135", "experimental", "warn", "m", "s", aliases=("aetna",))
    assert policy.matches("commercial", payer_name, "PT") is matches


def test_payer_type_and_profession_narrow_a_policy():
    policy = PayerPolicy("Medicare", "X", "not_covered", BLOCK, "m", "s", payer_type="medicare", profession="PT")
    assert policy.matches("medicare", "anything", "PT")
    assert not policy.matches("medicare", "anything", "DC")
    assert not policy.matches("commercial", "anything", "PT")


# --- malformed files ---------------------------------------------------------------------------
@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    for name in FILES:
        shutil.copy(DATA_DIR / name, tmp_path / name)
    return tmp_path


def rewrite(path: Path, change) -> None:
    """Apply ``change(header, rows)`` to a CSV file (rows are dicts; line N is rows[N - 2])."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header, rows = list(reader.fieldnames), list(reader)
    header = change(header, rows) or header
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, header, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def set_cell(line: int, column: str, value: str):
    def change(header, rows):
        rows[line - 2][column] = value

    return change


@pytest.mark.parametrize(
    "name, line, column, value, message",
    [
        (CODE_PAIRS_FILE, 2, "effective_from", "2020-13-01", "'2020-13-01' is not a date in the form YYYY-MM-DD"),
        (CODE_PAIRS_FILE, 3, "effective_from", "", "is required"),
        (CODE_PAIRS_FILE, 3, "action", "blok", "'blok' must be one of: block, warn"),
        (CODE_PAIRS_FILE, 2, "source", "  ", "is required"),
        (CODE_PAIRS_FILE, 2, "source_url", "papercapture.com.br", "is not an http(s) URL"),
        (CODE_PAIRS_FILE, 2, "other_codes", "9781-97814", "is not a range of two 5-character codes"),
        (CODE_PAIRS_FILE, 2, "dry_needling", "97140", "must be 'documented' or dry-needling codes"),
        (CODE_PAIRS_FILE, 4, "modifier", "", "needs the modifier that lifts the edit"),
        (CODE_PAIRS_FILE, 2, "modifier", "25", "must be empty"),
        (CODE_PAIRS_FILE, 3, "dry_needling", "documented", "concerns the 20560/20561 line"),
        (CODE_PAIRS_FILE, 2, "confirmed", "maybe", "'maybe' must be yes or no"),
        (CODE_PAIRS_FILE, 2, "edit_id", "20", "is not of the form G-20"),
        (PAYER_POLICIES_FILE, 4, "severity", "stop", "'stop' must be one of: block, warn, info"),
        (PAYER_POLICIES_FILE, 4, "position", "maybe", "'maybe' must be one of: not_covered"),
        (PAYER_POLICIES_FILE, 4, "payer_type", "hmo", "'hmo' must be one of: medicare"),
        (PAYER_POLICIES_FILE, 4, "profession", "MD", "'MD' must be one of: PT, DC"),
        (PAYER_POLICIES_FILE, 4, "effective_to", "2025-04-01", "2025-04-01 must be after effective_from 2025-04-02"),
        (PAYER_POLICIES_FILE, 4, "effective_to", "2025-04-02", "must be after effective_from"),
        (PAYER_POLICIES_FILE, 5, "severity", "block", "an unconfirmed policy (confirmed = no) may not block"),
        (PAYER_POLICIES_FILE, 4, "aliases", "", "otherwise the row would match every payer"),
        (PAYER_POLICIES_FILE, 4, "aliases", "aetna||aetna health", "has an empty alias"),
        (PAYER_POLICIES_FILE, 2, "required_modifier", "GXX", "is not of the form two letters or digits"),
        (PAYER_POLICIES_FILE, 2, "last_checked", "27/11/2026", "is not a date in the form YYYY-MM-DD"),
        (UNIT_LIMITS_FILE, 3, "severity", "fatal", "'fatal' must be one of: block, warn, info"),
        (UNIT_LIMITS_FILE, 2, "max_units", "0", "must be a whole number from 1 to 999"),
        (UNIT_LIMITS_FILE, 2, "per", "day", "'day' must be one of: date_of_service, line"),
        (UNIT_LIMITS_FILE, 2, "code", "2056", "is not of the form a 5-character CPT/HCPCS code"),
    ],
)
def test_a_bad_cell_is_refused_naming_file_line_and_column(data_dir, name, line, column, value, message):
    rewrite(data_dir / name, set_cell(line, column, value))
    with pytest.raises(TableError) as caught:
        load_tables(data_dir)
    error = caught.value
    assert error.path.name == name
    assert [(e.line, e.field) for e in error.errors] == [(line, column)]
    assert message in error.errors[0].message
    assert str(error).startswith(f"{name}: line {line}, {column}: ")


def test_every_bad_line_is_reported_not_just_the_first(data_dir):
    def change(header, rows):
        rows[0]["action"] = "stop"
        rows[2]["effective_from"] = "someday"

    rewrite(data_dir / CODE_PAIRS_FILE, change)
    with pytest.raises(TableError) as caught:
        load_tables(data_dir)
    assert [(e.line, e.field) for e in caught.value.errors] == [(2, "action"), (4, "effective_from")]


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda header, rows: [*header, "colour"], [(1, "colour", "unknown column")]),
        (lambda header, rows: [h for h in header if h != "source"], [(1, "source", "required column is missing")]),
    ],
)
def test_the_header_must_have_exactly_the_columns(data_dir, change, expected):
    rewrite(data_dir / UNIT_LIMITS_FILE, change)
    with pytest.raises(TableError) as caught:
        load_tables(data_dir)
    assert caught.value.path.name == UNIT_LIMITS_FILE
    assert [(e.line, e.field, e.message) for e in caught.value.errors] == expected


def test_two_versions_of_a_row_in_force_together_are_refused(data_dir):
    def change(header, rows):
        rows.append({**rows[0], "effective_from": "2024-01-01"})

    rewrite(data_dir / UNIT_LIMITS_FILE, change)
    with pytest.raises(TableError) as caught:
        load_tables(data_dir)
    [error] = caught.value.errors
    assert (error.line, error.field) == (4, "effective_from")
    assert "also in force on line 2" in error.message


def test_successive_versions_of_a_row_are_accepted(data_dir):
    def change(header, rows):
        rows[0]["effective_to"] = "2024-01-01"
        rows.append({**rows[0], "max_units": "2", "effective_from": "2024-01-01", "effective_to": ""})

    rewrite(data_dir / UNIT_LIMITS_FILE, change)
    limits = [u for u in load_tables(data_dir).unit_limits if u.code == "20560"]
    assert [(u.max_units, u.in_force(date(2023, 12, 31)), u.in_force(date(2024, 1, 1))) for u in limits] == [(1, True, False), (2, False, True)]


def test_a_ragged_row_is_refused_with_its_line(data_dir):
    path = data_dir / UNIT_LIMITS_FILE
    path.write_text(path.read_text(encoding="utf-8") + "20552,1,line\n", encoding="utf-8")
    with pytest.raises(TableError) as caught:
        load_tables(data_dir)
    assert [(e.line, e.field) for e in caught.value.errors] == [(4, "row")]


def test_a_missing_file_is_named(data_dir):
    (data_dir / CODE_PAIRS_FILE).unlink()
    with pytest.raises(TableError) as caught:
        load_tables(data_dir)
    assert str(caught.value).startswith(f"{CODE_PAIRS_FILE}: file: cannot be read")
