"""CSV for spreadsheets: UTF-8 with a byte order mark (Excel then opens Chinese correctly), Chinese headers,
one row per record, and the geometry as WKT in the last column (QGIS reads it as the layer's geometry).

Text a user typed is hostile in a spreadsheet (formula injection): a text cell that starts like a formula
(= + - @, tab or CR, or the full-width ＝＋－＠ that IMEs type) or that equals one of Excel's error codes
is written with a leading apostrophe, as OWASP advises for CSV, so no spreadsheet evaluates it; numbers
are written as numbers and are never touched. This is the rule the census workbooks follow
(docs/contract.md §3.3). Times are local wall time (YYYY-MM-DD HH:MM:SS, Asia/Shanghai), which Excel
reads as a date and time; booleans are 是 / 否, as in the workbooks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from app.gis.writers.base import Layer, Record, as_geometry, chunked, clean_text, finite

MEDIA_TYPE = "text/csv"
BOM = "\ufeff"
WKT_HEADER = "WKT"
FORMULA_START = frozenset("=+-@\t\r＝＋－＠")
ERROR_CODES = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})
_ROWS_PER_FLUSH = 200


def safe_text(text: str) -> str:
    """Text a spreadsheet shows as typed and never evaluates."""
    text = clean_text(text)
    if text and (text[0] in FORMULA_START or text in ERROR_CODES):
        return "'" + text
    return text


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        number = finite(value)
        return "" if number is None else repr(number)
    return safe_text(str(value))


def _positions(positions: Sequence[Sequence[float]]) -> str:
    return ", ".join(" ".join(repr(float(c)) for c in position) for position in positions)


def _rings(rings: Sequence[Sequence[Sequence[float]]]) -> str:
    return ", ".join(f"({_positions(ring)})" for ring in rings)


def wkt(geometry: Any) -> str:
    """A GeoJSON geometry as OGC Well-Known Text ("" for none)."""
    shape = as_geometry(geometry)
    if shape is None:
        return ""
    kind = shape["type"]
    if kind == "GeometryCollection":
        return f"GEOMETRYCOLLECTION ({', '.join(wkt(g) for g in shape['geometries'])})"
    c = shape["coordinates"]
    if not c:
        return f"{kind.upper()} EMPTY"
    if kind == "Point":
        return f"POINT ({_positions([c])})"
    if kind == "MultiPoint":
        return f"MULTIPOINT ({', '.join(f'({_positions([p])})' for p in c)})"
    if kind == "LineString":
        return f"LINESTRING ({_positions(c)})"
    if kind == "MultiLineString":
        return f"MULTILINESTRING ({', '.join(f'({_positions(line)})' for line in c)})"
    if kind == "Polygon":
        return f"POLYGON ({_rings(c)})"
    if kind == "MultiPolygon":
        return f"MULTIPOLYGON ({', '.join(f'({_rings(p)})' for p in c)})"
    raise ValueError(f"unknown geometry type {kind!r}")


def write(layer: Layer, records: Iterable[Record]) -> Iterator[bytes]:
    def parts() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([column.zh for column in layer.columns] + [WKT_HEADER])
        yield BOM + buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        for index, record in enumerate(records, start=1):
            writer.writerow([cell(value) for value in record.values] + [wkt(record.geometry)])
            if index % _ROWS_PER_FLUSH == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return chunked(parts())
