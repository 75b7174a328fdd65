"""Synthetic boundary files the tests make themselves: made-up squares, never anyone's real boundaries.

Layout (all within Liangping's box, none of it real): 梁山街道 500155001 is the square 107.70–107.80 E,
30.60–30.70 N and 双桂街道 500155002 the square east of it, 107.80–107.90 E; villages split them further.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

import shapefile
from pyproj import CRS as ProjCRS

Ring = list[list[float]]
WGS84_PRJ = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)
CGCS2000_PRJ = ProjCRS.from_epsg(4490).to_wkt("WKT1_ESRI")
# CGCS2000 / 3-degree Gauss-Krüger CM 108E, the kind of projected system a 国土 layer comes in.
CGCS2000_GK108_PRJ = ProjCRS.from_epsg(4545).to_wkt("WKT1_ESRI")


def square(x0: float, y0: float, x1: float, y1: float) -> Ring:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


WEST = square(107.70, 30.60, 107.80, 30.70)
EAST = square(107.80, 30.60, 107.90, 30.70)
DISTRICT = square(107.70, 30.60, 107.90, 30.70)


def feature(code: str, *rings: Ring, name: str | None = None, field: str = "code") -> dict[str, Any]:
    properties: dict[str, Any] = {field: code}
    if name:
        properties["name"] = name
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": list(rings)},
    }


def geojson(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def shapefile_zip(
    features: Sequence[dict[str, Any]],
    *,
    prj: str | None = WGS84_PRJ,
    transform: Any = None,
    encoding: str = "utf-8",
) -> bytes:
    """A zipped Shapefile of the features (GeoJSON dicts), with a .prj unless `prj` is None."""
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    names = sorted({key for f in features for key in f["properties"]})
    with shapefile.Writer(
        shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POLYGON, encoding=encoding
    ) as writer:
        for name in names:
            writer.field(name, "C", size=50)
        for item in features:
            rings = item["geometry"]["coordinates"]
            if transform is not None:
                rings = [[list(transform(x, y)) for x, y in ring] for ring in rings]
            # Shapefile rings: outer clockwise, holes counter-clockwise.
            parts = [list(reversed(rings[0]))] + [list(r) for r in rings[1:]]
            writer.poly(parts)
            writer.record(*[item["properties"].get(name, "") for name in names])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("boundaries.shp", shp.getvalue())
        archive.writestr("boundaries.shx", shx.getvalue())
        archive.writestr("boundaries.dbf", dbf.getvalue())
        archive.writestr("boundaries.cpg", "UTF-8" if encoding == "utf-8" else encoding)
        if prj is not None:
            archive.writestr("boundaries.prj", prj)
    return out.getvalue()


def kml(*features: dict[str, Any], field: str = "code") -> bytes:
    """A KML document, one Placemark per feature, the code in ExtendedData."""

    def coords(ring: Ring) -> str:
        return " ".join(f"{x},{y},0" for x, y in ring)

    marks = []
    for item in features:
        rings = item["geometry"]["coordinates"]
        inner = "".join(
            f"<innerBoundaryIs><LinearRing><coordinates>{coords(r)}</coordinates></LinearRing></innerBoundaryIs>"
            for r in rings[1:]
        )
        name = item["properties"].get("name", "")
        marks.append(
            f"<Placemark><name>{escape(name)}</name><ExtendedData>"
            f'<Data name="{field}"><value>{item["properties"][field]}</value></Data></ExtendedData>'
            f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{coords(rings[0])}</coordinates>"
            f"</LinearRing></outerBoundaryIs>{inner}</Polygon></Placemark>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        + "".join(marks)
        + "</Document></kml>"
    ).encode()


def village_grid(
    township_code: str, x0: float, y0: float, x1: float, y1: float, n: int, codes: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """n × n synthetic squares tiling a township's square, row by row from the south-west, with the given
    village codes (real codes, made-up shapes) or else codes made up as township + 201, 202, …"""
    dx, dy = (x1 - x0) / n, (y1 - y0) / n
    return [
        feature(
            codes[i * n + j] if codes else f"{township_code}{201 + i * n + j:03d}",
            square(x0 + j * dx, y0 + i * dy, x0 + (j + 1) * dx, y0 + (i + 1) * dy),
        )
        for i in range(n)
        for j in range(n)
    ]
