"""The database guarantees: SQLite pragmas, no lost updates, optimistic locking."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from registry.extensions import db
from registry.rules import services
from registry.rules.models import RuleVersion
from tests.conftest import import_text, row, to_csv


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def test_sqlite_connection_settings(ctx):
    if not is_sqlite():
        pytest.skip("SQLite pragmas; this run uses " + db.engine.dialect.name)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_foreign_keys_are_enforced(ctx):
    import_text(to_csv([row()]))
    with pytest.raises(Exception) as info:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE rule_version SET jurisdiction_code = 'ZZ'"))
    assert "foreign" in str(info.value).lower()


def test_concurrent_read_then_write_loses_no_update(ctx):
    """Eight threads each read a counter and write it back plus one, 25 times.

    With pysqlite's default transaction handling this loses most updates (the read happens
    outside any transaction); with BEGIN IMMEDIATE (SQLite) or a row lock (PostgreSQL) every
    increment survives.
    """
    import_text(to_csv([row(supervised_sessions="0")]))
    engine = db.engine
    lock_clause = "" if is_sqlite() else " FOR UPDATE"
    failures: list[BaseException] = []

    def work():
        try:
            for _ in range(25):
                with Session(engine) as session, session.begin():
                    value = session.execute(text("SELECT supervised_sessions FROM rule_version" + lock_clause)).scalar_one()
                    session.execute(text("UPDATE rule_version SET supervised_sessions = :v"), {"v": value + 1})
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with Session(engine) as session:
        assert session.execute(text("SELECT supervised_sessions FROM rule_version")).scalar_one() == 200


def test_version_counter_stops_a_concurrent_flush(ctx):
    """Two sessions load the same version; the second UPDATE matches no row and fails."""
    import_text(to_csv([row()]))
    version_id = services.current_rule("WA", "PT").id
    db.session.remove()
    with Session(db.engine, expire_on_commit=False) as first, Session(db.engine, expire_on_commit=False) as second:
        a = first.get(RuleVersion, version_id)
        first.commit()  # like two requests: each loads in its own short transaction
        b = second.get(RuleVersion, version_id)
        second.commit()
        a.effective_to = date(2030, 1, 1)
        first.commit()
        b.notes = "edited from a stale copy"
        with pytest.raises(StaleDataError):
            second.flush()
        second.rollback()


def test_pool_settings_come_from_the_environment_for_postgresql(monkeypatch, tmp_path):
    from registry.config import from_environment

    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.internal:5432/registry")
    monkeypatch.setenv("DB_POOL_SIZE", "12")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT", "3")
    options = from_environment(str(tmp_path), secret_given=True)["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options == {"pool_pre_ping": True, "pool_size": 12, "max_overflow": 5, "pool_timeout": 10, "connect_args": {"connect_timeout": 3}}
    monkeypatch.setenv("DATABASE_URL", "sqlite:///registry.db")  # SQLite: the pool defaults
    assert from_environment(str(tmp_path), secret_given=True)["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.internal:5432/registry")
    monkeypatch.setenv("DB_POOL_SIZE", "lots")
    with pytest.raises(ValueError, match="DB_POOL_SIZE must be a whole number"):
        from_environment(str(tmp_path), secret_given=True)
