"""Checking a read file against the units of a level and the district's outline: unknown, repeated and
missing codes, overlaps and gaps between neighbours and parts outside the district, measured in a local
transverse Mercator frame so the tolerance is in metres; reported areas are geodesic."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from app.geo.boundaries.measure import MetricFrame, geodesic_area_m2, polygonal, wider_than
from app.geo.boundaries.report import LISTED, BoundaryFile, Feature, Problem, Report, Unit


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
        geometry = geometry if isinstance(geometry, Polygon | MultiPolygon) else polygonal(geometry)
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
        shared = polygonal(geometries[i].intersection(geometries[j]))
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
        holes = polygonal(district.difference(union))
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
        beyond = polygonal(unit.geometry.difference(district))
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
