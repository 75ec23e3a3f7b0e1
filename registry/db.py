"""Database plumbing shared by every feature.

* ``Base``: the declarative base with a constraint naming convention, so every constraint
  has a name from the first migration on (SQLite cannot drop an unnamed one later).
* ``UTCDateTime``: timezone-aware UTC datetimes on both engines.
* ``configure_engine``: SQLite pragmas and ``BEGIN IMMEDIATE`` write transactions.

Services never commit; the request, CLI command or job that called them does.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

from sqlalchemy import DateTime, Engine, MetaData, String, any_, bindparam, event, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores UTC; always hands back an aware datetime (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def configure_engine(engine: Engine, *, busy_timeout_ms: int = 5000) -> None:
    """Make SQLite safe under concurrent writers; PostgreSQL needs nothing here.

    pysqlite's default ("legacy") transaction handling issues its own deferred ``BEGIN`` only
    before a write, so a read-then-write request reads outside any transaction and concurrent
    requests silently lose updates. We take over: the driver stays in autocommit and every
    SQLAlchemy transaction starts with ``BEGIN IMMEDIATE``, which takes the write lock up front
    (waiting up to ``busy_timeout``) instead of failing on the read-to-write upgrade.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            f"busy_timeout={int(busy_timeout_ms)}",
            "foreign_keys=ON",
            "synchronous=NORMAL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# --- lists of keys as one bound parameter ---------------------------------------------------------
def among(column, name: str, dialect: str):
    """``column IN (the list bound as :name)`` with one bound parameter: an array on
    PostgreSQL, a JSON list read by ``json_each`` on SQLite, whatever the number of values (an
    expanding IN of thousands of values costs more in SQLAlchemy and the driver, a placeholder
    each to render and parse, than running the query). Bind the values with ``listed``."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    if dialect == "sqlite":
        values = func.json_each(bindparam(name, type_=String)).table_valued("value")
        return column.in_(select(values.c.value))
    return column.in_(bindparam(name, expanding=True))


def listed(values: list, dialect: str):
    return json.dumps(values) if dialect == "sqlite" else values
