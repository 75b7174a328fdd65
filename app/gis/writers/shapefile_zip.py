"""A zipped ESRI Shapefile (pyshp): .shp/.shx/.dbf, a CGCS2000 .prj, a .cpg declaring UTF-8, and a legend.

The DBF's limits, and how they are met:

- A field name is at most 10 bytes. UTF-8 Chinese takes 3 bytes a character, so the layers give short
  names (物种, 面积亩, 乡镇码 …; `base.Column.dbf`), and `<layer>_fields.csv` in the zip names each DBF
  field in full, in Chinese and English, with its API key and type.
- A text field is at most 254 bytes. Longer text is cut at a character boundary (never half a UTF-8
  character, which GIS software would show as garbage or refuse), and trailing spaces are dropped (the
  DBF pads with spaces, so they cannot be told apart).
- Times are text (ISO 8601 with the +08:00 offset): the DBF date type has no time of day.
- The .cpg says UTF-8, which ArcGIS and QGIS read; without it they would guess the system code page.

Coordinates are WGS-84 longitude/latitude, which for field work is CGCS2000 (EPSG:4490, the national
datum the bureaus' maps use; docs/contract.md §3.3), so the .prj declares EPSG:4490.

A Shapefile holds one kind of geometry. Points go to `<layer>.shp`; should a layer mix kinds (records with
an area polygon beside plain points), each kind gets its own set (`<layer>_polygon.shp` …) in the zip.

Why this one is not streamed from the first byte: the .shp, .shx and .dbf headers hold the record count,
file lengths and bounding box, known only after the last record. The files are therefore written to
spooled temporary files (in memory up to SPOOL_BYTES each, on disk beyond), and the zip is streamed from
them once they are complete: memory stays flat however many rows, only the first byte waits.
"""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import shapefile  # pyshp

from app.gis.writers.base import (
    CHUNK_BYTES,
    Column,
    Kind,
    Layer,
    Record,
    as_geometry,
    clean_text,
    finite,
    iso,
    truncate_utf8,
)

MEDIA_TYPE = "application/zip"
SPOOL_BYTES = 4 * 1024 * 1024
ENCODING = "UTF-8"
# EPSG:4490 (China Geodetic Coordinate System 2000) in the ESRI flavour of WKT that ArcGIS writes to
# .prj files; GDAL/QGIS and pyproj identify it as EPSG:4490.
CGCS2000_PRJ = (
    'GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
    'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)
INTEGER_DIGITS = 11  # a 32-bit id with its sign
REAL_DIGITS = 19  # 12 digits before the point with 6 after: areas, costs and coordinates fit
DATETIME_BYTES = 25  # 2026-05-04T09:30:00+08:00
LEGEND_HEADER = ("DBF字段 DBF field", "中文名称 Chinese name", "English name", "API key", "类型 type")

# GeoJSON geometry type → (file name suffix, pyshp shape type).
_FAMILIES = {
    "Point": ("", shapefile.POINT),
    "MultiPoint": ("_multipoint", shapefile.MULTIPOINT),
    "LineString": ("_line", shapefile.POLYLINE),
    "MultiLineString": ("_line", shapefile.POLYLINE),
    "Polygon": ("_polygon", shapefile.POLYGON),
    "MultiPolygon": ("_polygon", shapefile.POLYGON),
}


def dbf_field(column: Column) -> tuple[str, str, int, int]:
    """(name, type, size, decimals) of the column's DBF field."""
    if column.kind is Kind.INTEGER:
        return column.dbf, "N", INTEGER_DIGITS, 0
    if column.kind is Kind.REAL:
        return column.dbf, "N", REAL_DIGITS, column.decimals
    if column.kind is Kind.BOOLEAN:
        return column.dbf, "L", 1, 0
    if column.kind is Kind.DATETIME:
        return column.dbf, "C", DATETIME_BYTES, 0
    return column.dbf, "C", column.size, 0


def dbf_value(column: Column, value: Any) -> Any:
    if value is None:
        return None if column.kind is not Kind.TEXT and column.kind is not Kind.DATETIME else ""
    if column.kind is Kind.DATETIME:
        return iso(value)
    if column.kind is Kind.REAL:
        return finite(float(value))
    if column.kind in (Kind.INTEGER, Kind.BOOLEAN):
        return value
    return truncate_utf8(clean_text(str(value)), column.size).rstrip(" ")


@dataclass
class _Part:
    """One Shapefile (one geometry kind) being written to spooled temporary files."""

    name: str
    shape_type: int
    layer: Layer
    files: dict[str, IO[bytes]] = field(default_factory=dict)
    writer: Any = None

    def open(self) -> _Part:
        for ext in ("shp", "shx", "dbf"):
            self.files[ext] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self.writer = shapefile.Writer(
            shp=self.files["shp"],
            shx=self.files["shx"],
            dbf=self.files["dbf"],
            shapeType=self.shape_type,
            encoding="utf-8",
            strict=True,  # any text it would have to cut is an error: dbf_value has cut it already
        )
        for column in self.layer.columns:
            name, kind, size, decimals = dbf_field(column)
            self.writer.field(name, kind, size=size, decimal=decimals)
        return self

    def add(self, geometry: Mapping[str, Any] | None, values: list[Any]) -> None:
        if geometry is None:
            self.writer.null()
        else:
            # pyshp reads GeoJSON (and turns rings to the Shapefile's winding) from lists only.
            self.writer.shape({"type": geometry["type"], "coordinates": _lists(geometry["coordinates"])})
        self.writer.record(*values)

    def finish(self) -> list[tuple[str, IO[bytes]]]:
        writer, self.writer = self.writer, None
        writer.close()  # writes the headers: record count, lengths, bounding box
        return [(f"{self.name}.{ext}", self.files[ext]) for ext in ("shp", "shx", "dbf")]

    def close(self) -> None:
        """Let go of everything, also after a failure (pyshp's writer would otherwise close itself
        later, on files already closed)."""
        writer, self.writer = self.writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        for file in self.files.values():
            file.close()


def _lists(coordinates: Any) -> Any:
    if isinstance(coordinates, list | tuple):
        return [_lists(c) for c in coordinates]
    return coordinates


def legend(layer: Layer) -> bytes:
    """The field legend: each DBF field with its full Chinese and English names (UTF-8 with a BOM)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LEGEND_HEADER)
    for column in layer.columns:
        writer.writerow((column.dbf, column.zh, column.en, column.key, dbf_field(column)[1]))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


class _Sink:
    """What the zip writes to: bytes wait here until the generator hands them on (not seekable, so
    zipfile writes data descriptors and never seeks back)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def _entry(name: str, size: int, when: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = size  # lets zipfile choose ZIP64 up front for a file over 4 GiB
    info.external_attr = 0o644 << 16
    return info


def _size(file: IO[bytes]) -> int:
    file.seek(0, io.SEEK_END)
    size = file.tell()
    file.seek(0)
    return size


def write(layer: Layer, records: Iterable[Record], *, now: datetime | None = None) -> Iterator[bytes]:
    """The zip's bytes: all records are written to the Shapefile first (see the module docstring)."""
    when = now or datetime.now()  # noqa: DTZ005 - zip entries carry the local wall time, no zone
    parts: dict[str, _Part] = {}
    try:
        for record in records:
            geometry = as_geometry(record.geometry)
            kind = "Point" if geometry is None else geometry["type"]
            if kind not in _FAMILIES:
                raise ValueError(f"a Shapefile cannot hold a {kind}")
            suffix, shape_type = _FAMILIES[kind]
            if suffix not in parts:
                parts[suffix] = _Part(layer.name + suffix, shape_type, layer).open()
            values = [dbf_value(c, v) for c, v in zip(layer.columns, record.values, strict=True)]
            parts[suffix].add(geometry, values)
        if not parts:  # no records: an empty point layer, so the download still opens in GIS
            parts[""] = _Part(layer.name, shapefile.POINT, layer).open()
        sink = _Sink()
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for part in parts.values():
                for name, file in part.finish():
                    with archive.open(_entry(name, _size(file), when), "w") as out:
                        while chunk := file.read(CHUNK_BYTES):
                            out.write(chunk)
                            if data := sink.take():
                                yield data
                archive.writestr(_entry(f"{part.name}.prj", len(CGCS2000_PRJ), when), CGCS2000_PRJ)
                archive.writestr(_entry(f"{part.name}.cpg", len(ENCODING), when), ENCODING)
            fields = legend(layer)
            archive.writestr(_entry(f"{layer.name}_fields.csv", len(fields), when), fields)
        yield sink.take()
    finally:
        for part in parts.values():
            part.close()
