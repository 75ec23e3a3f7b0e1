"""The rules CSV: validation, idempotent import, export round trip, formula escaping."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.csvkit import escape_cell, unescape_cell
from registry.extensions import db
from registry.rules import services
from registry.rules.csvio import COLUMNS
from registry.rules.models import RuleVersion
from tests.conftest import import_text, row, to_csv


def count_versions() -> int:
    return db.session.scalar(select(func.count()).select_from(RuleVersion))


def errors_of(plan) -> list[tuple[int, str]]:
    return [(e.line, e.field) for e in plan.errors]


# --- validation: every bad row is reported with its line and field; nothing is written ----
@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"status": "allowed"}, "status"),
        ({"jurisdiction": "XX"}, "jurisdiction"),
        ({"profession": "OT"}, "profession"),
        ({"min_training_hours": "-5"}, "min_training_hours"),
        ({"min_training_hours": "fifty"}, "min_training_hours"),
        ({"min_practical_hours": "40.25"}, "min_practical_hours"),
        ({"supervised_sessions": "2.5"}, "supervised_sessions"),
        ({"completion_window_months": "0"}, "completion_window_months"),
        ({"board_registration_required": "maybe"}, "board_registration_required"),
        ({"authority_type": "blog"}, "authority_type"),
        ({"source_url": "ftp://example.org/x"}, "source_url"),
        ({"source_date": "March 2024"}, "source_date"),
        ({"effective_from": "2024-02-30"}, "effective_from"),
        ({"effective_from": "2024-06-22", "effective_to": "2024-06-01"}, "effective_to"),
        ({"confidence": "certain"}, "confidence"),
    ],
)
def test_bad_cell_is_reported_by_line_and_field(ctx, overrides, field):
    good = row(jurisdiction="OR", profession="DC")
    plan = import_text(to_csv([good, row(**overrides)]))
    assert errors_of(plan) == [(3, field)], [str(e) for e in plan.errors]
    assert count_versions() == 0


def test_every_bad_row_is_reported_not_just_the_first(ctx):
    plan = import_text(to_csv([row(status="x"), row(jurisdiction="CA", confidence="x"), row(jurisdiction="OR", min_training_hours="-1")]))
    assert errors_of(plan) == [(2, "status"), (3, "confidence"), (4, "min_training_hours")]
    assert "line 4, min_training_hours" in str(plan.errors[2])


def test_unknown_and_missing_columns_are_rejected(ctx):
    content = to_csv([row()], columns=[c for c in COLUMNS if c != "notes"] + ["colour"])
    plan = import_text(content)
    assert (1, "colour") in errors_of(plan)
    assert (1, "notes") in errors_of(plan)
    assert count_versions() == 0


def test_ragged_row_is_rejected(ctx):
    content = to_csv([row()]) + "WA,PT,permitted\n"
    plan = import_text(content)
    assert errors_of(plan) == [(3, "row")]


def test_overlapping_and_gapped_versions_are_rejected(ctx):
    rows = [
        row(effective_from="2020-01-01", effective_to="2022-01-01"),
        row(effective_from="2021-01-01", effective_to=""),  # should start 2022-01-01
        row(jurisdiction="CA", effective_from="", effective_to=""),
        row(jurisdiction="CA", effective_from="", effective_to=""),  # two open, two empty starts
        row(jurisdiction="TX", effective_from="2020-01-01", effective_to="2021-01-01"),  # never open
    ]
    plan = import_text(to_csv(rows))
    found = errors_of(plan)
    assert (2, "effective_to") in found
    assert (5, "effective_from") in found
    assert (6, "effective_to") in found
    assert count_versions() == 0


def test_one_bad_row_means_nothing_is_written(ctx):
    plan = import_text(to_csv([row(jurisdiction="CA"), row(jurisdiction="OR"), row(status="nope")]))
    assert not plan.ok
    assert count_versions() == 0


# --- import semantics -------------------------------------------------------------------
def test_second_identical_import_changes_nothing(ctx):
    content = to_csv([row(effective_from="2020-01-01", effective_to="2024-06-22", status="prohibited"), row()])
    first = import_text(content)
    assert (len(first.added), len(first.changed), len(first.unchanged)) == (2, 0, 0)
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    second = import_text(content)
    assert (len(second.added), len(second.changed), len(second.unchanged), len(second.withdrawn)) == (0, 0, 2, 0)
    assert count_versions() == 2
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_changed_row_supersedes_never_overwrites(ctx):
    import_text(to_csv([row()]))
    original = services.current_rule("WA", "PT")
    plan = import_text(to_csv([row(min_training_hours="75", notes="revised")]))
    assert [(r.values["jurisdiction"], cols) for r, _, cols in plan.changed] == [("WA", ["min_training_hours", "notes"])]
    db.session.expire_all()
    old = db.session.get(RuleVersion, original.id)
    new = services.current_rule("WA", "PT")
    assert old.superseded_at is not None and old.superseded_by_id == new.id
    assert str(old.min_training_hours) == "50.0" and str(new.min_training_hours) == "75.0"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "rule.import.change")).one()
    assert event.before["min_training_hours"] == "50" and event.after["min_training_hours"] == "75"


def test_version_missing_from_file_is_withdrawn(ctx):
    import_text(to_csv([row(effective_from="2020-01-01", effective_to="2024-06-22"), row()]))
    plan = import_text(to_csv([row(effective_from="2020-01-01")]))
    assert len(plan.withdrawn) == 1 and len(plan.changed) == 1
    assert [v.effective_from for v in services.live_versions()] == [date(2020, 1, 1)]


def test_import_leaves_pairs_not_in_the_file_alone(ctx):
    import_text(to_csv([row(), row(jurisdiction="CA", status="prohibited")]))
    plan = import_text(to_csv([row(notes="only WA")]))
    assert len(plan.withdrawn) == 0
    assert services.current_rule("CA", "PT").status == "prohibited"


# --- export --------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "'already", "''", "plain", ""])
def test_formula_escape_round_trips(value):
    escaped = escape_cell(value)
    assert escaped[:1] not in ("=", "+", "-", "@", "\t")
    assert unescape_cell(escaped) == value


def test_export_escapes_formulas_and_imports_back_identically(ctx):
    import_text(to_csv([row(notes="=HYPERLINK(\"http://evil\")", citation="+1 statute", status_detail="@risk")]))
    exported = services.export_text()
    assert "'=HYPERLINK" in exported and "'+1 statute" in exported and "'@risk" in exported
    plan = import_text(exported)
    assert (len(plan.added), len(plan.changed), len(plan.unchanged)) == (0, 0, 1)
    assert services.current_rule("WA", "PT").notes == "=HYPERLINK(\"http://evil\")"
    assert services.export_text() == exported


def test_real_rules_file_round_trips(ctx, real_rules):
    exported = services.export_text()
    plan = import_text(exported)
    assert plan.ok and not plan.has_changes
    assert len(plan.unchanged) == len(real_rules.added)
    assert services.export_text() == exported


def test_bom_and_crlf_are_accepted(ctx):
    content = "\ufeff" + to_csv([row()]).replace("\n", "\r\n")
    plan = services.read_rules_csv(io.StringIO(content.encode("utf-8").decode("utf-8-sig"), newline=""))
    assert plan.ok, [str(e) for e in plan.errors]


@pytest.mark.parametrize(
    "content, expected",
    [
        ("", [(1, "header")]),
        (to_csv([row()]).replace("WAC", "W\0AC"), [(2, "citation")]),
        (to_csv([row()]).splitlines()[0] + "\n", []),
    ],
)
def test_degenerate_files_are_handled(ctx, content, expected):
    plan = import_text(content)
    assert errors_of(plan) == expected
    assert count_versions() == 0
