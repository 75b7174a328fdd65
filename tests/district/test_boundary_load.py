"""Loading and replacing boundaries (app/district/boundaries.py), the command and the admin page, on
synthetic boundaries the tests make themselves (made-up squares, not Liangping's)."""

from __future__ import annotations

import html
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from pyproj import Transformer

from app.audit.models import AuditLog
from app.district import boundaries
from app.district.models import Boundary, BoundaryLevel, BoundaryLoad, Village
from app.extensions import db
from app.geo.boundaries import to_geojson
from tests.geo.synthetic import (
    DISTRICT,
    EAST,
    WEST,
    feature,
    geojson,
    kml,
    shapefile_zip,
    square,
    village_grid,
)

TOWNSHIPS = geojson(feature("500155001", WEST, name="梁山街道"), feature("500155002", EAST, name="双桂街道"))


def _count(model: Any) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def _load(data: bytes = TOWNSHIPS, filename: str = "towns.geojson", **kwargs: Any) -> Any:
    kwargs.setdefault("level", BoundaryLevel.TOWNSHIP)
    return boundaries.load_boundaries(data, filename, **kwargs)


def test_synthetic_dry_run_writes_nothing(app: Flask) -> None:
    audit_before = _count(AuditLog)
    report = _load(dry_run=True)
    assert report.ok and len(report.units) == 2
    db.session.flush()
    assert (_count(Boundary), _count(BoundaryLoad), _count(AuditLog)) == (0, 0, audit_before)
    assert boundaries.current_version() is None and not boundaries.has_outline()


def test_synthetic_load_is_stored_and_audited(app: Flask) -> None:
    report = _load()
    db.session.flush()
    rows = db.session.scalars(sa.select(Boundary).order_by(Boundary.code)).all()
    assert [(b.level, b.code, b.name) for b in rows] == [
        (BoundaryLevel.TOWNSHIP, "500155001", "梁山街道"),
        (BoundaryLevel.TOWNSHIP, "500155002", "双桂街道"),
    ]
    assert rows[0].geometry["type"] == "Polygon"
    assert (rows[0].min_lon, rows[0].min_lat, rows[0].max_lon, rows[0].max_lat) == (
        107.70,
        30.60,
        107.80,
        30.70,
    )
    assert rows[0].area_m2 == pytest.approx(report.units[0].area_m2)
    load = db.session.scalars(sa.select(BoundaryLoad)).one()
    assert (load.level, load.filename, load.units, load.format) == (
        BoundaryLevel.TOWNSHIP,
        "towns.geojson",
        2,
        "geojson",
    )
    assert load.warnings and "have no polygon" in load.warnings[0]  # 31 townships without one
    event = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "boundaries.load")).one()
    assert event.changes["units"] == 2 and event.changes["level"] == "township"


def test_synthetic_replace_swaps_the_polygons_and_the_locator(app: Flask) -> None:
    _load()
    first = boundaries.locator()
    assert first.township_at(107.75, 30.65) == "500155001"
    assert boundaries.locator() is first  # cached while nothing changes
    swapped = geojson(feature("500155002", WEST), feature("500155001", EAST))
    _load(swapped, "towns-2026.geojson")
    db.session.flush()
    assert _count(Boundary) == 2 and _count(BoundaryLoad) == 2
    second = boundaries.locator()
    assert second is not first and second.township_at(107.75, 30.65) == "500155002"
    event = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "boundaries.load").order_by(AuditLog.id.desc())
    ).first()
    assert event is not None and event.changes["replaced"] == 2


def test_synthetic_load_with_errors_writes_nothing_and_keeps_the_previous(app: Flask) -> None:
    _load()
    db.session.flush()
    bad = geojson(feature("500155001", WEST), feature("999999999", EAST))
    with pytest.raises(boundaries.BoundaryLoadError) as caught:
        _load(bad, "bad.geojson")
    assert "999999999 is not a township code" in str(caught.value)
    assert _count(BoundaryLoad) == 1
    assert boundaries.locator().township_at(107.85, 30.65) == "500155002"


def test_synthetic_each_format_loads(app: Flask) -> None:
    features = [feature("500155001", WEST), feature("500155002", EAST)]
    for data, name in (
        (shapefile_zip(features), "t.zip"),
        (kml(*features), "t.kml"),
        (geojson(*features), "t.json"),
    ):
        assert len(_load(data, name).units) == 2


def test_synthetic_district_outline_replaces_the_box(app: Flask) -> None:
    assert not boundaries.has_outline()
    _load(geojson(feature("500155", DISTRICT)), "district.geojson", level=BoundaryLevel.DISTRICT)
    assert boundaries.has_outline()
    district = db.session.scalar(sa.select(boundaries.District))
    assert district is not None and district.contains(107.60, 30.50)  # in the box …
    assert not boundaries.inside_district(district, 107.60, 30.50)  # … but not in the polygon
    assert boundaries.inside_district(district, 107.75, 30.65)
    # A township reaching out of the district is reported against the loaded outline.
    out = geojson(feature("500155001", square(107.70, 30.60, 107.95, 30.70)))
    report = _load(out, "t.geojson", dry_run=True)
    assert [p.kind for p in report.warnings if p.kind == "outside"] == ["outside"]


def _village_codes(township_code: str) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(Village.code).where(Village.code.startswith(township_code)).order_by(Village.code)
        )
    )


def test_synthetic_village_polygons_are_keyed_by_code(app: Flask) -> None:
    codes = _village_codes("500155001")[:9]
    villages = village_grid("500155001", 107.70, 30.60, 107.80, 30.70, 3, codes)
    report = _load(geojson(*villages), "villages.geojson", level=BoundaryLevel.VILLAGE)
    assert len(report.units) == 9 and report.units[0].name == "南华社区"
    missing = next(p for p in report.warnings if p.kind == "missing")
    assert len(missing.codes) == 343 - 9
    assert boundaries.village_code_at(107.71, 30.61) == codes[0]
    assert boundaries.village_mismatch(codes[0], 107.79, 30.69)
    assert not boundaries.village_mismatch(codes[0], 107.71, 30.61)
    assert not boundaries.village_mismatch(_village_codes("500155001")[9], 107.71, 30.61)  # no polygon
    wrong = geojson(feature("500155999201", WEST), feature("500155001000", EAST))
    with pytest.raises(boundaries.BoundaryLoadError) as caught:
        _load(wrong, "v.geojson", level=BoundaryLevel.VILLAGE)
    assert len(caught.value.report.errors) == 2


# --- the command --------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_synthetic_command_dry_run_reports_and_writes_nothing(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "district",
            "boundaries",
            _write(tmp_path, "t.geojson", TOWNSHIPS),
            "--level",
            "township",
            "--dry-run",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "2 of 33 township unit(s) with a polygon" in result.output
    assert "warning: 31 township unit(s) have no polygon" in result.output
    assert "dry run: nothing was changed." in result.output
    assert _count(BoundaryLoad) == 0


def test_synthetic_command_loads_and_replaces(app: Flask, tmp_path: Path) -> None:
    path = _write(tmp_path, "t.zip", shapefile_zip([feature("500155001", WEST)], prj=None))
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["district", "boundaries", path, "--level", "township"])
    assert (
        refused.exit_code == 1 and "has no .prj" in refused.output and "nothing was changed" in refused.output
    )
    loaded = runner.invoke(args=["district", "boundaries", path, "--level", "township", "--crs", "cgcs2000"])
    assert loaded.exit_code == 0, loaded.output
    assert "1 township polygon(s) loaded" in loaded.output
    assert _count(Boundary) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--code-field", "XZQDM"], "there is no field 'XZQDM'; its fields are: code, name"),
        (["--crs", "epsg3857"], "Invalid value for '--crs'"),
    ],
)
def test_command_bad_options_are_named(app: Flask, tmp_path: Path, args: list[str], says: str) -> None:
    path = _write(tmp_path, "t.geojson", TOWNSHIPS)
    result = app.test_cli_runner().invoke(args=["district", "boundaries", path, "--level", "township", *args])
    assert result.exit_code != 0 and says in result.output
    assert _count(BoundaryLoad) == 0


def test_command_errors_print_the_report(app: Flask, tmp_path: Path) -> None:
    bowtie = [[107.70, 30.60], [107.80, 30.70], [107.80, 30.60], [107.70, 30.70], [107.70, 30.60]]
    path = _write(tmp_path, "t.geojson", geojson(feature("500155001", bowtie)))
    result = app.test_cli_runner().invoke(args=["district", "boundaries", path, "--level", "township"])
    assert result.exit_code == 1
    assert "error: feature #1 (500155001): a ring crosses itself" in result.output
    assert "1 error(s) in t.geojson; nothing was changed" in result.output


def test_command_refuses_a_200_mb_file_by_its_size(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "huge.geojson"
    with path.open("wb") as fh:  # sparse: 200 MB on paper, nothing on disk
        fh.truncate(200 * 1024 * 1024)
    assert os.path.getsize(path) == 200 * 1024 * 1024
    result = app.test_cli_runner().invoke(args=["district", "boundaries", str(path), "--level", "township"])
    assert result.exit_code == 1
    assert (
        "huge.geojson is 200 MB; boundary files may be at most 50 MB (IAS_BOUNDARY_MAX_MB)" in result.output
    )


def _shifted(ring: list[list[float]], degrees: float = 1.0) -> list[list[float]]:
    return [[x + degrees, y] for x, y in ring]


def test_a_first_township_load_outside_the_district_box_is_refused(app: Flask) -> None:
    """No district polygon, no townships yet: the units are checked against the district's box, so a file
    a degree east (a Gauss-Krüger zone mix-up) is refused, not loaded as the district."""
    wrong = geojson(feature("500155001", _shifted(WEST)), feature("500155002", _shifted(EAST)))
    with pytest.raises(boundaries.BoundaryLoadError) as refused:
        boundaries.load_boundaries(wrong, "wrong.geojson", level=BoundaryLevel.TOWNSHIP)
    assert [p.kind for p in refused.value.report.errors] == ["outside", "outside"]
    assert _count(Boundary) == 0


def test_a_wrong_township_load_is_corrected_by_loading_the_right_file(app: Flask) -> None:
    """A reload is never checked against the polygons it replaces: with the wrong townships taken as the
    district, the right file was refused as "wholly outside the district" and the mistake stuck."""
    north = lambda r: [[x, y + 0.15] for x, y in r]  # noqa: E731 -- wrong, but inside the district's box
    boundaries.load_boundaries(
        geojson(feature("500155001", north(WEST)), feature("500155002", north(EAST))),
        "wrong.geojson",
        level=BoundaryLevel.TOWNSHIP,
    )
    right = boundaries.load_boundaries(TOWNSHIPS, "right.geojson", level=BoundaryLevel.TOWNSHIP)
    assert right.ok and not [p for p in right.problems if p.kind == "outside"]
    assert boundaries.locator().township_at(107.75, 30.65) == "500155001"


def test_villages_are_checked_against_the_box_without_an_outline(app: Flask) -> None:
    far = geojson(feature("500155001201", _shifted(WEST)))
    with pytest.raises(boundaries.BoundaryLoadError) as refused:
        boundaries.load_boundaries(far, "v.geojson", level=BoundaryLevel.VILLAGE)
    assert [p.kind for p in refused.value.report.errors] == ["outside"]


# --- the admin page -----------------------------------------------------------------------


def _upload(web: Any, data: bytes, filename: str = "t.geojson", **fields: Any) -> Any:
    form = {"level": "township", "file": (io.BytesIO(data), filename), **fields}
    return web.post("/admin/boundaries", data=form, content_type="multipart/form-data")


def test_admin_page_says_the_box_stands_without_boundaries(web_as: Any) -> None:
    page = web_as("admin").get("/admin/boundaries")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "data-no-boundaries" in html and 'data-level="township"' in html


def test_admin_page_is_for_admins(web_as: Any) -> None:
    assert web_as("bureau_admin").get("/admin/boundaries").status_code == 403
    assert web_as("surveyor").get("/admin/boundaries").status_code == 403


def test_synthetic_admin_upload_checks_then_loads(web_as: Any) -> None:
    web = web_as("admin", locale="en")  # an English reader reads the report in English
    checked = _upload(web, TOWNSHIPS, dry_run="1")
    assert checked.status_code == 200
    html = checked.get_data(as_text=True)
    assert 'data-ok="true"' in html and "2 of 33 township unit(s)" in html and "data-applied" not in html
    assert _count(BoundaryLoad) == 0
    loaded = _upload(web, TOWNSHIPS)
    assert loaded.status_code == 200 and "data-applied" in loaded.get_data(as_text=True)
    page = web.get("/admin/boundaries").get_data(as_text=True)
    assert "data-no-boundaries" not in page and "t.geojson" in page
    assert "data-some-townships" in page  # 2 of 33: the box stands, and the page says so
    assert 'data-problem="district_outline"' in loaded.get_data(as_text=True)
    assert _count(Boundary) == 2


def test_synthetic_admin_upload_refusals(web_as: Any, app: Flask) -> None:
    web = web_as("admin", locale="en")  # an English reader reads the report in English
    bad = _upload(web, geojson(feature("999999999", WEST)))
    assert bad.status_code == 422 and 'data-ok="false"' in bad.get_data(as_text=True)
    assert 'data-problem="unknown_code" data-severity="error"' in bad.get_data(as_text=True)
    assert "999999999 is not a township code" in bad.get_data(as_text=True)
    not_zip = _upload(web, TOWNSHIPS, filename="t.zip")
    assert not_zip.status_code == 422 and "t.zip is not a zip archive" in not_zip.get_data(as_text=True)
    assert _count(BoundaryLoad) == 0


def test_synthetic_admin_report_details_are_in_the_readers_language(web_as: Any) -> None:
    """The report's details (codes, places, areas) read in Chinese for a Chinese reader; the English stays
    the command's and the audit log's."""
    web = web_as("admin", locale="zh")
    overlapping = geojson(feature("500155001", WEST), feature("500155002", WEST), feature("999999999", EAST))
    response = _upload(web, overlapping, dry_run="1")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "第 3 个要素：999999999 不是本区的乡镇级代码" in html
    assert "33 个乡镇级单位中 2 个有面" in html
    assert "个乡镇级单位没有面" in html
    assert "重叠" in html and "平方米" in html and "位于北纬" in html
    assert "is not a township code" not in html and "overlap by" not in html and "unit(s)" not in html
    assert _count(BoundaryLoad) == 0


def test_synthetic_admin_file_errors_are_in_the_readers_language(web_as: Any) -> None:
    """A file that cannot be read at all says why in Chinese to a Chinese reader (the command keeps the
    English), naming the file."""
    web = web_as("admin", locale="zh")
    cases = [
        (TOWNSHIPS, "t.zip", "t.zip 不是 zip 压缩包"),
        (b"{not json", "t.geojson", "t.geojson 不是有效的 JSON"),
        (TOWNSHIPS, "t.kml", "t.kml 不是 KML：文件开头不是 XML"),
        (TOWNSHIPS, "t.shp", "t.shp：Shapefile 由多个文件组成"),
        (TOWNSHIPS, "t.txt", "t.txt：不是界线文件"),
    ]
    for data, filename, chinese in cases:
        response = _upload(web, data, filename=filename)
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and chinese in page, filename
        assert "is not" not in page and "not a boundary file" not in page
    named = _upload(web, TOWNSHIPS, code_field="XZQDM")
    text = html.unescape(named.get_data(as_text=True))
    assert named.status_code == 422 and "没有字段 'XZQDM'；现有字段：code, name" in text
    assert _count(BoundaryLoad) == 0


@pytest.mark.parametrize("case", ["gauss_kruger", "lat_lon_swapped"])
def test_admin_upload_not_in_degrees_is_refused_with_a_reason_not_a_500(
    web_as: Any, app: Flask, tmp_path: Path, case: str
) -> None:
    """A GeoJSON left in Gauss-Krüger metres, or with latitude and longitude swapped, used to end in a
    pyproj CRSError (|lat_0| should be <= 90°): a 500 on the page and a traceback from the command."""
    if case == "gauss_kruger":  # a QGIS export left in CGCS2000 / 3-degree GK CM 108E (EPSG:4545)
        to_gk = Transformer.from_crs(4326, 4545, always_xy=True)
        move = lambda r: [list(to_gk.transform(x, y)) for x, y in r]  # noqa: E731
    else:
        move = lambda r: [[y, x] for x, y in r]  # noqa: E731
    data = geojson(feature("500155001", move(WEST)), feature("500155002", move(EAST)))
    response = _upload(web_as("admin", locale="zh"), data)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert 'data-problem="not_degrees"' in page and "不是以度为单位的经纬度" in page and ".prj" in page
    path = tmp_path / "t.geojson"
    path.write_bytes(data)
    result = app.test_cli_runner().invoke(args=["district", "boundaries", str(path), "--level", "township"])
    assert result.exit_code == 1, result.output  # the report, not a traceback
    assert "not longitude and latitude in degrees" in result.output
    assert _count(BoundaryLoad) == 0


@pytest.mark.parametrize(
    ("named", "refused"),
    [
        ("urn:ogc:def:crs:EPSG::4545", True),
        ("EPSG:3857", True),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", False),
        ("urn:ogc:def:crs:EPSG::4326", False),
        ("EPSG:4490", False),
    ],
)
def test_a_geojson_crs_member_naming_a_projection_is_refused_by_name(
    web_as: Any, named: str, refused: bool
) -> None:
    document = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": named}},
        "features": [feature("500155001", WEST), feature("500155002", EAST)],
    }
    response = _upload(web_as("admin", locale="zh"), json.dumps(document).encode(), dry_run="1")
    page = html.unescape(response.get_data(as_text=True))
    if refused:
        assert response.status_code == 422 and named in page and "WGS-84" in page and ".prj" in page
    else:
        assert response.status_code == 200, page


@pytest.mark.parametrize(
    ("fields", "chinese"),
    [
        ({"file": None}, "文件"),
        ({"file": (io.BytesIO(TOWNSHIPS), "")}, "文件"),
        ({"level": "county"}, "级别"),
        ({"level": ""}, "级别"),
        ({"crs": "mars2000"}, "坐标系"),
        ({"code_field": "x" * 101}, "代码字段"),
        ({"dry_run": "perhaps"}, "仅检查"),
    ],
)
def test_admin_upload_bad_inputs_are_named_in_chinese(
    web_as: Any, fields: dict[str, Any], chinese: str
) -> None:
    """Each bad input of the form: the page again, 422, the field named in the reader's language."""
    form = {"level": "township", "file": (io.BytesIO(TOWNSHIPS), "t.geojson"), **fields}
    form = {name: value for name, value in form.items() if value is not None}
    response = web_as("admin", locale="zh").post(
        "/admin/boundaries", data=form, content_type="multipart/form-data"
    )
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "data-error" in page and chinese in page and "data-boundary-upload" in page
    assert _count(BoundaryLoad) == 0


def test_admin_upload_over_the_cap_is_refused(
    web_as: Any, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small cap, so the test's upload stays in memory (the size is what is tested, not the temporary file).
    monkeypatch.setitem(app.config, "IAS_BOUNDARY_MAX_MB", 0.25)
    response = _upload(web_as("admin"), b" " * (300 * 1024))
    assert response.status_code == 413
    assert "data-error" in response.get_data(as_text=True) and "0.25 MB" in response.get_data(as_text=True)
    assert _count(BoundaryLoad) == 0


def test_admin_upload_of_200_mb_is_refused_before_it_is_read(web_as: Any) -> None:
    web = web_as("admin")
    response = web.client.post(  # the header says 200 MB: refused on it, before a byte of the body is read
        "/admin/boundaries",
        input_stream=io.BytesIO(b"x" * 1024),
        content_type="multipart/form-data; boundary=x",
        environ_overrides={"CONTENT_LENGTH": str(200 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert _count(BoundaryLoad) == 0


def test_synthetic_a_load_that_fails_half_way_leaves_the_previous(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(
        args=["district", "boundaries", _write(tmp_path, "a.geojson", TOWNSHIPS), "--level", "township"]
    )
    assert first.exit_code == 0, first.output
    calls = []

    def failing(geometry: Any) -> Any:  # the second polygon's write fails, after the old ones were deleted
        calls.append(geometry)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return to_geojson(geometry)

    monkeypatch.setattr(boundaries, "to_geojson", failing)
    swapped = geojson(feature("500155002", WEST), feature("500155001", EAST))
    second = runner.invoke(
        args=["district", "boundaries", _write(tmp_path, "b.geojson", swapped), "--level", "township"]
    )
    assert second.exit_code != 0 and len(calls) == 2
    assert _count(BoundaryLoad) == 1 and _count(Boundary) == 2
    assert boundaries.locator().township_at(107.75, 30.65) == "500155001"


def test_admin_upload_reports_the_flags_it_rechecked_in_chinese(
    web_as: Any, api_as: Any, make_observation: Any
) -> None:
    """A record named in 梁山街道 whose point the loaded polygons put in 双桂街道: the page's report (in
    Chinese, the default) says it is now flagged, under a label of its own."""
    make_observation(api_as("surveyor"), township_code="500155001", latitude=30.65, longitude=107.85)
    loaded = _upload(web_as("admin"), TOWNSHIPS)
    page = html.unescape(loaded.get_data(as_text=True))
    assert loaded.status_code == 200 and "data-applied" in page
    assert 'data-problem="rechecked"' in page
    assert "重新核对不符标记" in page
    assert "1 条记录所填的乡镇级单位与这些边界不符，已标记待复核；0 条此前标记的记录现与边界相符" in page
