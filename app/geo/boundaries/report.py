"""What a boundary file is read into and what its check reports (docs/contract.md §2, Boundaries)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon

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
