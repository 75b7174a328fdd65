"""Census exports through the API: queued, written by the scheduler's job, downloaded by the right people."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl  # noqa: TID251 -- tests open the workbooks the app writes
import pytest
import sqlalchemy as sa
from flask import Flask

from app.accounts.models import User
from app.audit.models import AuditLog
from app.exports import jobs as export_jobs
from app.exports import services
from app.exports.models import Export
from app.extensions import db

pytestmark = [
    pytest.mark.real_commits,
    pytest.mark.usefixtures("storage_dir"),
]  # the job writes progress on its own connection


@pytest.fixture
def records(api_as: Any, make_user: Any, make_observation: Any, treat: Any) -> dict[str, Any]:
    make_user("supervisor")
    surveyor = api_as("surveyor")
    db.session.commit()
    snail = make_observation(surveyor, notes='=HYPERLINK("http://evil.example","点我")', place_name="@SUM(1)")
    absent = make_observation(
        surveyor, detected=False, density_per_m2=None, egg_masses_per_m2=None, area_m2=None, latitude=30.7
    )
    operation, _ = treat(surveyor, method="chemical", days_ago=10)
    return {"snail": snail, "absent": absent, "operation": operation}


def _run_jobs(app: Flask) -> None:
    with app.app_context():
        export_jobs.run_pending_exports("test-runner")
        db.session.remove()


def test_bureau_admin_exports_the_census(app: Flask, api_as: Any, records: dict[str, Any]) -> None:
    admin = api_as("bureau_admin")
    db.session.commit()
    started = admin.post(
        "/api/v1/exports",
        json={"kind": "census", "bureau": "forestry", "from": "2020-01-01", "statuses": ["submitted"]},
    )
    assert started.status_code == 202, started.get_json()
    export = started.get_json()
    assert export["status"] == "queued" and export["download_url"] is None

    _run_jobs(app)
    done = admin.get(f"/api/v1/exports/{export['id']}").get_json()
    assert done["status"] == "done", done
    assert done["progress"] == 1.0
    assert done["rows"] >= 3  # two observations, one operation (and its follow-ups)
    response = admin.get(done["download_url"])
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = openpyxl.load_workbook(io.BytesIO(response.data))
    response.close()
    titles = workbook.sheetnames
    assert len(titles) >= 5
    texts = [
        cell.value
        for sheet in workbook.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    ]
    assert '=HYPERLINK("http://evil.example","点我")' in texts  # stored as text, not a formula
    assert "@SUM(1)" in texts
    assert any("梁平" in t for t in texts)  # the cover names the district

    inbox = admin.get("/api/v1/notifications").get_json()
    assert [n["kind"] for n in inbox["items"]] == ["export_ready"]
    # Written in the reader's language when read, whatever it was when the export finished.
    english = admin.get("/api/v1/notifications", headers={"Accept-Language": "en"}).get_json()
    assert inbox["items"][0]["subject"].startswith("【导出完成】")
    assert english["items"][0]["subject"].startswith("[Export ready]")
    assert english["items"][0]["links"][0][1].endswith("/download")
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditLog.action).where(AuditLog.entity_type == "exports")))
    assert {"export_requested", "export_downloaded"} <= actions


def test_who_may_export_and_download(app: Flask, api_as: Any, records: dict[str, Any]) -> None:
    requester = api_as("bureau_admin", "forestry")
    colleague = api_as("bureau_admin", "forestry")
    other_bureau = api_as("bureau_admin", "agriculture")
    surveyor = api_as("surveyor", "forestry")
    db.session.commit()
    body = {"kind": "census", "bureau": "forestry"}
    assert surveyor.post("/api/v1/exports", json=body).status_code == 403
    assert other_bureau.post("/api/v1/exports", json=body).status_code == 403
    export = requester.post("/api/v1/exports", json=body).get_json()
    url = f"/api/v1/exports/{export['id']}"
    assert requester.get(url + "/download").status_code == 409  # not written yet
    _run_jobs(app)
    assert colleague.get(url).status_code == 200
    for outsider in (other_bureau, surveyor):
        assert outsider.get(url).status_code == 403
        assert outsider.get(url + "/download").status_code == 403
    with app.app_context():
        db.session.execute(sa.update(Export).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
        db.session.commit()
        assert export_jobs.purge_expired() == 1
        db.session.remove()
    assert requester.get(url + "/download").status_code == 410


def test_an_export_belongs_to_the_exported_bureau_and_access_is_checked_at_download(
    app: Flask, api_as: Any, make_user: Any, records: dict[str, Any]
) -> None:
    """Issue 15: an admin's agriculture export is agriculture's (not the admin's organization's); a
    requester who is demoted or moved loses it; a bureau sees its units' exports, not the reverse."""
    admin = api_as(make_user("admin", "forestry"))
    forestry_admin = api_as("bureau_admin", "forestry")
    agriculture_admin = api_as("bureau_admin", "agriculture")
    station_admin = make_user("bureau_admin", "forestry")  # moved to the station below
    station_admin_id, agriculture_admin_id = station_admin.id, agriculture_admin.user.id
    db.session.commit()
    assert (
        admin.post(
            "/api/v1/organizations",
            json={
                "code": "ag-station",
                "name": "礼让镇农技站",
                "kind": "township_station",
                "parent": "agriculture",
            },
        ).status_code
        == 201
    )
    moved = admin.patch(f"/api/v1/users/{station_admin_id}", json={"organization": "ag-station"})
    assert moved.status_code == 200, moved.get_json()
    station_admin_api = api_as(station_admin)
    db.session.rollback()  # hold no read transaction while the requests write (SQLite)

    def start(api: Any, bureau: str) -> str:
        response = api.post("/api/v1/exports", json={"kind": "census", "bureau": bureau})
        assert response.status_code == 202, response.get_json()
        return f"/api/v1/exports/{response.get_json()['id']}"

    agriculture = start(admin, "agriculture")
    district = start(admin, "district")
    station = start(station_admin_api, "ag-station")
    assert (
        station_admin_api.post(
            "/api/v1/exports", json={"kind": "census", "bureau": "agriculture"}
        ).status_code
        == 403
    )
    assert (
        agriculture_admin.post("/api/v1/exports", json={"kind": "census", "bureau": "district"}).status_code
        == 403
    )
    _run_jobs(app)

    def status(api: Any, url: str) -> tuple[int, int]:
        download = api.get(url + "/download")
        download.close()
        return api.get(url).status_code, download.status_code

    assert status(agriculture_admin, agriculture) == (200, 200)
    assert status(forestry_admin, agriculture) == (403, 403)  # the admin's organization is not the owner
    assert status(agriculture_admin, station) == (200, 200)  # a unit under agriculture
    assert status(station_admin_api, station) == (200, 200)
    assert status(station_admin_api, agriculture) == (403, 403)
    assert status(admin, district) == (200, 200)
    assert status(agriculture_admin, district) == (403, 403)
    with app.app_context():
        assert db.session.scalar(sa.select(Export.organization_id).where(Export.bureau == "district")) is None
        db.session.remove()

    with app.app_context():  # the exports page's list
        user = db.session.get(User, agriculture_admin_id)
        assert {e.bureau for e in services.recent_exports(user)} == {"agriculture", "ag-station"}  # type: ignore[arg-type]
        db.session.remove()

    def fresh() -> Any:
        """A new token for the station admin as they are now (a role change may end the old ones)."""
        db.session.expire_all()
        client = api_as(db.session.get(User, station_admin_id))
        db.session.rollback()
        return client

    # The requester is demoted: access ends at once, whatever token or session they hold next.
    demoted = admin.patch(f"/api/v1/users/{station_admin_id}", json={"role": "surveyor"})
    assert demoted.status_code == 200
    assert status(fresh(), station) == (403, 403)
    # Promoted again but moved to forestry: the station's export is not theirs any more.
    admin.patch(
        f"/api/v1/users/{station_admin_id}", json={"role": "bureau_admin", "organization": "forestry"}
    )
    assert status(api_as(station_admin), station) == (403, 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "everything", "bureau": "forestry"}, "kind"),
        ({"kind": "census", "bureau": "forestry", "statuses": ["verified", "approved"]}, "statuses"),
        ({"kind": "census", "bureau": "forestry", "statuses": "verified"}, "statuses"),
        ({"kind": "census"}, "bureau"),
        ({"kind": "census", "bureau": "nobody"}, "bureau"),
        ({"kind": "census", "bureau": "forestry", "from": "2026-05-02", "to": "2026-05-01"}, "to"),
        ({"kind": "census", "bureau": "forestry", "township_code": "nowhere"}, "township_code"),
        ({"kind": "census", "bureau": "forestry", "from": "May"}, "from"),
    ],
)
def test_bad_export_requests_are_named(api_as: Any, body: dict[str, Any], field: str) -> None:
    admin = api_as("admin")
    db.session.commit()
    response = admin.post("/api/v1/exports", json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]


def test_flask_exports_run_writes_a_file(app: Flask, records: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "census.xlsx"
    result = app.test_cli_runner().invoke(
        args=["exports", "run", "--bureau", "agriculture", "--kind", "control", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert "rows written" in result.output
    workbook = openpyxl.load_workbook(target)
    assert len(workbook.sheetnames) >= 2


def test_flask_exports_run_takes_statuses_and_the_district(
    app: Flask, records: dict[str, Any], tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    target = tmp_path / "district.xlsx"
    result = runner.invoke(
        args=["exports", "run", "--bureau", "district", "--statuses", "submitted,verified", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    cover = {row[0]: row[1] for row in openpyxl.load_workbook(target)["封面"].iter_rows(values_only=True)}
    assert cover["审核状态"] == "待审核、审核通过的调查记录"
    assert cover["统计范围"] == "全区各单位的记录（每条记录计一次）"

    refused = runner.invoke(
        args=["exports", "run", "--bureau", "forestry", "--statuses", "approved", "-o", str(target)]
    )
    assert refused.exit_code != 0 and "approved" in refused.output
    unknown = tmp_path / "nobody.xlsx"
    refused = runner.invoke(args=["exports", "run", "--bureau", "nobody", "-o", str(unknown)])
    assert refused.exit_code != 0 and "nobody" in refused.output
    assert not unknown.exists()  # refused before the file was opened


def test_flask_exports_run_refuses_a_period_ending_before_it_starts_and_a_folder_that_is_not_there(
    app: Flask, records: dict[str, Any], tmp_path: Path
) -> None:
    """Said, not a workbook of 0 rows nor a traceback: a script's author sees what to correct."""
    runner = app.test_cli_runner()
    target = tmp_path / "census.xlsx"
    backwards = ["--from", "2026-12-01", "--to", "2026-01-01"]
    refused = runner.invoke(args=["exports", "run", "--bureau", "agriculture", *backwards, "-o", str(target)])
    assert refused.exit_code == 2, refused.output
    assert "--to" in refused.output and "2026-01-01 is before --from 2026-12-01" in refused.output
    assert not target.exists()

    nowhere = tmp_path / "no-such-folder" / "census.xlsx"
    refused = runner.invoke(args=["exports", "run", "--bureau", "agriculture", "-o", str(nowhere)])
    assert refused.exit_code == 2, refused.output
    assert "--output" in refused.output and "No such file or directory" in refused.output
    assert refused.exception is None or isinstance(refused.exception, SystemExit)
