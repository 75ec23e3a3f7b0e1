"""The visits CSV: the cells' own syntax, strict all-or-nothing reading, the upload page (the
sample file against the sample providers, refused files, nothing recorded) and the results
file, formula-escaped."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from registry.coding import csvio, gate
from registry.coding.models import CodingCheck
from registry.coding.services import MAX_VISITS
from registry.extensions import db
from registry.providers import csvio as provider_csv
from registry.rules.services import Actor
from tests.conftest import ROOT
from tests.test_eligibility_api import sign_in

SAMPLES = ROOT / "data" / "samples"
CASEY, AVERY = "1000001036", "1000001010"  # sample providers: a PT eligible in TX from 2025-05-20; one short of WA's training
GOOD = {
    "npi": CASEY, "jurisdiction": "TX", "date": "2025-09-15", "payer_type": "commercial", "payer_name": "Acme Health",
    "muscles": "upper trapezius:bilateral; levator scapulae:left", "lines": "20561", "diagnoses": "M79.18",
    "consent_on_file": "yes", "plan_of_care_on_file": "yes", "reassessment_done": "yes", "abn_on_file": "no", "referral_on_file": "",
}


def visits_csv(*rows: dict, columns=csvio.VISIT_COLUMNS) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def read(content: bytes) -> csvio.VisitFile:
    return csvio.read_visits(io.StringIO(content.decode(), newline=""))


def errors_of(parsed: csvio.VisitFile) -> list[tuple[int, str]]:
    return [(e.line, e.field) for e in parsed.errors]


# --- the cells' own syntax -------------------------------------------------------------------------
def test_muscles_are_name_and_side_pairs():
    assert csvio.parse_muscles(" Upper trapezius : Bilateral ;levator scapulae:left; ") == (
        gate.Muscle("Upper trapezius", "bilateral"), gate.Muscle("levator scapulae", "left"),
    )
    assert csvio.parse_muscles("") == ()
    assert csvio.parse_muscles("a:left, b:right") == (gate.Muscle("a", "left"), gate.Muscle("b", "right"))


@pytest.mark.parametrize(
    "text, words",
    [
        ("upper trapezius", "has no side"),
        ("upper trapezius:both", "the side must be one of left, right, bilateral, midline"),
        (":left", "has no muscle name"),
        ("x" * 101 + ":left", "longer than 100 characters"),
        ("; ".join(f"m{n}:left" for n in range(61)), "61 muscles; at most 60"),
    ],
)
def test_bad_muscles_are_named(text, words):
    with pytest.raises(ValueError, match=words):
        csvio.parse_muscles(text)


def test_claim_lines_have_code_units_modifiers_and_injected_muscles():
    assert csvio.parse_lines("20561; 97140x2:GP GX; 20552:59 (piriformis:right, gluteus medius:left); 97110 x 3") == (
        gate.Line("20561"),
        gate.Line("97140", 2, ("GP", "GX")),
        gate.Line("20552", 1, ("59",), (gate.Muscle("piriformis", "right"), gate.Muscle("gluteus medius", "left"))),
        gate.Line("97110", 3),
    )
    assert csvio.parse_lines("0232t:gp,59") == (gate.Line("0232T", 1, ("GP", "59")),)


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "give at least one claim line"),
        ("2056", "is not a claim line"),
        ("20561x0", "units must be a whole number from 1 to 99"),
        ("20561x100", "units must be a whole number from 1 to 99"),
        ("20561:GPX", "'GPX' is not a modifier"),
        ("20561:GP GX 59 25 KX", "5 modifiers; at most 4"),
        ("20552 (piriformis)", "'20552 \\(piriformis\\)': 'piriformis' has no side"),
        ("ABCDE", "'ABCDE' is not a CPT or HCPCS code"),
        ("; ".join(["97110"] * 21), "21 claim lines; at most 20"),
    ],
)
def test_bad_claim_lines_are_named(text, words):
    with pytest.raises(ValueError, match=words):
        csvio.parse_lines(text)


def test_diagnoses_are_split_on_spaces_and_commas():
    assert csvio.parse_diagnoses(" m79.18, M62.838  ") == ("M79.18", "M62.838")
    assert csvio.parse_diagnoses("M7918") == ("M7918",)  # the shape is the gate's to judge
    with pytest.raises(ValueError, match="13 diagnosis codes; at most 12"):
        csvio.parse_diagnoses(" ".join(["M79.18"] * 13))


# --- reading a file ------------------------------------------------------------------------------
def test_the_sample_file_reads_cleanly():
    parsed = read((SAMPLES / "visits.csv").read_bytes())
    assert parsed.ok and len(parsed.rows) == 7
    first = parsed.rows[0]
    assert first.line == 2 and first.visit.day.isoformat() == "2025-09-15" and first.visit.consent_on_file is True
    assert parsed.rows[4].visit.lines[1].muscles == (gate.Muscle("piriformis", "right"),)


@pytest.mark.parametrize(
    "overrides, column, words",
    [
        ({"date": "2025-02-30"}, "date", "not a date in the form YYYY-MM-DD"),
        ({"date": "15/09/2025"}, "date", "not a date"),
        ({"npi": "1000001037"}, "npi", "check digit"),
        ({"npi": "12345"}, "npi", "exactly 10 digits"),
        ({"jurisdiction": "XX"}, "jurisdiction", "not a jurisdiction"),
        ({"payer_type": "insurance"}, "payer_type", "must be one of: medicare, medicaid, commercial, workers_comp, self_pay"),
        ({"payer_name": "x" * 201}, "payer_name", "longer than 200"),
        ({"muscles": "upper trapezius:up"}, "muscles", "the side must be one of"),
        ({"lines": ""}, "lines", "give at least one claim line"),
        ({"diagnoses": "M79.18 ABCDEFGHIJKL"}, "diagnoses", "longer than an ICD-10-CM code"),
        ({"consent_on_file": "maybe"}, "consent_on_file", "must be yes, no or empty"),
        ({"abn_on_file": "true"}, "abn_on_file", "must be yes, no or empty"),
    ],
)
def test_a_bad_cell_is_named_by_line_and_column(overrides, column, words):
    parsed = read(visits_csv(GOOD, GOOD | overrides, GOOD))
    assert errors_of(parsed) == [(3, column)], [str(e) for e in parsed.errors]
    assert words in parsed.errors[0].message


def test_every_bad_cell_is_reported_at_once():
    parsed = read(visits_csv(GOOD | {"date": "tomorrow", "lines": "20561x0"}, GOOD, GOOD | {"muscles": "x:up"}))
    assert errors_of(parsed) == [(2, "date"), (2, "lines"), (4, "muscles")]


@pytest.mark.parametrize(
    "content, expected",
    [
        (visits_csv(GOOD, columns=[c for c in csvio.VISIT_COLUMNS if c != "referral_on_file"]), [(1, "referral_on_file")]),
        (visits_csv(GOOD, columns=[*csvio.VISIT_COLUMNS, "notes"]), [(1, "notes")]),
        (b"", [(1, "header")]),
        (visits_csv(), [(2, "row")]),  # a header and no visit
        (visits_csv(GOOD) + b"1,2,3\n", [(3, "row")]),
    ],
)
def test_a_bad_file_shape_is_named(content, expected):
    assert errors_of(read(content)) == expected


def test_more_visits_than_a_batch_holds_are_refused():
    parsed = read(visits_csv(*[GOOD] * (MAX_VISITS + 1)))
    assert errors_of(parsed) == [(MAX_VISITS + 2, "row")] and "more than 10,000 visits" in parsed.errors[0].message


def test_formula_escaping_is_undone_on_reading():
    parsed = read(visits_csv(GOOD | {"payer_name": "'=Acme"}))
    assert parsed.rows[0].visit.payer_name == "=Acme"


# --- the upload page -------------------------------------------------------------------------------
@pytest.fixture
def samples(app, real_rules):
    """The sample providers and credentials of data/samples/, imported."""
    with app.app_context():
        for name in ("providers", "credentials"):
            with open(SAMPLES / f"{name}.csv", encoding="utf-8-sig", newline="") as fh:
                plan = provider_csv.plan_import(provider_csv.read_csv(fh))
            provider_csv.apply_import(plan, actor=Actor(None, "test"))
        db.session.commit()


@pytest.fixture
def biller(app, make_user, samples):
    return sign_in(app, "biller", make_user)


def upload(client, content: bytes, name: str = "visits.csv"):
    return client.post("/coding/upload", data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def recorded(app) -> list[CodingCheck]:
    with app.app_context():
        return list(db.session.scalars(select(CodingCheck).order_by(CodingCheck.id)))


def check_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CodingCheck))


def test_the_upload_page_offers_the_format_and_the_sample(biller):
    page = biller.get("/coding/upload").get_data(as_text=True)
    assert "Download a sample file (visits.csv)" in page and "97140x2:GP GX" in page
    sample = biller.get("/coding/upload/sample.csv")
    assert sample.mimetype == "text/csv" and "attachment" in sample.headers["Content-Disposition"]
    assert sample.data == (SAMPLES / "visits.csv").read_bytes()
    sample.close()


def test_the_sample_file_is_checked_recorded_and_answered(app, biller):
    response = upload(biller, (SAMPLES / "visits.csv").read_bytes())
    assert response.status_code == 200 and response.mimetype == "text/csv", response.get_data(as_text=True)[:3000]
    assert response.headers["Content-Disposition"].startswith("attachment; filename=coding-results-")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    sample = list(csv.DictReader(io.StringIO((SAMPLES / "visits.csv").read_text())))
    assert [{c: r[c] for c in csvio.VISIT_COLUMNS} for r in rows] == sample  # the input, as sent
    assert [(r["outcome"], r["computed_code"], r["eligibility"]) for r in rows] == [
        ("allow", "20561", "eligible"),
        ("allow_with_warnings", "20560", "eligible"),  # no plan of care
        ("allow", "20560", "eligible"),  # Medicare, a PT: ABN and GX, the patient's responsibility
        ("block", "20560", "eligible"),  # two muscles billed as 20561
        ("block", "20560", "eligible"),  # the same muscle injected and needled
        ("block", "20560", "not_eligible"),  # WA asks 325 hours of training
        ("block", "20560", "not_eligible"),  # California does not allow it
    ]
    assert rows[3]["edits"].startswith("block:muscle_count_mismatch: 2 distinct muscles are documented: the code is 20560, not 20561.")
    assert "warn:no_plan_of_care: " in rows[1]["edits"] and " | info:eligibility_note: " in rows[1]["edits"]
    checks = recorded(app)
    assert [str(c.id) for c in checks] == [r["check_id"] for r in rows]
    assert {c.channel for c in checks} == {"csv"} and len({c.batch_key for c in checks}) == 1
    assert {c.actor for c in checks} == {"biller@example.org"}


def test_the_results_are_formula_escaped(app, biller):
    response = upload(biller, visits_csv(GOOD | {"payer_name": "=HYPERLINK(\"http://x\")", "diagnoses": "-M79.18"}))
    (row,) = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert row["payer_name"] == "'=HYPERLINK(\"http://x\")" and row["diagnoses"] == "'-M79.18"
    assert row["edits"].startswith("block:diagnosis_malformed: ") and row["outcome"] == "block"
    assert recorded(app)[0].payer_name == "=HYPERLINK(\"http://x\")"  # stored as typed


def test_an_unknown_provider_is_a_blocked_visit_not_a_file_error(app, biller):
    response = upload(biller, visits_csv(GOOD | {"npi": "1003000126"}))
    (row,) = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert row["outcome"] == "block" and row["edits"].startswith("block:unknown_provider: ") and row["eligibility"] == ""
    assert check_count(app) == 1


@pytest.mark.parametrize(
    "content, name, words",
    [
        (visits_csv(GOOD, GOOD, GOOD | {"date": "2025-13-01"}), "visits.csv", "line 4, date: &#39;2025-13-01&#39; is not a date"),
        (visits_csv(GOOD, GOOD | {"muscles": "upper trapezius:sideways"}), "visits.csv", "line 3, muscles: &#39;upper trapezius:sideways&#39;: the side must be one of"),
        (visits_csv(GOOD, columns=[c for c in csvio.VISIT_COLUMNS if c != "lines"]), "visits.csv", "line 1, lines: required column is missing"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "visits.csv", "The file is not UTF-8 text"),
        ("npi,jurisdiction\ncaf\u00e9,WA\n".encode("latin-1"), "visits.csv", "The file is not UTF-8 text"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4", "visits.csv", "The file is not UTF-8 text"),  # a spreadsheet renamed
        (b"", "visits.csv", "line 1, header: the file is empty"),
        (visits_csv(GOOD), "visits.xlsx", "Upload a .csv file."),
        (visits_csv(), "visits.csv", "line 2, row: the file has a header but no visit"),
    ],
)
def test_a_bad_file_is_refused_whole_and_nothing_is_recorded(app, biller, content, name, words):
    response = upload(biller, content, name)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and words in page, page[:5000]
    assert check_count(app) == 0


def test_a_file_with_one_bad_row_records_none_of_the_good_ones(app, biller):
    response = upload(biller, visits_csv(GOOD, GOOD, GOOD | {"date": "2025-02-30"}, GOOD))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "1 problem; nothing was recorded." in page and "line 4, date" in page
    assert check_count(app) == 0


def test_a_file_over_the_size_limit_is_refused(app, biller):
    row = visits_csv(GOOD).split(b"\n", 1)[1]
    content = visits_csv(GOOD) + row * (csvio.MAX_UPLOAD_BYTES // len(row))
    assert len(content) > csvio.MAX_UPLOAD_BYTES
    # the body built here, not by the test client (which would spool it to a file it never closes)
    head = b'--cut\r\nContent-Disposition: form-data; name="file"; filename="visits.csv"\r\nContent-Type: text/csv\r\n\r\n'
    response = biller.post("/coding/upload", data=head + content + b"\r\n--cut--\r\n", content_type="multipart/form-data; boundary=cut")
    assert response.status_code == 422 and "The file is larger than 8 MB" in response.get_data(as_text=True)
    assert check_count(app) == 0


def test_an_upload_without_a_file_is_refused(app, biller):
    response = biller.post("/coding/upload", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a CSV file." in response.get_data(as_text=True)


@pytest.mark.parametrize("role, status", [("manager", 200), ("biller", 200), ("auditor", 403), ("clinician", 403)])
def test_who_may_upload(app, make_user, samples, role, status):
    client = sign_in(app, role, make_user)
    assert client.get("/coding/upload").status_code == status
    assert upload(client, visits_csv(GOOD)).status_code == status
    assert check_count(app) == (1 if status == 200 else 0)
