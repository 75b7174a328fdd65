"""Checking a read file against the units of a level and the district's outline: unknown, repeated and
missing codes, overlaps and gaps between neighbours and parts outside the district, measured in a local
transverse Mercator frame so the tolerance is in metres; reported areas are geodesic."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from app.geo.boundaries.measure import MetricFrame, geodesic_area_m2, polygonal, wider_than
from app.geo.boundaries.report import (
    LEVEL_WORDS,
    LISTED,
    N_,
    BoundaryFile,
    Feature,
    Problem,
    Report,
    Text,
    Unit,
    says,
)


def _named(codes: Sequence[str], names: Mapping[str, str]) -> Text:
    shown = ", ".join(f"{names.get(c) or c} {c}" if names.get(c) else c for c in codes[:LISTED])
    if len(codes) > LISTED:
        return says(N_("%(units)s and %(more)s more"), units=shown, more=len(codes) - LISTED)
    return Text(shown.replace("%", "%%"))


def _where(geometry: BaseGeometry) -> Text:
    point = geometry.representative_point()
    return says(N_("near %(lat)s N %(lon)s E"), lat=f"{point.y:.5f}", lon=f"{point.x:.5f}")


def check_boundaries(
    source: BoundaryFile,
    *,
    level: str,
    known: Mapping[str, str],
    normalize: Callable[[str], str | None],
    district: BaseGeometry | None,
    tolerance_m: float,
    box: BaseGeometry | None = None,
) -> Report:
    """Check a read file against the units of `level` (`known`: code → name) and the district outline.

    `normalize` maps a code as the file spells it to a known code (None: unknown). Errors (bad rings,
    unknown or missing codes in a feature) refuse the load; units with no polygon, overlaps and gaps between
    neighbours wider than `tolerance_m`, and parts outside the district are warnings; a unit wholly outside
    the district is an error.

    `box`: without an outline, the district's bounding box: a unit wholly outside it is refused (a file of
    another place, or shifted by a zone), but the box is no outline, so it finds no gaps.
    """
    problems = list(source.problems)
    by_code: dict[str, list[Feature]] = {}
    for feature in source.features:
        if not feature.code:
            problems.append(
                Problem(
                    "no_code",
                    "error",
                    says(
                        N_("feature #%(number)s: its %(field)s is empty"),
                        number=feature.number,
                        field=repr(source.code_field),
                    ),
                )
            )
            continue
        code = normalize(feature.code)
        if code is None:
            problems.append(
                Problem(
                    "unknown_code",
                    "error",
                    says(
                        N_("feature #%(number)s: %(code)s is not a %(level)s code of this district"),
                        number=feature.number,
                        code=feature.code,
                        level=LEVEL_WORDS[level],
                    ),
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
                    says(
                        N_("%(code)s: %(count)s features (%(numbers)s) joined"),
                        code=code,
                        count=len(features),
                        numbers=numbers,
                    ),
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
                says(
                    N_("%(count)s %(level)s unit(s) have no polygon: %(units)s"),
                    count=len(missing),
                    level=LEVEL_WORDS[level],
                    units=_named(missing, known),
                ),
                tuple(missing),
            )
        )
    if units:
        frame = MetricFrame.around([u.geometry for u in units])
        if level != "district":
            problems += _overlaps(units, frame, tolerance_m)
            problems += _gaps(units, district, frame, tolerance_m, level)
        if level != "district" and (district is not None or box is not None):
            problems += _outside(units, district if district is not None else box, frame, tolerance_m)
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
                    says(
                        N_("%(one)s and %(other)s overlap by %(area)s m² (%(where)s)"),
                        one=f"{a.name or a.code} {a.code}",
                        other=f"{b.name or b.code} {b.code}",
                        area=f"{area:,.0f}",
                        where=_where(shared),
                    ),
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
                    says(
                        N_("a gap of %(area)s m² between %(level)s units (%(where)s)"),
                        area=f"{area:,.0f}",
                        level=LEVEL_WORDS[level],
                        where=_where(hole),
                    ),
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
                    says(
                        N_("%(unit)s lies wholly outside the district"),
                        unit=f"{unit.name or unit.code} {unit.code}",
                    ),
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
                    says(
                        N_("%(unit)s reaches %(area)s m² outside the district (%(where)s)"),
                        unit=f"{unit.name or unit.code} {unit.code}",
                        area=f"{area:,.0f}",
                        where=_where(beyond),
                    ),
                    (unit.code,),
                    area,
                )
            )
    return problems
