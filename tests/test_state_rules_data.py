"""data/state_rules.csv is complete, valid, and agrees with the sourced research."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from registry.rules import services
from registry.rules.reference import JURISDICTION_CODES, PROFESSION_CODES
from tests.conftest import RULES_CSV

RESEARCH = Path(__file__).resolve().parent.parent.parent / "shared" / "research"


def file_rows() -> list[dict[str, str]]:
    with RULES_CSV.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def current_rows() -> dict[tuple[str, str], dict[str, str]]:
    return {(r["jurisdiction"], r["profession"]): r for r in file_rows() if not r["effective_to"]}


def test_every_jurisdiction_and_profession_has_one_current_rule():
    rows = file_rows()
    current = [(r["jurisdiction"], r["profession"]) for r in rows if not r["effective_to"]]
    assert len(current) == len(set(current)) == 104
    assert set(current) == {(j, p) for j in JURISDICTION_CODES for p in PROFESSION_CODES}


def test_every_row_carries_its_source():
    for r in file_rows():
        where = (r["jurisdiction"], r["profession"], r["effective_from"])
        assert r["citation"].strip(), where
        assert r["source_url"].startswith("http"), where
        assert r["confidence"] in {"high", "medium", "low", "unknown"}, where


def test_unknown_status_claims_nothing():
    for r in file_rows():
        if r["status"] == "unknown":
            assert r["confidence"] == "unknown"
            assert not r["min_training_hours"] and not r["years_licensed"]


def test_file_imports_cleanly(ctx, real_rules):
    assert len(real_rules.added) == len(file_rows())
    assert len(services.live_versions()) == len(file_rows())


@pytest.mark.parametrize(
    "pair, before, after, change",
    [
        (("WA", "PT"), date(2024, 1, 1), date(2024, 7, 1), date(2024, 6, 22)),
        (("FL", "DC"), date(2024, 12, 1), date(2025, 1, 15), date(2024, 12, 29)),
        (("VA", "PT"), date(2023, 6, 30), date(2023, 7, 1), date(2023, 7, 1)),
    ],
)
def test_dated_changes_answer_differently_on_either_side(ctx, real_rules, pair, before, after, change):
    old = services.rule_in_force(*pair, before)
    new = services.rule_in_force(*pair, after)
    assert old is not None and new is not None and old.id != new.id
    assert new.effective_from == change


def test_washington_physical_therapists(ctx, real_rules):
    early = services.rule_in_force("WA", "PT", date(2024, 1, 1))
    late = services.rule_in_force("WA", "PT", date(2024, 7, 1))
    assert early.status == "prohibited"
    assert late.status == "permitted" and late.board_registration_required is True
    assert "WAC 246-915-390" in late.citation


@pytest.mark.skipif(not RESEARCH.exists(), reason="../shared/research is not beside this checkout")
def test_current_rows_match_the_research():
    """Status word and confidence of every current row are the research's own."""
    with (RESEARCH / "state_law.csv").open(encoding="utf-8") as fh:
        research = {(r["state_code"], r["profession"]): r for r in csv.DictReader(fh)}
    current = current_rows()
    assert set(research) == set(current)
    for pair, r in research.items():
        assert current[pair]["status"] == r["status"].split()[0], pair
        assert current[pair]["confidence"] == r["confidence"], pair


@pytest.mark.skipif(not RESEARCH.exists(), reason="../shared/research is not beside this checkout")
def test_every_url_comes_from_the_research():
    corpus = (RESEARCH / "state_law.md").read_text(encoding="utf-8") + (RESEARCH / "state_law.csv").read_text(encoding="utf-8")
    for r in file_rows():
        for url in r["source_url"].split(" ; "):
            assert url.strip() in corpus, (r["jurisdiction"], r["profession"], url)
