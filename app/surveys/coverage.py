"""A campaign's coverage: which of its units were walked, per unit, per assignee and per township
(docs/surveys.md, Coverage).

A unit is **covered** when a route or a record of the campaign lies inside it:

- by its polygon when the unit's level (village or township) has boundaries loaded: a record whose point
  is in the polygon, a route whose track crosses it (a route through three villages covers all three);
- else by attribution: a record whose village (a village unit) or township (a township unit) is the
  unit's, a route started for the unit, and, for a township unit, a route started for one of its villages.

A unit not covered is **in progress** when the campaign has begun around it: a route or record of the
campaign lies in the unit's township (for a village unit), or a route was started for the unit but its track
lies outside the unit's polygon. Otherwise it is **not started**. A unit not covered after its due day
(Asia/Shanghai) is **overdue** besides.

The campaign's records are its observations (`campaign_id`) and the records made along its routes (the
route's client UUID, same organization); rejected records do not count. Its routes are the survey routes
with its `campaign_id`.

Everything is read with one statement per kind (units, routes, records) and placed with the prepared
polygons of the process's locator (app/district/boundaries.py: an STRtree per level, so each route or point
is tested only against the polygons whose bounding box it meets); nothing is read per unit.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.clock import local_today
from app.district import boundaries
from app.district.models import Boundary, Township, Village
from app.extensions import db
from app.geo.locate import Level
from app.observations.models import Observation, ReviewStatus
from app.surveys import campaigns
from app.surveys.models import Campaign, Route, SurveyUnit


class Status(enum.StrEnum):
    COVERED = "covered"
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"


def campaign_records(campaign_id: int) -> sa.ColumnElement[bool]:
    """The condition on observations that makes a record the campaign's: its `campaign_id`, or made
    along one of the campaign's routes (the route's client UUID, in the route's organization)."""
    along_route = (
        sa.select(sa.literal(1))
        .where(
            Route.campaign_id == campaign_id,
            Route.client_uuid == Observation.route_uuid,
            Route.organization_id == Observation.organization_id,
        )
        .exists()
    )
    return sa.or_(
        Observation.campaign_id == campaign_id, sa.and_(Observation.route_uuid.is_not(None), along_route)
    )


@dataclass
class UnitCoverage:
    unit_id: int
    unit_code: str
    level: str  # "township" | "village"
    name: str
    township_id: int
    township_code: str
    township_name: str
    village_id: int | None
    assignee_id: int | None
    assignee_name: str | None
    due_on: date | None
    by_polygon: bool  # judged by its polygon (else by the records' township/village and routes' unit)
    status: Status = Status.NOT_STARTED
    overdue: bool = False
    routes: int = 0  # the campaign's routes that lie (partly) inside the unit
    records: int = 0  # the campaign's records inside the unit
    route_length_m: float = 0.0  # the whole length of those routes
    last_activity_at: datetime | None = None


@dataclass
class Tally:
    units: int = 0
    covered: int = 0
    in_progress: int = 0
    not_started: int = 0
    overdue: int = 0

    def add(self, unit: UnitCoverage) -> None:
        self.units += 1
        setattr(self, unit.status.value, getattr(self, unit.status.value) + 1)
        self.overdue += unit.overdue

    @property
    def covered_pct(self) -> float:
        return round(100.0 * self.covered / self.units, 1) if self.units else 0.0


@dataclass
class Group:
    key: int | None  # the assignee's user id (None: unassigned) or the township's id
    code: str | None
    name: str | None
    tally: Tally = field(default_factory=Tally)


@dataclass
class RouteRow:
    id: int
    client_uuid: str
    surveyor_id: int
    surveyor_name: str
    unit_id: int | None
    started_at: datetime
    ended_at: datetime
    length_m: float
    moving_s: int  # the survey effort: the elapsed time less the pauses
    coordinates: np.ndarray | None  # (n, 2) lon, lat of the track's line; None without one
    gaps: list[int] = field(default_factory=list)  # segments across a pause: not walked (docs/surveys.md)
    unit_ids: list[int] = field(default_factory=list)  # the units it covers
    organization_id: int | None = None  # whose route it is (who may see its line: geojson)


@dataclass
class RecordRow:
    id: int
    longitude: float
    latitude: float
    detected: bool
    species_id: int
    observed_at: datetime
    unit_ids: list[int] = field(default_factory=list)


@dataclass
class Coverage:
    campaign_id: int
    today: date
    village_polygons: bool
    township_polygons: bool
    units: list[UnitCoverage]
    routes: list[RouteRow]
    records: list[RecordRow]
    totals: Tally
    by_assignee: list[Group]
    by_township: list[Group]


# ---------------------------------------------------------------------------------------------
# Reading (one statement per kind)


def _unit_rows(campaign_id: int) -> list[Any]:
    assignee = aliased(User)
    return list(
        db.session.execute(
            sa.select(
                SurveyUnit.id,
                SurveyUnit.unit_code,
                SurveyUnit.township_id,
                SurveyUnit.village_id,
                SurveyUnit.assignee_id,
                SurveyUnit.due_on,
                Township.code.label("township_code"),
                Township.name_zh.label("township_name"),
                Village.short_name.label("village_name"),
                Village.code.label("village_code"),
                assignee.display_name.label("assignee_name"),
            )
            .join(Township, Township.id == SurveyUnit.township_id)
            .outerjoin(Village, Village.id == SurveyUnit.village_id)
            .outerjoin(assignee, assignee.id == SurveyUnit.assignee_id)
            .where(SurveyUnit.campaign_id == campaign_id)
            .order_by(Township.code, SurveyUnit.unit_code)
        ).all()
    )


def _route_rows(campaign_id: int) -> list[Any]:
    return list(
        db.session.execute(
            sa.select(
                Route.id,
                Route.client_uuid,
                Route.organization_id,
                Route.surveyor_id,
                User.display_name.label("surveyor_name"),
                Route.unit_id,
                Route.started_at,
                Route.ended_at,
                Route.length_m,
                Route.moving_s,
                # As text, parsed by track_coordinates: a 10 000-point track decoded as JSON into Python
                # lists costs ten times more than its numbers read straight into an array.
                sa.cast(Route.geometry, sa.Text).label("geometry"),
            )
            .join(User, User.id == Route.surveyor_id)
            .where(Route.campaign_id == campaign_id)
            .order_by(Route.started_at, Route.id)
        ).all()
    )


def _record_rows(campaign_id: int) -> list[Any]:
    return list(
        db.session.execute(
            sa.select(
                Observation.id,
                Observation.longitude,
                Observation.latitude,
                Observation.township_id,
                Observation.village_id,
                Observation.detected,
                Observation.species_id,
                Observation.observed_at,
            )
            .where(campaign_records(campaign_id), Observation.status != ReviewStatus.REJECTED)
            .order_by(Observation.observed_at, Observation.id)
        ).all()
    )


# ---------------------------------------------------------------------------------------------
# Placing routes and records in polygons


def _polygon_hits_of_points(level: Level, lons: np.ndarray, lats: np.ndarray) -> list[tuple[int, str]]:
    """(point index, unit code) for every point inside a polygon of the level (bounding boxes first)."""
    if not len(lons):
        return []
    points = shapely.points(lons, lats)
    point_index, polygon_index = level.tree.query(points)
    if not len(point_index):
        return []
    inside = shapely.contains_xy(level.geometries[polygon_index], lons[point_index], lats[point_index])
    return [
        (int(p), level.codes[int(g)])
        for p, g, yes in zip(point_index, polygon_index, inside, strict=True)
        if yes
    ]


def _polygon_hits_of_line(level: Level, line: Any) -> list[str]:
    """The codes of the level's polygons the track crosses (prepared polygons, bounding boxes first)."""
    candidates = level.tree.query(line)
    if not len(candidates):
        return []
    crosses = shapely.intersects(level.geometries[candidates], line)
    return [level.codes[int(g)] for g, yes in zip(candidates, crosses, strict=True) if yes]


_BRACKETS = str.maketrans("[]", "  ")


def track_coordinates(text: str | None) -> np.ndarray | None:
    """A stored LineString (GeoJSON text) as an (n, 2) array of lon, lat; None when it is not one.

    The numbers are read straight into an array (numpy's C parser) rather than decoded into Python lists."""
    if not text or '"LineString"' not in text:
        return None
    start = text.find('"coordinates"')
    if start < 0:
        return None
    body = text[text.find("[", start) : text.rfind("]") + 1]
    positions = body.count("[") - 1
    if positions < 1:
        return None
    numbers = np.fromstring(body.translate(_BRACKETS), sep=",")
    if numbers.size % positions:
        return None
    return numbers.reshape(positions, -1)[:, :2]


_GAPS = re.compile(r'"gaps"\s*:\s*\[([0-9,\s]*)\]')


def track_gaps(text: str | None) -> list[int]:
    """The segments of a stored line that span a pause (its `gaps`, written before its coordinates)."""
    if not text or '"gaps"' not in text:
        return []
    head = text[: text.find('"coordinates"')] if '"coordinates"' in text else text
    match = _GAPS.search(head)
    return [int(n) for n in match.group(1).split(",") if n.strip()] if match else []


def _line(coordinates: np.ndarray | None, gaps: list[int] | None = None) -> Any:
    """The track as walked: a line, or, split at its gaps (segments across a pause, not walked), the
    pieces walked (a lone fix between two pauses as a point)."""
    if coordinates is None or not len(coordinates):
        return None
    if len(coordinates) == 1:
        return shapely.points(coordinates[0])
    cuts = sorted({i for i in gaps or () if 0 <= i < len(coordinates) - 1})
    if not cuts:
        return shapely.linestrings(coordinates)
    pieces, start = [], 0
    for i in [*cuts, len(coordinates) - 1]:
        part = coordinates[start : i + 1]
        pieces.append(shapely.linestrings(part) if len(part) > 1 else shapely.points(part[0]))
        start = i + 1
    return shapely.geometrycollections(pieces)


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


# ---------------------------------------------------------------------------------------------
# Coverage


def compute(campaign: Campaign | int, *, today: date | None = None) -> Coverage:
    """The campaign's coverage now (docs/surveys.md, Coverage): three statements, whatever its size."""
    campaign_id = campaign if isinstance(campaign, int) else campaign.id
    today = today or local_today()
    locator = boundaries.locator()
    villages, townships = locator.villages, locator.townships

    units: list[UnitCoverage] = []
    for row in _unit_rows(campaign_id):
        is_village = row.village_id is not None
        level = villages if is_village else townships
        units.append(
            UnitCoverage(
                unit_id=row.id,
                unit_code=row.unit_code,
                level="village" if is_village else "township",
                name=(row.village_name or row.unit_code) if is_village else row.township_name,
                township_id=row.township_id,
                township_code=row.township_code,
                township_name=row.township_name,
                village_id=row.village_id,
                assignee_id=row.assignee_id,
                assignee_name=row.assignee_name,
                due_on=row.due_on,
                by_polygon=level is not None and row.unit_code in level.index,
            )
        )
    by_id = {u.unit_id: u for u in units}
    # How a place names the units that lie there: by polygon code, by village id, by township id.
    by_code: dict[str, list[UnitCoverage]] = {}
    by_village: dict[int, list[UnitCoverage]] = {}
    by_township: dict[int, list[UnitCoverage]] = {}
    for u in units:
        by_code.setdefault(u.unit_code, []).append(u)
        if u.by_polygon:
            continue
        if u.village_id is not None:
            by_village.setdefault(u.village_id, []).append(u)
        else:
            by_township.setdefault(u.township_id, []).append(u)
    township_ids_by_code = {u.township_code: u.township_id for u in units}

    inside: dict[int, set[int]] = {u.unit_id: set() for u in units}  # unit → records inside (ids)
    route_inside: dict[int, set[int]] = {u.unit_id: set() for u in units}  # unit → routes inside
    active_townships: set[int] = set()  # townships where the campaign has something

    def polygon_units(code: str) -> list[UnitCoverage]:
        return [u for u in by_code.get(code, ()) if u.by_polygon]

    # Records.
    record_rows = _record_rows(campaign_id)
    records = [
        RecordRow(r.id, r.longitude, r.latitude, r.detected, r.species_id, r.observed_at) for r in record_rows
    ]
    lons = np.array([r.longitude for r in record_rows], dtype=float)
    lats = np.array([r.latitude for r in record_rows], dtype=float)
    for level in (villages, townships):
        if level is None:
            continue
        for index, code in _polygon_hits_of_points(level, lons, lats):
            for u in polygon_units(code):
                inside[u.unit_id].add(index)
            if level is townships and code in township_ids_by_code:
                active_townships.add(township_ids_by_code[code])
    for index, r in enumerate(record_rows):
        if r.township_id is not None:
            active_townships.add(r.township_id)
            for u in by_township.get(r.township_id, ()):
                inside[u.unit_id].add(index)
        if r.village_id is not None:
            for u in by_village.get(r.village_id, ()):
                inside[u.unit_id].add(index)

    # Routes.
    route_rows = _route_rows(campaign_id)
    routes = [
        RouteRow(
            r.id,
            str(r.client_uuid),
            r.surveyor_id,
            r.surveyor_name,
            r.unit_id,
            r.started_at,
            r.ended_at,
            r.length_m or 0.0,
            r.moving_s or 0,
            track_coordinates(r.geometry),
            track_gaps(r.geometry),
            organization_id=r.organization_id,
        )
        for r in route_rows
    ]
    started_for: dict[int, list[int]] = {}  # unit → routes started for it
    for index, r in enumerate(route_rows):
        own = by_id.get(r.unit_id) if r.unit_id is not None else None
        if own is not None:
            started_for.setdefault(own.unit_id, []).append(index)
            active_townships.add(own.township_id)
            if not own.by_polygon:
                route_inside[own.unit_id].add(index)
            # A route for a village lies in its township: a township unit judged without a polygon.
            for u in by_township.get(own.township_id, ()):
                route_inside[u.unit_id].add(index)
        line = _line(routes[index].coordinates, routes[index].gaps)
        if line is None:
            continue
        for level in (villages, townships):
            if level is None:
                continue
            for code in _polygon_hits_of_line(level, line):
                for u in polygon_units(code):
                    route_inside[u.unit_id].add(index)
                if level is townships and code in township_ids_by_code:
                    active_townships.add(township_ids_by_code[code])

    # Status per unit.
    for u in units:
        record_ids, route_ids = inside[u.unit_id], route_inside[u.unit_id]
        u.records, u.routes = len(record_ids), len(route_ids)
        u.route_length_m = round(sum(routes[i].length_m for i in route_ids), 1)
        for i in record_ids:
            records[i].unit_ids.append(u.unit_id)
            u.last_activity_at = _later(u.last_activity_at, records[i].observed_at)
        for i in route_ids:
            routes[i].unit_ids.append(u.unit_id)
            u.last_activity_at = _later(u.last_activity_at, routes[i].ended_at)
        if record_ids or route_ids:
            u.status = Status.COVERED
        elif u.unit_id in started_for or (u.village_id is not None and u.township_id in active_townships):
            u.status = Status.IN_PROGRESS
        u.overdue = u.status is not Status.COVERED and u.due_on is not None and u.due_on < today
    for u in units:  # a covered village makes its township active for the other villages
        if u.status is Status.COVERED:
            active_townships.add(u.township_id)
    for u in units:
        if u.status is Status.NOT_STARTED and u.village_id is not None and u.township_id in active_townships:
            u.status = Status.IN_PROGRESS

    totals = Tally()
    assignees: dict[int | None, Group] = {}
    townships_out: dict[int, Group] = {}
    for u in units:
        totals.add(u)
        assignees.setdefault(u.assignee_id, Group(u.assignee_id, None, u.assignee_name)).tally.add(u)
        townships_out.setdefault(
            u.township_id, Group(u.township_id, u.township_code, u.township_name)
        ).tally.add(u)
    return Coverage(
        campaign_id=campaign_id,
        today=today,
        village_polygons=villages is not None,
        township_polygons=townships is not None,
        units=units,
        routes=routes,
        records=records,
        totals=totals,
        by_assignee=sorted(assignees.values(), key=lambda g: (g.key is None, g.name or "", g.key or 0)),
        by_township=sorted(townships_out.values(), key=lambda g: g.code or ""),
    )


# ---------------------------------------------------------------------------------------------
# The map


ROUTE_SIMPLIFY_DEGREES = 0.00005  # about 5 m: a walked track keeps its shape, the payload shrinks
OUTLINE_SIMPLIFY_DEGREES = 0.0001  # about 10 m on an outline drawn at village scale
MAX_MAP_RECORDS = 5000


def _outlines(codes: Iterable[str]) -> dict[str, Any]:
    """The unit polygons the map draws, simplified: one statement for the campaign's units."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = db.session.execute(
        sa.select(Boundary.code, Boundary.geometry).where(Boundary.code.in_(wanted))
    ).all()
    outlines = {}
    for code, geometry in rows:
        shape = shapely.geometry.shape(geometry)
        outlines[code] = shapely.geometry.mapping(
            shapely.simplify(shape, OUTLINE_SIMPLIFY_DEGREES, preserve_topology=True)
        )
    return outlines


def _simplified_route(coordinates: np.ndarray | None, gaps: list[int] | None = None) -> dict[str, Any] | None:
    line = _line(coordinates, gaps)
    if line is None:
        return None
    return shapely.geometry.mapping(shapely.simplify(line, ROUTE_SIMPLIFY_DEGREES, preserve_topology=False))


def geojson(coverage: Coverage, route_readers: Collection[int] | None = None) -> dict[str, Any]:
    """The map's FeatureCollection: units (their outlines, coloured by status, when boundaries are
    loaded; else the points of their records), the routes as simplified lines, and the records.

    `route_readers`: the organizations whose routes the caller may read (acting_ids; None: every one's).
    A route's line and its surveyor follow the routes' own rule (a surveyor's track is read by its
    bureau's staff, app/policy.py may_read_route): the other routes count in the units' figures only."""
    outlines = _outlines(u.unit_code for u in coverage.units if u.by_polygon)
    features: list[dict[str, Any]] = []
    record_points: dict[int, list[list[float]]] = {}
    for record in coverage.records:
        for unit_id in record.unit_ids:
            record_points.setdefault(unit_id, []).append([record.longitude, record.latitude])
    for u in coverage.units:
        geometry = outlines.get(u.unit_code)
        if geometry is None and record_points.get(u.unit_id):
            geometry = {"type": "MultiPoint", "coordinates": record_points[u.unit_id]}
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "kind": "unit",
                    "unit_id": u.unit_id,
                    "code": u.unit_code,
                    "name": u.name,
                    "township": u.township_name,
                    "status": u.status.value,
                    "overdue": u.overdue,
                    "assignee": u.assignee_name,
                    "due_on": u.due_on.isoformat() if u.due_on else None,
                    "routes": u.routes,
                    "records": u.records,
                    "outline": u.unit_code in outlines,
                },
            }
        )
    for route in coverage.routes:
        if route_readers is not None and route.organization_id not in route_readers:
            continue
        line = _simplified_route(route.coordinates, route.gaps)
        if line is None:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": line,
                "properties": {
                    "kind": "route",
                    "route_id": route.id,
                    "surveyor": route.surveyor_name,
                    "length_m": round(route.length_m, 1),
                    "moving_s": route.moving_s,
                    "units": route.unit_ids,
                },
            }
        )
    for record in coverage.records[-MAX_MAP_RECORDS:]:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [record.longitude, record.latitude]},
                "properties": {"kind": "record", "id": record.id, "detected": record.detected},
            }
        )
    return {"type": "FeatureCollection", "features": features}


# ---------------------------------------------------------------------------------------------
# Which campaign


def get_campaign(campaign_id: int) -> Campaign:
    """The campaign, for reading its coverage (NotFound when there is none). Every signed-in staff member
    reads coverage, as they read campaigns and the district's records (docs/contract.md §1): it is the
    progress of the shared census."""
    return campaigns.get_campaign(campaign_id)
