"""Database triggers that make the record tables append-only: UPDATE and DELETE on them are
refused by the database itself, whoever asks (the app, a script, a console).

Protected: ``audit_event`` (every change) and ``coding_check`` (every coding decision).
Dropping a table or, on PostgreSQL, TRUNCATE (which needs the table owner) is not covered:
keep the application's database role from owning the tables in production (docs/security.md).
"""

from __future__ import annotations

PROTECTED = ("audit_event", "coding_check")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION registry_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def install_statements(dialect: str, tables=PROTECTED) -> list[str]:
    if dialect == "postgresql":
        statements = [_PG_FUNCTION]
        for table in tables:
            statements.append(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION registry_refuse_change()")
        return statements
    statements = []
    for table in tables:
        for op in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
            )
    return statements


def remove_statements(dialect: str, tables=PROTECTED) -> list[str]:
    if dialect == "postgresql":
        drops = [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in tables]
        # the shared function goes only with the last trigger that uses it
        return drops + (["DROP FUNCTION IF EXISTS registry_refuse_change()"] if set(tables) >= set(PROTECTED) else [])
    return [f"DROP TRIGGER IF EXISTS {table}_no_{op} " for table in tables for op in ("update", "delete")]
