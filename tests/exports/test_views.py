"""The exports page: asking for a workbook (queued, never written in the request), following it,
downloading it, and importing a legacy census workbook."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl  # noqa: TID251 -- tests build and alter workbooks
import pytest
import sqlalchemy as sa
from flask import Flask

from app.audit.models import AuditLog
from app.exports import jobs as export_jobs
from app.exports import writing
from app.exports.layouts import load_template
from app.exports.models import Export, ExportKind, ExportStatus
from app.extensions import db
from app.observations.models import Observation, ObservationFlag
from app.sites.models import Site
from tests.conftest import PADDY

pytestmark = pytest.mark.usefixtures("storage_dir")  # photos and workbooks in a folder of the test's own


def _exports() -> list[Export]:
    return list(db.session.scalars(sa.select(Export).order_by(Export.id)))


def _form(**overrides: Any) -> dict[str, Any]:
    form = {"kind": "census", "bureau": "agriculture", "date_from": "2026-01-01", "date_to": "2026-03-31"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


@pytest.mark.parametrize("role", ["surveyor", "verifier", "supervisor"])
def test_staff_are_refused(web_as: Any, role: str) -> None:
    web = web_as(role, "agriculture")
    assert web.get("/exports").status_code == 403
    assert web.post("/exports", data=_form()).status_code == 403
    upload = {"import-bureau": "agriculture", "import-file": (io.BytesIO(b"x"), "census.xlsx")}
    assert web.post("/exports/import", data=upload, content_type="multipart/form-data").status_code == 403
    assert _exports() == []


def test_a_bureau_admin_queues_an_export_of_their_bureau(
    web_as: Any, species_id: Any, storage_dir: Path
) -> None:
    web = web_as("bureau_admin", "agriculture")
    page = web.get("/exports").get_data(as_text=True)
    assert 'name="kind"' in page and 'name="date_from"' in page and 'name="species"' in page
    assert '<input type="hidden" name="bureau" value="agriculture">' in page  # fixed, not a choice
    assert 'http-equiv="refresh"' not in page  # nothing is being written

    snail = species_id("pomacea-canaliculata")
    response = web.post("/exports", data=_form(kind="control", species=str(snail), township="500155001"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/exports")
    [export] = _exports()
    assert export.kind == ExportKind.CONTROL and export.bureau == "agriculture"
    assert export.filters == {"species_id": snail, "township_code": "500155001", "statuses": ["verified"]}
    assert (export.date_from.isoformat(), export.date_to.isoformat()) == ("2026-01-01", "2026-03-31")  # type: ignore[union-attr]
    assert export.requested_by_id == web.user.id and export.organization_id == web.user.organization_id
    assert '<input checked id="statuses-0" name="statuses" type="checkbox" value="verified">' in page
    # Queued for the scheduler: no workbook was written while the request ran.
    assert (export.status, export.progress, export.file_key) == (ExportStatus.QUEUED, 0.0, None)
    assert not storage_dir.exists() or not any(storage_dir.rglob("*.xlsx"))
    assert db.session.scalar(
        sa.select(AuditLog.id).where(
            AuditLog.action == "export_requested", AuditLog.entity_id == str(export.id)
        )
    )

    listing = web.get("/exports").get_data(as_text=True)
    assert 'http-equiv="refresh" content="5"' in listing  # follows the queued export
    assert 'class="badge pending"' in listing
    assert "/download" not in listing


def test_a_bureau_admin_cannot_export_another_bureau(web_as: Any) -> None:
    web = web_as("bureau_admin", "agriculture")
    assert web.post("/exports", data=_form(bureau="forestry")).status_code == 422
    assert _exports() == []


def test_an_admin_chooses_the_bureau(web_as: Any) -> None:
    web = web_as("admin", "agriculture")
    page = web.get("/exports").get_data(as_text=True)
    assert '<select id="bureau" name="bureau"' in page and 'value="forestry"' in page
    assert web.post("/exports", data=_form(bureau="forestry", kind="follow_ups")).status_code == 302
    [export] = _exports()
    assert (export.bureau, export.kind) == ("forestry", ExportKind.FOLLOW_UPS)
    assert export.filters == {"statuses": ["verified"]}  # nothing ticked: verified only


def test_the_page_offers_the_review_statuses_and_the_district(web_as: Any) -> None:
    web = web_as("admin", "agriculture")
    page = web.get("/exports").get_data(as_text=True)
    assert 'value="district"' in page
    form = _form(bureau="district")
    form["statuses"] = ["verified", "submitted"]
    assert web.post("/exports", data=form).status_code == 302
    [export] = _exports()
    assert export.bureau == "district" and export.organization_id is None
    assert export.filters == {"statuses": ["submitted", "verified"]}

    form["statuses"] = ["verified", "approved"]
    refused = web.post("/exports", data=form)
    assert refused.status_code == 422
    assert "statuses" in refused.get_data(as_text=True)
    assert len(_exports()) == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"date_from": "2026-05-02", "date_to": "2026-05-01"}, "date_to", "must not be before from"),
        ({"date_from": "May"}, "date_from", "Not a valid date value."),
        ({"date_to": "1800-01-01"}, "date_to", "must be between 1900-01-01 and 2199-12-31"),
        ({"species": "999999"}, "species", "Not a valid choice"),
        ({"township": "nowhere"}, "township", "Not a valid choice"),
        ({"kind": "everything"}, "kind-0", "Not a valid choice"),
    ],
)
def test_bad_requests_are_shown_and_nothing_is_queued(
    web_as: Any, changes: dict[str, Any], field: str, message: str
) -> None:
    web = web_as("bureau_admin", "agriculture")
    web.post("/language", data={"lang": "en", "next": "/"})
    response = web.post("/exports", data=_form(**changes))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert f'id="{field}"' in html
    assert _exports() == []


def test_a_bureau_admin_sees_only_their_bureaus_exports(web_as: Any) -> None:
    forestry = web_as("bureau_admin", "forestry")
    agriculture = web_as("bureau_admin", "agriculture")
    assert forestry.post("/exports", data=_form(bureau="forestry")).status_code == 302
    [export] = _exports()
    assert agriculture.get("/exports").get_data(as_text=True).count("<tbody>") == 0
    colleague = web_as("bureau_admin", "forestry").get("/exports").get_data(as_text=True)
    assert f'<td class="num">{export.id}</td>' in colleague
    assert f'<td class="num">{export.id}</td>' in web_as("admin", "agriculture").get("/exports").get_data(
        as_text=True
    )


def _census_workbook() -> io.BytesIO:
    """The agriculture census of what the database holds now, as the export job writes it."""
    buffer = io.BytesIO()
    writing.write_export(
        buffer,
        bureau="agriculture",
        kind=ExportKind.CENSUS,
        date_from=None,
        date_to=None,
        filters={"statuses": ["submitted"]},  # the records these tests make are not reviewed
        generated_by="测试",
    )
    return buffer


def test_importing_a_workbook_reports_each_row(
    web_as: Any, api_as: Any, make_user: Any, make_observation: Any
) -> None:
    surveyor = api_as(make_user("surveyor", "agriculture", display_name="李调查"))
    make_observation(surveyor)
    buffer = _census_workbook()
    for model in (ObservationFlag, Observation, Site):  # import into a district without the record
        db.session.execute(sa.delete(model))
    web = web_as("bureau_admin", "agriculture")
    web.post("/language", data={"lang": "en", "next": "/"})

    def upload(data: bytes) -> Any:
        body = {"import-bureau": "agriculture", "import-file": (io.BytesIO(data), "census.xlsx")}
        return web.post("/exports/import", data=body, content_type="multipart/form-data")

    first = upload(buffer.getvalue())
    assert first.status_code == 200, first.get_data(as_text=True)
    html = first.get_data(as_text=True)
    assert "Import report" in html
    assert "<dt>Imported</dt><dd>1</dd>" in html and "<dt>Rejected</dt><dd>0</dd>" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Observation)) == 1
    again = upload(buffer.getvalue()).get_data(as_text=True)
    assert "<dt>Already imported before</dt><dd>1</dd>" in again  # the same record: nothing new
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Observation)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditLog.action == "census_imported")) == 2

    book = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    title = next(s.title for s in load_template("agriculture").sheets if s.source == "observations")
    cells = {c.value: c for row in book[title].iter_rows() for c in row}
    cell = cells["福寿螺"]
    cell.value = "不存在的螺"
    cells["Pomacea canaliculata"].value = "Pomacea nowhere"  # else the Latin name would find it
    altered = io.BytesIO()
    book.save(altered)
    report = upload(altered.getvalue()).get_data(as_text=True)
    assert "<dt>Rejected</dt><dd>1</dd>" in report
    assert "Unknown species." in report and cell.coordinate in report


def test_a_workbook_over_the_row_limit_is_refused_on_the_page(
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    web_as: Any,
    api_as: Any,
    make_user: Any,
    make_observation: Any,
) -> None:

    surveyor = api_as(make_user("surveyor", "agriculture"))
    make_observation(surveyor)
    make_observation(surveyor, latitude=PADDY[0] + 0.01)
    buffer = _census_workbook()
    for model in (ObservationFlag, Observation, Site):
        db.session.execute(sa.delete(model))
    monkeypatch.setitem(app.config, "IAS_IMPORT_MAX_ROWS", 1)
    web = web_as("bureau_admin", "agriculture")
    body = {"import-bureau": "agriculture", "import-file": (io.BytesIO(buffer.getvalue()), "census.xlsx")}
    response = web.post("/exports/import", data=body, content_type="multipart/form-data")
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert 'class="field-errors"' in html and "flask imports census" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Observation)) == 0


def test_a_file_that_is_no_census_workbook_is_refused(web_as: Any) -> None:
    web = web_as("bureau_admin", "agriculture")
    body = {"import-bureau": "agriculture", "import-file": (io.BytesIO(b"not a workbook"), "census.xlsx")}
    response = web.post("/exports/import", data=body, content_type="multipart/form-data")
    assert response.status_code == 422
    assert 'id="import-file"' in response.get_data(as_text=True)
    assert 'class="field-errors"' in response.get_data(as_text=True)
    missing = web.post(
        "/exports/import", data={"import-bureau": "agriculture"}, content_type="multipart/form-data"
    )
    assert missing.status_code == 422


@pytest.mark.real_commits  # the job writes progress on its own connection
def test_a_finished_export_can_be_downloaded_from_the_page(app: Flask, web_as: Any) -> None:
    web = web_as("bureau_admin", "forestry")
    # web_as reads the user's id after its commit, which on SQLite opens a write transaction here
    # that would lock out the requests: end it.
    db.session.commit()
    assert (
        web.post("/exports", data=_form(bureau="forestry", date_from=None, date_to=None)).status_code == 302
    )
    with app.app_context():
        assert export_jobs.run_pending_exports("test-runner") == 1
        db.session.remove()
    html = web.get("/exports").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in html
    assert 'class="badge done"' in html and "100%" in html
    [export_id] = db.session.scalars(sa.select(Export.id)).all()
    db.session.commit()  # end the read before the download writes its audit row
    link = f"/api/v1/exports/{export_id}/download"
    assert f'href="{link}"' in html
    response = web.get(link)  # the API's download endpoint, with the session cookie
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response.close()


@pytest.mark.parametrize("role", ["bureau_admin", "admin"])
def test_the_chinese_exports_page_has_no_english(web_as: Any, role: str) -> None:
    import re

    web = web_as(role, "agriculture")
    web.post("/exports", data=_form())
    html = web.get("/exports").get_data(as_text=True)
    main = html[html.index("<main>") : html.index("</main>")]
    main = re.sub(r'<select[^>]*name="species".*?</select>', "", main, flags=re.S)  # Latin names stay
    text = re.sub(r"<[^>]+>", " ", main)
    assert re.findall(r"[A-Za-z]{3,}", text.replace(".xlsx", "")) == []
    assert "普查" in text and "农业" in text  # the workbook kind and the bureau by their names


def test_a_period_without_dates_is_said_in_words_on_the_page_and_the_cover(web_as: Any) -> None:
    """Not …—… : the clerk reads whether the census has no limit, or only one end."""
    from datetime import date

    from app.exports.writing import period_zh

    clerk = web_as("bureau_admin", "agriculture")
    for first, last in ((None, None), ("2026-01-01", None), (None, "2026-03-31")):
        assert clerk.post("/exports", data=_form(date_from=first, date_to=last)).status_code == 302
    page = clerk.get("/exports").get_data(as_text=True)
    assert "不限日期" in page and "2026-01-01 起" in page and "截至 2026-03-31" in page
    assert "… – …" not in page

    assert period_zh(None, None) == "全部记录（不限起止日期）"
    assert period_zh(date(2026, 1, 1), None) == "2026-01-01 起（不限截止日期）"
    assert period_zh(None, date(2026, 3, 31)) == "截至 2026-03-31（不限起始日期）"
    assert period_zh(date(2026, 1, 1), date(2026, 3, 31)) == "2026-01-01—2026-03-31"
