"""Provider and credential services. Plain functions over the session; none commits.

Every entry point (HTML forms, the JSON API, the CSV importer) goes through these functions,
so the domain rules (valid NPI, known jurisdiction, dates in order, no duplicate credential)
hold whichever way data arrives. Each change writes an audit event with before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session

from registry.accounts.models import User
from registry.audit.models import AuditEvent
from registry.audit.services import record as audit
from registry.errors import InputError
from registry.extensions import db
from registry.providers.models import (
    CREDENTIAL_MODELS,
    CREDENTIAL_STATUSES,
    BoardRegistration,
    License,
    Provider,
    TrainingRecord,
)
from registry.providers.npi import npi_problem
from registry.rules.models import Jurisdiction, Profession
from registry.rules.services import Actor

PROVIDER_FIELDS = ("name", "npi", "profession_code", "email", "is_active", "user_id")
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "license": ("jurisdiction_code", "profession_code", "number", "issued_on", "expires_on", "status", "is_compact_privilege"),
    "training": ("course_title", "sponsor", "approving_body", "completed_on", "total_hours", "practical_hours", "supervised_sessions", "expires_on"),
    "registration": ("jurisdiction_code", "number", "issued_on", "expires_on", "status"),
}
KIND_LABELS = {"license": "license", "training": "training record", "registration": "board registration"}
AUDIT_TYPES = ("provider", *CREDENTIAL_MODELS)


class ProviderError(InputError):
    """Input the domain refuses; ``field`` names the input at fault."""


class StaleEditError(ProviderError):
    """The record changed after the editor loaded it."""


class NotFound(ProviderError):
    pass


# --- snapshots for the audit trail ---------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, (date, Decimal)):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return value


def snapshot(obj) -> dict[str, Any]:
    if isinstance(obj, Provider):
        fields = PROVIDER_FIELDS
    else:
        fields = ("id", *CREDENTIAL_FIELDS[obj.KIND], "ended_on", "end_reason")
    return {f: _plain(getattr(obj, f)) for f in fields}


def _record(actor: Actor, action: str, obj, provider_id: int, before=None, after=None, reason: str = "") -> None:
    entity_type = "provider" if isinstance(obj, Provider) else obj.KIND
    audit(actor_id=actor.id, actor=actor.label, action=f"{entity_type}.{action}", entity_type=entity_type, entity_key=str(provider_id), before=before, after=after, reason=reason)


def _check_version(obj, expected_version: int | None, what: str) -> None:
    if expected_version is not None and obj.version_id != expected_version:
        raise StaleEditError(f"This {what} was changed by someone else after you opened it (it is now at version {obj.version_id}, you edited version {expected_version}). Your change was not saved; reload and edit again.")


# --- reference data ------------------------------------------------------------------------
_REFERENCE = "registry.providers.reference"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget_reference(session, *_args) -> None:
    session.info.pop(_REFERENCE, None)


def _reference(model, code: str):
    """``db.session.get(model, code)`` for a jurisdiction or profession, held for the rest of
    the transaction. The session keeps only weak references, so without this an import looked
    each code up again for every row (a SELECT a row)."""
    held = db.session.info.setdefault(_REFERENCE, {})
    found = held.get((model, code))
    if found is None:
        found = db.session.get(model, code)
        if found is not None:
            held[(model, code)] = found
    return found


# --- providers -----------------------------------------------------------------------------
def get_provider(provider_id: int) -> Provider | None:
    return db.session.get(Provider, provider_id)


def get_by_npi(npi: str) -> Provider | None:
    return db.session.scalars(select(Provider).where(Provider.npi == npi)).first()


def provider_for_user(user_id: int) -> Provider | None:
    return db.session.scalars(select(Provider).where(Provider.user_id == user_id)).first()


def check_provider(values: dict[str, Any], *, current: Provider | None, npi_owner: Callable[[str], Provider | None] = get_by_npi) -> dict[str, Any]:
    """The provider rules, shared by every path that writes a provider (the forms, the API, the
    CSV import's batches): the cleaned values, or ``ProviderError`` for the first rule broken.
    ``npi_owner`` answers who holds an NPI (a SELECT by default; the importer answers from
    what it already read)."""
    clean = {k: values[k] for k in PROVIDER_FIELDS if k in values}
    if "name" in clean:
        clean["name"] = (clean["name"] or "").strip()
        if not clean["name"]:
            raise ProviderError("Give the provider's name.", field="name")
    if "npi" in clean:
        clean["npi"] = (clean["npi"] or "").strip()
        problem = npi_problem(clean["npi"])
        if problem:
            raise ProviderError(problem, field="npi")
        other = npi_owner(clean["npi"])
        if other is not None and other is not current:
            raise ProviderError(f"NPI {clean['npi']} already belongs to {other.name}.", field="npi")
    if "profession_code" in clean:
        clean["profession_code"] = (clean["profession_code"] or "").upper()
        if _reference(Profession, clean["profession_code"]) is None:
            raise ProviderError(f"'{clean['profession_code']}' is not a profession (PT or DC).", field="profession")
    if "email" in clean:
        clean["email"] = (clean["email"] or "").strip().lower()
        if clean["email"] and ("@" not in clean["email"] or " " in clean["email"]):
            raise ProviderError(f"'{clean['email']}' is not an email address.", field="email")
    if clean.get("user_id") is not None:
        user = db.session.get(User, clean["user_id"])
        if user is None:
            raise ProviderError("No such user account.", field="user_id")
        linked = provider_for_user(user.id)
        if linked is not None and linked is not current:
            raise ProviderError(f"The account {user.email} is already linked to {linked.name}.", field="user_id")
    return clean



def check_new_provider(values: dict[str, Any], *, npi_owner: Callable[[str], Provider | None] = get_by_npi) -> dict[str, Any]:
    """The rules for a new provider: the column values to insert (``is_active`` and ``email``
    defaulted), or ``ProviderError``."""
    missing = [f for f in ("name", "npi", "profession_code") if not values.get(f)]
    if missing:
        raise ProviderError(f"Required: {missing[0].replace('_code', '')}.", field=missing[0].replace("_code", ""))
    clean = check_provider(values, current=None, npi_owner=npi_owner)
    return {"is_active": True, "email": "", **clean}


def create_provider(values: dict[str, Any], *, actor: Actor) -> Provider:
    provider = Provider(**check_new_provider(values))
    db.session.add(provider)
    db.session.flush()
    _record(actor, "create", provider, provider.id, after=snapshot(provider))
    return provider


def _apply_update(obj, clean: dict[str, Any], *, actor: Actor, provider_id: int):
    """Set the cleaned values; flush and record an audit event only if something changed."""
    before = snapshot(obj)
    for key, value in clean.items():
        setattr(obj, key, value)
    after = snapshot(obj)
    if after != before:
        db.session.flush()
        _record(actor, "update", obj, provider_id, before=before, after=after)
    return obj


def update_provider(provider: Provider, values: dict[str, Any], *, actor: Actor, expected_version: int | None,
                    npi_owner: Callable[[str], Provider | None] = get_by_npi) -> Provider:
    _check_version(provider, expected_version, "provider")
    clean = check_provider(values, current=provider, npi_owner=npi_owner)
    return _apply_update(provider, clean, actor=actor, provider_id=provider.id)


def search_providers(*, text: str = "", jurisdiction: str = "", profession: str = "", page: int = 1, per_page: int = 25):
    """Providers matching name/NPI text, a jurisdiction where they hold a license, a profession."""
    query = select(Provider)
    text = (text or "").strip()
    if text:
        like = f"%{text.lower()}%"
        query = query.where(or_(func.lower(Provider.name).like(like), Provider.npi.like(f"{text}%")))
    if profession:
        query = query.where(Provider.profession_code == profession.upper())
    if jurisdiction:
        query = query.where(Provider.id.in_(select(License.provider_id).where(License.jurisdiction_code == jurisdiction.upper())))
    query = query.order_by(func.lower(Provider.name), Provider.id)
    return db.paginate(query, page=page, per_page=per_page, max_per_page=200, error_out=False)


# --- credentials ---------------------------------------------------------------------------
def find_clash(model, provider: Provider, key: tuple):
    """The provider's credential of ``model`` with the natural key ``key`` ((jurisdiction,
    number) or (course title, completed on)), or None: one SELECT."""
    if model is TrainingRecord:
        where = (TrainingRecord.course_title == key[0], TrainingRecord.completed_on == key[1])
    else:
        where = (model.jurisdiction_code == key[0], model.number == key[1])
    return db.session.scalars(select(model).where(model.provider_id == provider.id, *where)).first()


def check_credential(kind: str, provider: Provider, values: dict[str, Any], *, current=None, clash: Callable[..., Any] = find_clash) -> dict[str, Any]:
    """The credential rules, shared by every path that writes one (the forms, the API, the CSV
    import's batches): the cleaned values, or ``ProviderError`` for the first rule broken.
    ``clash(model, provider, key)`` finds a credential holding the same natural key (a SELECT
    by default; the importer answers from what it already read)."""
    fields = CREDENTIAL_FIELDS[kind]
    clean = {k: values[k] for k in fields if k in values}
    merged = {f: getattr(current, f) for f in fields} if current is not None else {}
    merged.update(clean)
    for key in ("number", "course_title", "sponsor", "approving_body"):
        if key in clean:
            clean[key] = merged[key] = (clean[key] or "").strip()
    if kind in ("license", "registration"):
        code = (merged.get("jurisdiction_code") or "").upper()
        if _reference(Jurisdiction, code) is None:
            raise ProviderError(f"'{code}' is not a jurisdiction code (use USPS codes such as WA, DC, PR).", field="jurisdiction")
        clean["jurisdiction_code"] = merged["jurisdiction_code"] = code
        if not merged.get("number"):
            raise ProviderError("Give the number.", field="number")
        if merged.get("status", "active") not in CREDENTIAL_STATUSES:
            raise ProviderError(f"'{merged.get('status')}' is not a status ({', '.join(CREDENTIAL_STATUSES)}).", field="status")
        issued, expires = merged.get("issued_on"), merged.get("expires_on")
        if issued and expires and expires < issued:
            raise ProviderError(f"Expires on ({expires}) is before issued on ({issued}).", field="expires_on")
        model = License if kind == "license" else BoardRegistration
        other = clash(model, provider, (code, merged["number"]))
        if other is not None and other is not current:
            raise ProviderError(f"{provider.name} already has {KIND_LABELS[kind]} {merged['number']} in {code}.", field="number")
    if kind == "license":
        prof = (merged.get("profession_code") or provider.profession_code).upper()
        if _reference(Profession, prof) is None:
            raise ProviderError(f"'{prof}' is not a profession (PT or DC).", field="profession")
        clean["profession_code"] = prof
        if merged.get("is_compact_privilege") and prof != "PT":
            raise ProviderError("Only physical therapists hold PT Compact privileges.", field="is_compact_privilege")
    if kind == "training":
        if not merged.get("course_title"):
            raise ProviderError("Give the course title.", field="course_title")
        completed = merged.get("completed_on")
        if completed is None:
            raise ProviderError("Give the date the course was completed.", field="completed_on")
        if completed > date.today():
            raise ProviderError(f"Completed on ({completed}) is in the future.", field="completed_on")
        total = merged.get("total_hours")
        if total is None or total < 0:
            raise ProviderError("Give the total hours (0 or more).", field="total_hours")
        practical = merged.get("practical_hours") or Decimal("0")
        if practical < 0 or practical > total:
            raise ProviderError(f"In-person hours ({practical}) must be between 0 and the total ({total}).", field="practical_hours")
        clean["practical_hours"] = practical
        sessions = merged.get("supervised_sessions") or 0
        if sessions < 0:
            raise ProviderError("Supervised sessions cannot be negative.", field="supervised_sessions")
        clean["supervised_sessions"] = sessions
        expires = merged.get("expires_on")
        if expires and expires < completed:
            raise ProviderError(f"Expires on ({expires}) is before the completion date ({completed}).", field="expires_on")
        other = clash(TrainingRecord, provider, (merged["course_title"], completed))
        if other is not None and other is not current:
            raise ProviderError(f"{provider.name} already has '{merged['course_title']}' completed on {completed}.", field="course_title")
    return clean



def get_credential(kind: str, credential_id: int):
    if kind not in CREDENTIAL_MODELS:
        raise NotFound(f"Unknown credential kind '{kind}'.")
    return db.session.get(CREDENTIAL_MODELS[kind], credential_id)


def add_credential(kind: str, provider: Provider, values: dict[str, Any], *, actor: Actor):
    clean = check_credential(kind, provider, values)
    credential = CREDENTIAL_MODELS[kind](provider_id=provider.id, **clean)
    db.session.add(credential)
    db.session.flush()
    _record(actor, "add", credential, provider.id, after=snapshot(credential))
    return credential


def update_credential(credential, values: dict[str, Any], *, actor: Actor, expected_version: int | None, clash: Callable[..., Any] = find_clash):
    _check_version(credential, expected_version, KIND_LABELS[credential.KIND])
    clean = check_credential(credential.KIND, credential.provider, values, current=credential, clash=clash)
    return _apply_update(credential, clean, actor=actor, provider_id=credential.provider_id)


def check_end(kind: str, *, start: date | None, already_ended: date | None, ended_on: date, reason: str) -> str:
    """The rules for ending a credential (of ``kind``, held from ``start``): the cleaned
    reason, or ``ProviderError``."""
    reason = (reason or "").strip()
    if not reason:
        raise ProviderError("Say why the credential ends.", field="end_reason")
    if already_ended is not None:
        raise ProviderError(f"This {KIND_LABELS[kind]} already ended on {already_ended}.", field="ended_on")
    if start and ended_on < start:
        raise ProviderError(f"It cannot end ({ended_on}) before it began ({start}).", field="ended_on")
    return reason


def end_credential(credential, *, ended_on: date, reason: str, actor: Actor, expected_version: int | None):
    """Record that the credential is no longer held from ``ended_on``; the row stays."""
    _check_version(credential, expected_version, KIND_LABELS[credential.KIND])
    start = getattr(credential, "issued_on", None) or getattr(credential, "completed_on", None)
    reason = check_end(credential.KIND, start=start, already_ended=credential.ended_on, ended_on=ended_on, reason=reason)
    before = snapshot(credential)
    credential.ended_on = ended_on
    credential.end_reason = reason
    db.session.flush()
    _record(actor, "end", credential, credential.provider_id, before=before, after=snapshot(credential), reason=reason)
    return credential


# --- reading -------------------------------------------------------------------------------
def history(provider_id: int) -> list[AuditEvent]:
    """Every recorded change to the provider and their credentials, newest first."""
    return list(db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type.in_(AUDIT_TYPES), AuditEvent.entity_key == str(provider_id))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    ))


def is_held_on(credential, day: date) -> bool:
    """Held and in date on ``day`` (status, expiry and end are all considered)."""
    if getattr(credential, "status", "active") != "active":
        return False
    start = getattr(credential, "issued_on", None) or getattr(credential, "completed_on", None)
    if start and day < start:
        return False
    if credential.expires_on and day > credential.expires_on:
        return False
    return not (credential.ended_on and day >= credential.ended_on)


def days_left(credential, today: date) -> int | None:
    return (credential.expires_on - today).days if credential.expires_on else None


@dataclass(frozen=True)
class TrainingTotals:
    total_hours: Decimal
    practical_hours: Decimal
    supervised_sessions: int


def training_totals(trainings, day: date) -> TrainingTotals:
    """Hours and sessions add up across every course held on ``day``."""
    held = [t for t in trainings if is_held_on(t, day)]
    return TrainingTotals(
        total_hours=sum((t.total_hours for t in held), Decimal("0")),
        practical_hours=sum((t.practical_hours for t in held), Decimal("0")),
        supervised_sessions=sum(t.supervised_sessions for t in held),
    )
