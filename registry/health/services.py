"""The checks behind ``/healthz`` and ``/readyz``: plain functions over a session, no commits.

* healthy: the process answers and the database runs a query.
* ready: healthy, and the schema is at the newest migration, and the state rules are loaded,
  so a new worker (or a worker after a release whose ``flask db upgrade`` has not run yet) is
  held out of rotation instead of serving errors.
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from registry.errors import first_line

MIGRATIONS = Path(__file__).resolve().parent.parent.parent / "migrations"


class Check(NamedTuple):
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict:
        return {"ok": self.ok, "detail": self.detail}


@lru_cache(maxsize=1)
def expected_revisions() -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this code (fixed for a process)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def database(session: Session) -> Check:
    started = time.perf_counter()
    try:
        session.execute(text("SELECT 1")).scalar_one()
    except SQLAlchemyError as error:
        session.rollback()
        return Check("database", False, first_line(error))
    return Check("database", True, f"{session.get_bind().dialect.name}, {1000 * (time.perf_counter() - started):.1f} ms")


def schema(session: Session) -> Check:
    expected = expected_revisions()
    try:
        found = frozenset(session.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except SQLAlchemyError as error:
        session.rollback()
        return Check("schema", False, f"no migration applied ({first_line(error)}); run: flask db upgrade")
    if found != expected:
        return Check("schema", False, f"at {', '.join(sorted(found)) or 'nothing'}, the code expects {', '.join(sorted(expected))}; run: flask db upgrade")
    return Check("schema", True, f"at {', '.join(sorted(found))}")


def rules(session: Session) -> Check:
    from registry.rules.models import RuleVersion

    try:
        count = session.execute(select(func.count()).select_from(RuleVersion)).scalar_one()
    except SQLAlchemyError as error:
        session.rollback()
        return Check("rules", False, first_line(error))
    if not count:
        return Check("rules", False, "no state rules loaded; run: flask rules import data/state_rules.csv")
    return Check("rules", True, f"{count} rule versions")


def health(session: Session) -> list[Check]:
    return [database(session)]


def readiness(session: Session) -> list[Check]:
    checks = health(session)
    if checks[0].ok:
        checks += [schema(session), rules(session)]
    return checks
