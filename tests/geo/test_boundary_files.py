"""Reading and checking boundary files (app/geo/boundaries/) on synthetic boundaries the tests make."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from shapely.geometry import Polygon

from app.geo.boundaries import BoundaryFileError, Report, check_boundaries, read_boundary_file
from app.geo.crs import distance_m, wgs84_to_gcj02
from tests.geo.synthetic import (
    CGCS2000_GK108_PRJ,
    CGCS2000_PRJ,
    DISTRICT,
    EAST,
    WEST,
    feature,
    geojson,
    kml,
    shapefile_zip,
    square,
)

MB = 1024 * 1024
KNOWN = {"500155001": "梁山街道", "500155002": "双桂街道", "500155003": "合兴街道"}
HOLE = square(107.74, 30.64, 107.76, 30.66)


def _normalize(code: str) -> str | None:
    code = code[:9] if len(code) == 12 and code.endswith("000") else code
    return code if code in KNOWN else None


def _read(data: bytes, filename: str, **kwargs: Any) -> Any:
    return read_boundary_file(data, filename, max_bytes=kwargs.pop("max_bytes", 10 * MB), **kwargs)


def _check(
    data: bytes, filename: str, *, district: Any = None, tolerance_m: float = 10.0, **kwargs: Any
) -> Report:
    return check_boundaries(
        _read(data, filename, **kwargs),
        level="township",
        known=KNOWN,
        normalize=_normalize,
        district=district,
        tolerance_m=tolerance_m,
    )


def _kinds(report: Report) -> list[tuple[str, str]]:
    return [(p.kind, p.severity) for p in report.problems]


def _two_townships() -> list[dict[str, Any]]:
    return [feature("500155001", WEST, HOLE, name="梁山街道"), feature("500155002000", EAST, name="双桂街道")]


# --- each format ------------------------------------------------------------------------------


def test_synthetic_geojson_is_read_with_holes_and_12_digit_codes() -> None:
    report = _check(geojson(*_two_townships()), "towns.geojson")
    assert report.ok and report.format == "geojson" and report.code_field == "code"
    assert [u.code for u in report.units] == ["500155001", "500155002"]
    west = report.units[0]
    assert len(west.geometry.interiors) == 1
    # 0.1° × 0.1° at 30.65° N is about 9.58 km × 11.09 km, less the 1.92 km × 2.22 km hole: geodesic, in m².
    assert 101.5e6 < west.area_m2 < 102.5e6
    # 合兴街道 has no polygon, and the hole is land no unit covers.
    assert _kinds(report) == [("missing", "warning"), ("gap", "warning")]
    assert "合兴街道 500155003" in report.problems[0].message


def test_synthetic_shapefile_with_prj_and_chinese_fields() -> None:
    data = shapefile_zip(_two_townships(), prj=CGCS2000_PRJ)
    source = _read(data, "towns.zip")
    assert source.format == "shapefile" and ".prj" in source.crs
    assert [(f.code, f.name) for f in source.features] == [
        ("500155001", "梁山街道"),
        ("500155002000", "双桂街道"),
    ]
    report = _check(data, "towns.zip")
    assert report.ok
    assert report.units[0].geometry.equals(Polygon(WEST, [HOLE]))


def test_synthetic_shapefile_in_a_projected_cgcs2000_zone_is_converted() -> None:
    to_gk = Transformer.from_crs(ProjCRS.from_epsg(4326), ProjCRS.from_epsg(4545), always_xy=True)
    data = shapefile_zip(_two_townships(), prj=CGCS2000_GK108_PRJ, transform=to_gk.transform)
    report = _check(data, "towns.zip")
    assert report.ok and "converted" in report.crs
    for x, y in report.units[1].geometry.exterior.coords:
        assert any(abs(x - ex) < 1e-7 and abs(y - ey) < 1e-7 for ex, ey in EAST)


def test_synthetic_kml_with_extended_data() -> None:
    report = _check(kml(*_two_townships()), "towns.kml")
    assert report.ok and report.format == "kml"
    assert [u.code for u in report.units] == ["500155001", "500155002"]
    assert len(report.units[0].geometry.interiors) == 1


def test_synthetic_kmz_is_read() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("doc.kml", kml(*_two_townships()))
    assert _check(out.getvalue(), "towns.kmz").ok


def test_synthetic_gcj02_file_is_converted_to_wgs84() -> None:
    shifted = [[list(wgs84_to_gcj02(x, y)) for x, y in WEST]]
    report = _check(geojson(feature("500155001", *shifted)), "towns.geojson", crs="gcj02")
    assert report.crs == "gcj02 (--crs)"
    for (x, y), (ex, ey) in zip(report.units[0].geometry.exterior.coords, WEST, strict=True):
        assert distance_m(x, y, ex, ey) < 0.01


def test_cgcs2000_is_taken_as_it_is() -> None:
    report = _check(geojson(feature("500155001", WEST)), "towns.geojson", crs="cgcs2000")
    assert list(report.units[0].geometry.exterior.coords) == [tuple(p) for p in WEST]


def test_the_code_field_can_be_named_and_xzqdm_is_found() -> None:
    data = geojson(feature("500155001", WEST, field="XZQDM"))
    assert _read(data, "a.geojson").code_field == "XZQDM"
    data = geojson(feature("500155001", WEST, field="TOWN_ID"))
    assert _read(data, "a.geojson", code_field="TOWN_ID").features[0].code == "500155001"


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "says"),
    [
        (geojson(feature("500155001", WEST)), "towns.zip", "towns.zip is not a zip archive"),
        (shapefile_zip([feature("500155001", WEST)]), "towns.geojson", "towns.geojson is not GeoJSON"),
        (geojson(feature("500155001", WEST)), "towns.kml", "towns.kml is not KML"),
        (b"<html><body>hello</body></html>", "towns.kml", "its root element is <html>"),
        (b'{"type": "Topology"}', "towns.json", "is not a GeoJSON FeatureCollection"),
        (b"{not json", "towns.geojson", "is not valid JSON"),
        (b"\x00\x01", "towns.shp", "zip the .shp with its .shx, .dbf and .prj"),
        (b"a,b\n", "towns.csv", "not a boundary file"),
    ],
)
def test_a_file_that_is_not_what_its_name_says(data: bytes, filename: str, says: str) -> None:
    with pytest.raises(BoundaryFileError, match=says.replace(".", r"\.").replace("(", r"\(")):
        _read(data, filename)


def test_a_synthetic_shapefile_without_prj_needs_crs() -> None:
    data = shapefile_zip([feature("500155001", WEST)], prj=None)
    with pytest.raises(BoundaryFileError, match=r"has no \.prj.*--crs"):
        _read(data, "towns.zip")
    assert _read(data, "towns.zip", crs="cgcs2000").crs == "cgcs2000 (--crs)"


def test_a_code_field_that_does_not_exist_names_the_fields_there_are() -> None:
    data = geojson(feature("500155001", WEST, name="梁山街道"))
    with pytest.raises(BoundaryFileError, match="there is no field 'XZQDM'; its fields are: code, name"):
        _read(data, "towns.geojson", code_field="XZQDM")
    with pytest.raises(BoundaryFileError, match="there is no field 'XZQDM'"):
        _read(shapefile_zip([feature("500155001", WEST)]), "towns.zip", code_field="XZQDM")
    with pytest.raises(BoundaryFileError, match="no code field"):
        _read(geojson(feature("500155001", WEST, field="ID")), "towns.geojson")


def test_a_file_over_the_size_cap_is_refused_by_its_size() -> None:
    with pytest.raises(BoundaryFileError, match=r"geojson is 2 MB; boundary files may be at most 1 MB"):
        _read(b" " * (2 * MB), "towns.geojson", max_bytes=MB)


def test_a_zip_that_unpacks_past_the_cap_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.shp", b"\0" * (3 * MB))
    assert len(out.getvalue()) < MB
    with pytest.raises(BoundaryFileError, match="unpacks to 3 MB"):
        _read(out.getvalue(), "towns.zip", max_bytes=MB)


def test_kml_with_entities_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa">]><kml>&a;</kml>'
    with pytest.raises(BoundaryFileError, match="not readable KML"):
        _read(bomb, "towns.kml")


def test_unknown_crs_is_refused() -> None:
    with pytest.raises(
        BoundaryFileError, match="--crs 'epsg:3857' is not one of cgcs2000, wgs84, gcj02, bd09"
    ):
        _read(geojson(feature("500155001", WEST)), "towns.geojson", crs="epsg:3857")


# --- each check -----------------------------------------------------------------------------


def test_a_synthetic_ring_that_does_not_close_is_an_error() -> None:
    report = _check(geojson(feature("500155001", [*WEST[:-1], [107.7, 30.61]])), "towns.geojson")
    assert not report.ok
    assert report.errors[0].kind == "invalid_ring"
    assert "feature #1 (500155001): a ring does not close" in report.errors[0].message


def test_a_synthetic_self_crossing_ring_is_an_error() -> None:
    bowtie = [[107.70, 30.60], [107.80, 30.70], [107.80, 30.60], [107.70, 30.70], [107.70, 30.60]]
    report = _check(geojson(feature("500155001", bowtie)), "towns.geojson")
    assert [p.kind for p in report.errors] == ["invalid_ring"]
    assert "crosses itself at 107.75 30.65" in report.errors[0].message


def test_short_rings_points_and_missing_geometry_are_errors() -> None:
    point = {
        "type": "Feature",
        "properties": {"code": "500155002"},
        "geometry": {"type": "Point", "coordinates": [1, 2]},
    }
    report = _check(
        geojson(
            feature("500155001", WEST[:3]), point, {"type": "Feature", "properties": {"code": "500155003"}}
        ),
        "towns.geojson",
    )
    messages = [p.message for p in report.errors]
    assert messages == [
        "feature #1 (500155001): a ring has fewer than 4 positions",
        "feature #2 (500155002): its geometry is a Point, not a Polygon or MultiPolygon",
        "feature #3 (500155003): it has no geometry",
    ]


def test_synthetic_unknown_and_empty_codes_are_errors() -> None:
    report = _check(geojson(feature("999999999", WEST), feature("", EAST)), "towns.geojson")
    assert [(p.kind, p.message) for p in report.errors] == [
        ("unknown_code", "feature #1: 999999999 is not a township code of this district"),
        ("no_code", "feature #2: its 'code' is empty"),
    ]


def test_synthetic_units_with_no_polygon_are_listed() -> None:
    report = _check(geojson(feature("500155001", WEST)), "towns.geojson")
    assert report.ok
    missing = report.warnings[0]
    assert missing.kind == "missing" and missing.codes == ("500155002", "500155003")


def test_synthetic_overlap_above_the_tolerance_is_reported_with_its_area() -> None:
    wide = square(107.79, 30.60, 107.90, 30.70)  # 0.01° (about 960 m) over the west square
    report = _check(geojson(feature("500155001", WEST), feature("500155002", wide)), "towns.geojson")
    overlaps = [p for p in report.problems if p.kind == "overlap"]
    assert len(overlaps) == 1 and overlaps[0].codes == ("500155001", "500155002")
    assert overlaps[0].area_m2 is not None and 10.0e6 < overlaps[0].area_m2 < 11.5e6
    assert report.ok  # a warning: the bureau decides


def test_a_synthetic_sliver_below_the_tolerance_is_not_an_overlap_or_gap() -> None:
    sliver = square(107.79995, 30.60, 107.90, 30.70)  # about 5 m over, under a 10 m tolerance
    report = _check(geojson(feature("500155001", WEST), feature("500155002", sliver)), "towns.geojson")
    assert "overlap" not in [p.kind for p in report.problems]
    assert [
        p.kind
        for p in _check(
            geojson(feature("500155001", WEST), feature("500155002", sliver)),
            "towns.geojson",
            tolerance_m=2.0,
        ).problems
        if p.kind == "overlap"
    ] == ["overlap"]


def test_synthetic_gap_between_neighbours_is_reported() -> None:
    apart = square(107.81, 30.60, 107.90, 30.70)  # a 960 m strip between the two
    district = Polygon(DISTRICT)
    report = _check(
        geojson(feature("500155001", WEST), feature("500155002", apart)), "t.geojson", district=district
    )
    gaps = [p for p in report.problems if p.kind == "gap"]
    assert len(gaps) == 1 and gaps[0].area_m2 is not None and 10.0e6 < gaps[0].area_m2 < 11.5e6
    # Without the district's outline only enclosed holes count: a ring of units round an empty middle.
    ring = [
        feature(
            "500155001",
            [
                [107.70, 30.60],
                [107.90, 30.60],
                [107.90, 30.70],
                [107.85, 30.70],
                [107.85, 30.63],
                [107.70, 30.63],
                [107.70, 30.60],
            ],
        ),
        feature("500155002", square(107.70, 30.63, 107.75, 30.70)),
        feature("500155003", square(107.75, 30.66, 107.85, 30.70)),
    ]
    report = _check(geojson(*ring), "t.geojson")
    assert [p.kind for p in report.problems] == ["gap"]


def test_synthetic_polygon_outside_the_district_is_reported() -> None:
    district = Polygon(square(107.70, 30.60, 107.85, 30.70))
    report = _check(
        geojson(feature("500155001", WEST), feature("500155002", EAST)), "t.geojson", district=district
    )
    outside = [p for p in report.problems if p.kind == "outside"]
    assert len(outside) == 1 and outside[0].severity == "warning" and outside[0].codes == ("500155002",)
    far = square(108.50, 31.50, 108.60, 31.60)
    report = _check(
        geojson(feature("500155001", WEST), feature("500155002", far)), "t.geojson", district=district
    )
    assert [(p.kind, p.severity) for p in report.errors] == [("outside", "error")]
    assert "wholly outside the district" in report.errors[0].message


def test_features_of_one_code_are_joined() -> None:
    halves = [
        feature("500155001", square(107.70, 30.60, 107.75, 30.70)),
        feature("500155001", square(107.75, 30.60, 107.80, 30.70)),
    ]
    report = _check(geojson(*halves), "t.geojson")
    assert len(report.units) == 1 and report.units[0].features == 2
    assert report.units[0].geometry.equals(Polygon(WEST))
    assert "repeated_code" in [p.kind for p in report.problems]


def test_the_report_reads_as_lines_errors_first() -> None:
    report = _check(geojson(feature("500155001", WEST), feature("999", EAST)), "t.geojson")
    lines = report.lines()
    assert lines[0].startswith("geojson, read as wgs84 (RFC 7946), code field 'code': 2 feature(s), 1 of 3")
    assert lines[1].startswith("error: feature #2: 999")
    assert lines[2].startswith("warning: 2 township unit(s) have no polygon")
    json.dumps(lines)
