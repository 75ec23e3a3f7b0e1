"""What every CSV import and export of the registry shares: reading rows with their line
numbers, the cell types, rendering values as cells, and spreadsheet formula escaping."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Iterable, Iterator

from marshmallow import ValidationError, fields


@dataclass
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


# --- spreadsheet formula injection (OWASP ASVS 5.0 V1.2.10) -------------------------------
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")


def escape_cell(value: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula (and to a leading ``'``,
    so that :func:`unescape_cell` can always undo it)."""
    if value[:1] in _FORMULA_TRIGGERS or value[:1] == "'":
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    if value[:1] == "'" and (value[1:2] in _FORMULA_TRIGGERS or value[1:2] == "'"):
        return value[1:]
    return value


# --- reading -------------------------------------------------------------------------------
def open_reader(stream: IO[str], errors: list[RowError]) -> tuple[csv.DictReader | None, list[str]]:
    """A DictReader over ``stream`` and its cleaned header (BOM and spaces removed), or
    (None, []) with the reason in ``errors``."""
    reader = csv.DictReader(stream, restkey="__extra__", strict=True)
    try:
        header = list(reader.fieldnames or [])
    except csv.Error as exc:
        errors.append(RowError(1, "header", f"not readable as CSV: {exc}"))
        return None, []
    if not header:
        errors.append(RowError(1, "header", "the file is empty"))
        return None, []
    header[0] = header[0].lstrip("\ufeff")
    header = [h.strip() if h else h for h in header]
    reader.fieldnames = header
    return reader, header


def check_columns(header: list[str], expected: Iterable[str], errors: list[RowError], *, unknown: str = "unknown column", missing: str = "required column is missing") -> None:
    expected = list(expected)
    for name in header:
        if name not in expected:
            errors.append(RowError(1, name or "(blank)", unknown))
    for name in expected:
        if name not in header:
            errors.append(RowError(1, name, missing))
    for name in sorted({h for h in header if header.count(h) > 1}):
        errors.append(RowError(1, name, "column appears more than once"))


def clean_rows(reader: csv.DictReader, header: list[str], errors: list[RowError]) -> Iterator[tuple[int, dict[str, str]]]:
    """Each well-formed row as (line, cells with formula escaping undone).

    Unreadable, ragged and NUL-bearing rows are reported in ``errors`` and skipped. A row is
    reported at the line where it ends (the same line unless a quoted cell spans lines).
    """
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(RowError(reader.line_num, "row", f"not readable as CSV: {exc}"))
            return
        line = reader.line_num
        if "__extra__" in raw:
            errors.append(RowError(line, "row", f"has {len(header) + len(raw['__extra__'])} cells; the header has {len(header)}"))
            continue
        if any(v is None for v in raw.values()):
            errors.append(RowError(line, "row", f"has fewer cells than the header's {len(header)}"))
            continue
        nul = [k for k, v in raw.items() if "\x00" in v]
        if nul:  # PostgreSQL cannot store NUL, and no real value has one
            errors.extend(RowError(line, k, "contains a NUL character") for k in nul)
            continue
        yield line, {k: unescape_cell(v) for k, v in raw.items()}


# --- cells ---------------------------------------------------------------------------------
def decimal_text(value: Decimal) -> str:
    """``50`` for 50.0, ``27.5`` for 27.5: one decimal place at most, no trailing ``.0``."""
    text = format(value.quantize(Decimal("0.1")), "f")
    return text[:-2] if text.endswith(".0") else text


def plain_cell(value: Any) -> str:
    """A typed value as its CSV cell (before formula escaping): empty for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class BlankableCell(fields.Field):
    """A CSV cell: the empty string means 'no value'."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("Must be text.")
        value = value.strip()
        if value == "":
            return None
        return self._parse(value)

    def _parse(self, value: str):  # pragma: no cover - overridden
        raise NotImplementedError


class HoursCell(BlankableCell):
    """A non-negative number with at most one decimal place, e.g. ``50`` or ``0.5``."""

    def _parse(self, value: str) -> Decimal:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValidationError(f"'{value}' is not a number.") from None
        if not number.is_finite() or number < 0:
            raise ValidationError(f"'{value}' must be zero or more.")
        if number >= Decimal("100000"):  # before quantize, which fails on a 29th digit
            raise ValidationError(f"'{value}' is too large.")
        if number != number.quantize(Decimal("0.1")):
            raise ValidationError(f"'{value}' has more than one decimal place.")
        return number.quantize(Decimal("0.1"))


class CountCell(BlankableCell):
    def _parse(self, value: str) -> int:
        if not value.isdigit():
            raise ValidationError(f"'{value}' is not a whole number.")
        number = int(value)
        if number > 100000:
            raise ValidationError(f"'{value}' is too large.")
        return number


class DateCell(BlankableCell):
    def _parse(self, value: str) -> date:
        try:
            if len(value) != 10:
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"'{value}' is not a date in the form YYYY-MM-DD.") from None
