"""What every GIS writer takes: a layer's columns and its records, each with a geometry.

Writers know nothing of the database or Flask: a record is a geometry and a tuple of plain values (text,
numbers, booleans, aware datetimes, None) in the order of the layer's columns. Geometries are GeoJSON
geometry mappings (RFC 7946, WGS-84 longitude/latitude) or any object with `__geo_interface__` (a
shapely geometry, say), so a record's area polygon (docs/contract.md §2 Area) goes through the same
writers as a point.

Each writer is a generator of bytes, consumed once as the response is sent: rows are read as they are
written, never gathered in a list (docs/contract.md §5: large downloads stream).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

Geometry = Mapping[str, Any]

# The bytes a writer hands the server at a time: large enough that per-chunk costs vanish, small
# enough that memory stays flat.
CHUNK_BYTES = 64 * 1024


class Kind(enum.Enum):
    TEXT = "text"
    INTEGER = "integer"
    REAL = "real"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


@dataclass(frozen=True)
class Column:
    """One field of a layer, named for each audience.

    `key` is the English field name (GeoJSON properties, KML and the API); `dbf` the DBF field name of
    the Shapefile, at most 10 bytes in UTF-8 (3 bytes a Chinese character, so abbreviations); `zh` and
    `en` the full names (CSV header, KML display names, the Shapefile's field legend). `size` bounds a
    text field in the DBF (bytes, ≤ 254); `decimals` a real number's digits after the point there.
    """

    key: str
    dbf: str
    zh: str
    en: str
    kind: Kind = Kind.TEXT
    size: int = 254
    decimals: int = 6

    def __post_init__(self) -> None:
        if not 0 < len(self.dbf.encode("utf-8")) <= 10:
            raise ValueError(f"DBF field name {self.dbf!r} must be 1-10 bytes in UTF-8")
        if not 0 < self.size <= 254:
            raise ValueError(f"text size of {self.key} must be 1-254 bytes")


@dataclass(frozen=True, slots=True)
class Record:
    """One feature: its id, geometry (None when it has none), a title for KML, and its values."""

    id: int | str
    geometry: Geometry | Any | None
    values: Sequence[Any]
    title: str = ""


@dataclass(frozen=True)
class Layer:
    """What a file is made of: a name (file names, the KML document) and its columns."""

    name: str
    title: str
    columns: Sequence[Column]

    def __post_init__(self) -> None:
        names = [c.dbf for c in self.columns]
        if len(set(names)) != len(names) or len({c.key for c in self.columns}) != len(names):
            raise ValueError(f"layer {self.name}: column keys and DBF names must be unique")


def as_geometry(value: Any) -> Geometry | None:
    """A GeoJSON geometry mapping from a mapping or an object with `__geo_interface__`."""
    if value is None:
        return None
    geometry = value.__geo_interface__ if hasattr(value, "__geo_interface__") else value
    if not isinstance(geometry, Mapping) or "type" not in geometry:
        raise TypeError(f"not a geometry: {value!r}")
    return geometry


def point(lon: float, lat: float) -> Geometry:
    return {"type": "Point", "coordinates": [lon, lat]}


def finite(value: float) -> float | None:
    """NaN and infinities are not numbers any of these formats can carry."""
    return value if math.isfinite(value) else None


# Characters XML 1.0 cannot hold and that no GIS text field needs (C0 controls other than tab and line
# breaks, and the non-characters); dropped from text in every format.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean_text(text: str) -> str:
    return _CONTROL.sub("", text)


def iso(value: datetime | date) -> str:
    """ISO 8601; a datetime keeps its offset (the layers give local time, +08:00)."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


def truncate_utf8(text: str, limit: int) -> str:
    """The longest prefix of `text` whose UTF-8 takes at most `limit` bytes, never half a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    # errors="ignore" drops the partial character the byte cut left at the end, and only that.
    return encoded[:limit].decode("utf-8", errors="ignore")


def chunked(parts: Iterable[str | bytes], size: int | None = None) -> Iterator[bytes]:
    """Join small pieces into chunks of about `size` bytes (CHUNK_BYTES; text is encoded as UTF-8)."""
    size = size or CHUNK_BYTES
    buffer: list[bytes] = []
    held = 0
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        buffer.append(data)
        held += len(data)
        if held >= size:
            yield b"".join(buffer)
            buffer.clear()
            held = 0
    if buffer:
        yield b"".join(buffer)
