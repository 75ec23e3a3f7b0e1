"""Property tests for the CSV importers (rules, providers and credentials, coding visits): fed
real rows with hostile cells, ragged rows and garbage lines, they never fail with a server
error or an uncaught exception, every problem names a line and a column, and a refused file
writes nothing (every table keeps its row count, the audit log included)."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from registry import create_app
from registry.coding import csvio as coding_csv
from registry.extensions import db
from registry.providers import csvio as provider_csv
from registry.rules import services as rule_services
from registry.rules.csvio import COLUMNS as RULE_COLUMNS
from tests.conftest import PASSWORD, ROOT, app_config, dispose, row, to_csv

SAMPLES = ROOT / "data" / "samples"
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: what a hostile or careless spreadsheet puts in a cell
HOSTILE = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "=1+1", "@SUM(A1)", "-5", "1e309", "NaN", "9" * 40, "2024-02-30", "yes\x00", '"', "a,b", "line\nbreak", "\ufeff", "\ud800"]),
)


def sample_rows(name: str) -> tuple[list[str], list[dict[str, str]]]:
    with open(SAMPLES / name, encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        return list(reader.fieldnames or []), list(reader)


@st.composite
def damaged_csv(draw, columns: list[str], rows: list[dict[str, str]]) -> str:
    """Real rows, some cells replaced with hostile text, some rows cut short or lengthened, and
    sometimes a line of garbage or a mangled header."""
    picked = draw(st.lists(st.sampled_from(rows), min_size=1, max_size=4))
    header = list(columns)
    if draw(st.integers(0, 9)) == 0:
        header[draw(st.integers(0, len(header) - 1))] = draw(HOSTILE)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for record in picked:
        cells = [record[c] for c in columns]
        for _ in range(draw(st.integers(0, 3))):
            cells[draw(st.integers(0, len(cells) - 1))] = draw(HOSTILE)
        shape = draw(st.integers(0, 9))
        if shape == 0:
            cells = cells[: draw(st.integers(0, len(cells) - 1))]
        elif shape == 1:
            cells.append(draw(HOSTILE))
        writer.writerow(cells)
    text = buffer.getvalue()
    if draw(st.integers(0, 9)) == 0:
        text += draw(st.text(max_size=40))
    return text


def row_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def assert_located(errors, text: str) -> None:
    """Each problem names a line of the file (or the one after it) and a column or 'row'.
    Lines end as the csv module ends them: at \n, \r or \r\n."""
    assert errors
    lines = len(io.StringIO(text, newline="").readlines()) + 1
    for error in errors:
        assert 1 <= error.line <= lines, str(error)
        assert error.field, str(error)
        assert str(error).startswith(f"line {error.line}, "), str(error)


def signed_in(app, make_user, role: str):
    _, email = make_user(role)
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


def upload(client, path: str, text: str):
    data = {"file": (io.BytesIO(text.encode("utf-8", "surrogatepass")), "upload.csv")}
    return client.post(path, data=data, content_type="multipart/form-data")


# --- rules (flask rules import) ------------------------------------------------------------
RULE_ROWS = [row(), row(jurisdiction="CA", status="prohibited", effective_from=""), row(profession="DC", status="not_addressed")]


@PROPERTY_SETTINGS
@given(text=damaged_csv(list(RULE_COLUMNS), [{c: r[c] for c in RULE_COLUMNS} for r in RULE_ROWS]))
def test_rules_import_refuses_bad_files_whole(ctx, text):
    before = row_counts()
    plan = rule_services.read_rules_csv(io.StringIO(text, newline=""))
    rule_services.plan_import(plan)
    if plan.ok:
        rule_services.apply_import(plan, actor=rule_services.Actor(None, "test"), source="property.csv")
        db.session.commit()
    else:
        db.session.rollback()
        assert_located(plan.errors, text)
        assert row_counts() == before


@pytest.mark.parametrize("hours", ["9" * 40, "1e309", "12345678901234567890123456789.5"])
def test_huge_hours_are_refused_not_a_crash(ctx, hours):
    """Found by the property above: Decimal.quantize raised on a number of 29 digits or more."""
    plan = rule_services.read_rules_csv(io.StringIO(to_csv([row(min_training_hours=hours)]), newline=""))
    assert [(e.line, e.field, e.message) for e in plan.errors] == [(2, "min_training_hours", f"'{hours}' is too large.")]


def test_the_rules_strategy_starts_from_a_good_file(ctx):
    plan = rule_services.read_rules_csv(io.StringIO(to_csv(RULE_ROWS), newline=""))
    assert plan.ok, [str(e) for e in plan.errors]


# --- providers and credentials (/providers/import) -----------------------------------------
PROVIDER_COLUMNS, PROVIDER_ROWS = sample_rows("providers.csv")
CREDENTIAL_COLUMNS, CREDENTIAL_ROWS = sample_rows("credentials.csv")


def _provider_upload_property(app, client, text: str) -> None:
    with app.app_context():
        before = row_counts()
        plan = provider_csv.read_csv(io.StringIO(text, newline=""))
        if plan.ok:
            provider_csv.plan_import(plan)
        db.session.rollback()
    upload_refused_whole_or_done(app, client, "/providers/import", text, before, plan)


def upload_refused_whole_or_done(app, client, path: str, text: str, before: dict[str, int], parsed):
    """Upload ``text``: a 200, or a 422 that wrote nothing and (when ``parsed`` found errors)
    names each bad cell by line and column. Returns the response."""
    response = upload(client, path, text)
    assert response.status_code in (200, 422), response.get_data(as_text=True)[:500]
    if response.status_code == 422:
        with app.app_context():
            assert row_counts() == before
        if not parsed.ok:
            assert_located(parsed.errors, text)
    return response


@pytest.fixture
def manager(app, make_user):
    """Signed in once per test; every example hypothesis runs reuses it."""
    return signed_in(app, make_user, "manager")


@pytest.fixture
def biller(app, make_user):
    return signed_in(app, make_user, "biller")


@PROPERTY_SETTINGS
@given(text=damaged_csv(PROVIDER_COLUMNS, PROVIDER_ROWS))
def test_provider_import_never_fails_and_refuses_whole(app, manager, text):
    _provider_upload_property(app, manager, text)


@PROPERTY_SETTINGS
@given(text=damaged_csv(CREDENTIAL_COLUMNS, CREDENTIAL_ROWS))
def test_credential_import_never_fails_and_refuses_whole(app, manager, sample_providers, text):
    _provider_upload_property(app, manager, text)


@pytest.fixture
def sample_providers(manager):
    assert upload(manager, "/providers/import", (SAMPLES / "providers.csv").read_text()).status_code == 200


# --- coding visits (/coding/upload) --------------------------------------------------------
VISIT_COLUMNS, VISIT_ROWS = sample_rows("visits.csv")


@PROPERTY_SETTINGS
@given(text=damaged_csv(VISIT_COLUMNS, VISIT_ROWS))
def test_visit_upload_never_fails_and_records_nothing_when_refused(app, biller, sample_providers, text):
    with app.app_context():
        before = row_counts()
    parsed = coding_csv.read_visits(io.StringIO(text, newline=""))
    response = upload_refused_whole_or_done(app, biller, "/coding/upload", text, before, parsed)
    if response.status_code == 200:
        assert response.mimetype == "text/csv"


# --- files that are not CSV or too large ----------------------------------------------------
def test_binary_and_oversized_uploads_are_refused_cleanly(database_url, app, manager, biller):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    for client, path in ((manager, "/providers/import"), (biller, "/coding/upload")):
        response = client.post(path, data={"file": (io.BytesIO(png), "upload.csv")}, content_type="multipart/form-data")
        assert response.status_code == 422 and "not UTF-8 text" in response.get_data(as_text=True), path
        response = client.post(path, data={"file": (io.BytesIO(b"npi\n"), "picture.png")}, content_type="multipart/form-data")
        assert response.status_code == 422, path
    small = create_app(app_config(database_url, MAX_CONTENT_LENGTH=4096))
    try:
        client = small.test_client()
        client.set_cookie(small.config["SESSION_COOKIE_NAME"], manager.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)
        with small.app_context():
            before = row_counts()
        big = (SAMPLES / "providers.csv").read_text() * 40
        response = upload(client, "/providers/import", big)
        assert response.status_code == 413 and "Upload too large" in response.get_data(as_text=True)
        with small.app_context():
            assert row_counts() == before
    finally:
        dispose(small)
