"""Reading the GIS files back, as GIS software and spreadsheets would: shared by the writer and API tests."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import shapefile  # pyshp
from defusedxml import ElementTree

ROOT = Path(__file__).resolve().parents[2]
# The GeoJSON schema published by the GeoJSON authors (npm geojson-schema, pinned in package.json and
# installed by `make install`): the tests must not fetch it.
SCHEMA = ROOT / "node_modules" / "geojson-schema" / "FeatureCollection.json"
KML = "{http://www.opengis.net/kml/2.2}"


@cache
def _validator() -> Any:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def read_geojson(data: bytes) -> dict[str, Any]:
    """The FeatureCollection, after checking it against the GeoJSON schema (any error fails)."""
    document = json.loads(data.decode("utf-8"))
    errors = sorted(_validator().iter_errors(document), key=str)
    assert not errors, [e.message for e in errors[:5]]
    return document  # type: ignore[no-any-return]


def read_kml(data: bytes) -> list[dict[str, Any]]:
    """Each Placemark as {"id", "name", "data": {key: text}, "geometry": the element's tag or None}."""
    root = ElementTree.fromstring(data)
    assert root.tag == f"{KML}kml"
    placemarks = []
    for mark in root.iter(f"{KML}Placemark"):
        data_items = {d.get("name"): d.text for d in mark.iter(f"{KML}SimpleData")}
        name = mark.find(f"{KML}name")
        geometry = next(
            (child for child in mark if child.tag.removeprefix(KML) in GEOMETRY_TAGS),
            None,
        )
        placemarks.append(
            {
                "id": mark.get("id"),
                "name": None if name is None else name.text,
                "data": data_items,
                "geometry": geometry,
            }
        )
    return placemarks


GEOMETRY_TAGS = {"Point", "LineString", "Polygon", "MultiGeometry"}


def kml_schema(data: bytes) -> dict[str, tuple[str, str]]:
    """The Schema's SimpleFields: key → (type, display name)."""
    root = ElementTree.fromstring(data)
    return {
        field.get("name"): (field.get("type"), field.findtext(f"{KML}displayName"))
        for field in root.iter(f"{KML}SimpleField")
    }


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "CSV must start with the UTF-8 byte order mark"
    text = data.decode("utf-8")  # strict: any invalid UTF-8 fails
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


class Shapefile:
    """A zipped Shapefile read back with pyshp: the members, each layer's fields and rows, the legend."""

    def __init__(self, data: bytes) -> None:
        self.zip = zipfile.ZipFile(io.BytesIO(data))
        assert self.zip.testzip() is None
        self.names = set(self.zip.namelist())

    def text(self, name: str) -> str:
        return self.zip.read(name).decode("utf-8")

    def reader(self, base: str) -> shapefile.Reader:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            assert f"{base}.{ext}" in self.names, f"{base}.{ext} missing from {sorted(self.names)}"
        encoding = self.text(f"{base}.cpg").strip()
        return shapefile.Reader(
            shp=io.BytesIO(self.zip.read(f"{base}.shp")),
            shx=io.BytesIO(self.zip.read(f"{base}.shx")),
            dbf=io.BytesIO(self.zip.read(f"{base}.dbf")),
            encoding=encoding,
        )

    def rows(self, base: str) -> list[tuple[dict[str, Any], Any]]:
        """(record as a dict, shape's __geo_interface__ or None) for every row."""
        with self.reader(base) as reader:
            return [
                (
                    item.record.as_dict(),
                    item.shape.__geo_interface__ if item.shape.shapeType != shapefile.NULL else None,
                )
                for item in reader.iterShapeRecords()
            ]

    def field_names(self, base: str) -> list[str]:
        with self.reader(base) as reader:
            return [f.name for f in reader.fields[1:]]

    def raw_field_names(self, base: str) -> list[bytes]:
        """The DBF's field names as stored: 32-byte descriptors after the 32-byte header."""
        dbf = self.zip.read(f"{base}.dbf")
        header_length = int.from_bytes(dbf[8:10], "little")
        names = []
        for offset in range(32, header_length - 1, 32):
            names.append(dbf[offset : offset + 11].rstrip(b"\x00"))
        return names

    def legend(self, layer: str) -> list[list[str]]:
        return read_csv(self.zip.read(f"{layer}_fields.csv"))
