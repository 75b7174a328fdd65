"""GeoJSON (RFC 7946): one FeatureCollection, WGS-84 longitude/latitude, written feature by feature."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from app.gis.writers.base import Kind, Layer, Record, as_geometry, chunked, clean_text, finite, iso

MEDIA_TYPE = "application/geo+json"


def _value(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, date):
        return iso(value)
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, str):
        return clean_text(value)
    return value


def _geometry(value: Any) -> Any:
    geometry = as_geometry(value)
    if geometry is None:
        return None  # RFC 7946 §3.2: a feature without a location has a null geometry
    return {"type": geometry["type"], "coordinates": geometry["coordinates"]}


def feature(layer: Layer, record: Record) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": record.id,
        "geometry": _geometry(record.geometry),
        "properties": {
            column.key: _value(column.kind, value)
            for column, value in zip(layer.columns, record.values, strict=True)
        },
    }


def write(layer: Layer, records: Iterable[Record]) -> Iterator[bytes]:
    """The FeatureCollection's bytes, one feature at a time (the features array is never held whole)."""

    def parts() -> Iterator[str]:
        yield '{"type":"FeatureCollection","features":['
        for index, record in enumerate(records):
            text = json.dumps(
                feature(layer, record), ensure_ascii=False, allow_nan=False, separators=(",", ":")
            )
            yield f",\n{text}" if index else f"\n{text}"
        yield "\n]}\n"

    return chunked(parts())
