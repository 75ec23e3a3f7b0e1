"""The CSV import's batches (csvio.apply_import) write what the services would, row by row:
the same rows, the same audit events in the same order, an intact hash chain; a constraint
failure inside a batch is reported on its row; the progress callback advances row by row."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func, insert, select

from registry.audit import services as audit
from registry.audit.models import AuditEvent
from registry.db import utcnow
from registry.extensions import db
from registry.providers import csvio, services
from registry.providers.models import CREDENTIAL_MODELS, License, Provider
from registry.providers.npi import npi_check_digit
from tests.test_provider_csv import (
    ACTOR,
    LICENSE,
    PROVIDER,
    REGISTRATION,
    TRAINING,
    credentials_csv,
    errors_of,
    load,
    providers_csv,
)


def npi(n: int) -> str:
    first = str(400_000_000 + n)
    return first + str(npi_check_digit(first))


def row_by_row(plan: csvio.ProviderImportPlan) -> None:
    """The import as it was before the batches: every added and changed row through the
    services, one at a time, in line order (the reference the batches must match)."""
    todo = [(row, None, None) for row in plan.added] + [(row, stored, stored.version_id) for row, stored, _ in plan.changed]
    todo.sort(key=lambda item: item[0].line)
    providers = csvio._providers_by_npi(row.values["npi"] for row, _, _ in todo)
    for row, stored, version in todo:
        if plan.kind == "providers":
            if stored is None:
                services.create_provider(csvio._provider_values(row), actor=ACTOR)
            else:
                services.update_provider(stored, csvio._provider_values(row), actor=ACTOR, expected_version=version)
            continue
        provider = providers[row.values["npi"]]
        values = csvio._credential_values(row, provider)
        if stored is None:
            credential = services.add_credential(row.kind, provider, values, actor=ACTOR)
        else:
            credential = services.update_credential(stored, values, actor=ACTOR, expected_version=version)
        if row.values["ended_on"] and credential.ended_on is None:
            services.end_credential(credential, ended_on=row.values["ended_on"], reason=row.values["end_reason"], actor=ACTOR, expected_version=None)


def _tables() -> dict:
    tables = [Provider.__table__, *(m.__table__ for m in CREDENTIAL_MODELS.values()), AuditEvent.__table__]
    return {t.name: t for t in tables}


def _max_ids() -> dict[str, int]:
    return {name: db.session.scalar(select(func.coalesce(func.max(t.c.id), 0))) for name, t in _tables().items()}


def written(content: str, apply) -> tuple[list, list]:
    """Apply ``content`` with ``apply``, read back what it wrote (ids relative to the ids
    before, times aside), then roll back."""
    base = _max_ids()
    plan = csvio.plan_import(csvio.read_csv(io.StringIO(content)))
    assert plan.ok, [str(e) for e in plan.errors]
    apply(plan)
    db.session.flush()

    # ids relative to the first new id of each table (PostgreSQL's sequences do not roll back)
    first = {name: db.session.scalar(select(func.min(t.c.id)).where(t.c.id > base[name])) for name, t in _tables().items()}

    def rel(table: str, value: Any) -> Any:
        if value is None or int(value) <= base[table]:
            return value
        return ("new", int(value) - first[table])

    rows = []
    for table in [Provider.__table__, *(m.__table__ for m in CREDENTIAL_MODELS.values())]:
        for r in db.session.execute(select(table).order_by(table.c.id)).mappings():
            r = dict(r)
            r.pop("created_at"), r.pop("updated_at")
            r["id"] = rel(table.name, r["id"])
            rows.append((table.name, r))
    events = []
    for e in db.session.scalars(select(AuditEvent).where(AuditEvent.id > base["audit_event"]).order_by(AuditEvent.id)):
        table = "provider" if e.entity_type == "provider" else CREDENTIAL_MODELS[e.entity_type].__tablename__
        after = dict(e.after or {})
        before = dict(e.before) if e.before is not None else None
        for snap in (after, before):
            if snap and "id" in snap:
                snap["id"] = rel(table, snap["id"])
        events.append((e.actor_id, e.actor, e.action, e.entity_type, rel("provider", e.entity_key), before, after, e.reason))
    db.session.rollback()
    return rows, events


def batch(plan) -> None:
    csvio.apply_import(plan, actor=ACTOR)


PROVIDERS = providers_csv(*(
    PROVIDER | {"npi": npi(n), "name": f"Provider {n}", "profession": "PT" if n % 3 else "DC", "email": "" if n % 4 == 0 else f"p{n}@example.org", "is_active": "no" if n % 5 == 0 else "yes"}
    for n in range(1, 31)
))


def test_added_and_changed_providers_are_written_as_the_services_would(ctx):
    assert load(providers_csv(*(PROVIDER | {"npi": npi(n), "name": f"Provider {n}"} for n in (3, 10, 11)))).ok
    # rows 3, 10 and 11 change (between runs of added rows), the rest are added
    reference = written(PROVIDERS, row_by_row)
    assert written(PROVIDERS, batch) == reference
    rows, events = reference
    assert [e[2] for e in events].count("provider.update") == 3 and len(events) == 30


def test_added_changed_and_ended_credentials_are_written_as_the_services_would(ctx):
    assert load(PROVIDERS).ok
    assert load(credentials_csv(LICENSE | {"npi": npi(2)}, TRAINING | {"npi": npi(2)})).ok
    content = credentials_csv(
        LICENSE | {"npi": npi(1), "profession": ""},
        TRAINING | {"npi": npi(1), "ended_on": "2024-01-01", "end_reason": "lapsed"},
        LICENSE | {"npi": npi(2), "status": "suspended"},  # changed
        REGISTRATION | {"npi": npi(1)},
        LICENSE | {"npi": npi(1), "jurisdiction": "OR", "number": "OR1", "ended_on": "2025-02-01", "end_reason": "moved"},
        TRAINING | {"npi": npi(2), "ended_on": "2024-06-01", "end_reason": "expired"},  # changed: ended
        REGISTRATION | {"npi": npi(3), "jurisdiction": "CO", "number": "R-3", "expires_on": "2027-01-01"},
        TRAINING | {"npi": npi(4), "course_title": "DN 2", "practical_hours": "", "supervised_sessions": ""},
    )
    reference = written(content, row_by_row)
    assert written(content, batch) == reference
    actions = [e[2] for e in reference[1]]
    assert actions == ["license.add", "training.add", "training.end", "license.update", "registration.add", "license.add", "license.end",
                       "training.end", "registration.add", "training.add"]


def test_the_chain_verifies_after_batches_and_single_events(ctx):
    audit.record(actor_id=None, actor="test", action="test.before", entity_type="test", entity_key="1")
    assert load(PROVIDERS).ok
    assert load(providers_csv(PROVIDER | {"npi": npi(1), "name": "Renamed"}, PROVIDER | {"npi": npi(99)})).ok
    checked, broken = audit.verify_chain()
    assert broken is None and checked == 1 + 30 + 2


def test_record_many_chains_like_record(ctx):
    items = [{"actor_id": None, "actor": "test", "action": "test.many", "entity_type": "test", "entity_key": str(i), "after": {"i": i, "s": "é"}} for i in range(3)]
    audit.record(actor_id=None, actor="test", action="test.one", entity_type="test", entity_key="x")  # pending, flushed first
    assert audit.record_many(items) == 3
    assert audit.record_many([]) == 0
    audit.record(actor_id=None, actor="test", action="test.one", entity_type="test", entity_key="y")
    db.session.commit()
    assert [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))] == ["test.one", "test.many", "test.many", "test.many", "test.one"]
    assert audit.verify_chain() == (5, None)


def test_a_clash_saved_during_the_import_is_reported_on_its_row(ctx):
    plan = csvio.plan_import(csvio.read_csv(io.StringIO(PROVIDERS)))
    assert plan.ok and len(plan.added) == 30
    # someone saves NPI 7 after the plan was made: the batch INSERT fails, the rows are retried
    now = utcnow()
    db.session.execute(insert(Provider.__table__), {"npi": npi(7), "name": "Someone Else", "profession_code": "PT", "email": "", "is_active": True, "created_at": now, "updated_at": now, "version_id": 1})
    try:
        csvio.apply_import(plan, actor=ACTOR)
        raise AssertionError("the import should fail")
    except csvio.ImportFailed:
        db.session.rollback()
    assert errors_of(plan) == [(8, "npi")] and "already belongs to Someone Else" in plan.errors[0].message
    assert db.session.scalar(select(func.count()).select_from(Provider)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_a_credential_clash_saved_during_the_import_is_reported_on_its_row(ctx):
    assert load(PROVIDERS).ok
    content = credentials_csv(*(LICENSE | {"npi": npi(n), "number": f"L{n}"} for n in range(1, 11)))
    plan = csvio.plan_import(csvio.read_csv(io.StringIO(content)))
    provider = services.get_by_npi(npi(4))
    now = utcnow()
    db.session.execute(insert(License.__table__), {"provider_id": provider.id, "jurisdiction_code": "WA", "profession_code": "PT", "number": "L4", "status": "active",
                                                   "is_compact_privilege": False, "end_reason": "", "created_at": now, "updated_at": now, "version_id": 1})
    try:
        csvio.apply_import(plan, actor=ACTOR)
        raise AssertionError("the import should fail")
    except csvio.ImportFailed:
        db.session.rollback()
    assert errors_of(plan) == [(5, "number")]
    assert db.session.scalar(select(func.count()).select_from(License)) == 0


def test_progress_advances_row_by_row_across_batches(ctx, monkeypatch):
    monkeypatch.setattr(csvio, "BATCH_ROWS", 7)
    seen: list[int] = []

    def progress(iterable):
        for item in iterable:
            seen.append(db.session.scalar(select(func.count()).select_from(Provider)))
            yield item

    plan = csvio.plan_import(csvio.read_csv(io.StringIO(PROVIDERS)))
    csvio.apply_import(plan, actor=ACTOR, progress=progress)
    db.session.commit()
    assert len(seen) == 30 and seen[0] == 0 and seen[-1] == 28  # written 7 at a time, as they come
    assert audit.verify_chain() == (30, None)


def test_dry_run_then_rollback_writes_nothing_and_reimport_changes_nothing(ctx):
    plan = csvio.plan_import(csvio.read_csv(io.StringIO(PROVIDERS)))
    csvio.apply_import(plan, actor=ACTOR)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Provider)) == 0
    assert load(PROVIDERS).ok
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    again = load(PROVIDERS)
    assert (len(again.added), len(again.changed), len(again.unchanged)) == (0, 0, 30)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events
