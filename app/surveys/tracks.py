"""A walked route's points and pauses checked and measured (docs/surveys.md): the track of a 踏查 route.

Every point is kept as sent (converted to WGS-84, its time in UTC), and a fix whose accuracy is worse than
the records' low-accuracy limit (IAS_GPS_ACCURACY_LIMIT_M, the same one that flags a record) is marked
`poor`. The LineString and the length are drawn through the good fixes only (a 300 m jump of one bad fix
would otherwise add 600 m to the walk); a route with fewer than two good fixes is drawn through all of
them. The length is geodesic on the WGS-84 ellipsoid; the moving time is the duration less the pauses the
phone recorded, and a segment of the line that spans a pause is drawn but not measured. The points are
checked in one plain loop and measured with pyproj in one call: a 10,000-point route makes no per-point
objects beyond the stored JSON (docs/contract.md §5). app/surveys/routes.py stores what passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from flask import current_app
from flask_babel import gettext as _
from pyproj import Geod

from app.clock import CLOCK_SKEW, EARLIEST, local_zone
from app.district.boundaries import locator
from app.district.services import get_district
from app.errors import FieldErrors
from app.geo.crs import CRS, to_wgs84
from app.surveys.models import Route

_GEOD = Geod(ellps="WGS84")

# The most points one route may have: a fix a second for 13 hours. A phone records one every few seconds
# to a few metres, so a day's walk is a few thousand; more is a runaway recorder, not a route.
MAX_POINTS = 50_000
# The largest route body read (bytes): 50,000 points of ~110 bytes of JSON each, with room to spare.
MAX_BODY_BYTES = 8 * 1024 * 1024
# A point's time may lie this far outside the route's start and end (the phone's GPS clock and its own
# clock disagree by a little).
POINT_TIME_SLACK = timedelta(minutes=2)
# However many points are wrong, the answer names the first few (an answer must stay small).
MAX_POINT_ERRORS = 10
# The most pauses one route may have (a pause a minute for 16 hours is not a walk).
MAX_PAUSES = 1000


def poor_accuracy_limit() -> float:
    """A fix less accurate than this (metres) is marked poor: the records' low-accuracy limit."""
    return float(current_app.config["IAS_GPS_ACCURACY_LIMIT_M"])


@dataclass
class Track:
    """A route's points checked: stored form, LineString and figures."""

    points: list[dict[str, Any]]
    geometry: dict[str, Any]
    length_m: float
    poor: int
    bbox: tuple[float, float, float, float]
    # Indexes (into the line's coordinates) of the segments that span a pause: drawn, not measured.
    gaps: list[int]


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local_zone())  # docs/contract.md §3.2: no offset is Asia/Shanghai
    return parsed.astimezone(UTC)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def check_pauses(
    raw: list[dict[str, Any]] | None, started_at: datetime, ended_at: datetime, errors: FieldErrors
) -> list[tuple[datetime, datetime]]:
    """The pauses in time order, each inside the route and ending after it starts, none overlapping the
    one before (`pauses.<i>.started_at` / `pauses.<i>.ended_at` in `errors` when not)."""
    pauses: list[tuple[datetime, datetime]] = []
    previous_end: datetime | None = None
    for index, pause in enumerate(raw or []):
        start, end = pause["started_at"], pause["ended_at"]
        if not started_at <= start <= ended_at:
            errors[f"pauses.{index}.started_at"] = [_("is outside the route's start and end.")]
        elif previous_end is not None and start < previous_end:
            errors[f"pauses.{index}.started_at"] = [
                _("is before the pause before it ended: pauses must be in time order and not overlap.")
            ]
        if end < start:
            errors[f"pauses.{index}.ended_at"] = [_("is before the pause's start.")]
        elif not started_at <= end <= ended_at:
            errors[f"pauses.{index}.ended_at"] = [_("is outside the route's start and end.")]
        previous_end = end if previous_end is None else max(previous_end, end)
        pauses.append((start, end))
    return pauses


def moving_seconds(started_at: datetime, ended_at: datetime, pauses: list[tuple[datetime, datetime]]) -> int:
    """The elapsed time less the pauses (checked: inside the route, not overlapping)."""
    paused = sum((end - start).total_seconds() for start, end in pauses)
    return max(0, int((ended_at - started_at).total_seconds() - paused))


def _gap_segments(times: list[datetime], pauses: list[tuple[datetime, datetime]]) -> list[int]:
    """The segments (i: from point i to point i + 1) whose time overlaps a pause."""
    if not pauses or len(times) < 2:
        return []
    stamps = np.asarray([t.timestamp() for t in times])
    gaps: set[int] = set()
    for start, end in pauses:
        # Segment i spans (stamps[i], stamps[i+1]); it overlaps the pause when it starts before the
        # pause ends and ends after the pause starts.
        first = max(int(np.searchsorted(stamps, start.timestamp(), side="right")) - 1, 0)
        last = min(int(np.searchsorted(stamps, end.timestamp(), side="left")), len(times) - 1)
        gaps.update(range(first, last))
    return sorted(gaps)


def check_points(
    raw: list[Any],
    crs: CRS,
    started_at: datetime,
    ended_at: datetime,
    errors: FieldErrors,
    pauses: list[tuple[datetime, datetime]] | None = None,
) -> Track | None:
    """Check every point (`points.<i>.<field>` in `errors` for the first few at fault) and measure the
    track; None when any is wrong."""
    limit = poor_accuracy_limit()
    now = datetime.now(UTC)
    earliest, latest = started_at - POINT_TIME_SLACK, ended_at + POINT_TIME_SLACK
    times: list[datetime] = []
    lons: list[float] = []
    lats: list[float] = []
    accuracies: list[float | None] = []
    bad = 0

    def fault(index: int, name: str, message: str) -> None:
        nonlocal bad
        bad += 1
        if bad <= MAX_POINT_ERRORS:
            errors.setdefault(f"points.{index}.{name}", []).append(message)

    previous: datetime | None = None
    placed: list[int] = []  # the points with a usable position, for the district test below
    for index, point in enumerate(raw):
        if not isinstance(point, dict):
            fault(index, "_schema", _("must be an object with t, lat, lon and accuracy_m"))
            times.append(None)  # type: ignore[arg-type]  # kept in step with the index: nothing is measured
            lons.append(0.0)
            lats.append(0.0)
            accuracies.append(None)
            continue
        t = _parse_time(point.get("t"))
        lat, lon = _number(point.get("lat")), _number(point.get("lon"))
        accuracy = point.get("accuracy_m")
        if t is None:
            fault(index, "t", _("must be an ISO 8601 time (without an offset it is Asia/Shanghai time)"))
        elif t > now + CLOCK_SKEW:
            fault(index, "t", _("is in the future; check the phone's date and time."))
        elif t < EARLIEST:
            fault(index, "t", _("is before 1990; check the year."))
        elif previous is not None and t < previous:
            fault(index, "t", _("is before the point before it: the points must be in time order."))
        elif not earliest <= t <= latest:
            fault(index, "t", _("is outside the route's start and end."))
        if lat is None or not -90 <= lat <= 90:
            fault(index, "lat", _("must be a latitude in decimal degrees (−90 to 90)"))
        if lon is None or not -180 <= lon <= 180:
            fault(index, "lon", _("must be a longitude in decimal degrees (−180 to 180)"))
        if accuracy is not None:
            accuracy = _number(accuracy)
            if accuracy is None or not 0 <= accuracy <= 100_000:
                fault(index, "accuracy_m", _("must be a number of metres from 0 to 100000, or null"))
        if t is not None:
            previous = t
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
            placed.append(index)
        times.append(t)  # type: ignore[arg-type]
        lons.append(lon if lon is not None else 0.0)
        lats.append(lat if lat is not None else 0.0)
        accuracies.append(accuracy)

    if crs is not CRS.WGS84:
        converted = [to_wgs84(lons[i], lats[i], crs) for i in placed]
        for i, (x, y) in zip(placed, converted, strict=True):
            lons[i], lats[i] = x, y
    # Whatever else is wrong, the points outside are named in the same answer: the phone offers to send
    # the route again without every point refused (docs/surveys.md, Routes), so one answer must name them.
    district = get_district()
    for index in _outside_district([lons[i] for i in placed], [lats[i] for i in placed]):
        message = _(
            "The point (%(lat).6f, %(lon).6f) is outside %(district)s; check the crs.",
            lat=lats[placed[index]],
            lon=lons[placed[index]],
            district=district.name if district is not None else "",
        )
        fault(placed[index], "lat", message)
        if bad <= MAX_POINT_ERRORS:
            errors.setdefault(f"points.{placed[index]}.lon", []).append(message)
    if bad:
        _more_points(bad, errors)
        return None
    if errors:
        return None

    poor = [a is not None and a > limit for a in accuracies]
    good = [i for i, p in enumerate(poor) if not p]
    drawn = good if len(good) >= 2 else list(range(len(lons)))
    line_lons = [lons[i] for i in drawn]
    line_lats = [lats[i] for i in drawn]
    gaps = _gap_segments([times[i] for i in drawn], pauses or [])
    if gaps:
        segments = np.asarray(_GEOD.line_lengths(line_lons, line_lats), dtype=float)
        segments[gaps] = 0.0
        length = float(segments.sum())
    else:
        length = float(_GEOD.line_length(line_lons, line_lats))
    stored = []
    for t, lon, lat, accuracy, is_poor in zip(times, lons, lats, accuracies, poor, strict=True):
        point = {"t": t.isoformat().replace("+00:00", "Z"), "lat": lat, "lon": lon, "accuracy_m": accuracy}
        if is_poor:
            point["poor"] = True
        stored.append(point)
    geometry: dict[str, Any] = {"type": "LineString"}
    if gaps:
        # A GeoJSON foreign member, before the coordinates (coverage reads the text up to them): the
        # segments across a pause, drawn but neither measured nor counted as walked through.
        geometry = {"gaps": gaps, **geometry}
    geometry["coordinates"] = [[x, y] for x, y in zip(line_lons, line_lats, strict=True)]
    return Track(
        points=stored,
        geometry=geometry,
        length_m=round(length, 1),
        poor=sum(poor),
        bbox=(min(lons), min(lats), max(lons), max(lats)),
        gaps=gaps,
    )


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def gap_segments(route: Route) -> list[int]:
    """The stored line's segments that span a pause (the route page draws them dashed): kept in the line
    as `gaps`; worked out again from the points for a line stored without them (its line is drawn
    through the good fixes, all of them when fewer than two are good, as check_points drew it)."""
    if route.geometry and isinstance(route.geometry.get("gaps"), list):
        return [int(i) for i in route.geometry["gaps"]]
    if not route.pauses or not route.points:
        return []
    good = [p for p in route.points if not p.get("poor")]
    drawn = good if len(good) >= 2 else route.points
    times = [t for t in (_parse_time(p["t"]) for p in drawn) if t is not None]
    pauses = [(_parse_time(p["started_at"]), _parse_time(p["ended_at"])) for p in route.pauses]
    if len(times) != len(drawn):
        return []
    return _gap_segments(times, [(a, b) for a, b in pauses if a is not None and b is not None])


def _more_points(bad: int, errors: FieldErrors) -> None:
    if bad > MAX_POINT_ERRORS:
        errors.setdefault("points", []).append(
            _("%(n)d more points are wrong as well.", n=bad - MAX_POINT_ERRORS)
        )


def _outside_district(lons: list[float], lats: list[float]) -> list[int]:
    """The indexes of the points outside the district: its loaded outline (grown by the tolerance) tested
    for all the points at once, else its box (the same test as a record's position,
    app/district/boundaries.py)."""
    district = get_district()
    if district is None or not lons:
        return []
    x, y = np.asarray(lons), np.asarray(lats)
    outline = locator().outline
    if outline is not None:
        inside = shapely.contains_xy(outline, x, y)
    else:
        b = district.buffer_deg
        inside = (
            (x >= district.min_lon - b)
            & (x <= district.max_lon + b)
            & (y >= district.min_lat - b)
            & (y <= district.max_lat + b)
        )
    return [int(i) for i in np.flatnonzero(~inside)]
