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


def database_version() -> tuple[str, str]:
    """(dialect name, server version) of the app's database, for a benchmark's heading."""
    backend = db.engine.dialect.name
    version = db.session.execute(text("SELECT sqlite_version()" if backend == "sqlite" else "SHOW server_version")).scalar()
    return backend, version


def load_state_rules(label: str = "bench") -> int:
    """Import data/state_rules.csv into a scratch database (reference data first) and commit;
    returns the number of rule versions."""
    import io
    from pathlib import Path

    from registry.rules import services as rules

    rules.seed_reference_data()
    path = Path(__file__).resolve().parent.parent / "data" / "state_rules.csv"
    plan = rules.read_rules_csv(io.StringIO(path.read_text(encoding="utf-8")))
    rules.plan_import(plan)
    if not plan.ok:
        raise ValueError(f"{path} does not import: {plan.errors[:3]}")
    rules.apply_import(plan, actor=rules.Actor(None, label), source=label)
    db.session.commit()
    return len(plan.rows)
