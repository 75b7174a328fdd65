"""The GIS writers on their own (no database): each format read back as GIS software would read it.

The polygons here are synthetic squares made by the tests (not any real boundary or area).
"""

from __future__ import annotations

import io
import itertools
import math
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from app.gis.writers import base, csvfile, geojson, kml, shapefile_zip
from app.gis.writers.base import Column, Kind, Layer, Record
from tests.gis.formats import Shapefile, kml_schema, read_csv, read_geojson, read_kml

BEIJING = timezone(timedelta(hours=8))
WHEN = datetime(2026, 5, 4, 9, 30, tzinfo=BEIJING)

LAYER = Layer(
    name="things",
    title="测试图层 Test layer",
    columns=(
        Column("id", "ID", "编号", "id", Kind.INTEGER),
        Column("name", "名称", "名称全称", "name", Kind.TEXT, size=12),
        Column("notes", "备注", "备注说明", "notes", Kind.TEXT),
        Column("area_mu", "面积亩", "发生面积（亩）", "area (mu)", Kind.REAL, decimals=4),
        Column("detected", "发现", "是否发现", "detected", Kind.BOOLEAN),
        Column("at", "时间", "调查时间", "observed at", Kind.DATETIME),
    ),
)


def synthetic_square(lon: float, lat: float, size: float = 0.01, hole: bool = False) -> dict[str, Any]:
    """A made-up square (counter-clockwise, RFC 7946), optionally with a square hole (clockwise)."""
    outer = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    rings = [outer]
    if hole:
        q = size / 4
        corners = [(1, 1), (1, 3), (3, 3), (3, 1), (1, 1)]
        rings.append([[lon + i * q, lat + j * q] for i, j in corners])
    return {"type": "Polygon", "coordinates": rings}


class GeoInterface:
    """Any object with __geo_interface__ (as shapely geometries have) is a geometry too."""

    def __init__(self, geometry: dict[str, Any]) -> None:
        self.__geo_interface__ = geometry


def records() -> list[Record]:
    return [
        Record(1, base.point(107.8, 30.67), (1, "福寿螺", '=HYPERLINK("x")', 2.0, True, WHEN), "福寿螺 1"),
        Record(2, base.point(107.81, 30.68), (2, "空心莲子草", "-3 危险", -1.25, False, None), "<&>"),
        Record(3, None, (3, None, None, None, None, None), ""),
        Record(4, base.point(107.82, 30.69), (4, "加拿大一枝黄花", "ok\x01\x0b", math.nan, None, WHEN), ""),
    ]


def polygon_records() -> list[Record]:
    square = synthetic_square(107.8, 30.6, hole=True)
    multi = {
        "type": "MultiPolygon",
        "coordinates": [
            synthetic_square(107.9, 30.7)["coordinates"],
            synthetic_square(107.95, 30.7)["coordinates"],
        ],
    }
    return [
        Record(10, base.point(107.8, 30.6), (10, "点", None, 1.0, True, WHEN)),
        Record(11, GeoInterface(square), (11, "面", None, 2.0, True, WHEN)),
        Record(12, multi, (12, "多面", None, 3.0, True, WHEN)),
    ]


def collect(chunks: Iterator[bytes]) -> bytes:
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------
# Columns and text


def test_a_dbf_field_name_over_ten_utf8_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="10 bytes"):
        Column("observed_at", "调查时间", "调查时间", "observed at")  # 4 × 3 = 12 bytes
    Column("area_mu", "面积亩X", "发生面积", "area")  # 3 × 3 + 1 = 10 bytes: fits


def test_truncating_never_cuts_a_utf8_character() -> None:
    text = "加拿大一枝黄花ab"
    for limit in range(len(text.encode()) + 2):
        cut = base.truncate_utf8(text, limit)
        assert len(cut.encode("utf-8")) <= limit
        assert text.startswith(cut)
        assert len(cut.encode("utf-8")) > limit - 3  # no more than one character short


# ---------------------------------------------------------------------------------------------
# GeoJSON


def test_geojson_is_a_schema_valid_feature_collection() -> None:
    document = read_geojson(collect(geojson.write(LAYER, records() + polygon_records())))
    features = document["features"]
    assert [f["id"] for f in features] == [1, 2, 3, 4, 10, 11, 12]
    first = features[0]
    assert first["geometry"] == {"type": "Point", "coordinates": [107.8, 30.67]}
    assert first["properties"] == {
        "id": 1,
        "name": "福寿螺",
        "notes": '=HYPERLINK("x")',  # JSON is data, not a spreadsheet: kept as typed
        "area_mu": 2.0,
        "detected": True,
        "at": "2026-05-04T09:30:00+08:00",
    }
    assert features[2]["geometry"] is None
    assert features[3]["properties"]["area_mu"] is None  # NaN is no JSON number
    assert features[3]["properties"]["notes"] == "ok"  # control characters dropped
    assert features[5]["geometry"]["type"] == "Polygon"
    assert len(features[5]["geometry"]["coordinates"]) == 2  # with its hole
    assert features[6]["geometry"]["type"] == "MultiPolygon"


def test_geojson_of_nothing_is_an_empty_collection() -> None:
    assert read_geojson(collect(geojson.write(LAYER, []))) == {"type": "FeatureCollection", "features": []}


# ---------------------------------------------------------------------------------------------
# KML


def test_kml_placemarks_carry_the_fields_in_extended_data() -> None:
    data = collect(kml.write(LAYER, records() + polygon_records()))
    assert kml_schema(data)["name"] == ("string", "名称全称")
    assert kml_schema(data)["area_mu"] == ("double", "发生面积（亩）")
    marks = read_kml(data)
    assert [m["id"] for m in marks] == [f"things.{i}" for i in (1, 2, 3, 4, 10, 11, 12)]
    first = marks[0]
    assert first["name"] == "福寿螺 1"
    assert first["data"] == {
        "id": "1",
        "name": "福寿螺",
        "notes": '=HYPERLINK("x")',
        "area_mu": "2.0",
        "detected": "1",
        "at": "2026-05-04T09:30:00+08:00",
    }
    assert first["geometry"].tag.endswith("Point")
    assert first["geometry"].findtext("{http://www.opengis.net/kml/2.2}coordinates") == "107.8,30.67"
    assert marks[1]["name"] == "<&>"  # escaped in the file, itself when read
    assert marks[2]["geometry"] is None and marks[2]["data"] == {"id": "3"}  # nulls are left out
    assert marks[3]["data"]["notes"] == "ok" and "area_mu" not in marks[3]["data"]
    square = marks[5]["geometry"]
    assert square.tag.endswith("Polygon")
    assert len(square.findall("{http://www.opengis.net/kml/2.2}innerBoundaryIs")) == 1
    assert marks[6]["geometry"].tag.endswith("MultiGeometry")
    assert len(marks[6]["geometry"]) == 2


# ---------------------------------------------------------------------------------------------
# CSV


def test_csv_has_a_bom_chinese_headers_and_neutralised_text() -> None:
    rows = read_csv(collect(csvfile.write(LAYER, records())))
    assert rows[0] == ["编号", "名称全称", "备注说明", "发生面积（亩）", "是否发现", "调查时间", "WKT"]
    assert rows[1] == [
        "1",
        "福寿螺",
        '\'=HYPERLINK("x")',
        "2.0",
        "是",
        "2026-05-04 09:30:00",
        "POINT (107.8 30.67)",
    ]
    assert rows[2][2] == "'-3 危险"  # typed text that starts like a formula
    assert rows[2][3] == "-1.25"  # a number is a number
    assert rows[2][4] == "否"
    assert rows[3] == ["3", "", "", "", "", "", ""]
    assert rows[4][2:4] == ["ok", ""]


@pytest.mark.parametrize(
    "typed", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "＝1", "＋1", "－1", "＠x", "#N/A", "#REF!"]
)
def test_csv_neutralises_every_formula_start(typed: str) -> None:
    assert csvfile.safe_text(typed) == "'" + typed


def test_csv_writes_polygons_as_wkt() -> None:
    rows = read_csv(collect(csvfile.write(LAYER, polygon_records())))
    assert rows[2][-1].startswith("POLYGON ((107.8 30.6, ") and rows[2][-1].count("(") == 3
    assert rows[3][-1].startswith("MULTIPOLYGON (((")


# ---------------------------------------------------------------------------------------------
# Shapefile


def test_shapefile_round_trips_with_chinese_field_names_and_utf8() -> None:
    zipped = Shapefile(collect(shapefile_zip.write(LAYER, records())))
    assert zipped.names == {f"things.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} | {
        "things_fields.csv"
    }
    assert zipped.text("things.cpg") == "UTF-8"
    prj = zipped.text("things.prj")
    assert "China_2000" in prj and "6378137.0,298.257222101" in prj
    assert zipped.field_names("things") == ["ID", "名称", "备注", "面积亩", "发现", "时间"]
    assert all(len(name) <= 10 for name in zipped.raw_field_names("things"))
    rows = zipped.rows("things")
    assert len(rows) == 4
    first, geometry = rows[0]
    assert first == {
        "ID": 1,
        "名称": "福寿螺",
        "备注": '=HYPERLINK("x")',
        "面积亩": 2.0,
        "发现": True,
        "时间": "2026-05-04T09:30:00+08:00",
    }
    assert geometry == {"type": "Point", "coordinates": (107.8, 30.67)}
    assert rows[1][0]["面积亩"] == -1.25 and rows[1][0]["发现"] is False
    assert rows[2] == ({"ID": 3, "名称": "", "备注": "", "面积亩": None, "发现": None, "时间": ""}, None)
    # 加拿大一枝黄花 is 21 bytes; the field holds 12: four whole characters, never half of one.
    assert rows[3][0]["名称"] == "加拿大一"
    assert rows[3][0]["面积亩"] is None


def test_shapefile_legend_names_every_field_in_chinese_and_english() -> None:
    legend = Shapefile(collect(shapefile_zip.write(LAYER, records()))).legend("things")
    assert legend[0] == list(shapefile_zip.LEGEND_HEADER)
    assert legend[1:] == [
        ["ID", "编号", "id", "id", "N"],
        ["名称", "名称全称", "name", "name", "C"],
        ["备注", "备注说明", "notes", "notes", "C"],
        ["面积亩", "发生面积（亩）", "area (mu)", "area_mu", "N"],
        ["发现", "是否发现", "detected", "detected", "L"],
        ["时间", "调查时间", "observed at", "at", "C"],
    ]


def test_shapefile_puts_each_kind_of_geometry_in_its_own_file() -> None:
    zipped = Shapefile(collect(shapefile_zip.write(LAYER, polygon_records())))
    points = zipped.rows("things")
    polygons = zipped.rows("things_polygon")
    assert [r["ID"] for r, _g in points] == [10]
    assert [r["ID"] for r, _g in polygons] == [11, 12]
    square = polygons[0][1]
    assert square["type"] == "Polygon" and len(square["coordinates"]) == 2  # the hole survives
    assert polygons[1][1]["type"] == "MultiPolygon"
    assert zipped.text("things_polygon.cpg") == "UTF-8"


def test_an_empty_shapefile_still_opens() -> None:
    zipped = Shapefile(collect(shapefile_zip.write(LAYER, [])))
    assert zipped.rows("things") == []
    assert zipped.field_names("things")[0] == "ID"


def test_shapefile_text_longer_than_254_bytes_is_cut_at_a_character() -> None:
    notes = "外来入侵物种" * 20  # 360 bytes
    record = Record(1, base.point(107.8, 30.6), (1, "x", notes, None, None, None))
    ((row, _geometry),) = Shapefile(collect(shapefile_zip.write(LAYER, [record]))).rows("things")
    assert notes.startswith(row["备注"]) and len(row["备注"].encode()) == 252  # 84 whole characters


# ---------------------------------------------------------------------------------------------
# Streaming


def endless() -> Iterator[Record]:
    for i in itertools.count(1):
        yield Record(i, base.point(107.8, 30.6), (i, "福寿螺", "备注" * 50, 1.5, True, WHEN))


@pytest.mark.parametrize("writer", [geojson.write, kml.write, csvfile.write])
def test_text_formats_stream_rows_as_they_come(writer: Any) -> None:
    """An endless source still gives a first chunk: the writer never gathers the rows."""
    chunks = writer(LAYER, endless())
    first = next(chunks)
    assert base.CHUNK_BYTES <= len(first) < 4 * base.CHUNK_BYTES
    assert len(next(chunks)) >= base.CHUNK_BYTES


def test_shapefile_spools_to_disk_beyond_its_memory_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Shapefile needs its row count before its first byte: the rows go to temporary files, which
    leave memory for disk beyond SPOOL_BYTES, and the zip is then streamed from them in chunks."""
    monkeypatch.setattr(shapefile_zip, "SPOOL_BYTES", 16 * 1024)
    spooled: list[Any] = []
    real = shapefile_zip.tempfile.SpooledTemporaryFile

    def spy(*args: Any, **kwargs: Any) -> Any:
        spooled.append(real(*args, **kwargs))
        return spooled[-1]

    monkeypatch.setattr(shapefile_zip.tempfile, "SpooledTemporaryFile", spy)
    rows = itertools.islice(endless(), 3000)  # the .shx alone: 100 + 8 bytes a row
    chunks = shapefile_zip.write(LAYER, rows)
    first = next(chunks)
    assert all(file._rolled for file in spooled)  # every one of .shp, .shx, .dbf is on disk
    data = first + b"".join(chunks)
    assert all(file.closed for file in spooled)
    assert len(Shapefile(data).rows("things")) == 3000
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("things.dbf").file_size > 16 * 1024
