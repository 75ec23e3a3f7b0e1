"""Provider pages: list/search, forms with validation and locking, ending, history,
the clinician's own record, and the worklist."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest

from registry.extensions import db
from registry.providers import services
from tests.conftest import import_text, row, to_csv

TODAY = date.today()


def text_of(response) -> str:
    return response.get_data(as_text=True)


def iso(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


LICENSE = {"jurisdiction_code": "WA", "number": "PT60001", "issued_on": date(2015, 1, 1), "expires_on": TODAY + timedelta(days=45), "status": "active"}


def test_list_search_and_paging(client, login, make_provider):
    make_provider(license=[LICENSE])
    make_provider(npi="1245319599", name="Bo Chiro", profession="DC")
    login("manager")
    page = text_of(client.get("/providers"))
    assert "Dana Example" in page and "Bo Chiro" in page and "2 providers" in page
    assert "Bo Chiro" not in text_of(client.get("/providers?q=dana"))
    assert "Dana Example" not in text_of(client.get("/providers?q=1245"))
    assert "Bo Chiro" not in text_of(client.get("/providers?jurisdiction=wa"))
    assert "Dana Example" not in text_of(client.get("/providers?profession=DC"))
    assert client.get("/providers?jurisdiction=ZZ").status_code == 400
    assert client.get("/providers?page=x").status_code == 400


def test_paging_splits_long_lists(app, client, login, make_provider):
    from registry.providers.npi import npi_check_digit

    for i in range(30):
        nine = f"1{i:08d}"
        make_provider(npi=nine + str(npi_check_digit(nine)), name=f"Provider {i:02d}")
    login("auditor")
    first = text_of(client.get("/providers"))
    assert "page 1 of 2" in first and "Provider 24" in first and "Provider 25" not in first
    assert "Provider 29" in text_of(client.get("/providers?page=2"))


def test_manager_adds_a_provider_and_credentials(app, client, login):
    login("manager")
    response = client.post("/providers/new", data={"name": "Rae Tester", "npi": "1245319599", "profession": "PT", "email": "rae@example.org", "is_active": "y"})
    assert response.status_code == 302
    pid = int(response.headers["Location"].rsplit("/", 1)[1])
    assert client.post(f"/providers/{pid}/license/new", data={"jurisdiction": "OR", "profession": "PT", "number": "OR-1", "issued_on": "2019-05-01", "expires_on": iso(20), "status": "active"}).status_code == 302
    assert client.post(f"/providers/{pid}/training/new", data={"course_title": "DN 1", "completed_on": "2024-01-10", "total_hours": "27", "practical_hours": "20", "supervised_sessions": "5"}).status_code == 302
    assert client.post(f"/providers/{pid}/registration/new", data={"jurisdiction": "WA", "number": "END-9", "issued_on": "2024-08-01", "expires_on": iso(-3), "status": "active"}).status_code == 302
    page = text_of(client.get(f"/providers/{pid}"))
    assert "OR-1" in page and "20 days left" in page
    assert "DN 1" in page and "27 hours" in page
    assert "END-9" in page and "expired 3 days ago" in page
    assert "license add" in page and "provider create" in page  # history


@pytest.mark.parametrize(
    "data, message",
    [
        ({"npi": "1234567890"}, "check digit"),
        ({"npi": "12345"}, "exactly 10 digits"),
        ({"name": ""}, "This field is required."),
        ({"profession": "OT"}, "Not a valid choice"),
        ({"email": "x"}, "Invalid email address."),
        ({"account_email": "nobody@example.org"}, "No user account with email nobody@example.org"),
    ],
)
def test_bad_provider_form(client, login, data, message):
    login("manager")
    base = {"name": "Rae", "npi": "1245319599", "profession": "PT"}
    response = client.post("/providers/new", data=base | data)
    assert response.status_code == 422 and message in text_of(response)
    assert "Rae" not in text_of(client.get("/providers")).split("</table>")[0].split("<tbody>")[1]


@pytest.mark.parametrize(
    "kind, data, message",
    [
        ("license", {"jurisdiction": "WA", "profession": "PT", "number": "", "status": "active"}, "This field is required."),
        ("license", {"jurisdiction": "WA", "profession": "DC", "number": "X", "status": "active", "is_compact_privilege": "y"}, "Only physical therapists"),
        ("license", {"jurisdiction": "WA", "profession": "PT", "number": "X", "status": "active", "issued_on": "2020-01-01", "expires_on": "2019-01-01"}, "is before issued on"),
        ("license", {"jurisdiction": "WA", "profession": "PT", "number": "PT60001", "status": "active"}, "already has license PT60001 in WA"),
        ("training", {"course_title": "X", "completed_on": "2024-01-01", "total_hours": "10", "practical_hours": "12"}, "must be between 0 and the total"),
        ("training", {"course_title": "X", "completed_on": "2024-01-01", "total_hours": "NaN"}, "Enter a number."),
        ("training", {"course_title": "X", "completed_on": iso(5), "total_hours": "10"}, "is in the future"),
        ("registration", {"jurisdiction": "ZZ", "number": "1", "status": "active"}, "Not a valid choice"),
    ],
)
def test_bad_credential_forms(client, login, make_provider, kind, data, message):
    pid = make_provider(license=[LICENSE])
    login("manager")
    response = client.post(f"/providers/{pid}/{kind}/new", data=data)
    assert response.status_code == 422, text_of(response)[:300]
    assert message in text_of(response)


def test_stale_credential_edit_is_refused(app, client, login, make_provider):
    pid = make_provider(license=[LICENSE])
    login("manager")
    with app.app_context():
        lic = services.get_provider(pid).licenses[0]
        lid, version = lic.id, lic.version_id
    form = {"jurisdiction": "WA", "profession": "PT", "number": "PT60001", "status": "active", "issued_on": "2015-01-01", "expires_on": iso(400), "version": str(version)}
    assert client.post(f"/providers/{pid}/license/{lid}/edit", data=form).status_code == 302
    late = client.post(f"/providers/{pid}/license/{lid}/edit", data=form | {"number": "PT60002"})
    assert late.status_code == 409 and "changed by someone else" in text_of(late)
    with app.app_context():
        assert services.get_provider(pid).licenses[0].number == "PT60001"


def test_end_a_credential_keeps_it(app, client, login, make_provider):
    pid = make_provider(license=[LICENSE])
    login("manager")
    with app.app_context():
        lic = services.get_provider(pid).licenses[0]
        lid, version = lic.id, lic.version_id
    assert client.post(f"/providers/{pid}/license/{lid}/end", data={"ended_on": TODAY.isoformat(), "end_reason": "", "version": version}).status_code == 422
    assert client.post(f"/providers/{pid}/license/{lid}/end", data={"ended_on": TODAY.isoformat(), "end_reason": "Moved to Oregon", "version": version}).status_code == 302
    page = text_of(client.get(f"/providers/{pid}"))
    assert "ended " + TODAY.isoformat() + ": Moved to Oregon" in page and "PT60001" in page
    assert "Reason: <q>Moved to Oregon</q>" in page


def test_credential_of_another_provider_is_404(client, login, make_provider):
    a = make_provider(license=[LICENSE])
    b = make_provider(npi="1245319599", name="Bo")
    login("manager")
    assert client.get(f"/providers/{b}/license/1/edit").status_code == 404
    assert client.get(f"/providers/{a}/nonsense/new").status_code == 404
    assert client.get("/providers/999").status_code == 404


def test_clinician_sees_only_their_own_record(app, client, make_user, make_provider):
    uid, email = make_user("clinician")
    own = make_provider(license=[LICENSE])
    other = make_provider(npi="1245319599", name="Someone Else")
    with app.app_context():
        p = services.get_provider(own)
        services.update_provider(p, {"user_id": uid}, actor=services.Actor(None, "test"), expected_version=None)
        db.session.commit()
    client.post("/login", data={"email": email, "password": "correct horse battery staple"})
    assert client.get("/me").headers["Location"] == f"/providers/{own}"
    page = text_of(client.get(f"/providers/{own}"))
    assert "Dana Example" in page and "Edit provider" not in page and "Add a license" not in page
    assert client.get(f"/providers/{other}").status_code == 404
    assert client.get("/providers").status_code == 403
    assert client.get("/worklist").status_code == 403


def test_clinician_without_a_record(client, login):
    login("clinician")
    response = client.get("/me")
    assert response.status_code == 404 and "No provider record is linked" in text_of(response)


def test_worklist_buckets_and_gaps(app, client, login, make_provider):
    with app.app_context():
        import_text(to_csv([row(min_training_hours="50", min_practical_hours="40", years_licensed="1", board_registration_required="yes", effective_from="2020-01-01")]))
    make_provider(
        license=[LICENSE, LICENSE | {"jurisdiction_code": "OR", "number": "OR-7", "expires_on": TODAY - timedelta(days=2)}],
        training=[{"course_title": "DN 1", "completed_on": date(2023, 1, 1), "total_hours": 27, "practical_hours": 20, "supervised_sessions": 0, "expires_on": TODAY + timedelta(days=10)}],
        registration=[{"jurisdiction_code": "CA", "number": "R1", "status": "active", "expires_on": TODAY + timedelta(days=75)}],
    )
    login("manager")
    page = text_of(client.get("/worklist"))
    sections = {m.group(1): m.group(2) for m in re.finditer(r'<section class="rule-card" id="([^"]+)">(.*?)</section>', page, re.S)}
    assert "OR OR-7" in sections["expired"]
    assert "DN 1" in sections["within-30"]
    assert "WA PT60001" in sections["within-60"]
    assert "CA R1" in sections["within-90"]
    missing = sections["missing"]
    assert "27 hours, WA requires 50" in missing and "In-person training: 20 hours, WA requires 40" in missing
    assert "requires a board registration" in missing
    assert "licensed practice" not in missing  # licensed since 2015: met


def test_nav_links_by_role(client, login):
    login("manager")
    page = text_of(client.get("/"))
    assert ">Providers</a>" in page and ">Worklist</a>" in page and ">My record</a>" not in page


SAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "data" / "samples"


def upload(client, content: bytes, name: str = "file.csv", dry_run: bool = False):
    data = {"file": (__import__("io").BytesIO(content), name)}
    if dry_run:
        data["dry_run"] = "y"
    return client.post("/providers/import", data=data, content_type="multipart/form-data")


def test_import_page_loads_the_samples(app, client, login):
    login("manager")
    dry = upload(client, (SAMPLES / "providers.csv").read_bytes(), dry_run=True)
    assert dry.status_code == 200 and "Dry run (nothing written)" in text_of(dry)
    assert "Avery Sample" not in text_of(client.get("/providers"))
    first = upload(client, (SAMPLES / "providers.csv").read_bytes())
    assert first.status_code == 200 and "Imported: providers file" in text_of(first)
    creds = upload(client, (SAMPLES / "credentials.csv").read_bytes())
    assert creds.status_code == 200 and "Imported: credentials file" in text_of(creds)
    again = upload(client, (SAMPLES / "credentials.csv").read_bytes())
    assert "0 added, 0 changed" in text_of(again)
    assert "Avery Sample" in text_of(client.get("/providers?jurisdiction=WA"))
    exported = client.get("/providers/export/credentials.csv")
    assert exported.mimetype == "text/csv"
    assert text_of(exported) == (SAMPLES / "credentials.csv").read_text()


def test_import_page_reports_every_bad_row_and_writes_nothing(app, client, login):
    login("manager")
    content = b"npi,name,profession,email,is_active\n1000001010,Ok Person,PT,,yes\n1234567890,Bad Npi,PT,,yes\n1245319599,Bad Prof,OT,,yes\n"
    response = upload(client, content)
    page = text_of(response)
    assert response.status_code == 422 and "nothing was written" in page
    assert "line 3, npi" in page and "line 4, profession" in page
    assert "Ok Person" not in text_of(client.get("/providers"))


@pytest.mark.parametrize(
    "content, name, message",
    [
        ("caf\u00e9,x\n".encode("latin-1"), "x.csv", "not UTF-8"),
        (b"a,b\n1,2\n", "x.csv", "line 1"),
        (b"npi\n", "x.exe", "Upload a .csv file."),
    ],
)
def test_import_page_bad_files(client, login, content, name, message):
    login("manager")
    response = upload(client, content, name)
    assert response.status_code == 422 and message in text_of(response)


def test_import_page_without_a_file(client, login):
    login("manager")
    response = client.post("/providers/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a CSV file." in text_of(response)


def test_export_unknown_format_is_404(client, login):
    login("auditor")
    assert client.get("/providers/export/other.csv").status_code == 404
    assert client.get("/providers/export/providers.csv").status_code == 200


def test_worklist_shows_the_first_rows_of_each_section_and_the_csv_has_them_all(app, client, login, make_provider):
    with app.app_context():
        import_text(to_csv([row(min_training_hours="50", effective_from="2020-01-01")]))
    make_provider(
        license=[LICENSE | {"jurisdiction_code": code, "number": f"{code}-1", "expires_on": TODAY - timedelta(days=3)} for code in ("AK", "AZ", "OR")] + [LICENSE],
        training=[{"course_title": "DN 1", "completed_on": date(2023, 1, 1), "total_hours": 27, "practical_hours": 20, "supervised_sessions": 0}],
    )
    app.config["WORKLIST_ROWS"] = 2
    login("manager")
    page = text_of(client.get("/worklist"))
    sections = {m.group(1): m.group(2) for m in re.finditer(r'<section class="rule-card" id="([^"]+)">(.*?)</section>', page, re.S)}
    expired = sections["expired"]
    assert "Expired (3)" in expired and "AK AK-1" in expired and "AZ AZ-1" in expired and "OR OR-1" not in expired
    assert "Showing the first 2 of 3." in expired and 'href="/worklist.csv"' in expired
    assert "Showing the first" not in sections["missing"]  # one gap: all shown
    response = client.get("/worklist.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f"worklist-{date.today().isoformat()}.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["section"], r["where_or_what"], int(r["days_left"])) for r in rows if r["section"] == "expired"] == [("expired", "AK AK-1", -3), ("expired", "AZ AZ-1", -3), ("expired", "OR OR-1", -3)]
    (missing,) = [r for r in rows if r["section"] == "missing"]
    assert missing["where_or_what"] == "WA (PT)" and "27 hours, WA requires 50" in missing["missing"] and missing["npi"]
    assert [r["where_or_what"] for r in rows if r["section"] == "within-60"] == ["WA PT60001"]


def test_the_worklist_gaps_for_everyone_match_each_providers_own(app, make_provider):
    """The worklist reads everyone as plain rows; the provider page reads one provider's
    records. Both must find the same gaps, in the same order (by name, then state)."""
    from registry.eligibility import services as eligibility

    with app.app_context():
        import_text(to_csv([
            row(min_training_hours="50", min_practical_hours="40", years_licensed="3", effective_from="2020-01-01"),
            row(jurisdiction="OR", board_registration_required="yes", min_training_hours="20", effective_from="2020-01-01"),
        ]))
    make_provider("1234567893", "Zed Short", license=[LICENSE, LICENSE | {"jurisdiction_code": "OR", "number": "OR-1"}],
                  training=[{"course_title": "DN", "completed_on": date(2023, 1, 1), "total_hours": 27, "practical_hours": 20, "supervised_sessions": 0}])
    make_provider("1245319599", "Amy New", license=[LICENSE | {"issued_on": TODAY - timedelta(days=200)}])
    make_provider("1003000126", "Met All", license=[LICENSE],
                  training=[{"course_title": "DN", "completed_on": date(2023, 1, 1), "total_hours": 60, "practical_hours": 45, "supervised_sessions": 0}])
    with app.app_context():
        everyone = eligibility.requirement_worklist(TODAY)
        from sqlalchemy import select

        from registry.providers.models import Provider

        providers = db.session.scalars(select(Provider).where(Provider.is_active.is_(True)).order_by(Provider.name, Provider.id)).all()
        one_by_one = [g for p in providers for g in eligibility.requirement_worklist(TODAY, provider=p)]

        def shape(gaps):
            return [(g.provider.id, g.provider.name, g.license.jurisdiction_code, g.license.profession_code, g.rule.version_id, [x.message for x in g.gaps]) for g in gaps]

        assert shape(everyone) == shape(one_by_one)
        assert [(name, where) for _, name, where, *_ in shape(everyone)] == [("Amy New", "WA"), ("Met All", "WA"), ("Zed Short", "OR"), ("Zed Short", "WA")]
