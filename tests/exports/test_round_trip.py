"""Export a census workbook, import it into an empty database, export again: the same data."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl  # noqa: TID251 -- tests open the workbooks the app writes
import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import local_date, local_today
from app.control.models import ControlOperation, FollowUp
from app.control.schedule import next_spring_check
from app.exports import imports, writing
from app.exports.layouts import load_template
from app.exports.models import ExportKind
from app.exports.reader import write_row_report
from app.extensions import db
from app.observations.models import Observation, ObservationFlag
from app.sites.models import Site
from tests.conftest import PADDY

LAT, LON = PADDY


def _export(bureau: str = "agriculture") -> bytes:
    buffer = io.BytesIO()
    writing.write_export(
        buffer,
        bureau=bureau,
        kind=ExportKind.CENSUS,
        date_from=None,
        date_to=None,
        filters={"statuses": ["submitted", "verified", "returned", "rejected"]},
        generated_by="测试",
    )
    return buffer.getvalue()


def _content(data: bytes, bureau: str = "agriculture") -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's rows, without the columns that are database ids and the cover's time stamp."""
    template = load_template(bureau)
    skip = {
        sheet.title: {i for i, column in enumerate(sheet.columns) if column.field == "id"}
        for sheet in template.sheets
    }
    book = openpyxl.load_workbook(io.BytesIO(data))
    content = {}
    for sheet in book.worksheets:
        rows = []
        for row in sheet.iter_rows(values_only=True):
            if row and row[0] == "生成时间":
                continue
            rows.append(tuple(v for i, v in enumerate(row) if i not in skip.get(sheet.title, set())))
        content[sheet.title] = rows
    return content


def _empty_the_records() -> None:
    for model in (ObservationFlag, FollowUp, ControlOperation):
        db.session.execute(sa.delete(model))
    db.session.execute(sa.update(ControlOperation).values(baseline_observation_id=None))
    db.session.execute(sa.delete(Observation))
    db.session.execute(sa.delete(Site))
    db.session.flush()


@pytest.fixture
def census(api_as: Any, make_user: Any, make_observation: Any, treat: Any) -> Any:
    make_user("supervisor", "agriculture")
    surveyor = api_as(make_user("surveyor", "agriculture", display_name="李调查"))
    first = make_observation(
        surveyor,
        observed_at="2026-06-01T08:00:00+08:00",
        notes='=HYPERLINK("http://x.example","看")',
        place_name="三组水田",
        area_m2=2000,
        accuracy_m=80,  # flagged low_accuracy: the flags column must travel too
    )
    make_observation(
        surveyor,
        observed_at="2026-06-02T09:30:00+08:00",
        detected=False,
        density_per_m2=None,
        egg_masses_per_m2=None,
        area_m2=None,
        latitude=LAT + 0.01,
        township_code="500155002",
    )
    treat(surveyor, method="hand_collection", days_ago=3, baseline=first)
    return surveyor


def test_export_import_export_gives_the_same_workbook(census: Any, make_user: Any) -> None:
    before = _export()
    admin = make_user("bureau_admin", "agriculture")
    _empty_the_records()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Observation)) == 0

    report = imports.import_census(io.BytesIO(before), actor=admin, bureau="agriculture")
    assert (report.imported, report.unchanged, report.rejected) == (3, 0, 0), report.rows
    after = _export()
    assert _content(after) == _content(before)
    assert any("定位精度低" in row for row in _content(before)["调查记录"])  # flags travel, by name
    assert any("设备定位" in row for row in _content(before)["调查记录"])

    again = imports.import_census(io.BytesIO(before), actor=admin, bureau="agriculture")
    assert (again.imported, again.unchanged, again.rejected) == (0, 3, 0)  # nothing new
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Observation)) == 2


def test_an_operation_of_a_past_season_is_imported_without_the_re_inspections_whose_day_has_passed(
    census: Any, make_user: Any, make_observation: Any, treat: Any
) -> None:
    """A workbook of last year's treatments: their re-inspections' days are gone. Made anyway, each would
    stand overdue in the lists, the reminders and every census's 逾期未复查, for work no one can do now."""
    old_site = make_observation(
        census, observed_at=(datetime.now(UTC) - timedelta(days=401)).isoformat(), latitude=LAT + 0.02
    )
    treat(census, method="chemical", days_ago=400, baseline=old_site)  # +1 … +30 and next spring: all gone
    before = _export()
    _empty_the_records()

    report = imports.import_census(
        io.BytesIO(before), actor=make_user("bureau_admin", "agriculture"), bureau="agriculture"
    )

    assert (report.imported, report.rejected) == (5, 0), report.rows
    old, recent = sorted(
        db.session.scalars(sa.select(ControlOperation)), key=lambda operation: operation.performed_at
    )
    assert old.follow_ups == []
    performed_on = local_date(old.performed_at)
    gone = sorted(
        {performed_on + timedelta(days=d) for d in old.follow_up_days}
        | {next_spring_check(performed_on, old.species.spring_check_md)}
    )
    assert gone and all(day < local_today() for day in gone)
    notes = [note for sheet, _row, _status, note, _cell in report.rows if sheet == "防治记录" and note]
    assert notes == [
        f"{len(gone)} 次复查未安排：其日期（{'、'.join(day.isoformat() for day in gone)}）已过。"
    ]
    # Hand collection three days ago: its re-inspections are still ahead, and made as before.
    assert recent.follow_ups and all(f.due_on >= local_today() for f in recent.follow_ups)


def test_the_bureaus_own_export_imported_back_finds_every_record_already_there(
    census: Any, make_user: Any
) -> None:
    """A clerk imports the workbook the app exported, records and all: each row is a record the system
    holds (made on a phone, not imported), so nothing is created and nothing is refused as a clash."""
    before = _export()
    records = db.session.scalar(sa.select(sa.func.count()).select_from(Observation))

    report = imports.import_census(
        io.BytesIO(before), actor=make_user("bureau_admin", "agriculture"), bureau="agriculture"
    )

    assert (report.imported, report.unchanged, report.rejected) == (0, 3, 0), report.rows
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Observation)) == records
    assert _content(_export()) == _content(before)
    record_ids = sorted(db.session.scalars(sa.select(Observation.id)))
    [operation_id] = db.session.scalars(sa.select(ControlOperation.id))
    notes = sorted(note for _sheet, _row, _status, note, _cell in report.rows)
    held = (
        "{what} {id} 已在系统中，本行未再导入。"
        "导入不会修改已有{short}：如本行数字有改动，请直接更正{short} {id}。"
    )
    expected = [held.format(what="记录", short="记录", id=i) for i in record_ids]
    expected.append(held.format(what="防治作业", short="作业", id=operation_id))
    assert notes == sorted(expected)


def test_the_workbook_imported_again_by_another_admin_is_a_replay(census: Any, make_user: Any) -> None:
    """Records and control operations alike: who imports a workbook does not change what its rows are,
    even when the surveyor it names has left since and its rows fall back to the importer."""
    before = _export()
    _empty_the_records()
    first = imports.import_census(
        io.BytesIO(before), actor=make_user("admin", "forestry"), bureau="agriculture"
    )
    assert (first.imported, first.unchanged, first.rejected) == (3, 0, 0), first.rows
    census.user.active = False  # the surveyor the workbook names has left
    db.session.flush()
    clerk = make_user("bureau_admin", "agriculture")
    again = imports.import_census(io.BytesIO(before), actor=clerk, bureau="agriculture")
    assert (again.imported, again.unchanged, again.rejected) == (0, 3, 0), again.rows


def test_bad_rows_are_rejected_with_reason_and_cell(census: Any, make_user: Any) -> None:
    data = _export()
    book = openpyxl.load_workbook(io.BytesIO(data))
    template = load_template("agriculture")
    sheet_spec = template.sheet("observations")
    sheet = book[sheet_spec.title]
    headers = {cell.value: cell.column_letter for cell in sheet[1]}
    column = {c.field: headers[c.header] for c in sheet_spec.columns}
    sheet[f"{column['species_name_zh']}2"] = "独角兽"  # unknown species, by either name
    sheet[f"{column['species_name_sci']}2"] = "Monoceros fabulosus"
    sheet[f"{column['latitude']}3"] = 95  # impossible latitude
    sheet[f"{column['client_uuid']}3"] = str(uuid.uuid4())
    edited = io.BytesIO()
    book.save(edited)

    admin = make_user("bureau_admin", "agriculture")
    _empty_the_records()
    report = imports.import_census(io.BytesIO(edited.getvalue()), actor=admin, bureau="agriculture")
    rejected = [r for r in report.rows if r[2] == "rejected"]
    assert [(r[1], r[4]) for r in rejected][:2] == [
        (2, f"{column['species_name_zh']}2"),
        (3, f"{column['latitude']}3"),
    ]
    assert report.rejected >= 2
    out = io.BytesIO()
    write_row_report(out, report.rows)
    result = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    statuses = [row[2] for row in result.iter_rows(min_row=2, values_only=True)]
    assert "已拒绝" in statuses


def test_only_bureau_admins_import(census: Any, make_user: Any) -> None:
    from app.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        imports.import_census(
            io.BytesIO(_export()), actor=make_user("surveyor", "agriculture"), bureau="agriculture"
        )


def test_cli_import_writes_a_report(app: Flask, census: Any, make_user: Any, tmp_path: Any) -> None:
    source = tmp_path / "legacy.xlsx"
    source.write_bytes(_export())
    admin = make_user("bureau_admin", "agriculture")
    _empty_the_records()
    report = tmp_path / "report.xlsx"
    args = ["imports", "census", str(source), "--bureau", "agriculture", "--user", admin.username]
    first = app.test_cli_runner().invoke(args=[*args, "--report", str(report)])
    assert first.exit_code == 0, first.output
    assert "imported: 3, already there: 0, rejected: 0" in first.output
    assert report.exists()
    again = app.test_cli_runner().invoke(args=args)
    assert "imported: 0, already there: 3, rejected: 0" in again.output
    wrong = app.test_cli_runner().invoke(args=["imports", "census", str(report), *args[3:]])
    assert wrong.exit_code != 0  # the report is not a census workbook: refused, naming what is missing
    assert "调查记录" in wrong.output, wrong.output
    nobody = app.test_cli_runner().invoke(args=["imports", "census", str(source), "--bureau", "agriculture"])
    assert nobody.exit_code == 1  # no admin in this database: told how to name or make one
    assert "--user" in nobody.output and "flask users create --role admin" in nobody.output


def test_import_through_the_api(api_as: Any, census: Any, make_user: Any) -> None:
    data = _export()
    admin = api_as(make_user("bureau_admin", "agriculture"))
    _empty_the_records()

    def upload(content: bytes, query: str = "bureau=agriculture") -> Any:
        return admin.post(
            f"/api/v1/imports?{query}",
            data={"file": (io.BytesIO(content), "legacy.xlsx")},
            content_type="multipart/form-data",
        )

    result = upload(data)
    assert result.status_code == 200, result.get_json()
    assert {k: result.get_json()[k] for k in ("imported", "unchanged", "rejected")} == {
        "imported": 3,
        "unchanged": 0,
        "rejected": 0,
    }
    report = upload(data, "bureau=agriculture&report=xlsx")
    assert report.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(report.data)).active
    report.close()
    statuses = [line[2] for line in sheet.iter_rows(min_row=2, values_only=True)]
    # The sheets and the export's own columns not imported (封面, 复查记录, 审核状态…), then three rows.
    assert statuses[-3:] == ["已导入"] * 3 and set(statuses[:-3]) == {"未导入的工作表", "未导入的列"}, (
        statuses
    )
    assert upload(b"not a workbook").status_code == 422
    assert upload(data, "bureau=moon").status_code == 422
    assert (
        api_as("surveyor", "agriculture")
        .post(
            "/api/v1/imports?bureau=agriculture",
            data={"file": (io.BytesIO(data), "x.xlsx")},
            content_type="multipart/form-data",
        )
        .status_code
        == 403
    )


def test_an_upload_with_more_rows_than_the_limit_is_refused_before_any_is_imported(
    app: Flask, monkeypatch: pytest.MonkeyPatch, api_as: Any, census: Any, make_user: Any
) -> None:
    data = _export()  # three data rows: two records and a control operation
    admin = api_as(make_user("bureau_admin", "agriculture"))
    _empty_the_records()

    def upload() -> Any:
        return admin.post(
            "/api/v1/imports?bureau=agriculture",
            data={"file": (io.BytesIO(data), "legacy.xlsx")},
            content_type="multipart/form-data",
        )

    monkeypatch.setitem(app.config, "IAS_IMPORT_MAX_ROWS", 2)
    refused = upload()
    assert refused.status_code == 413, refused.get_json()
    [message] = refused.get_json()["errors"]["file"]
    assert " 2 " in message and "flask imports census" in message  # the limit, and the way round it
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Observation)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ControlOperation)) == 0

    monkeypatch.setitem(app.config, "IAS_IMPORT_MAX_ROWS", 3)  # exactly the limit: imported
    accepted = upload()
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["imported"] == 3


def test_the_command_line_import_has_no_row_limit(
    app: Flask, monkeypatch: pytest.MonkeyPatch, census: Any, make_user: Any, tmp_path: Any
) -> None:
    path = tmp_path / "legacy.xlsx"
    path.write_bytes(_export())
    admin = make_user("bureau_admin", "agriculture")
    _empty_the_records()
    monkeypatch.setitem(app.config, "IAS_IMPORT_MAX_ROWS", 1)
    args = ["imports", "census", str(path), "--bureau", "agriculture", "--user", admin.username]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "imported: 3, already there: 0, rejected: 0" in result.output


def test_the_workbook_shows_names_not_codes(census: Any, species_id: Any) -> None:
    """Issue 14: the cover's filters, flags, how a position was taken and the method by name."""
    buffer = io.BytesIO()
    writing.write_export(
        buffer,
        bureau="agriculture",
        kind=ExportKind.CENSUS,
        date_from=None,
        date_to=None,
        filters={
            "species_id": species_id("pomacea-canaliculata"),
            "township_code": "500155001",
            "statuses": ["submitted"],
        },
        generated_by="测试",
    )
    book = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    cover = {row[0]: row[1] for row in book["封面"].iter_rows(min_row=2, values_only=True)}
    assert cover["筛选条件"] == "物种：福寿螺；乡镇：梁山街道"
    assert cover["审核状态"] == "仅待审核的调查记录"
    texts = {
        cell
        for ws in book.worksheets
        for row in ws.iter_rows(values_only=True)
        for cell in row
        if isinstance(cell, str)
    }
    assert {"定位精度低", "设备定位", "人工捡螺"} <= texts
    assert not texts & {"gps", "low_accuracy", "hand_collection", "species_id", "township_code"}


def test_typed_coordinates_travel_by_name(census: Any, make_observation: Any, make_user: Any) -> None:
    """A record whose coordinates were typed in reads 手工输入坐标 in the workbook and is read back as
    typed, not as a map pick or the phone's GPS."""
    typed = make_observation(
        census,
        observed_at="2026-06-03T10:00:00+08:00",
        position_source="typed",
        accuracy_m=None,
        latitude=LAT + 0.02,
    )
    data = _export()
    rows = _content(data)["调查记录"]
    assert sum("手工输入坐标" in row for row in rows) == 1
    assert not any("typed" in row for row in rows)

    _empty_the_records()
    report = imports.import_census(
        io.BytesIO(data), actor=make_user("bureau_admin", "agriculture"), bureau="agriculture"
    )
    assert report.rejected == 0, report.rows
    sources = db.session.execute(sa.select(Observation.client_uuid, Observation.position_source)).all()
    by_uuid = {str(u): s.value for u, s in sources}
    assert by_uuid[typed["client_uuid"]] == "typed"
    assert sorted(by_uuid.values()) == ["gps", "gps", "typed"]
