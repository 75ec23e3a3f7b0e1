"""Throw-away databases for the test suite and the benchmarks. Never used by the app."""

from __future__ import annotations

import flask_migrate
from flask import Flask
from sqlalchemy import text

from registry.extensions import db


def rebuild_schema(app: Flask) -> None:
    """Drop everything in the app's database, then build it again with the migrations.

    Destructive by design: only for scratch databases (a temporary SQLite file, or the
    PostgreSQL database the tests are told to use).
    """
    with app.app_context():
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            else:
                for table in [*reversed(db.metadata.sorted_tables), "alembic_version"]:
                    conn.execute(text(f"DROP TABLE IF EXISTS {getattr(table, 'name', table)}"))
        flask_migrate.upgrade()
        db.engine.dispose()
