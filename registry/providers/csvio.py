"""Bulk CSV import and export of providers and their credentials.

Two formats, told apart by their header:

* providers: ``npi,name,profession,email,is_active``, one row per provider;
* credentials: one row per license, training record or board registration (``kind``), with
  the cells that do not apply to a row's kind left empty.

Importing is all-or-nothing and goes through :mod:`registry.providers.services`, so the
domain rules and the audit trail are the same as for the HTML forms::

    plan = read_csv(stream)          # parse and validate every row, collect every error
    plan_import(plan)                # classify rows as added / changed / unchanged
    if plan.ok:
        apply_import(plan, actor=actor)   # raises ImportFailed (and records the errors)
        db.session.commit()               # the caller owns the transaction

``stream`` is a text stream opened with ``newline=""`` (``encoding="utf-8-sig"`` for a file;
a leading byte-order mark is also accepted if it reaches the reader). A row equal to the
stored record writes nothing; records not in the file are left alone. Export writes the same
formats, formula-escaped, and an exported file imports back with every row unchanged.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import IO, Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from registry.audit import services as audit
from registry.csvkit import (
    BlankableCell,
    CountCell,
    DateCell,
    HoursCell,
    RowError,
    check_columns,
    clean_rows,
    escape_cell,
    open_reader,
    plain_cell,
)
from registry.db import among, listed, utcnow
from registry.extensions import db
from registry.providers import services
from registry.providers.models import CREDENTIAL_MODELS, CREDENTIAL_STATUSES, Provider
from registry.providers.npi import npi_problem
from registry.rules.services import Actor, known_codes

__all__ = [
    "CREDENTIAL_COLUMNS",
    "PROVIDER_COLUMNS",
    "ImportFailed",
    "ImportRow",
    "ProviderImportPlan",
    "RowError",
    "apply_import",
    "plan_import",
    "read_csv",
    "summary",
    "write_credentials_csv",
    "write_providers_csv",
]

PROVIDER_COLUMNS: tuple[str, ...] = ("npi", "name", "profession", "email", "is_active")
CREDENTIAL_COLUMNS: tuple[str, ...] = (
    "npi",
    "kind",
    "jurisdiction",
    "profession",
    "number",
    "issued_on",
    "expires_on",
    "status",
    "is_compact_privilege",
    "course_title",
    "sponsor",
    "approving_body",
    "completed_on",
    "total_hours",
    "practical_hours",
    "supervised_sessions",
    "ended_on",
    "end_reason",
)
FORMATS: dict[str, tuple[str, ...]] = {"providers": PROVIDER_COLUMNS, "credentials": CREDENTIAL_COLUMNS}
KINDS: tuple[str, ...] = tuple(CREDENTIAL_MODELS)  # license, training, registration

#: the columns each kind of credential uses (besides npi and kind)
APPLIES: dict[str, tuple[str, ...]] = {
    "license": ("jurisdiction", "profession", "number", "issued_on", "expires_on", "status", "is_compact_privilege", "ended_on", "end_reason"),
    "registration": ("jurisdiction", "number", "issued_on", "expires_on", "status", "ended_on", "end_reason"),
    "training": ("course_title", "sponsor", "approving_body", "completed_on", "total_hours", "practical_hours", "supervised_sessions", "expires_on", "ended_on", "end_reason"),
}
#: the columns that must be filled for each kind
REQUIRED: dict[str, tuple[str, ...]] = {
    "license": ("jurisdiction", "number", "status"),
    "registration": ("jurisdiction", "number", "status"),
    "training": ("course_title", "completed_on", "total_hours"),
}
#: the natural key within one provider's credentials of a kind
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "license": ("jurisdiction", "number"),
    "registration": ("jurisdiction", "number"),
    "training": ("course_title", "completed_on"),
}
#: CSV column -> model attribute, where they differ
_ATTRIBUTE = {"jurisdiction": "jurisdiction_code", "profession": "profession_code"}
_ARTICLE = {"license": "a license", "registration": "a board registration", "training": "a training record"}

Progress = Callable[[Iterable], Iterable]


def identity(iterable: Iterable) -> Iterable:
    return iterable


# --- cells ---------------------------------------------------------------------------------
class YesNoCell(fields.Field):
    """``yes`` / ``no`` <-> True / False; an empty cell is None (the caller decides)."""

    def _deserialize(self, value, attr, data, **kwargs):
        key = value.strip().lower() if isinstance(value, str) else value
        if key == "":
            return None
        if key not in ("yes", "no"):
            raise ValidationError(f"'{value}' must be yes or no.")
        return key == "yes"


class CodeCell(BlankableCell):
    """A code compared case-insensitively: stored upper- or lower-case, blank -> None."""

    def __init__(self, *, upper: bool = True, choices: Iterable[str] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.upper = upper
        self.choices = tuple(choices) if choices is not None else None

    def _parse(self, value: str) -> str:
        value = value.upper() if self.upper else value.lower()
        if self.choices is not None and value not in self.choices:
            raise ValidationError(f"'{value}' must be one of: {', '.join(self.choices)}.")
        return value


def _text(max_length: int) -> fields.String:
    """A free-text cell, surrounding spaces removed."""
    return fields.String(required=True, validate=validate.Length(max=max_length))


class ProviderRowSchema(Schema):
    """One providers row as read from the file (every cell a string)."""

    class Meta:
        unknown = RAISE

    npi = fields.String(required=True)
    name = _text(200)
    profession = CodeCell(required=True)
    email = _text(254)
    is_active = YesNoCell(required=True)


class CredentialRowSchema(Schema):
    """One credentials row; which cells must or may be filled depends on ``kind``."""

    class Meta:
        unknown = RAISE

    npi = fields.String(required=True)
    kind = CodeCell(required=True, upper=False, choices=KINDS)
    jurisdiction = CodeCell(required=True)
    profession = CodeCell(required=True)
    number = _text(64)
    issued_on = DateCell(required=True)
    expires_on = DateCell(required=True)
    status = CodeCell(required=True, upper=False, choices=CREDENTIAL_STATUSES)
    is_compact_privilege = YesNoCell(required=True)
    course_title = _text(300)
    sponsor = _text(200)
    approving_body = _text(200)
    completed_on = DateCell(required=True)
    total_hours = HoursCell(required=True)
    practical_hours = HoursCell(required=True)
    supervised_sessions = CountCell(required=True)
    ended_on = DateCell(required=True)
    end_reason = _text(20000)


SCHEMAS: dict[str, Schema] = {"providers": ProviderRowSchema(), "credentials": CredentialRowSchema()}
_TEXT_COLUMNS = ("name", "email", "number", "course_title", "sponsor", "approving_body", "end_reason")


to_cell = plain_cell


def provider_record(provider: Provider) -> dict[str, str]:
    """A provider as CSV cells, keyed by column."""
    return {
        "npi": provider.npi,
        "name": provider.name,
        "profession": provider.profession_code,
        "email": provider.email or "",
        "is_active": to_cell(bool(provider.is_active)),
    }


def credential_record(credential, npi: str) -> dict[str, str]:
    """A credential as CSV cells, keyed by column (cells of other kinds empty)."""
    kind = credential.KIND
    record = dict.fromkeys(CREDENTIAL_COLUMNS, "")
    record["npi"] = npi
    record["kind"] = kind
    for column in APPLIES[kind]:
        value = getattr(credential, _ATTRIBUTE.get(column, column))
        if column == "is_compact_privilege":
            value = bool(value)
        record[column] = to_cell(value)
    return record


# --- the plan ------------------------------------------------------------------------------
@dataclass
class ImportRow:
    """One valid row: its line and its typed values, keyed by column."""

    line: int
    values: dict[str, Any]

    @property
    def kind(self) -> str:
        """``provider``, or the credential kind."""
        return self.values.get("kind") or "provider"

    @property
    def key(self) -> tuple:
        if self.kind == "provider":
            return (self.values["npi"],)
        return (self.values["npi"], self.kind, *(self.values[c] for c in KEY_COLUMNS[self.kind]))

    @property
    def label(self) -> str:
        """How the row is named in reports, e.g. ``1245319599 license WA PT60001``."""
        v = self.values
        if self.kind == "provider":
            return f"{v['npi']} {v['name']}"
        if self.kind == "training":
            return f"{v['npi']} training '{v['course_title']}' {v['completed_on'].isoformat()}"
        return f"{v['npi']} {self.kind} {v['jurisdiction']} {v['number']}"


@dataclass
class ProviderImportPlan:
    #: ``providers`` or ``credentials``; None when the header matches neither
    kind: str | None = None
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    added: list[ImportRow] = field(default_factory=list)
    #: (row, the stored provider or credential, names of the columns that differ)
    changed: list[tuple[ImportRow, Any, list[str]]] = field(default_factory=list)
    unchanged: list[ImportRow] = field(default_factory=list)
    planned: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed)


class ImportFailed(services.ProviderError):
    """Applying the plan failed; the errors are in ``plan.errors``. The caller must roll back."""

    def __init__(self, plan: ProviderImportPlan):
        super().__init__(f"The import has {len(plan.errors)} problem(s); roll back, nothing may be written.")
        self.plan = plan


def summary(plan: ProviderImportPlan) -> str:
    return f"{len(plan.added)} added, {len(plan.changed)} changed, {len(plan.unchanged)} unchanged"


# --- reading -------------------------------------------------------------------------------
def _detect_format(header: list[str]) -> str | None:
    """The format whose columns the header shares the larger part of (at least half), or None.

    So a file with a column too many or too few is still recognised (and its unknown or missing
    columns named), while an unrelated file is refused as matching neither format.
    """
    columns = set(header)
    shares = {name: len(columns & set(expected)) / len(expected) for name, expected in FORMATS.items()}
    best = max(shares, key=shares.__getitem__)
    if shares[best] < 0.5 or list(shares.values()).count(shares[best]) > 1:
        return None
    return best


def _check_header(header: list[str], plan: ProviderImportPlan) -> None:
    fmt = _detect_format(header)
    if fmt is None:
        plan.errors.append(RowError(1, "header", (
            "the columns match neither import format; a providers file has the columns "
            f"{','.join(PROVIDER_COLUMNS)} and a credentials file has the columns "
            f"{','.join(CREDENTIAL_COLUMNS)}"
        )))
        return
    plan.kind = fmt
    expected = FORMATS[fmt]
    check_columns(header, expected, plan.errors, unknown=f"unknown column for a {fmt} file (its columns are {','.join(expected)})", missing=f"required column of a {fmt} file is missing")


def read_csv(stream: IO[str], *, progress: Progress = identity) -> ProviderImportPlan:
    """Parse and validate every row of a providers or credentials file; collect every error.

    Needs an app context: jurisdictions, professions and (for credentials) the providers'
    NPIs are checked against the database. Writes nothing.
    """
    plan = ProviderImportPlan()
    reader, header = open_reader(stream, plan.errors)
    if reader is None:
        return plan
    _check_header(header, plan)
    if plan.errors:
        return plan

    known_j, known_p = known_codes()
    schema = SCHEMAS[plan.kind]
    columns = FORMATS[plan.kind]
    for line, cells in progress(clean_rows(reader, header, plan.errors)):
        problems: dict[str, str] = {}
        try:
            values = schema.load(cells)
        except ValidationError as exc:
            values = exc.valid_data or {}
            for name, messages in exc.messages.items():
                problems.setdefault(name, " ".join(messages) if isinstance(messages, list) else str(messages))
        for name in _TEXT_COLUMNS:
            if isinstance(values.get(name), str):
                values[name] = values[name].strip()
        _check_npi(cells, values, problems)
        if plan.kind == "providers":
            _check_provider(values, problems, known_p)
        else:
            _check_credential(cells, values, problems, known_j, known_p)
        if problems:
            plan.errors.extend(RowError(line, c, problems[c]) for c in columns if c in problems)
            continue
        plan.rows.append(ImportRow(line, values))
    _check_duplicates(plan)
    if plan.kind == "credentials":
        _check_npis_known(plan)
    plan.errors.sort(key=lambda e: e.line)
    return plan


def _check_npi(cells: dict[str, str], values: dict[str, Any], problems: dict[str, str]) -> None:
    npi = cells["npi"].strip()
    problem = npi_problem(npi)
    if problem:
        problems["npi"] = problem
    values["npi"] = npi


def _check_provider(values: dict[str, Any], problems: dict[str, str], known_p: set[str]) -> None:
    if "name" not in problems and not values.get("name"):
        problems["name"] = "give the provider's name"
    profession = values.get("profession")
    if "profession" not in problems:
        if profession is None:
            problems["profession"] = f"give the profession ({', '.join(sorted(known_p))})"
        elif profession not in known_p:
            problems["profession"] = f"'{profession}' is not a known profession (known: {', '.join(sorted(known_p))})"
    email = values.get("email")
    if "email" not in problems and email is not None:
        values["email"] = email = email.lower()
        if email and ("@" not in email or " " in email):
            problems["email"] = f"'{email}' is not an email address"
    if "is_active" not in problems and values.get("is_active") is None:
        problems["is_active"] = "must be yes or no"


def _check_credential(cells, values, problems, known_j: set[str], known_p: set[str]) -> None:
    kind = values.get("kind")
    if kind is None:
        problems.setdefault("kind", f"give the kind ({', '.join(KINDS)})")
        return
    for column in CREDENTIAL_COLUMNS[2:]:
        if column not in APPLIES[kind] and cells[column].strip():
            problems[column] = f"does not apply to {_ARTICLE[kind]}; leave it empty"
    for column in REQUIRED[kind]:
        if column not in problems and values.get(column) in (None, ""):
            problems[column] = f"required for {_ARTICLE[kind]}"

    def valid(*columns: str) -> bool:
        return all(c not in problems and c in values for c in columns)

    if kind in ("license", "registration"):
        if valid("jurisdiction") and values["jurisdiction"] not in known_j:
            problems["jurisdiction"] = f"'{values['jurisdiction']}' is not a known jurisdiction code (use USPS codes such as WA, DC, PR)"
        if valid("issued_on", "expires_on"):
            issued, expires = values["issued_on"], values["expires_on"]
            if issued and expires and expires < issued:
                problems["expires_on"] = f"{expires} is before issued_on ({issued})"
    if kind == "license":
        if "is_compact_privilege" in values:
            values["is_compact_privilege"] = bool(values["is_compact_privilege"])
        profession = values.get("profession")
        if valid("profession") and profession is not None and profession not in known_p:
            problems["profession"] = f"'{profession}' is not a known profession (known: {', '.join(sorted(known_p))})"
        elif valid("profession", "is_compact_privilege") and values["is_compact_privilege"] and profession not in (None, "PT"):
            problems["is_compact_privilege"] = "only physical therapists (PT) hold PT Compact privileges"
    if kind == "training":
        if "practical_hours" in values:
            values["practical_hours"] = values["practical_hours"] or Decimal("0.0")
        if "supervised_sessions" in values:
            values["supervised_sessions"] = values["supervised_sessions"] or 0
        if valid("completed_on") and values["completed_on"] > date.today():
            problems["completed_on"] = f"{values['completed_on']} is in the future"
        if valid("practical_hours", "total_hours") and values["practical_hours"] > values["total_hours"]:
            problems["practical_hours"] = f"{to_cell(values['practical_hours'])} is more than total_hours ({to_cell(values['total_hours'])}); practical hours are part of the total"
        if valid("expires_on", "completed_on") and values["expires_on"] and values["expires_on"] < values["completed_on"]:
            problems["expires_on"] = f"{values['expires_on']} is before completed_on ({values['completed_on']})"
    if valid("ended_on", "end_reason"):
        ended, reason = values["ended_on"], values["end_reason"]
        start = values.get("issued_on") or values.get("completed_on")
        if ended and not reason:
            problems["end_reason"] = "say why the credential ended (ended_on is filled)"
        elif reason and not ended:
            problems["ended_on"] = "give the day the credential ended (end_reason is filled)"
        elif ended and start and ended < start:
            problems["ended_on"] = f"{ended} is before the credential began ({start})"


def _check_duplicates(plan: ProviderImportPlan) -> None:
    seen: dict[tuple, ImportRow] = {}
    for row in plan.rows:
        first = seen.setdefault(row.key, row)
        if first is row:
            continue
        if row.kind == "provider":
            plan.errors.append(RowError(row.line, "npi", f"NPI {row.values['npi']} is also on line {first.line}; each provider may appear once"))
        else:
            # the column the services name for a duplicate credential
            column = "course_title" if row.kind == "training" else "number"
            what = " and ".join(KEY_COLUMNS[row.kind])
            plan.errors.append(RowError(row.line, column, (
                f"the same {services.KIND_LABELS[row.kind]} (NPI, {what}) as line {first.line}; "
                "each credential may appear once"
            )))


def _providers_by_npi(npis: Iterable[str]) -> dict[str, Provider]:
    """The stored providers with these NPIs, in one SELECT whatever their number."""
    wanted = sorted(set(npis))
    if not wanted:
        return {}
    dialect = _dialect()
    query = select(Provider).where(among(Provider.npi, "npis", dialect))
    return {p.npi: p for p in db.session.scalars(query, {"npis": listed(wanted, dialect)})}


def _check_npis_known(plan: ProviderImportPlan) -> None:
    known = _providers_by_npi(row.values["npi"] for row in plan.rows)
    for row in plan.rows:
        if row.values["npi"] not in known:
            plan.errors.append(RowError(row.line, "npi", f"no provider with NPI {row.values['npi']} in the registry; import the providers file first"))


# --- planning ------------------------------------------------------------------------------
def _row_record(row: ImportRow, provider: Provider | None = None) -> dict[str, str]:
    """The row's values as CSV cells, as the stored record would give them."""
    if row.kind == "provider":
        return {c: to_cell(row.values[c]) for c in PROVIDER_COLUMNS}
    record = dict.fromkeys(CREDENTIAL_COLUMNS, "")
    record["npi"], record["kind"] = row.values["npi"], row.kind
    for column in APPLIES[row.kind]:
        record[column] = to_cell(row.values[column])
    if row.kind == "license" and not record["profession"] and provider is not None:
        record["profession"] = provider.profession_code
    return record


def _credential_key(kind: str, credential) -> tuple:
    if kind == "training":
        return (credential.course_title, credential.completed_on)
    return (credential.jurisdiction_code, credential.number)


def plan_import(plan: ProviderImportPlan) -> ProviderImportPlan:
    """Compare the validated rows with the stored records: added, changed or unchanged.

    Adds an error for a change an import cannot make (re-dating or undoing a credential's
    end). Writes nothing.
    """
    plan.added, plan.changed, plan.unchanged = [], [], []
    plan.planned = True
    if not plan.ok:
        return plan
    providers = _providers_by_npi(row.values["npi"] for row in plan.rows)
    if plan.kind == "providers":
        for row in plan.rows:
            stored = providers.get(row.values["npi"])
            if stored is None:
                plan.added.append(row)
                continue
            _classify(plan, row, stored, provider_record(stored), _row_record(row))
        return plan

    stored_credentials: dict[tuple, Any] = {}
    by_id = {p.id: p for p in providers.values()}
    ids = sorted(by_id)
    dialect = _dialect()
    for kind, model in CREDENTIAL_MODELS.items():
        if not ids:
            break
        query = select(model).where(among(model.provider_id, "ids", dialect))
        for credential in db.session.scalars(query, {"ids": listed(ids, dialect)}):
            npi = by_id[credential.provider_id].npi
            stored_credentials[(npi, kind, *_credential_key(kind, credential))] = credential
    for row in plan.rows:
        provider = providers[row.values["npi"]]
        stored = stored_credentials.get(row.key)
        if row.kind == "license" and row.values["is_compact_privilege"] and (row.values["profession"] or provider.profession_code) != "PT":
            plan.errors.append(RowError(row.line, "is_compact_privilege", f"only physical therapists (PT) hold PT Compact privileges; {provider.name} is {provider.profession_code} and the row gives no profession"))
            continue
        if stored is None:
            plan.added.append(row)
            continue
        have = credential_record(stored, provider.npi)
        want = _row_record(row, provider)
        if stored.ended_on is not None and (have["ended_on"], have["end_reason"]) != (want["ended_on"], want["end_reason"]):
            column = "ended_on" if have["ended_on"] != want["ended_on"] else "end_reason"
            plan.errors.append(RowError(row.line, column, (
                f"the registry records this {services.KIND_LABELS[row.kind]} as ended on "
                f"{have['ended_on']} ({have['end_reason']}); an import cannot change or undo an "
                "ending, so copy those two cells into the row"
            )))
            continue
        _classify(plan, row, stored, have, want)
    return plan


def _classify(plan: ProviderImportPlan, row: ImportRow, stored, have: dict[str, str], want: dict[str, str]) -> None:
    differ = [c for c in want if want[c] != have[c]]
    if differ:
        plan.changed.append((row, stored, differ))
    else:
        plan.unchanged.append(row)


# --- applying ------------------------------------------------------------------------------
def _provider_values(row: ImportRow) -> dict[str, Any]:
    v = row.values
    return {"npi": v["npi"], "name": v["name"], "profession_code": v["profession"], "email": v["email"], "is_active": v["is_active"]}


def _credential_values(row: ImportRow, provider: Provider) -> dict[str, Any]:
    fields_ = services.CREDENTIAL_FIELDS[row.kind]
    columns = {_ATTRIBUTE.get(c, c): c for c in APPLIES[row.kind]}
    values = {f: row.values[columns[f]] for f in fields_}
    if row.kind == "license" and values["profession_code"] is None:
        values["profession_code"] = provider.profession_code
    return values


#: rows written by one batch (its INSERTs and its audit events); the progress callback advances
#: row by row as they are checked, and the batch is written when full
BATCH_ROWS = 1_000


def apply_import(plan: ProviderImportPlan, *, actor: Actor, progress: Progress = identity) -> None:
    """Write the added and changed rows, in the caller's transaction, under the services' rules.

    Added rows are checked one by one by the services' own rule functions
    (``services.check_new_provider``, ``check_credential``, ``check_end``) and written in
    batches: one INSERT per table and one of their audit events (``audit.record_many``, in line
    order, as the services would record them). Changed rows go through the services' update
    functions one by one, answered from what ``plan_import`` read (no SELECT a row). Unchanged
    rows write nothing.

    A :class:`~registry.providers.services.ProviderError` is recorded on its row's line (and the
    remaining rows are still tried, so every problem is reported); then :class:`ImportFailed` is
    raised and the caller must roll back. If a batch's INSERT fails (a constraint: someone
    saved a clashing record during the import), the batch is rolled back to its savepoint and
    written row by row through the services, to report the row at fault. Never commits.
    """
    if not plan.planned:
        plan_import(plan)
    if not plan.ok:
        raise ImportFailed(plan)
    todo: list[tuple[ImportRow, Any, int | None]] = [(row, None, None) for row in plan.added]
    todo += [(row, stored, stored.version_id) for row, stored, _ in plan.changed]
    todo.sort(key=lambda item: item[0].line)
    writer = _BatchWriter(plan, actor)
    if plan.kind == "credentials":
        writer.providers = _providers_by_npi(row.values["npi"] for row, _, _ in todo)
    for row, stored, version in progress(todo):
        if writer.stopped:
            break
        if stored is None:
            writer.add(row)
            continue
        writer.write()  # the added rows before this one first, so events stay in line order
        if not writer.stopped:
            writer.run(row, lambda row=row, stored=stored, version=version: writer.update(row, stored, version))
    writer.write()
    if plan.errors:
        raise ImportFailed(plan)


class _BatchWriter:
    """The added rows of an import, checked one by one and written a batch at a time."""

    def __init__(self, plan: ProviderImportPlan, actor: Actor):
        self.plan = plan
        self.actor = actor
        self.providers: dict[str, Provider] = {}
        #: the stored records the changed rows update, by key: nothing else in the registry can
        #: hold an added row's key (plan_import found none), nor another row of the file
        self.stored = {row.key: stored for row, stored, _ in plan.changed}
        self.pending: list[tuple[ImportRow, dict[str, Any]]] = []
        self.stopped = False

    # --- the services' lookups, answered from the plan ------------------------------------------
    def npi_owner(self, npi: str) -> Provider | None:
        return self.stored.get((npi,))

    def clash(self, model, provider: Provider, key: tuple):
        return self.stored.get((provider.npi, model.KIND, *key))

    def run(self, row: ImportRow, write: Callable[[], Any]) -> bool:
        """``write()`` for ``row``, its refusal recorded on the row's line; False if refused."""
        try:
            write()
            return True
        except services.ProviderError as exc:
            self.plan.errors.append(RowError(row.line, exc.field or "row", exc.message))
        except (StaleDataError, IntegrityError) as exc:
            # the session cannot go on after a failed flush: report this row and stop
            self.plan.errors.append(RowError(row.line, "row", (
                "conflicts with a change someone else saved during the import; nothing was "
                f"written, import the file again ({type(exc).__name__})"
            )))
            self.stopped = True
        return False

    # --- changed rows: one by one through the services ------------------------------------------
    def update(self, row: ImportRow, stored, version: int | None) -> None:
        if row.kind == "provider":
            services.update_provider(stored, _provider_values(row), actor=self.actor, expected_version=version, npi_owner=self.npi_owner)
            return
        provider = self.providers[row.values["npi"]]
        credential = services.update_credential(stored, _credential_values(row, provider), actor=self.actor, expected_version=version, clash=self.clash)
        if row.values["ended_on"] and credential.ended_on is None:
            services.end_credential(credential, ended_on=row.values["ended_on"], reason=row.values["end_reason"], actor=self.actor, expected_version=None)

    # --- added rows: checked now, written a batch at a time --------------------------------------
    def add(self, row: ImportRow) -> None:
        checked: dict[str, Any] = {}

        def check() -> None:
            if row.kind == "provider":
                checked.update(services.check_new_provider(_provider_values(row), npi_owner=self.npi_owner))
                return
            provider = self.providers[row.values["npi"]]
            checked.update(services.check_credential(row.kind, provider, _credential_values(row, provider), clash=self.clash))
            checked["ended_on"], checked["end_reason"] = None, ""
            if row.values["ended_on"]:
                start = checked.get("issued_on") or checked.get("completed_on")
                reason = services.check_end(row.kind, start=start, already_ended=None, ended_on=row.values["ended_on"], reason=row.values["end_reason"])
                checked["ended_on"], checked["end_reason"] = row.values["ended_on"], reason

        if self.run(row, check):
            self.pending.append((row, checked))
            if len(self.pending) >= BATCH_ROWS:
                self.write()

    def write(self) -> None:
        """INSERT the pending rows and their audit events, under a savepoint; if that fails,
        write them again one by one through the services to find the row at fault."""
        batch, self.pending = self.pending, []
        if not batch or self.stopped:
            return
        try:
            with db.session.begin_nested():
                if self.plan.kind == "providers":
                    _insert_providers(batch, self.actor)
                else:
                    _insert_credentials(batch, self.providers, self.actor)
        except IntegrityError:
            for row, _ in batch:
                if not self.run(row, lambda row=row: self.one_by_one(row)):
                    if self.stopped:
                        return

    def one_by_one(self, row: ImportRow) -> None:
        """The row written as the services write a single record (the fallback)."""
        if row.kind == "provider":
            services.create_provider(_provider_values(row), actor=self.actor)
            return
        provider = self.providers[row.values["npi"]]
        credential = services.add_credential(row.kind, provider, _credential_values(row, provider), actor=self.actor)
        if row.values["ended_on"]:
            services.end_credential(credential, ended_on=row.values["ended_on"], reason=row.values["end_reason"], actor=self.actor, expected_version=None)


def _event(actor: Actor, action: str, entity_type: str, provider_id: int, *, before=None, after=None, reason: str = "") -> dict[str, Any]:
    """An audit event as ``services`` records it (see ``services._record``)."""
    return {"actor_id": actor.id, "actor": actor.label, "action": f"{entity_type}.{action}", "entity_type": entity_type,
            "entity_key": str(provider_id), "before": before, "after": after, "reason": reason}


def _plain_snapshot(values: dict[str, Any], fields_: Iterable[str]) -> dict[str, Any]:
    return {f: services._plain(values[f]) for f in fields_}


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _insert_providers(batch: list[tuple[ImportRow, dict[str, Any]]], actor: Actor) -> None:
    now = utcnow()
    table = Provider.__table__
    rows = [{"user_id": None, **checked, "created_at": now, "updated_at": now, "version_id": 1} for _, checked in batch]
    db.session.execute(insert(table), rows)
    dialect = _dialect()
    ids = dict(db.session.execute(
        select(table.c.npi, table.c.id).where(among(table.c.npi, "npis", dialect)),
        {"npis": listed([row["npi"] for row in rows], dialect)},
    ).all())
    audit.record_many(
        _event(actor, "create", "provider", ids[row["npi"]], after=_plain_snapshot(row, services.PROVIDER_FIELDS))
        for row in rows
    )


def _credential_key_columns(model) -> tuple:
    table = model.__table__
    if model.KIND == "training":
        return (table.c.course_title, table.c.completed_on)
    return (table.c.jurisdiction_code, table.c.number)


def _insert_credentials(batch: list[tuple[ImportRow, dict[str, Any]]], providers: dict[str, Provider], actor: Actor) -> None:
    now = utcnow()
    dialect = _dialect()
    rows: list[tuple[ImportRow, dict[str, Any]]] = []
    for row, checked in batch:
        ended = checked["ended_on"] is not None
        # a credential that arrives ended is added, then ended: the services' two writes
        rows.append((row, {"provider_id": providers[row.values["npi"]].id, **checked, "created_at": now, "updated_at": now, "version_id": 2 if ended else 1}))
    ids: dict[tuple, int] = {}
    for kind, model in CREDENTIAL_MODELS.items():
        of_kind = [values for row, values in rows if row.kind == kind]
        if not of_kind:
            continue
        table = model.__table__
        db.session.execute(insert(table), of_kind)
        keys = _credential_key_columns(model)
        found = db.session.execute(
            select(table.c.id, table.c.provider_id, *keys).where(among(table.c.provider_id, "ids", dialect)),
            {"ids": listed(sorted({values["provider_id"] for values in of_kind}), dialect)},
        ).all()
        ids.update(((kind, provider_id, *key), id_) for id_, provider_id, *key in found)
    events = []
    for row, values in rows:
        fields_ = ("id", *services.CREDENTIAL_FIELDS[row.kind], "ended_on", "end_reason")
        key = tuple(values[c.name] for c in _credential_key_columns(CREDENTIAL_MODELS[row.kind]))
        values = values | {"id": ids[(row.kind, values["provider_id"], *key)]}
        added = _plain_snapshot(values | {"ended_on": None, "end_reason": ""}, fields_)
        events.append(_event(actor, "add", row.kind, values["provider_id"], after=added))
        if values["ended_on"] is not None:
            ended = _plain_snapshot(values, fields_)
            events.append(_event(actor, "end", row.kind, values["provider_id"], before=added, after=ended, reason=values["end_reason"]))
    audit.record_many(events)


# --- export --------------------------------------------------------------------------------
def write_providers_csv(stream: IO[str]) -> int:
    """Every provider, by NPI, in the providers format (formula-escaped); returns the count."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(PROVIDER_COLUMNS)
    count = 0
    for provider in db.session.scalars(select(Provider).order_by(Provider.npi)):
        record = provider_record(provider)
        writer.writerow([escape_cell(record[c]) for c in PROVIDER_COLUMNS])
        count += 1
    return count


def write_credentials_csv(stream: IO[str]) -> int:
    """Every credential (ended ones too), sorted by NPI, kind and key; returns the count."""
    npis = dict(db.session.execute(select(Provider.id, Provider.npi)).all())
    records = []
    for kind, model in CREDENTIAL_MODELS.items():
        for credential in db.session.scalars(select(model)):
            records.append(((npis[credential.provider_id], kind, *(to_cell(k) for k in _credential_key(kind, credential))), credential_record(credential, npis[credential.provider_id])))
    records.sort(key=lambda item: item[0])
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CREDENTIAL_COLUMNS)
    for _, record in records:
        writer.writerow([escape_cell(record[c]) for c in CREDENTIAL_COLUMNS])
    return len(records)
