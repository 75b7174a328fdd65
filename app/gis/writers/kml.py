"""KML 2.2: one Placemark per record, its fields in ExtendedData, typed by a Schema (as GDAL writes KML).

Coordinates are WGS-84 longitude,latitude, which is what KML means by its coordinates; a record without a
geometry is a Placemark without one. Text is escaped and stripped of characters XML cannot hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from app.gis.writers.base import Column, Kind, Layer, Record, as_geometry, chunked, clean_text, finite, iso

MEDIA_TYPE = "application/vnd.google-earth.kml+xml"
NAMESPACE = "http://www.opengis.net/kml/2.2"

_SIMPLE_TYPES = {
    Kind.TEXT: "string",
    Kind.INTEGER: "int",
    Kind.REAL: "double",
    Kind.BOOLEAN: "bool",
    Kind.DATETIME: "string",
}


def _text(value: Any) -> str | None:
    """A value as KML text; None leaves the field out (no value)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date):
        return iso(value)
    if isinstance(value, float):
        number = finite(value)
        return None if number is None else repr(number)
    return escape(clean_text(str(value)))


def _coordinates(positions: Sequence[Sequence[float]]) -> str:
    return " ".join(",".join(repr(float(c)) for c in position) for position in positions)


def _ring(tag: str, ring: Sequence[Sequence[float]]) -> str:
    return f"<{tag}><LinearRing><coordinates>{_coordinates(ring)}</coordinates></LinearRing></{tag}>"


def _polygon(rings: Sequence[Sequence[Sequence[float]]]) -> str:
    if not rings:
        return "<Polygon/>"
    inner = "".join(_ring("innerBoundaryIs", ring) for ring in rings[1:])
    return f"<Polygon>{_ring('outerBoundaryIs', rings[0])}{inner}</Polygon>"


def geometry_kml(geometry: Any) -> str:
    """A GeoJSON geometry as KML (multi-part geometries become a MultiGeometry)."""
    shape = as_geometry(geometry)
    if shape is None:
        return ""
    kind = shape["type"]
    if kind == "GeometryCollection":
        return "<MultiGeometry>" + "".join(geometry_kml(g) for g in shape["geometries"]) + "</MultiGeometry>"
    coordinates = shape["coordinates"]
    if kind == "Point":
        return f"<Point><coordinates>{_coordinates([coordinates])}</coordinates></Point>"
    if kind == "LineString":
        return f"<LineString><coordinates>{_coordinates(coordinates)}</coordinates></LineString>"
    if kind == "Polygon":
        return _polygon(coordinates)
    parts = {
        "MultiPoint": lambda c: geometry_kml({"type": "Point", "coordinates": c}),
        "MultiLineString": lambda c: geometry_kml({"type": "LineString", "coordinates": c}),
        "MultiPolygon": _polygon,
    }
    if kind not in parts:
        raise ValueError(f"unknown geometry type {kind!r}")
    return "<MultiGeometry>" + "".join(parts[kind](part) for part in coordinates) + "</MultiGeometry>"


def _schema(layer: Layer) -> str:
    fields = "".join(
        f"<SimpleField type={quoteattr(_SIMPLE_TYPES[c.kind])} name={quoteattr(c.key)}>"
        f"<displayName>{escape(c.zh)}</displayName></SimpleField>"
        for c in layer.columns
    )
    return f"<Schema name={quoteattr(layer.name)} id={quoteattr(layer.name)}>{fields}</Schema>"


def _data(columns: Sequence[Column], values: Sequence[Any]) -> str:
    cells = []
    for column, value in zip(columns, values, strict=True):
        text = _text(value)
        if text is not None:
            cells.append(f"<SimpleData name={quoteattr(column.key)}>{text}</SimpleData>")
    return "".join(cells)


def placemark(layer: Layer, record: Record) -> str:
    name = escape(clean_text(record.title)) if record.title else ""
    return (
        f"<Placemark id={quoteattr(f'{layer.name}.{record.id}')}>"
        + (f"<name>{name}</name>" if name else "")
        + f'<ExtendedData><SchemaData schemaUrl="#{layer.name}">'
        + _data(layer.columns, record.values)
        + "</SchemaData></ExtendedData>"
        + geometry_kml(record.geometry)
        + "</Placemark>\n"
    )


def write(layer: Layer, records: Iterable[Record]) -> Iterator[bytes]:
    def parts() -> Iterator[str]:
        yield f'<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="{NAMESPACE}">\n'
        yield f"<Document id={quoteattr(layer.name)}><name>{escape(layer.title)}</name>\n"
        yield _schema(layer) + "\n"
        for record in records:
            yield placemark(layer, record)
        yield "</Document>\n</kml>\n"

    return chunked(parts())
