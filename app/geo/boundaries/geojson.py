"""Reading a GeoJSON boundary file (RFC 7946: WGS-84 unless --crs says otherwise)."""

from __future__ import annotations

import json
from typing import Any

from app.geo.boundaries.features import choose_field, feature, geojson_polygons, name_of, system_of, text
from app.geo.boundaries.report import CODE_FIELDS, N_, BoundaryFile, BoundaryFileError, Problem, says


def read_geojson(data: bytes, filename: str, code_field: str | None, crs: str | None) -> BoundaryFile:
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):
        raise BoundaryFileError(
            says(N_("%(file)s is not GeoJSON: it does not start with a JSON object"), file=filename)
        )
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BoundaryFileError(
            says(N_("%(file)s is not valid JSON: %(why)s"), file=filename, why=exc)
        ) from exc
    except RecursionError as exc:  # arrays in arrays thousands deep: no boundary file is nested so
        raise BoundaryFileError(
            says(N_("%(file)s is not GeoJSON: it is nested too deeply"), file=filename)
        ) from exc
    if not isinstance(document, dict) or document.get("type") not in ("FeatureCollection", "Feature"):
        raise BoundaryFileError(says(N_("%(file)s is not a GeoJSON FeatureCollection"), file=filename))
    _check_crs(document.get("crs"), filename)
    raw = document.get("features") if document["type"] == "FeatureCollection" else [document]
    if not isinstance(raw, list):
        raise BoundaryFileError(says(N_("%(file)s: its features must be a list"), file=filename))
    items = [f if isinstance(f, dict) else {} for f in raw]
    props: list[dict[str, Any]] = [p if isinstance(p := f.get("properties"), dict) else {} for f in items]
    fields = sorted({key for p in props for key in p})
    chosen = choose_field(fields, code_field, filename, CODE_FIELDS)
    system, why = system_of(crs, "wgs84", "RFC 7946")
    problems: list[Problem] = []
    features = []
    for number, (item, properties) in enumerate(zip(items, props, strict=True), 1):
        code = text(properties.get(chosen))
        name = name_of(properties)
        polygons = geojson_polygons(item.get("geometry"))
        features.append(feature(number, code, name, polygons, system, problems))
    return BoundaryFile("geojson", f"{why}", chosen, fields, features, problems)


# The names a GeoJSON `crs` member (GeoJSON 2008; RFC 7946 dropped it, QGIS still writes it) may give for
# longitude/latitude on WGS-84 or CGCS2000, which the district takes as they are (docs/contract.md §2).
DEGREE_CRS = {"crs84", "4326", "4490", "wgs84", "cgcs2000"}


def _check_crs(member: Any, filename: str) -> None:
    """Refuse a file whose `crs` member names a projection: its coordinates are metres, not degrees."""
    if member is None:
        return
    properties = member.get("properties") if isinstance(member, dict) else None
    named = properties.get("name") if isinstance(properties, dict) else None
    if not isinstance(named, str):
        return  # a linked or empty crs names nothing to check; the positions are checked themselves
    tail = (
        named.replace("::", ":")
        .rstrip(":")
        .rsplit(":", 1)[-1]
        .strip()
        .lower()
        .replace("-", "")
        .replace(" ", "")
    )
    if tail in DEGREE_CRS:
        return
    raise BoundaryFileError(
        says(
            N_(
                "%(file)s: its crs is %(crs)s, not longitude/latitude on WGS-84 (CRS84); send a Shapefile "
                "with its .prj, or convert the file to WGS-84"
            ),
            file=filename,
            crs=named[:80],
        )
    )
