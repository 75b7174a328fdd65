"""What a boundary file is read into and what its check reports (docs/contract.md §2, Boundaries)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

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


def N_(message: str) -> str:
    """Marks a message for translation where it is shown (Text.render); the text stays English here."""
    return message


@dataclass(frozen=True)
class Text:
    """A report's sentence: an English template (marked N_) and its values, which may be Texts themselves.

    `str()` is the English (the command's output, the audit log, exceptions); `render(gettext)` is the
    reader's language (the admin page). Codes, places and areas are values, so they read the same in both.
    """

    template: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def render(self, translate: Callable[[str], str]) -> str:
        values = {k: v.render(translate) if isinstance(v, Text) else v for k, v in self.values.items()}
        return translate(self.template) % values

    def __str__(self) -> str:
        return self.render(lambda template: template)


def says(template: str, **values: Any) -> Text:
    return Text(template, values)


# A level's name inside a sentence ("not a township code of this district").
LEVEL_WORDS = {
    "district": Text(N_("district")),
    "township": Text(N_("township")),
    "village": Text(N_("village")),
}


class BoundaryFileError(Exception):
    """The file cannot be read at all (the message names the problem); nothing was checked or written.

    `text` is the sentence, rendered in the reader's language by the admin page; `str()` is its English
    (the command's output and the logs), as for a report's problems.
    """

    def __init__(self, text: Text):
        super().__init__(str(text))
        self.text = text


@dataclass(frozen=True)
class Problem:
    kind: (
        str  # invalid_ring, not_degrees, no_geometry, no_code, unknown_code, repeated_code, missing, overlap,
        # gap, outside
    )
    severity: str  # "error" refuses the load; "warning" is reported and loads
    text: Text
    codes: tuple[str, ...] = ()
    area_m2: float | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def message(self) -> str:
        """The detail in English (the command, the audit log); the page renders `text` in its reader's."""
        return str(self.text)


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

    @property
    def summary(self) -> Text:
        """The report's first line: what was read, how, and how many units have a polygon."""
        return says(
            N_(
                "%(format)s, read as %(crs)s, code field %(field)s: %(features)s feature(s), %(units)s of "
                "%(expected)s %(level)s unit(s) with a polygon"
            ),
            format=self.format,
            crs=self.crs,
            field=repr(self.code_field),
            features=self.features,
            units=len(self.units),
            expected=self.expected,
            level=LEVEL_WORDS.get(self.level, Text(self.level)),
        )

    def lines(self) -> list[str]:
        """The report as English text, errors first (the command prints it; the admin page renders the same
        sentences in its reader's language)."""
        lines = [str(self.summary)]
        lines += [f"error: {p.message}" for p in self.errors]
        lines += [f"warning: {p.message}" for p in self.warnings]
        return lines
