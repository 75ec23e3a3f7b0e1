"""The audit trail: append-only in the database, hash-chained, verified, browsed and exported
by auditors (both databases)."""

from __future__ import annotations

import csv
import io
import threading
from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from registry.audit import chain, guard
from registry.audit import services as audit
from registry.audit.models import AuditEvent
from registry.extensions import db
from registry.providers import services as providers
from registry.rules.services import Actor

ACTOR = Actor(None, "test")


@pytest.fixture
def some_history(app):
    """A provider created, updated and given a license: three events."""
    with app.app_context():
        p = providers.create_provider({"name": "=HYPERLINK(\"http://evil\")", "npi": "1234567893", "profession_code": "PT"}, actor=ACTOR)
        db.session.commit()
        providers.update_provider(p, {"email": "dana@example.org"}, actor=ACTOR, expected_version=p.version_id)
        providers.add_credential("license", p, {"jurisdiction_code": "WA", "number": "W-1", "issued_on": date(2016, 1, 1), "status": "active"}, actor=ACTOR)
        db.session.commit()
        return p.id


def test_events_are_chained_and_verify(app, some_history, runner):
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [r.action for r in rows] == ["provider.create", "provider.update", "license.add"]
        assert rows[0].prev_hash == chain.GENESIS and [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "intact: 3 events" in result.output


@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET reason = 'rewritten'",
    "DELETE FROM audit_event",
])
def test_the_database_refuses_to_change_or_delete_an_event(app, some_history, statement):
    with app.app_context():
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(statement))
        assert db.session.scalar(select(AuditEvent.reason).where(AuditEvent.action == "provider.create")) == ""


def test_coding_checks_are_append_only_too(app, some_history):
    from registry.coding import gate
    from registry.coding import services as coding

    with app.app_context():
        visit = gate.Visit("1003000126", "WA", date(2025, 3, 14), "commercial", "", (gate.Muscle("trapezius", "left"),), (gate.Line("20560"),))
        coding.check_visit(visit, actor=ACTOR, channel="api")
        db.session.commit()
        for table in guard.PROTECTED:
            with pytest.raises(DBAPIError, match="append-only"):
                with db.engine.begin() as conn:
                    conn.execute(text(f"DELETE FROM {table}"))


def _tamper(app, statement: str) -> None:
    """What someone with the database owner's rights could do: lift the guard, edit, restore."""
    with app.app_context(), db.engine.begin() as conn:
        dialect = conn.dialect.name
        for s in guard.remove_statements(dialect, ("audit_event",)):
            conn.execute(text(s))
        conn.execute(text(statement))
        for s in guard.install_statements(dialect, ("audit_event",)):
            conn.execute(text(s))


@pytest.mark.parametrize(("statement", "problem"), [
    ("UPDATE audit_event SET reason = 'nothing to see' WHERE action = 'provider.update'", "does not match its hash"),
    ("DELETE FROM audit_event WHERE action = 'provider.update'", "link to the previous event"),
])
def test_verify_finds_a_changed_or_removed_event(app, some_history, runner, statement, problem):
    _tamper(app, statement)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "BROKEN" in result.output and problem in result.output


def test_a_rolled_back_savepoint_leaves_the_chain_intact(app, some_history):
    with app.app_context():
        p = providers.get_provider(some_history)
        with pytest.raises(RuntimeError):
            with db.session.begin_nested():
                audit.record(actor_id=None, actor="test", action="provider.update", entity_type="provider", entity_key=str(p.id), after={"x": 1})
                raise RuntimeError("undo")
        audit.record(actor_id=None, actor="test", action="provider.note", entity_type="provider", entity_key=str(p.id))
        db.session.commit()
        count, broken = audit.verify_chain()
        assert (count, broken) == (4, None)


def test_concurrent_writers_keep_one_chain(app, some_history):
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                for i in range(5):
                    audit.record(actor_id=None, actor=f"writer-{n}", action="test.write", entity_type="test", entity_key=f"{n}-{i}")
                    db.session.commit()
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    with app.app_context():
        assert audit.verify_chain() == (23, None)


# --- the page and the export ------------------------------------------------------------------------
def test_auditors_browse_and_filter(app, some_history, client, login):
    login("auditor")  # creating the auditor and signing in are the fourth and fifth events
    page = client.get("/audit").get_data(as_text=True)
    assert "provider.create" in page and "license.add" in page and "user.create" in page and "auth.login" in page and "5 events" in page
    assert "1 event." in client.get("/audit?action=license.").get_data(as_text=True)
    assert "2 events" in client.get(f"/audit?entity_type=provider&entity_key={some_history}").get_data(as_text=True)
    assert "0 events" in client.get("/audit?actor=nobody").get_data(as_text=True)
    assert "5 events" in client.get(f"/audit?from={date.today().isoformat()}&to={date.today().isoformat()}").get_data(as_text=True)
    assert client.get("/audit?from=yesterday").status_code == 400


def test_the_export_escapes_formulas_and_carries_the_chain(app, some_history, client, login):
    login("auditor")
    response = client.get("/audit.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["provider.create", "provider.update", "license.add", "user.create", "auth.login"]
    assert rows[0]["after"].startswith('{"email"') and "'=HYPERLINK" not in rows[0]["after"]  # JSON cells start with {
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    assert client.get("/audit.csv?action=provider.update").get_data(as_text=True).count("\r\n") == 2


def test_a_formula_at_the_start_of_a_cell_is_escaped(app, client, login):
    with app.app_context():
        audit.record(actor_id=None, actor="=cmd|' /C calc'!A0", action="test.write", entity_type="test", entity_key="+1", reason="@SUM(1)")
        db.session.commit()
    login("auditor")
    [row] = list(csv.DictReader(io.StringIO(client.get("/audit.csv?action=test.").get_data(as_text=True))))
    assert (row["actor"], row["entity_key"], row["reason"]) == ("'=cmd|' /C calc'!A0", "'+1", "'@SUM(1)")


@pytest.mark.parametrize("role", ["clinician", "biller"])
def test_others_do_not_see_the_audit_log(client, login, role):
    login(role)
    assert client.get("/audit").status_code == 403 and client.get("/audit.csv").status_code == 403


def test_the_date_filter_bounds_the_events(app, some_history, client, login):
    login("auditor")
    assert "0 events" in client.get("/audit?to=2020-01-01").get_data(as_text=True)
    assert "0 events" in client.get("/audit?from=2999-01-01").get_data(as_text=True)
