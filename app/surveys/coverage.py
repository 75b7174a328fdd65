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
with its `campaign_id`. Only what falls in the campaign's dates counts (`in_window`): a record observed, a
route started, on a day (Asia/Shanghai) from `starts_on` to `ends_on`. A route or record outside them is
kept (a phone's walked track is never refused for its day) but counts nowhere; `routes_outside` and
`records_outside` say how many, so that the pages can say so, and shrinking the window changes the figures.

Everything is read with one statement per kind (units, routes, records) and placed with the prepared
polygons of the process's locator (app/district/boundaries.py: an STRtree per level, so each route or point
is tested only against the polygons whose bounding box it meets); nothing is read per unit.

The rows are read by app/surveys/coverage_reading.py, the map drawn by app/surveys/coverage_map.py.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import shapely

from app.clock import day_end, day_start, local_today
from app.district import boundaries
from app.extensions import db
from app.geo.locate import Level
from app.surveys import campaign_queries
from app.surveys import coverage_reading as reading
from app.surveys.models import Campaign


class Status(enum.StrEnum):
    COVERED = "covered"
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"


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
    starts_on: date | None = None
    ends_on: date | None = None
    routes_outside: int = 0  # the campaign's routes started outside its dates: kept, not counted
    records_outside: int = 0  # the campaign's records observed outside its dates: kept, not counted


def window(campaign: Campaign) -> tuple[datetime, datetime]:
    """The campaign's dates as UTC instants: from the local midnight that starts `starts_on` to the one
    that ends `ends_on` (exclusive)."""
    return day_start(campaign.starts_on), day_end(campaign.ends_on)


def in_window(campaign: Campaign, moment: datetime) -> bool:
    """Whether a route started, or a record was observed, at `moment` counts for the campaign: its local
    day (Asia/Shanghai) is one of the campaign's days, both ends included."""
    start, end = window(campaign)
    return start <= moment < end


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


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


# ---------------------------------------------------------------------------------------------
# Coverage


def compute(campaign: Campaign | int, *, today: date | None = None) -> Coverage:
    """The campaign's coverage now (docs/surveys.md, Coverage): three statements, whatever its size."""
    if isinstance(campaign, int):
        found = db.session.get(Campaign, campaign)
        assert found is not None  # noqa: S101 -- callers name a campaign they read
        campaign = found
    campaign_id = campaign.id
    start, end = window(campaign)
    today = today or local_today()
    locator = boundaries.locator()
    villages, townships = locator.villages, locator.townships

    units: list[UnitCoverage] = []
    for row in reading.unit_rows(campaign_id):
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
    all_records = reading.record_rows(campaign_id)
    record_rows = [r for r in all_records if start <= r.observed_at < end]
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
    all_routes = reading.route_rows(campaign_id)
    route_rows = [r for r in all_routes if start <= r.started_at < end]
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
            reading.track_coordinates(r.geometry),
            reading.track_gaps(r.geometry),
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
        line = reading.walked_line(routes[index].coordinates, routes[index].gaps)
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
        starts_on=campaign.starts_on,
        ends_on=campaign.ends_on,
        routes_outside=len(all_routes) - len(route_rows),
        records_outside=len(all_records) - len(record_rows),
    )


# ---------------------------------------------------------------------------------------------
# Which campaign


def get_campaign(campaign_id: int) -> Campaign:
    """The campaign, for reading its coverage (NotFound when there is none). Every signed-in staff member
    reads coverage, as they read campaigns and the district's records (docs/contract.md §1): it is the
    progress of the shared census."""
    return campaign_queries.get_campaign(campaign_id)
