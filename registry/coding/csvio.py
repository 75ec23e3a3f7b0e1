"""The coding gate's CSV files: the visits a biller uploads and the results sent back, the
record of checks for auditors, and the billable lines for the billing system (the formats are
in docs/data-dictionary.md, "Visit CSV upload and results CSV" and "Billable lines CSV").

A visits file has one row per visit::

    npi,jurisdiction,date,payer_type,payer_name,muscles,lines,diagnoses,consent_on_file,...
    1000001010,WA,2025-03-14,commercial,Acme Health,upper trapezius:bilateral; levator scapulae:left,20561,M79.18,yes,...

Three cells have a small syntax of their own, shared with the "Code a visit" page (which
reads its free-text inputs with the same parsers):

* muscles: ``name:side`` items separated by ``;`` (or ``,``), side one of ``gate.SIDES``;
* lines: items separated by ``;``, each ``CODE[xUNITS][:MODIFIERS][ (MUSCLES)]``, e.g.
  ``20561``, ``97140x2:GP GX`` or ``20552:59 (gluteus medius:left, piriformis:right)``: the
  muscles in brackets are the ones injected on a 20552/20553 line, separated by commas;
* diagnoses: ICD-10-CM codes separated by spaces or commas.

Reading is strict and all or nothing: every bad cell is reported as ``line N, column:
message``, and a file with any bad row yields no visit. What is a fact about the visit rather
than a malformed cell (an NPI not in the registry, a diagnosis code of the wrong shape, the
wrong code for the muscles) is left to the gate, which records the visit as blocked and says
why, exactly as for the JSON API.

Every cell written is formula-escaped (:func:`registry.csvkit.escape_cell`).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Callable, Iterable, Sequence

from registry.coding import gate
from registry.coding.models import BillableLine, CodingCheck
from registry.coding.schemas import CODE, MAX_DIAGNOSES, MAX_LINES, MAX_MODIFIERS, MAX_MUSCLES
from registry.coding.services import MAX_VISITS, CheckOutcome
from registry.csvkit import (
    RowError,
    check_columns,
    clean_rows,
    escape_cell,
    open_reader,
    plain_cell,
)
from registry.providers.npi import npi_problem
from registry.rules.reference import JURISDICTIONS

__all__ = [
    "CHECK_COLUMNS", "LINE_COLUMNS", "MAX_UPLOAD_BYTES", "RESULT_COLUMNS", "SAMPLE", "VISIT_COLUMNS",
    "VisitFile", "VisitRow", "parse_code", "parse_diagnoses", "parse_lines", "parse_modifiers",
    "parse_muscles", "read_visits", "write_checks", "write_lines", "write_results",
]

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "visits.csv"
#: the largest visits file accepted: 10,000 visits of a few hundred bytes each fit easily
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
FLAGS = ("consent_on_file", "plan_of_care_on_file", "reassessment_done", "abn_on_file", "referral_on_file")
VISIT_COLUMNS = ("npi", "jurisdiction", "date", "payer_type", "payer_name", "muscles", "lines", "diagnoses", *FLAGS)
RESULT_COLUMNS = ("check_id", "outcome", "computed_code", "eligibility", "edits")
CHECK_COLUMNS = (
    "check_id", "checked_at", "actor", "channel", "npi", "jurisdiction", "date_of_service",
    "payer_type", "payer_name", "outcome", "computed_code", "distinct_muscles", "eligibility",
    "rule_version_id", "rule_citation", "edit_codes",
)
LINE_COLUMNS = (
    "line_id", "check_id", "rendering_npi", "jurisdiction", "date_of_service", "payer_type",
    "payer_name", "cpt_code", "units", "modifiers", "diagnoses", "released_at", "released_by",
)

_JURISDICTIONS = frozenset(code for code, _, _ in JURISDICTIONS)
_CODE = re.compile(CODE)
_MODIFIER = re.compile(r"^[0-9A-Z]{2}\Z")
#: CODE[xUNITS][:MODIFIERS], once the injected muscles in brackets are taken off
_LINE = re.compile(r"^(?P<code>[0-9A-Z]{5})(?:\s*X\s*(?P<units>[0-9]+))?\s*(?::(?P<modifiers>[0-9A-Z ,]*))?$")
_MUSCLES_IN_BRACKETS = re.compile(r"\((?P<muscles>[^()]*)\)\s*$")


# --- the cells' own syntax (also read by the "Code a visit" page) -----------------------------
def parse_muscles(text: str, *, limit: int = MAX_MUSCLES) -> tuple[gate.Muscle, ...]:
    """``"upper trapezius:bilateral; levator scapulae:left"`` -> muscles. Empty items are
    skipped; raises ValueError naming the item at fault."""
    muscles = []
    for item in re.split(r"[;,]", text):
        item = item.strip()
        if not item:
            continue
        name, colon, side = item.rpartition(":")
        name, side = name.strip(), side.strip().lower()
        if not colon:
            raise ValueError(f"'{item}' has no side: write name:side, the side one of {', '.join(gate.SIDES)}.")
        if not name:
            raise ValueError(f"'{item}' has no muscle name before the colon.")
        if side not in gate.SIDES:
            raise ValueError(f"'{item}': the side must be one of {', '.join(gate.SIDES)}.")
        if len(name) > 100:
            raise ValueError(f"'{name[:20]}…' is longer than 100 characters.")
        muscles.append(gate.Muscle(name, side))
    if len(muscles) > limit:
        raise ValueError(f"{len(muscles)} muscles; at most {limit}.")
    return tuple(muscles)


def parse_modifiers(text: str) -> tuple[str, ...]:
    """``"GP GX"`` (spaces or commas) -> ("GP", "GX"); raises ValueError."""
    modifiers = tuple(m for m in re.split(r"[\s,]+", text.strip().upper()) if m)
    for modifier in modifiers:
        if not _MODIFIER.match(modifier):
            raise ValueError(f"'{modifier}' is not a modifier: two letters or digits, such as GP or 59.")
    if len(modifiers) > MAX_MODIFIERS:
        raise ValueError(f"{len(modifiers)} modifiers; at most {MAX_MODIFIERS} on a line.")
    return modifiers


def parse_units(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 99:
        raise ValueError(f"units must be a whole number from 1 to 99, not '{text}'.")
    return int(text)


def parse_code(text: str) -> str:
    code = text.strip().upper()
    if not _CODE.match(code):
        raise ValueError(f"'{text.strip()}' is not a CPT or HCPCS code such as 20561 or 97140.")
    return code


def parse_line(item: str) -> gate.Line:
    """One claim line: ``CODE[xUNITS][:MODIFIERS][ (MUSCLE:SIDE, ...)]``."""
    head, muscles = item.strip(), ()
    bracket = _MUSCLES_IN_BRACKETS.search(head)
    if bracket:
        head = head[: bracket.start()].strip()
        try:
            muscles = parse_muscles(bracket["muscles"])
        except ValueError as exc:
            raise ValueError(f"'{item.strip()}': {exc}") from None
    match = _LINE.match(head.upper())
    if not match:
        raise ValueError(f"'{item.strip()}' is not a claim line: write CODE, CODExUNITS or CODE:MODIFIERS, e.g. 20561 or 97140x2:GP GX.")
    try:
        code = parse_code(match["code"])
        units = parse_units(match["units"]) if match["units"] else 1
        modifiers = parse_modifiers(match["modifiers"] or "")
    except ValueError as exc:
        raise ValueError(f"'{item.strip()}': {exc}") from None
    return gate.Line(code, units, modifiers, muscles)


def parse_lines(text: str) -> tuple[gate.Line, ...]:
    """``"20561; 97140:GP GX"`` -> lines; at least one. Raises ValueError."""
    lines = tuple(parse_line(item) for item in text.split(";") if item.strip())
    if not lines:
        raise ValueError("give at least one claim line, e.g. 20561.")
    if len(lines) > MAX_LINES:
        raise ValueError(f"{len(lines)} claim lines; at most {MAX_LINES}.")
    return lines


def parse_diagnoses(text: str) -> tuple[str, ...]:
    """``"M79.18 M62.838"`` (spaces or commas) -> codes. Only the length is checked here: the
    gate judges the ICD-10-CM shape and says what is wrong (edit diagnosis_malformed)."""
    codes = tuple(c for c in re.split(r"[\s,;]+", text.strip().upper()) if c)
    for code in codes:
        if len(code) > 10:
            raise ValueError(f"'{code}' is longer than an ICD-10-CM code (at most 8 characters with the dot).")
    if len(codes) > MAX_DIAGNOSES:
        raise ValueError(f"{len(codes)} diagnosis codes; at most {MAX_DIAGNOSES}.")
    return codes


# --- the other cells of a visits file ---------------------------------------------------------
def _npi(text: str) -> str:
    npi = text.strip()
    problem = npi_problem(npi)
    if problem:
        raise ValueError(problem)
    return npi


def _jurisdiction(text: str) -> str:
    code = text.strip().upper()
    if code not in _JURISDICTIONS:
        raise ValueError(f"'{text.strip()}' is not a jurisdiction: use the USPS code where the patient was treated, such as WA, DC or PR.")
    return code


def _date(text: str) -> date:
    try:
        if len(text.strip()) != 10:
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text.strip()}' is not a date in the form YYYY-MM-DD.") from None


def _payer_type(text: str) -> str:
    value = text.strip().lower()
    if value not in gate.PAYER_TYPES:
        raise ValueError(f"'{text.strip()}' must be one of: {', '.join(gate.PAYER_TYPES)}.")
    return value


def _payer_name(text: str) -> str:
    if len(text.strip()) > 200:
        raise ValueError("is longer than 200 characters.")
    return text.strip()


def _yes_no(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("yes", "no", ""):
        raise ValueError(f"'{text.strip()}' must be yes, no or empty (empty means no).")
    return value == "yes"


_PARSERS: dict[str, Callable[[str], object]] = {
    "npi": _npi, "jurisdiction": _jurisdiction, "date": _date, "payer_type": _payer_type,
    "payer_name": _payer_name, "muscles": parse_muscles, "lines": parse_lines,
    "diagnoses": parse_diagnoses, **dict.fromkeys(FLAGS, _yes_no),
}


# --- reading a visits file ---------------------------------------------------------------------
@dataclass(frozen=True)
class VisitRow:
    line: int
    cells: dict[str, str]  # as read (formula escaping undone), for the results file
    visit: gate.Visit


@dataclass
class VisitFile:
    rows: list[VisitRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_visits(stream: IO[str]) -> VisitFile:
    """Parse every row of a visits file and collect every error. Pure: no database."""
    result = VisitFile()
    reader, header = open_reader(stream, result.errors)
    if reader is None:
        return result
    check_columns(header, VISIT_COLUMNS, result.errors, unknown=f"unknown column (the columns are {','.join(VISIT_COLUMNS)})")
    if result.errors:
        return result
    for count, (line, cells) in enumerate(clean_rows(reader, header, result.errors), start=1):
        if count > MAX_VISITS:
            result.errors.append(RowError(line, "row", f"more than {MAX_VISITS:,} visits; split the file"))
            break
        values, problems = {}, []
        for column in VISIT_COLUMNS:
            try:
                values[column] = _PARSERS[column](cells[column])
            except ValueError as exc:
                problems.append(RowError(line, column, str(exc)))
        if problems:
            result.errors.extend(problems)
            continue
        visit = gate.Visit(
            npi=values["npi"], jurisdiction=values["jurisdiction"], day=values["date"],
            payer_type=values["payer_type"], payer_name=values["payer_name"], muscles=values["muscles"],
            lines=values["lines"], diagnoses=values["diagnoses"], **{flag: values[flag] for flag in FLAGS},
        )
        result.rows.append(VisitRow(line, cells, visit))
    if result.ok and not result.rows:
        result.errors.append(RowError(2, "row", "the file has a header but no visit"))
    return result


# --- writing -----------------------------------------------------------------------------------
def _writer(stream: IO[str], columns: Sequence[str]):
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(columns)
    return writer


def _row(values: Iterable[object]) -> list[str]:
    return [escape_cell(_cell(v)) for v in values]


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")  # stored in UTC
    return plain_cell(value)


def write_results(stream: IO[str], rows: Sequence[VisitRow], outcomes: Sequence[CheckOutcome]) -> None:
    """The visits as uploaded, each followed by what the gate decided for it."""
    writer = _writer(stream, (*VISIT_COLUMNS, *RESULT_COLUMNS))
    for row, outcome in zip(rows, outcomes, strict=True):
        result, decision = outcome.result, outcome.decision
        edits = " | ".join(f"{e.severity}:{e.code}: {e.message}" for e in result.edits)
        writer.writerow(_row([
            *(row.cells[c] for c in VISIT_COLUMNS), outcome.check_id, result.outcome,
            result.computed_code, decision.outcome if decision else "", edits,
        ]))


def write_checks(stream: IO[str], checks: Iterable[CodingCheck]) -> None:
    writer = _writer(stream, CHECK_COLUMNS)
    for c in checks:
        codes = " ".join(dict.fromkeys(e["code"] for e in c.edits))
        writer.writerow(_row([
            c.id, c.checked_at, c.actor, c.channel, c.npi, c.jurisdiction_code, c.date_of_service,
            c.payer_type, c.payer_name, c.outcome, c.computed_code, c.distinct_muscles,
            c.eligibility_outcome, c.rule_version_id, c.rule_citation, codes,
        ]))


def write_lines(stream: IO[str], lines: Iterable[BillableLine]) -> None:
    writer = _writer(stream, LINE_COLUMNS)
    for ln in lines:
        writer.writerow(_row([
            ln.id, ln.check_id, ln.npi, ln.jurisdiction_code, ln.date_of_service, ln.payer_type,
            ln.payer_name, ln.code, ln.units, ln.modifiers, ln.diagnoses, ln.released_at, ln.released_by,
        ]))
