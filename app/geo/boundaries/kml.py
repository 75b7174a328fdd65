"""Reading a KML boundary file.

KML boundaries are a small subset of KML (Placemark → Polygon / MultiGeometry → LinearRing coordinates, with
ExtendedData for fields), read here with defusedxml: the KML libraries on PyPI (fastkml, pykml) would bring
further dependencies and parse with lxml without defusedxml's refusal of entity expansion (XML bombs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeXML

from app.geo.boundaries.features import choose_field, feature, name_of, system_of, text
from app.geo.boundaries.report import CODE_FIELDS, N_, BoundaryFile, BoundaryFileError, Problem, Text, says


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element if _local(child.tag) == name)


def _descendants(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element.iter() if _local(child.tag) == name)


def read_kml(data: bytes, filename: str, code_field: str | None, crs: str | None) -> BoundaryFile:
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise BoundaryFileError(says(N_("%(file)s is not KML: it does not start with XML"), file=filename))
    try:
        root = SafeXML.fromstring(data, forbid_dtd=True)
    except Exception as exc:  # defusedxml raises ParseError or its own refusals (DTDs, entities)
        raise BoundaryFileError(
            says(N_("%(file)s is not readable KML: %(why)s"), file=filename, why=exc)
        ) from exc
    if _local(root.tag) != "kml":
        raise BoundaryFileError(
            says(
                N_("%(file)s is not KML: its root element is <%(root)s>"),
                file=filename,
                root=_local(root.tag),
            )
        )
    placemarks = list(_descendants(root, "Placemark"))
    rows = []
    for placemark in placemarks:
        properties: dict[str, str] = {}
        for child in placemark:
            if _local(child.tag) in ("name", "description") and child.text:
                properties[_local(child.tag)] = child.text.strip()
        for data_element in _descendants(placemark, "Data"):
            value = next(_children(data_element, "value"), None)
            properties[data_element.get("name", "")] = (value.text or "").strip() if value is not None else ""
        for simple in _descendants(placemark, "SimpleData"):
            properties[simple.get("name", "")] = (simple.text or "").strip()
        rows.append((placemark, properties))
    fields = sorted({key for _, p in rows for key in p if key})
    chosen = choose_field(fields, code_field, filename, (*CODE_FIELDS, "name"))
    system, why = system_of(crs, "wgs84", "KML")
    problems: list[Problem] = []
    features = []
    for number, (placemark, properties) in enumerate(rows, 1):
        polygons: list[list[Any]] | Text = [
            _kml_polygon(polygon) for polygon in _descendants(placemark, "Polygon")
        ]
        if not polygons:
            polygons = says(N_("it has no Polygon"))
        name = properties.get("name") if chosen != "name" else name_of(properties)
        features.append(feature(number, text(properties.get(chosen)), name, polygons, system, problems))
    return BoundaryFile("kml", why, chosen, fields, features, problems)


def _kml_ring(ring_parent: Element) -> list[Any]:
    ring = next(_descendants(ring_parent, "coordinates"), None)
    points: list[Any] = []
    for token in (ring.text or "").split() if ring is not None else []:
        parts = token.split(",")
        try:
            points.append([float(parts[0]), float(parts[1])])
        except (ValueError, IndexError):
            points.append([token])  # refused below as a position that is not two numbers
    return points


def _kml_polygon(polygon: Element) -> list[Any]:
    outer = [_kml_ring(b) for b in _children(polygon, "outerBoundaryIs")]
    inner = [_kml_ring(b) for b in _children(polygon, "innerBoundaryIs")]
    return outer[:1] + inner
