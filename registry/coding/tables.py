"""The coding gate's edit tables, read from three CSV files. Pure: no Flask, no database.

- ``data/payer_policies.csv``: what a payer says about dry needling (Medicare, commercial
  plans), with the ABN and modifier it demands;
- ``data/code_pairs.csv``: codes that conflict with 20560/20561 on the same visit (trigger-point
  injection, acupuncture, E/M, the pre-2020 workaround codes);
- ``data/unit_limits.csv``: the most units of a code per date of service or per line.

Every row carries its source, an effective-from date and the day it was last checked against
its source, as the research demands ("Edit tables change; CMS publishes NCCI PTP and MUE files
quarterly", coding_rules.md). ``confirmed`` says whether the fact was confirmed from a primary
source; an unconfirmed payer policy may never block (it may at most warn).

The files are read strictly: an unknown or missing column, a bad cell, an ``effective_to`` not
after ``effective_from`` or two versions of one row in force on the same day is refused with
:class:`TableError`, which names the file and every bad line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Callable, Iterable

from registry.csvkit import RowError, check_columns, clean_rows, open_reader

BLOCK, WARN, INFO = "block", "warn", "info"
SEVERITIES = (BLOCK, WARN, INFO)
PAYER_TYPES = ("medicare", "medicaid", "commercial", "workers_comp", "self_pay")
PROFESSIONS = ("PT", "DC")
#: the dry-needling codes since 2020-01-01 [C16]: 1-2 muscles, 3 or more muscles [C1]
DRY_NEEDLING_CODES = ("20560", "20561")

#: what a payer says about dry needling
POSITIONS = (
    "not_covered",  # the payer does not pay (Medicare PFS 2020 [C3]; a no-pay list)
    "statutorily_excluded",  # excluded by statute (chiropractors under 42 CFR 410.21(b) [C8])
    "experimental",  # experimental / investigational / unproven
    "investigational",
    "not_medically_necessary",
    "insufficient_evidence",
    "covered_with_conditions",  # covered only in stated cases (e.g. NCD 30.3.3 cLBP)
    "unstated",  # a policy exists but the sources do not give its position
)

#: what a code-pair row does when both sides are on the visit
ACTIONS = (
    "block",
    "warn",
    "info",
    "block_unless_modifier",  # block unless the other code's line carries ``modifier``
    "warn_unless_modifier",  # warn unless the other code's line carries ``modifier`` (G-23)
    "block_same_muscle_else_warn",  # block if a muscle is on both lines, else warn (G-20)
    "report_other_only",  # the other codes report the encounter: the 20560/20561 line may not go (G-21)
)
MODIFIER_ACTIONS = ("block_unless_modifier", "warn_unless_modifier")
#: the actions that need a 20560/20561 line on the visit, not just documented dry needling
LINE_ACTIONS = ("block_same_muscle_else_warn", "report_other_only")

#: ``dry_needling`` cell meaning "the visit documents dry-needled muscles", billed or not
DOCUMENTED = "documented"
UNIT_SCOPES = ("date_of_service", "line")
URL_SEPARATOR = " ; "

_CODE = re.compile(r"^(?:\d{4}[0-9A-Z]|[A-Z]\d{4})$")  # CPT (incl. Cat. II/III) or HCPCS II
_MODIFIER = re.compile(r"^[0-9A-Z]{2}$")
_EDIT_ID = re.compile(r"^G-\d{2}[a-z]?$")  # the research's edit ids, e.g. G-20
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_URL = re.compile(r"^https?://\S+$")


# --- errors ----------------------------------------------------------------------------------
class TableError(ValueError):
    """An edit-table file that cannot be used: names the file and every bad line and column."""

    def __init__(self, path: Path | str, errors: list[RowError]):
        self.path = Path(path)
        self.errors = list(errors)
        super().__init__(f"{self.path.name}: " + "; ".join(str(e) if e.line else f"{e.field}: {e.message}" for e in self.errors))


# --- code sets ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CodeSet:
    """Codes and ranges such as ``20560|20561`` or ``99202-99205|99211-99215``."""

    text: str
    codes: frozenset[str]
    ranges: tuple[tuple[str, str], ...] = ()

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        code = code.strip().upper()
        if code in self.codes:
            return True
        # both ends of a range have the same shape (see _shape), so among codes of that shape
        # comparing the text is comparing the numbers
        return any(_shape(code) == _shape(lo) and lo <= code <= hi for lo, hi in self.ranges)

    def all_codes(self) -> tuple[str, ...]:
        """Every code of the set, ranges expanded, sorted (for messages)."""
        out = set(self.codes)
        for lo, hi in self.ranges:
            prefix, suffix = _shape(lo)
            digits = slice(len(prefix), len(lo) - len(suffix))
            width = digits.stop - digits.start
            out.update(f"{prefix}{n:0{width}d}{suffix}" for n in range(int(lo[digits]), int(hi[digits]) + 1))
        return tuple(sorted(out))

    @classmethod
    def parse(cls, text: str) -> CodeSet:
        """Parse ``A|B|C-D``; raises ValueError with plain words."""
        codes: set[str] = set()
        ranges: list[tuple[str, str]] = []
        parts = [p.strip().upper() for p in text.split("|")]
        if not text.strip() or any(not p for p in parts):
            raise ValueError(f"'{text}' must be codes or ranges separated by '|', e.g. 20560|20561 or 97810-97814.")
        for part in parts:
            if "-" in part:
                lo, _, hi = part.partition("-")
                if not (_CODE.match(lo) and _CODE.match(hi)):
                    raise ValueError(f"'{part}' is not a range of two 5-character codes.")
                if _shape(lo) != _shape(hi) or lo > hi:
                    raise ValueError(f"'{part}' is not a range: both ends need the same form and the first must not be after the second.")
                ranges.append((lo, hi))
            elif _CODE.match(part):
                codes.add(part)
            else:
                raise ValueError(f"'{part}' is not a 5-character CPT/HCPCS code.")
        return cls(text.strip(), frozenset(codes), tuple(ranges))


def _shape(code: str) -> tuple[str, str]:
    """The letters around a code's digits: ``("", "")`` for 97810, ``("G", "")`` for G0283,
    ``("", "F")`` for 0001F (CPT Category II)."""
    prefix = code[0] if code[:1].isalpha() else ""
    suffix = code[-1] if code[-1:].isalpha() else ""
    return prefix, suffix


# --- rows ------------------------------------------------------------------------------------
class _Dated:
    """Shared by every row: ``effective_from`` inclusive, ``effective_to`` exclusive (empty:
    open), as in data/state_rules.csv."""

    effective_from: date | None
    effective_to: date | None

    def in_force(self, day: date) -> bool:
        start, end = self.effective_from, self.effective_to
        return (start is None or start <= day) and (end is None or day < end)


@dataclass(frozen=True)
class PayerPolicy(_Dated):
    payer: str  # display name, e.g. "Aetna"
    policy_id: str  # e.g. "CPB 0135"
    position: str  # one of POSITIONS
    severity: str  # one of SEVERITIES: the edit's weight when the policy applies
    message: str
    source: str
    #: lower-case names matched as whole words in the visit's payer name; () = any payer name
    aliases: tuple[str, ...] = ()
    payer_type: str | None = None  # one of PAYER_TYPES; None = any
    profession: str | None = None  # PT / DC; None = any
    #: the payer wants a signed ABN on file (Medicare, non-covered service [C1])
    requires_abn: bool = False
    #: the modifier the payer wants on the 20560/20561 line (GX [C1], GY [C8]); "" = none
    required_modifier: str = ""
    source_urls: tuple[str, ...] = ()
    effective_from: date | None = None
    effective_to: date | None = None
    last_reviewed: date | None = None  # the payer's own last review of the policy
    last_checked: date | None = None  # when this row was last checked against its source
    confirmed: bool = True
    notes: str = ""
    line: int = 0  # the file line it came from (0: built in code)

    def matches(self, payer_type: str, payer_name: str, profession: str | None) -> bool:
        """Whether the policy concerns a visit billed to ``payer_type``/``payer_name`` and
        rendered by ``profession``."""
        if self.payer_type is not None and self.payer_type != payer_type:
            return False
        if self.profession is not None and self.profession != profession:
            return False
        if not self.aliases:
            return True
        words = f" {normalise_name(payer_name)} "
        return any(f" {alias} " in words for alias in self.aliases)


@dataclass(frozen=True)
class CodePair(_Dated):
    edit_id: str  # the research's id, e.g. "G-20"
    edit_code: str  # the stable code of the Edit it raises
    #: the 20560/20561 codes the row concerns, or None for any visit that documents dry needling
    dry_needling: CodeSet | None
    other_codes: CodeSet
    action: str  # one of ACTIONS
    message: str
    source: str
    modifier: str = ""  # for the *_unless_modifier actions
    source_urls: tuple[str, ...] = ()
    effective_from: date | None = None
    effective_to: date | None = None
    last_checked: date | None = None
    confirmed: bool = True
    notes: str = ""
    line: int = 0


@dataclass(frozen=True)
class UnitLimit(_Dated):
    code: str
    max_units: int
    per: str  # date_of_service (all lines of the code on the visit added up) | line
    severity: str
    message: str
    source: str
    source_urls: tuple[str, ...] = ()
    effective_from: date | None = None
    effective_to: date | None = None
    last_checked: date | None = None
    confirmed: bool = True
    notes: str = ""
    line: int = 0


@dataclass(frozen=True)
class EditTables:
    """The parsed rows of the three files, in file order."""

    payer_policies: tuple[PayerPolicy, ...] = ()
    code_pairs: tuple[CodePair, ...] = ()
    unit_limits: tuple[UnitLimit, ...] = ()

    def in_force(self, day: date) -> EditTables:
        """Only the rows in force on ``day``."""
        return replace(
            self,
            payer_policies=tuple(r for r in self.payer_policies if r.in_force(day)),
            code_pairs=tuple(r for r in self.code_pairs if r.in_force(day)),
            unit_limits=tuple(r for r in self.unit_limits if r.in_force(day)),
        )


def normalise_name(text: str) -> str:
    """Case- and space-insensitive form of a name: ``"  Upper   Trapezius"`` -> ``"upper trapezius"``."""
    return " ".join(text.casefold().split())


# --- cells -----------------------------------------------------------------------------------
def _required(value: str) -> str:
    if not value.strip():
        raise ValueError("is required.")
    return value.strip()


def _one_of(choices: Iterable[str], *, blank_ok: bool = False) -> Callable[[str], str | None]:
    choices = tuple(choices)

    def parse(value: str) -> str | None:
        value = value.strip()
        if blank_ok and not value:
            return None
        if value not in choices:
            raise ValueError(f"'{value}' must be one of: {', '.join(choices)}" + (" (or empty)." if blank_ok else "."))
        return value

    return parse


def _date(value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a date in the form YYYY-MM-DD.") from None


def _required_date(value: str) -> date:
    parsed = _date(value)
    if parsed is None:
        raise ValueError("is required (YYYY-MM-DD).")
    return parsed


def _yes_no(value: str) -> bool:
    key = value.strip().lower()
    if key not in ("yes", "no"):
        raise ValueError(f"'{value}' must be yes or no.")
    return key == "yes"


def _urls(value: str) -> tuple[str, ...]:
    urls = tuple(u.strip() for u in value.split(URL_SEPARATOR)) if value.strip() else ()
    if not urls:
        raise ValueError("is required: at least one http(s) URL.")
    for url in urls:
        if not _URL.match(url):
            raise ValueError(f"'{url}' is not an http(s) URL (separate several URLs with ' ; ').")
    return urls


def _matching(pattern: re.Pattern[str], example: str, *, blank_ok: bool = False, upper: bool = False) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip().upper() if upper else value.strip()
        if blank_ok and not value:
            return ""
        if not pattern.match(value):
            raise ValueError(f"'{value}' is not of the form {example}.")
        return value

    return parse


def _aliases(value: str) -> tuple[str, ...]:
    if not value.strip():
        return ()
    aliases = tuple(normalise_name(a) for a in value.split("|"))
    if any(not a for a in aliases):
        raise ValueError(f"'{value}' has an empty alias; separate names with '|', e.g. aetna|aetna health.")
    return aliases


def _dry_needling(value: str) -> CodeSet | None:
    if value.strip().lower() == DOCUMENTED:
        return None
    codes = CodeSet.parse(value)
    if codes.ranges or not codes.codes <= set(DRY_NEEDLING_CODES):
        raise ValueError(f"'{value}' must be '{DOCUMENTED}' or dry-needling codes from {'|'.join(DRY_NEEDLING_CODES)}.")
    return codes


def _code_set(value: str) -> CodeSet:
    return CodeSet.parse(value)


def _positive_int(value: str) -> int:
    value = value.strip()
    if not value.isdigit() or int(value) < 1 or int(value) > 999:
        raise ValueError(f"'{value}' must be a whole number from 1 to 999.")
    return int(value)


def _text(value: str) -> str:
    return value.strip()


_DATING = {
    "effective_from": _required_date,
    "effective_to": _date,
    "last_checked": _required_date,
    "source": _required,
    "source_url": _urls,
    "confirmed": _yes_no,
    "notes": _text,
}

PAYER_POLICY_COLUMNS: dict[str, Callable[[str], object]] = {
    "payer": _required,
    "aliases": _aliases,
    "payer_type": _one_of(PAYER_TYPES, blank_ok=True),
    "profession": _one_of(PROFESSIONS, blank_ok=True),
    "policy_id": _required,
    "position": _one_of(POSITIONS),
    "severity": _one_of(SEVERITIES),
    "requires_abn": _yes_no,
    "required_modifier": _matching(_MODIFIER, "two letters or digits, e.g. GX", blank_ok=True, upper=True),
    "message": _required,
    "last_reviewed": _date,
    **_DATING,
}
CODE_PAIR_COLUMNS: dict[str, Callable[[str], object]] = {
    "edit_id": _matching(_EDIT_ID, "G-20"),
    "edit_code": _matching(_SNAKE, "lower_case_with_underscores"),
    "dry_needling": _dry_needling,
    "other_codes": _code_set,
    "action": _one_of(ACTIONS),
    "modifier": _matching(_MODIFIER, "two letters or digits, e.g. 25", blank_ok=True, upper=True),
    "message": _required,
    **_DATING,
}
UNIT_LIMIT_COLUMNS: dict[str, Callable[[str], object]] = {
    "code": _matching(_CODE, "a 5-character CPT/HCPCS code, e.g. 20560", upper=True),
    "max_units": _positive_int,
    "per": _one_of(UNIT_SCOPES),
    "severity": _one_of(SEVERITIES),
    "message": _required,
    **_DATING,
}


# --- rows across the file ----------------------------------------------------------------------
def _row_checks(values: dict, line: int, errors: list[RowError]) -> None:
    start, end = values.get("effective_from"), values.get("effective_to")
    if start is not None and end is not None and end <= start:
        errors.append(RowError(line, "effective_to", f"{end.isoformat()} must be after effective_from {start.isoformat()} (effective_to is the first day the row no longer applies)."))


def _overlaps(rows: list, key: Callable, label: str, errors: list[RowError]) -> None:
    """Two versions of one row may not be in force on the same day."""
    seen: dict[object, list] = {}
    for row in rows:
        for other in seen.get(key(row), []):
            a_start, a_end = row.effective_from or date.min, row.effective_to or date.max
            b_start, b_end = other.effective_from or date.min, other.effective_to or date.max
            if a_start < b_end and b_start < a_end:
                errors.append(RowError(row.line, "effective_from", f"{label} {key(row)} is also in force on line {other.line} over the same dates."))
        seen.setdefault(key(row), []).append(row)


def _read(path: Path, columns: dict[str, Callable[[str], object]], build: Callable[[dict, int], object], extra: Callable[[dict, int, list[RowError]], None] | None = None) -> list:
    errors: list[RowError] = []
    rows: list = []
    try:
        stream = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise TableError(path, [RowError(0, "file", f"cannot be read: {exc.strerror or exc}")]) from exc
    with stream:
        reader, header = open_reader(stream, errors)
        if reader is not None:
            check_columns(header, columns, errors)
        if reader is None or errors:
            raise TableError(path, errors)
        for line, cells in clean_rows(reader, header, errors):
            values: dict[str, object] = {}
            bad = False
            for column, parse in columns.items():
                try:
                    values[column] = parse(cells[column])
                except ValueError as exc:
                    errors.append(RowError(line, column, str(exc)))
                    bad = True
            if bad:
                continue
            before = len(errors)
            _row_checks(values, line, errors)
            if extra is not None:
                extra(values, line, errors)
            if len(errors) == before:
                rows.append(build(values, line))
    if errors:
        raise TableError(path, errors)
    return rows


def _payer_extra(values: dict, line: int, errors: list[RowError]) -> None:
    if not values["aliases"] and values["payer_type"] is None:
        errors.append(RowError(line, "aliases", "give the payer's names, a payer_type, or both; otherwise the row would match every payer."))
    # [unconfirmed] facts are kept as data but never hard-block (coding_rules.md, "How to read")
    if values["severity"] == BLOCK and not values["confirmed"]:
        errors.append(RowError(line, "severity", "an unconfirmed policy (confirmed = no) may not block; use warn or info."))


def _code_pair_extra(values: dict, line: int, errors: list[RowError]) -> None:
    action, modifier = values["action"], values["modifier"]
    if action in MODIFIER_ACTIONS and not modifier:
        errors.append(RowError(line, "modifier", f"action {action} needs the modifier that lifts the edit, e.g. 25."))
    if action not in MODIFIER_ACTIONS and modifier:
        errors.append(RowError(line, "modifier", f"must be empty: action {action} does not read a modifier."))
    if action in LINE_ACTIONS and values["dry_needling"] is None:
        errors.append(RowError(line, "dry_needling", f"action {action} concerns the 20560/20561 line: give the codes (e.g. 20560|20561), not '{DOCUMENTED}'."))


def _dates(values: dict) -> dict:
    return {
        "effective_from": values["effective_from"],
        "effective_to": values["effective_to"],
        "last_checked": values["last_checked"],
        "source": values["source"],
        "source_urls": values["source_url"],
        "confirmed": values["confirmed"],
        "notes": values["notes"],
    }


def read_payer_policies(path: Path) -> tuple[PayerPolicy, ...]:
    rows = _read(path, PAYER_POLICY_COLUMNS, lambda v, line: PayerPolicy(
        payer=v["payer"], policy_id=v["policy_id"], position=v["position"], severity=v["severity"],
        message=v["message"], aliases=v["aliases"], payer_type=v["payer_type"],
        profession=v["profession"], requires_abn=v["requires_abn"],
        required_modifier=v["required_modifier"], last_reviewed=v["last_reviewed"], line=line,
        **_dates(v),
    ), _payer_extra)
    errors: list[RowError] = []
    _overlaps(rows, lambda r: (r.policy_id, r.profession or "any profession"), "policy", errors)
    if errors:
        raise TableError(path, errors)
    return tuple(rows)


def read_code_pairs(path: Path) -> tuple[CodePair, ...]:
    rows = _read(path, CODE_PAIR_COLUMNS, lambda v, line: CodePair(
        edit_id=v["edit_id"], edit_code=v["edit_code"], dry_needling=v["dry_needling"],
        other_codes=v["other_codes"], action=v["action"], message=v["message"],
        modifier=v["modifier"], line=line, **_dates(v),
    ), _code_pair_extra)
    errors: list[RowError] = []
    _overlaps(rows, lambda r: r.edit_id, "edit", errors)
    if errors:
        raise TableError(path, errors)
    return tuple(rows)


def read_unit_limits(path: Path) -> tuple[UnitLimit, ...]:
    rows = _read(path, UNIT_LIMIT_COLUMNS, lambda v, line: UnitLimit(
        code=v["code"], max_units=v["max_units"], per=v["per"], severity=v["severity"],
        message=v["message"], line=line, **_dates(v),
    ))
    errors: list[RowError] = []
    _overlaps(rows, lambda r: (r.code, r.per), "limit", errors)
    if errors:
        raise TableError(path, errors)
    return tuple(rows)


PAYER_POLICIES_FILE, CODE_PAIRS_FILE, UNIT_LIMITS_FILE = "payer_policies.csv", "code_pairs.csv", "unit_limits.csv"


def load_tables(data_dir: Path) -> EditTables:
    """Read the three files from ``data_dir``; raises :class:`TableError` on the first bad file."""
    data_dir = Path(data_dir)
    return EditTables(
        payer_policies=read_payer_policies(data_dir / PAYER_POLICIES_FILE),
        code_pairs=read_code_pairs(data_dir / CODE_PAIRS_FILE),
        unit_limits=read_unit_limits(data_dir / UNIT_LIMITS_FILE),
    )


DATA_DIR = Path(__file__).resolve().parents[2] / "data"


@cache
def default_tables() -> EditTables:
    """The tables shipped in the repository's data/ directory, read once per process."""
    return load_tables(DATA_DIR)
