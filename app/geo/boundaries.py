"""Reading and checking a bureau's boundary file: GeoJSON, a zipped Shapefile or KML (docs/contract.md §2).

Pure: bytes in, WGS-84 shapely geometries and a report out; nothing here touches the database. The caller
says which codes exist at the level being loaded and hands over the district's outline when it has one.

- A file is opened by what its bytes are, and refused when they are not what its name says.
- Rings are checked before shapely sees them (shapely closes an open ring silently, and a bureau must hear
  that its file has one), then for self-crossings with shapely's own validity test.
- Overlaps, gaps and parts outside the district are measured in a local transverse Mercator frame centred
  on the data, so the tolerance is in metres; reported areas are geodesic (pyproj's Geod).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from xml.etree.ElementTree import Element

import numpy as np
import shapely
from defusedxml import ElementTree as SafeXML
from pyproj import CRS as ProjCRS
from pyproj import Geod, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from app.geo.crs import CRS, FILE_CRS_NAMES, converter, file_crs

LEVELS = ("district", "township", "village")
# Field names tried, in order, when no --code-field is given: ours, then the 三调 / 国土 administrative
# layers' 行政区代码 and 行政区名称.
CODE_FIELDS = ("code", "CODE", "XZQDM", "xzqdm")
NAME_FIELDS = ("name", "NAME", "XZQMC", "xzqmc", "name_zh")
GEOD = Geod(ellps="WGS84")
# The most units a report names in one line before it says "and N more".
LISTED = 12

Geometry: TypeAlias = Polygon | MultiPolygon


class BoundaryFileError(Exception):
    """The file cannot be read at all (the message names the problem); nothing was checked or written."""


@dataclass(frozen=True)
class Problem:
    kind: (
        str  # invalid_ring, no_geometry, no_code, unknown_code, repeated_code, missing, overlap, gap, outside
    )
    severity: str  # "error" refuses the load; "warning" is reported and loads
    message: str
    codes: tuple[str, ...] = ()
    area_m2: float | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


@dataclass
class Feature:
    number: int  # 1-based position in the file, as a GIS shows it
    code: str
    name: str | None
    geometry: Geometry | None  # WGS-84; None when its rings were refused


@dataclass
class BoundaryFile:
    format: str  # geojson, shapefile, kml
    crs: str  # the system it was read as, and why: "wgs84 (RFC 7946)", "cgcs2000 (.prj)", "gcj02 (--crs)"
    code_field: str
    fields: list[str]
    features: list[Feature]
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Unit:
    code: str
    name: str | None
    geometry: Geometry  # WGS-84, features of one code joined
    area_m2: float
    features: int


@dataclass
class Report:
    level: str
    format: str
    crs: str
    code_field: str
    features: int
    units: list[Unit]
    problems: list[Problem]
    expected: int  # units known at this level

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        """The report as text, errors first (the command prints it; the admin page shows the same)."""
        head = (
            f"{self.format}, read as {self.crs}, code field {self.code_field!r}: "
            f"{self.features} feature(s), {len(self.units)} of {self.expected} {self.level} unit(s) "
            "with a polygon"
        )
        lines = [head]
        lines += [f"error: {p.message}" for p in self.errors]
        lines += [f"warning: {p.message}" for p in self.warnings]
        return lines


# ---------------------------------------------------------------------------------------------
# Reading


def read_boundary_file(
    data: bytes,
    filename: str,
    *,
    code_field: str | None = None,
    crs: str | None = None,
    max_bytes: int,
) -> BoundaryFile:
    """Read a GeoJSON, zipped Shapefile (.zip with .shp, .shx, .dbf, .prj) or KML/KMZ file.

    `crs` (cgcs2000, wgs84, gcj02, bd09) says what the coordinates are in and wins over the file; without it
    GeoJSON and KML are WGS-84 by their standards and a Shapefile needs its .prj. Raises BoundaryFileError.
    """
    if len(data) > max_bytes:
        raise BoundaryFileError(
            f"{filename} is {_mb(len(data))}; boundary files may be at most {_mb(max_bytes)}"
        )
    if crs is not None and crs.strip().lower() not in FILE_CRS_NAMES:
        raise BoundaryFileError(f"--crs {crs!r} is not one of {', '.join(FILE_CRS_NAMES)}")
    name = filename.lower()
    if name.endswith((".geojson", ".json")):
        return _read_geojson(data, filename, code_field, crs)
    if name.endswith(".zip"):
        return _read_shapefile_zip(data, filename, code_field, crs, max_bytes)
    if name.endswith(".kml"):
        return _read_kml(data, filename, code_field, crs)
    if name.endswith(".kmz"):
        kml = _zip_member(data, filename, (".kml",), max_bytes)
        return _read_kml(kml[1], filename, code_field, crs)
    if name.endswith(".shp"):
        raise BoundaryFileError(
            f"{filename}: a Shapefile is several files; zip the .shp with its .shx, .dbf and .prj "
            "and load the .zip"
        )
    raise BoundaryFileError(
        f"{filename}: not a boundary file; load a .geojson, a zipped Shapefile (.zip) or a .kml"
    )


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} MB" if size >= 1024 * 1024 else f"{size} bytes"


def _choose_field(fields: Sequence[str], wanted: str | None, filename: str, candidates: Sequence[str]) -> str:
    if wanted is not None:
        if wanted not in fields:
            listed = ", ".join(fields) if fields else "none"
            raise BoundaryFileError(f"{filename}: there is no field {wanted!r}; its fields are: {listed}")
        return wanted
    found = next((f for f in candidates if f in fields), None)
    if found is None:
        listed = ", ".join(fields) if fields else "none"
        raise BoundaryFileError(
            f"{filename}: no code field ({', '.join(candidates)}); name one with --code-field; "
            f"its fields are: {listed}"
        )
    return found


def _text(value: Any) -> str:
    """A code as text: DBF numbers come back as 500155104 or 500155104.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


# GeoJSON ------------------------------------------------------------------------------------


def _read_geojson(data: bytes, filename: str, code_field: str | None, crs: str | None) -> BoundaryFile:
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):
        raise BoundaryFileError(f"{filename} is not GeoJSON: it does not start with a JSON object")
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BoundaryFileError(f"{filename} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("type") not in ("FeatureCollection", "Feature"):
        raise BoundaryFileError(f"{filename} is not a GeoJSON FeatureCollection")
    raw = document.get("features") if document["type"] == "FeatureCollection" else [document]
    if not isinstance(raw, list):
        raise BoundaryFileError(f"{filename}: its features must be a list")
    items = [f if isinstance(f, dict) else {} for f in raw]
    props: list[dict[str, Any]] = [p if isinstance(p := f.get("properties"), dict) else {} for f in items]
    fields = sorted({key for p in props for key in p})
    chosen = _choose_field(fields, code_field, filename, CODE_FIELDS)
    system, why = _system(crs, "wgs84", "RFC 7946")
    problems: list[Problem] = []
    features = []
    for number, (item, properties) in enumerate(zip(items, props, strict=True), 1):
        code = _text(properties.get(chosen))
        name = _name(properties)
        polygons = _geojson_polygons(item.get("geometry"))
        features.append(_feature(number, code, name, polygons, system, problems))
    return BoundaryFile("geojson", f"{why}", chosen, fields, features, problems)


def _geojson_polygons(geometry: Any) -> list[list[Any]] | str:
    """A GeoJSON geometry as a list of polygons (lists of rings), or a reason it is none."""
    if not isinstance(geometry, dict):
        return "it has no geometry"
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon" and isinstance(coordinates, list):
        return [coordinates]
    if kind == "MultiPolygon" and isinstance(coordinates, list):
        return coordinates
    if kind == "GeometryCollection" and isinstance(geometry.get("geometries"), list):
        polygons: list[list[Any]] = []
        for part in geometry["geometries"]:
            found = _geojson_polygons(part)
            if isinstance(found, str):
                return found
            polygons += found
        return polygons
    return f"its geometry is a {kind}, not a Polygon or MultiPolygon"


def _name(properties: Mapping[str, Any]) -> str | None:
    value = next((properties[f] for f in NAME_FIELDS if properties.get(f) not in (None, "")), None)
    return None if value is None else str(value).strip()


def _system(crs: str | None, default: str, why: str) -> tuple[CRS, str]:
    if crs is not None:
        return file_crs(crs), f"{crs.strip().lower()} (--crs)"
    return file_crs(default), f"{default} ({why})"


# Shapefile ----------------------------------------------------------------------------------


def _zip_member(data: bytes, filename: str, suffixes: tuple[str, ...], max_bytes: int) -> tuple[str, bytes]:
    archive = _open_zip(data, filename, max_bytes)
    names = [n for n in archive.namelist() if n.lower().endswith(suffixes) and not n.startswith("__MACOSX/")]
    if not names:
        raise BoundaryFileError(f"{filename} holds no {' or '.join(suffixes)} file")
    return names[0], archive.read(names[0])


def _open_zip(data: bytes, filename: str, max_bytes: int) -> zipfile.ZipFile:
    if not data.startswith(b"PK\x03\x04"):
        raise BoundaryFileError(f"{filename} is not a zip archive")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BoundaryFileError(f"{filename} is not a readable zip archive: {exc}") from exc
    inflated = sum(info.file_size for info in archive.infolist())
    if inflated > max_bytes:
        raise BoundaryFileError(
            f"{filename} unpacks to {_mb(inflated)}; boundary files may be at most {_mb(max_bytes)}"
        )
    return archive


def _read_shapefile_zip(
    data: bytes, filename: str, code_field: str | None, crs: str | None, max_bytes: int
) -> BoundaryFile:
    import shapefile  # pyshp; imported here as the only module that needs it

    archive = _open_zip(data, filename, max_bytes)
    members = {n.lower(): n for n in archive.namelist() if not n.startswith("__MACOSX/")}
    shps = sorted(n for n in members if n.endswith(".shp"))
    if not shps:
        raise BoundaryFileError(f"{filename} holds no .shp file")
    if len(shps) > 1:
        raise BoundaryFileError(
            f"{filename} holds {len(shps)} Shapefiles ({', '.join(shps)}); zip one per load"
        )
    stem = shps[0][: -len(".shp")]
    missing = [ext for ext in (".shx", ".dbf") if stem + ext not in members]
    if missing:
        raise BoundaryFileError(f"{filename}: {shps[0]} has no {' or '.join(missing)} beside it")
    prj = (
        archive.read(members[stem + ".prj"]).decode("utf-8", "replace") if stem + ".prj" in members else None
    )
    to_wgs84, why = _shapefile_system(prj, crs, filename)
    encoding = "utf-8"
    if stem + ".cpg" in members:
        encoding = archive.read(members[stem + ".cpg"]).decode("ascii", "replace").strip() or "utf-8"
        encoding = {"936": "gbk", "65001": "utf-8"}.get(encoding, encoding)
    try:
        reader = shapefile.Reader(
            shp=io.BytesIO(archive.read(members[shps[0]])),
            shx=io.BytesIO(archive.read(members[stem + ".shx"])),
            dbf=io.BytesIO(archive.read(members[stem + ".dbf"])),
            encoding=encoding,
            encodingErrors="strict",
        )
        fields = [f[0] for f in reader.fields[1:]]
        chosen = _choose_field(fields, code_field, filename, CODE_FIELDS)
        problems: list[Problem] = []
        features = []
        for number, record in enumerate(reader.iterShapeRecords(), 1):
            properties = record.record.as_dict()
            polygons: list[list[Any]] | str
            if record.shape.shapeType in (shapefile.POLYGON, shapefile.POLYGONZ, shapefile.POLYGONM):
                polygons = _geojson_polygons(record.shape.__geo_interface__)
            elif record.shape.shapeType == shapefile.NULL:
                polygons = "it has no geometry"
            else:
                polygons = f"its geometry is a {record.shape.shapeTypeName}, not a polygon"
            code = _text(properties.get(chosen))
            features.append(_feature(number, code, _name(properties), polygons, to_wgs84, problems))
    except UnicodeDecodeError as exc:
        raise BoundaryFileError(
            f"{filename}: the .dbf is not {encoding}; add a .cpg naming its encoding (GBK files: 936)"
        ) from exc
    except shapefile.ShapefileException as exc:
        raise BoundaryFileError(f"{filename}: not a readable Shapefile: {exc}") from exc
    return BoundaryFile("shapefile", why, chosen, fields, features, problems)


Transform = CRS | Callable[[np.ndarray], np.ndarray]


def _shapefile_system(prj: str | None, crs: str | None, filename: str) -> tuple[Transform, str]:
    """How a Shapefile's coordinates become WGS-84: --crs first, else its .prj (geographic or projected)."""
    if crs is not None:
        return _system(crs, "wgs84", "")
    if prj is None:
        raise BoundaryFileError(
            f"{filename}: the Shapefile has no .prj, so its coordinate system is unknown; "
            f"add the .prj or say it with --crs ({', '.join(FILE_CRS_NAMES)})"
        )
    try:
        source = ProjCRS.from_wkt(prj)
    except CRSError as exc:
        raise BoundaryFileError(
            f"{filename}: its .prj is not a coordinate system PROJ can read: {exc}"
        ) from exc
    label = source.name
    if source.is_geographic:
        datum = (source.datum.name if source.datum else "").lower()
        if "2000" in datum or "wgs" in datum or "world geodetic" in datum:
            return CRS.WGS84, f"{label} (.prj)"
    # A projected system (a 3-degree Gauss-Krüger zone of CGCS2000, say) or another datum: PROJ converts it.
    transformer = Transformer.from_crs(source, ProjCRS.from_epsg(4326), always_xy=True)

    def project(points: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(points[:, 0], points[:, 1])
        return np.column_stack([x, y])

    return project, f"{label} (.prj), converted to WGS-84"


# KML ----------------------------------------------------------------------------------------
# KML boundaries are a small subset of KML (Placemark → Polygon / MultiGeometry → LinearRing coordinates, with
# ExtendedData for fields), read here with defusedxml: the KML libraries on PyPI (fastkml, pykml) would bring
# further dependencies and parse with lxml without defusedxml's refusal of entity expansion (XML bombs).


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element if _local(child.tag) == name)


def _descendants(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element.iter() if _local(child.tag) == name)


def _read_kml(data: bytes, filename: str, code_field: str | None, crs: str | None) -> BoundaryFile:
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise BoundaryFileError(f"{filename} is not KML: it does not start with XML")
    try:
        root = SafeXML.fromstring(data, forbid_dtd=True)
    except Exception as exc:  # defusedxml raises ParseError or its own refusals (DTDs, entities)
        raise BoundaryFileError(f"{filename} is not readable KML: {exc}") from exc
    if _local(root.tag) != "kml":
        raise BoundaryFileError(f"{filename} is not KML: its root element is <{_local(root.tag)}>")
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
    chosen = _choose_field(fields, code_field, filename, (*CODE_FIELDS, "name"))
    system, why = _system(crs, "wgs84", "KML")
    problems: list[Problem] = []
    features = []
    for number, (placemark, properties) in enumerate(rows, 1):
        polygons: list[list[Any]] | str = [
            _kml_polygon(polygon) for polygon in _descendants(placemark, "Polygon")
        ]
        if not polygons:
            polygons = "it has no Polygon"
        name = properties.get("name") if chosen != "name" else _name(properties)
        features.append(_feature(number, _text(properties.get(chosen)), name, polygons, system, problems))
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


# Rings --------------------------------------------------------------------------------------


def _ring_problem(ring: Any) -> str | None:
    if not isinstance(ring, list) or len(ring) < 4:
        return "a ring has fewer than 4 positions"
    for position in ring:
        if not (
            isinstance(position, list | tuple)
            and len(position) >= 2
            and all(isinstance(v, int | float) and math.isfinite(v) for v in position[:2])
        ):
            return f"a position {json.dumps(position)[:40]} is not two numbers"
    if list(ring[0][:2]) != list(ring[-1][:2]):
        return f"a ring does not close (it starts at {_at(ring[0])} and ends at {_at(ring[-1])})"
    return None


def _at(position: Sequence[float]) -> str:
    return f"{position[0]:.6f} {position[1]:.6f}"


def _feature(
    number: int,
    code: str,
    name: str | None,
    polygons: list[list[Any]] | str,
    system: Transform,
    problems: list[Problem],
) -> Feature:
    label = f"feature #{number}" + (f" ({code})" if code else "")
    if isinstance(polygons, str):
        problems.append(Problem("no_geometry", "error", f"{label}: {polygons}", (code,)))
        return Feature(number, code, name, None)
    if not polygons:
        problems.append(Problem("no_geometry", "error", f"{label}: it has no polygon", (code,)))
        return Feature(number, code, name, None)
    parts = []
    for rings in polygons:
        reason = "a polygon has no rings" if not isinstance(rings, list) or not rings else None
        reason = reason or next((r for r in map(_ring_problem, rings) if r), None)
        if reason:
            problems.append(Problem("invalid_ring", "error", f"{label}: {reason}", (code,)))
            return Feature(number, code, name, None)
        parts.append(
            Polygon([tuple(p[:2]) for p in rings[0]], [[tuple(p[:2]) for p in r] for r in rings[1:]])
        )
    geometry: Geometry = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    geometry = _to_wgs84(geometry, system)
    if not geometry.is_valid:
        why = explain_validity(geometry)
        problems.append(Problem("invalid_ring", "error", f"{label}: {_validity(why)}", (code,)))
        return Feature(number, code, name, None)
    return Feature(number, code, name, geometry)


def _validity(reason: str) -> str:
    """shapely's reason ("Self-intersection[107.8 30.6]") in words a bureau can act on."""
    if reason.startswith("Self-intersection") or reason.startswith("Ring Self-intersection"):
        return f"a ring crosses itself at {reason.split('[', 1)[-1].rstrip(']')}"
    return f"invalid polygon: {reason}"


def _to_wgs84(geometry: Geometry, system: Transform) -> Geometry:
    if isinstance(system, CRS):
        convert = converter(system)
        if convert is None:
            return geometry

        def shift(points: np.ndarray) -> np.ndarray:
            return np.array([convert(x, y) for x, y in points]) if len(points) else points

        return shapely.transform(geometry, shift)
    return shapely.transform(geometry, system)


# ---------------------------------------------------------------------------------------------
# Checking


def geodesic_area_m2(geometry: BaseGeometry) -> float:
    """Area on the WGS-84 ellipsoid in m² (pyproj's Geod), whatever the rings' orientation."""
    if geometry.is_empty:
        return 0.0
    polygons = getattr(geometry, "geoms", [geometry])
    total = 0.0
    for polygon in polygons:
        if isinstance(polygon, Polygon):
            area, _perimeter = GEOD.geometry_area_perimeter(shapely.geometry.polygon.orient(polygon))
            total += abs(area)
    return total


def geodesic_length_m(geometry: BaseGeometry) -> float:
    """Length of a line or of a polygon's rings on the WGS-84 ellipsoid, in metres."""
    return float(GEOD.geometry_length(geometry))


class MetricFrame:
    """A transverse Mercator frame centred on the data: planar metres, < 0.01 % distortion over a district."""

    def __init__(self, lon: float, lat: float):
        local = ProjCRS.from_proj4(
            f"+proj=tmerc +lon_0={lon:.6f} +lat_0={lat:.6f} +k=1 +ellps=WGS84 +units=m"
        )
        forward = Transformer.from_crs(ProjCRS.from_epsg(4326), local, always_xy=True)
        inverse = Transformer.from_crs(local, ProjCRS.from_epsg(4326), always_xy=True)
        self._forward = forward
        self._inverse = inverse

    @classmethod
    def around(cls, geometries: Iterable[BaseGeometry]) -> MetricFrame:
        bounds = shapely.total_bounds(list(geometries))
        if not np.all(np.isfinite(bounds)):
            return cls(0.0, 0.0)
        return cls((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)

    def to_metres(self, geometry: BaseGeometry) -> BaseGeometry:
        return shapely.transform(
            geometry, lambda p: np.column_stack(self._forward.transform(p[:, 0], p[:, 1]))
        )

    def to_degrees(self, geometry: BaseGeometry) -> BaseGeometry:
        return shapely.transform(
            geometry, lambda p: np.column_stack(self._inverse.transform(p[:, 0], p[:, 1]))
        )

    def buffer(self, geometry: BaseGeometry, metres: float) -> BaseGeometry:
        """The geometry grown (or shrunk, when negative) by a distance in metres, back in degrees."""
        return self.to_degrees(self.to_metres(geometry).buffer(metres))


def wider_than(frame: MetricFrame, geometry: BaseGeometry, tolerance_m: float) -> bool:
    """Whether any part of the geometry is wider than the tolerance (a sliver along a shared edge is not)."""
    if geometry.is_empty or geometry.area == 0:
        return False
    return not frame.to_metres(geometry).buffer(-tolerance_m / 2).is_empty


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """Only the areal parts of an overlay result (shared edges come back as lines)."""
    if isinstance(geometry, Polygon | MultiPolygon):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    return shapely.union_all(parts) if parts else Polygon()


def _named(codes: Sequence[str], names: Mapping[str, str]) -> str:
    shown = [f"{names.get(c) or c} {c}" if names.get(c) else c for c in codes[:LISTED]]
    more = f" and {len(codes) - LISTED} more" if len(codes) > LISTED else ""
    return ", ".join(shown) + more


def _where(geometry: BaseGeometry) -> str:
    point = geometry.representative_point()
    return f"near {point.y:.5f} N {point.x:.5f} E"


def check_boundaries(
    source: BoundaryFile,
    *,
    level: str,
    known: Mapping[str, str],
    normalize: Callable[[str], str | None],
    district: BaseGeometry | None,
    tolerance_m: float,
) -> Report:
    """Check a read file against the units of `level` (`known`: code → name) and the district outline.

    `normalize` maps a code as the file spells it to a known code (None: unknown). Errors (bad rings,
    unknown or missing codes in a feature) refuse the load; units with no polygon, overlaps and gaps between
    neighbours wider than `tolerance_m`, and parts outside the district are warnings; a unit wholly outside
    the district is an error.
    """
    problems = list(source.problems)
    by_code: dict[str, list[Feature]] = {}
    for feature in source.features:
        if not feature.code:
            problems.append(
                Problem("no_code", "error", f"feature #{feature.number}: its {source.code_field!r} is empty")
            )
            continue
        code = normalize(feature.code)
        if code is None:
            problems.append(
                Problem(
                    "unknown_code",
                    "error",
                    f"feature #{feature.number}: {feature.code} is not a {level} code of this district",
                    (feature.code,),
                )
            )
            continue
        if feature.geometry is not None:
            by_code.setdefault(code, []).append(feature)
    units = []
    for code, features in by_code.items():
        geometry = shapely.union_all([f.geometry for f in features])
        geometry = geometry if isinstance(geometry, Polygon | MultiPolygon) else _polygonal(geometry)
        if len(features) > 1:
            numbers = ", ".join(f"#{f.number}" for f in features)
            problems.append(
                Problem(
                    "repeated_code",
                    "warning",
                    f"{code}: {len(features)} features ({numbers}) joined",
                    (code,),
                )
            )
        units.append(
            Unit(
                code, known.get(code) or features[0].name, geometry, geodesic_area_m2(geometry), len(features)
            )
        )
    units.sort(key=lambda u: u.code)

    missing = sorted(set(known) - set(by_code))
    if missing and level != "district":
        problems.append(
            Problem(
                "missing",
                "warning",
                f"{len(missing)} {level} unit(s) have no polygon: {_named(missing, known)}",
                tuple(missing),
            )
        )
    if units:
        frame = MetricFrame.around([u.geometry for u in units])
        if level != "district":
            problems += _overlaps(units, frame, tolerance_m)
            problems += _gaps(units, district, frame, tolerance_m, level)
        if district is not None and level != "district":
            problems += _outside(units, district, frame, tolerance_m)
    return Report(
        level=level,
        format=source.format,
        crs=source.crs,
        code_field=source.code_field,
        features=len(source.features),
        units=units,
        problems=problems,
        expected=len(known),
    )


def _overlaps(units: list[Unit], frame: MetricFrame, tolerance_m: float) -> list[Problem]:
    geometries = [u.geometry for u in units]
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    problems = []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        shared = _polygonal(geometries[i].intersection(geometries[j]))
        if wider_than(frame, shared, tolerance_m):
            a, b = units[i], units[j]
            area = geodesic_area_m2(shared)
            problems.append(
                Problem(
                    "overlap",
                    "warning",
                    f"{a.name or a.code} {a.code} and {b.name or b.code} {b.code} overlap by {area:,.0f} m² "
                    f"({_where(shared)})",
                    (a.code, b.code),
                    area,
                )
            )
    return problems


def _gaps(
    units: list[Unit], district: BaseGeometry | None, frame: MetricFrame, tolerance_m: float, level: str
) -> list[Problem]:
    union = shapely.union_all([u.geometry for u in units])
    if district is not None:
        holes = _polygonal(district.difference(union))
    else:  # without the district's outline, only the holes enclosed by the units themselves are gaps
        rings = [r for p in getattr(union, "geoms", [union]) for r in getattr(p, "interiors", [])]
        holes = shapely.union_all([Polygon(r) for r in rings]) if rings else Polygon()
    problems = []
    for hole in getattr(holes, "geoms", [holes]):
        if wider_than(frame, hole, tolerance_m):
            area = geodesic_area_m2(hole)
            problems.append(
                Problem(
                    "gap",
                    "warning",
                    f"a gap of {area:,.0f} m² between {level} units ({_where(hole)})",
                    (),
                    area,
                )
            )
    return problems


def _outside(
    units: list[Unit], district: BaseGeometry, frame: MetricFrame, tolerance_m: float
) -> list[Problem]:
    problems = []
    for unit in units:
        if not unit.geometry.intersects(district):
            problems.append(
                Problem(
                    "outside",
                    "error",
                    f"{unit.name or unit.code} {unit.code} lies wholly outside the district",
                    (unit.code,),
                )
            )
            continue
        beyond = _polygonal(unit.geometry.difference(district))
        if wider_than(frame, beyond, tolerance_m):
            area = geodesic_area_m2(beyond)
            problems.append(
                Problem(
                    "outside",
                    "warning",
                    f"{unit.name or unit.code} {unit.code} reaches {area:,.0f} m² outside the district "
                    f"({_where(beyond)})",
                    (unit.code,),
                    area,
                )
            )
    return problems


def to_geojson(geometry: BaseGeometry) -> dict[str, Any]:
    """A geometry as a GeoJSON geometry object (what the database keeps)."""
    return dict(shapely.geometry.mapping(geometry))


def from_geojson(geometry: Mapping[str, Any]) -> Geometry:
    loaded = shape(geometry)
    if not isinstance(loaded, Polygon | MultiPolygon):
        raise ValueError(f"not a polygon: {loaded.geom_type}")
    return loaded
