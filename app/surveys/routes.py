"""踏查 routes: a GPS track walked for a campaign, checked, measured and stored once (docs/surveys.md).

A route arrives whole, when the walk is over (the phone keeps its points offline and sends the finished
route through its outbox, like a record). It is idempotent by `client_uuid` like records
(app/idempotency.py). Its points are checked in one plain loop and measured with pyproj in one call: a
10,000-point route makes no per-point objects beyond the stored JSON (docs/contract.md §5).

- Every point is kept as sent (converted to WGS-84, its time in UTC), and a fix whose accuracy is worse than
  the records' low-accuracy limit (IAS_GPS_ACCURACY_LIMIT_M, the same one that flags a record) is marked
  `poor`.
- The LineString and the length are drawn through the good fixes only (a 300 m jump of one bad fix would
  otherwise add 600 m to the walk); a route with fewer than two good fixes is drawn through all of them.
- The length is geodesic on the WGS-84 ellipsoid; the duration is from the start to the end as sent, and
  the moving time is that less the pauses the phone recorded. A segment of the line that spans a pause
  (the last fix before it to the first after it) is drawn but not measured: nobody walked it while paused.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from pyproj import Geod

from app import policy
from app.accounts.models import User
from app.accounts.organizations import acting_ids
from app.clock import CLOCK_SKEW, EARLIEST, local_zone
from app.district.boundaries import locator
from app.district.services import get_district
from app.errors import Conflict, FieldErrors, InvalidInput, NotFound, PermissionDenied, invalid_fields_message
from app.extensions import db
from app.geo.crs import CRS, to_wgs84
from app.idempotency import CreateOnce, fingerprint
from app.observations.models import Observation
from app.surveys.campaign_queries import takes_part
from app.surveys.models import Campaign, Route, SurveyUnit

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


# ---------------------------------------------------------------------------------------------
# Who may record for a campaign


def may_record_for(user: User, campaign: Campaign) -> bool:
    """The campaigns' own rule (app/surveys/campaigns.py takes_part): an admin, staff of its bureau or of
    a unit under it, or the assignee of one of its units."""
    return takes_part(user, campaign)


def campaign_to_record_for(actor: User, campaign_id: int, errors: FieldErrors) -> Campaign | None:
    """The campaign, when it exists and `actor` may record for it; else None with the reason under
    `campaign_id` in `errors`."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        errors["campaign_id"] = [_("Unknown campaign.")]
        return None
    if not may_record_for(actor, campaign):
        errors["campaign_id"] = [
            _("You do not record for the campaign %(name)s (another bureau's).", name=campaign.name)
        ]
        return None
    return campaign


# ---------------------------------------------------------------------------------------------
# Checking and measuring the points


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
    for index, point in enumerate(raw):
        if not isinstance(point, dict):
            fault(index, "_schema", _("must be an object with t, lat, lon and accuracy_m"))
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
        times.append(t)  # type: ignore[arg-type]
        lons.append(lon if lon is not None else 0.0)
        lats.append(lat if lat is not None else 0.0)
        accuracies.append(accuracy)
    if bad:
        _more_points(bad, errors)
        return None

    if crs is not CRS.WGS84:
        converted = [to_wgs84(lon, lat, crs) for lon, lat in zip(lons, lats, strict=True)]
        lons = [c[0] for c in converted]
        lats = [c[1] for c in converted]
    _outside_district(lons, lats, errors)
    if bad or errors:
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


def _utc_text(moment: datetime) -> str:
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


def _outside_district(lons: list[float], lats: list[float], errors: FieldErrors) -> None:
    """Every point inside the district: its loaded outline (grown by the tolerance) tested for all the
    points at once, else its box (the same test as a record's position, app/district/boundaries.py)."""
    district = get_district()
    if district is None:
        return
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
    outside = np.flatnonzero(~inside)
    for index in outside[:MAX_POINT_ERRORS]:
        message = _(
            "The point (%(lat).6f, %(lon).6f) is outside %(district)s; check the crs.",
            lat=lats[index],
            lon=lons[index],
            district=district.name,
        )
        errors.setdefault(f"points.{index}.lat", []).append(message)
        errors.setdefault(f"points.{index}.lon", []).append(message)
    _more_points(len(outside), errors)


# ---------------------------------------------------------------------------------------------
# Creating


def _clash(existing: Route) -> Conflict:
    return Conflict(
        _(
            "A different route was already sent with this client_uuid (route %(id)s); "
            "make a new client_uuid for a new route.",
            id=existing.id,
        ),
        {"client_uuid": [_("already used for route %(id)s", id=existing.id)]},
    )


def create_route(*, actor: User, args: dict[str, Any]) -> tuple[Route, bool]:
    """Store a walked route, or return the one an earlier try of the same request made.

    Returns (route, created). Raises InvalidInput naming every field at fault (points by index:
    `points.17.t`), and Conflict when the client_uuid was used for a different route.
    """
    sent = dict(args)
    if args.get("pauses") is not None:  # the fingerprint is of plain JSON: the pauses' times as text
        sent["pauses"] = [{k: _utc_text(v) for k, v in pause.items()} for pause in args["pauses"]]
    once = CreateOnce(
        Route, actor.organization_id, args["client_uuid"], fingerprint(sent, sender_id=actor.id), _clash
    )
    earlier = once.earlier()
    if earlier is not None:
        return earlier, False

    errors: FieldErrors = {}
    started_at: datetime = args["started_at"]
    ended_at: datetime = args["ended_at"]
    now = datetime.now(UTC)
    if started_at > now + CLOCK_SKEW:
        errors["started_at"] = [_("is in the future; check the phone's date and time.")]
    elif started_at < EARLIEST:
        errors["started_at"] = [_("is before 1990; check the year.")]
    if ended_at > now + CLOCK_SKEW:
        errors["ended_at"] = [_("is in the future; check the phone's date and time.")]
    elif ended_at < started_at:
        errors["ended_at"] = [_("is before the route's start.")]
    campaign = campaign_to_record_for(actor, args["campaign_id"], errors)
    unit: SurveyUnit | None = None
    if args.get("unit_id") is not None:
        unit = db.session.get(SurveyUnit, args["unit_id"])
        if unit is None or (campaign is not None and unit.campaign_id != campaign.id):
            errors["unit_id"] = [_("Not a unit of this campaign.")]
    pauses: list[tuple[datetime, datetime]] = []
    if not errors:
        pauses = check_pauses(args.get("pauses"), started_at, ended_at, errors)
    track = None
    if not errors:
        track = check_points(args["points"], CRS(args["crs"]), started_at, ended_at, errors, pauses)
    if errors or track is None:
        raise InvalidInput(invalid_fields_message(errors), errors)

    def build() -> Route:
        min_lon, min_lat, max_lon, max_lat = track.bbox
        route = Route(
            client_uuid=args["client_uuid"],
            payload_sha256=once.payload,
            organization_id=actor.organization_id,
            surveyor_id=actor.id,
            campaign_id=args["campaign_id"],
            unit_id=unit.id if unit else None,
            started_at=started_at,
            ended_at=ended_at,
            points=track.points,
            geometry=track.geometry,
            length_m=track.length_m,
            duration_s=int((ended_at - started_at).total_seconds()),
            moving_s=moving_seconds(started_at, ended_at, pauses),
            pauses=None
            if args.get("pauses") is None
            else [{"started_at": _utc_text(start), "ended_at": _utc_text(end)} for start, end in pauses],
            dropped_point_count=args.get("dropped_point_count") or 0,
            point_count=len(track.points),
            poor_point_count=track.poor,
            min_lon=min_lon,
            min_lat=min_lat,
            max_lon=max_lon,
            max_lat=max_lat,
            notes=args.get("notes"),
        )
        db.session.add(route)
        return route

    return once.create(build)


# ---------------------------------------------------------------------------------------------
# Reading


def get_route(actor: User, route_id: int) -> Route:
    """Raises NotFound, PermissionDenied (another bureau's route)."""
    route = db.session.get(Route, route_id)
    if route is None:
        raise NotFound(_("No route with id %(id)s.", id=route_id))
    if not may_read(actor, route):
        raise PermissionDenied(_("This route belongs to another bureau."))
    return route


def may_read(user: User, route: Route) -> bool:
    """Staff acting for the route's organization (its bureau reads its units' routes): app/policy.py."""
    return policy.may_read_route(user, route)


def filtered(actor: User, filters: dict[str, Any]) -> sa.Select[tuple[Route]]:
    """Routes the actor may read matching the filters, newest first. The points are not loaded."""
    stmt = sa.select(Route).options(sa.orm.defer(Route.points), sa.orm.defer(Route.geometry))
    ids = acting_ids(actor)
    if ids is not None:
        stmt = stmt.where(Route.organization_id.in_(ids))
    for name in ("campaign_id", "surveyor_id", "unit_id"):
        if name in filters:
            stmt = stmt.where(getattr(Route, name) == filters[name])
    return stmt.order_by(Route.started_at.desc(), Route.id.desc())


def records_along(route: Route) -> list[Observation]:
    """The records made while the route ran: its organization's records carrying its client UUID,
    whenever they arrived (docs/surveys.md)."""
    return list(
        db.session.scalars(
            sa.select(Observation)
            .where(
                Observation.organization_id == route.organization_id,
                Observation.route_uuid == route.client_uuid,
            )
            .order_by(Observation.observed_at, Observation.id)
        )
    )


def route_by_uuid(organization_id: int, client_uuid: uuid.UUID) -> Route | None:
    return db.session.scalar(
        sa.select(Route).where(Route.organization_id == organization_id, Route.client_uuid == client_uuid)
    )


# ---------------------------------------------------------------------------------------------
# What the phone's route page needs


def unit_name(unit: SurveyUnit) -> str:
    return unit.village.short_name if unit.village is not None else unit.township.name_zh


def campaigns_to_walk(actor: User, today: date) -> list[dict[str, Any]]:
    """The campaigns `actor` records for that have not ended, with their units (the actor's own first)
    and target species: the route page keeps them, so a route can be started with no signal."""
    campaigns = db.session.scalars(
        sa.select(Campaign)
        .where(Campaign.ends_on >= today)
        .options(sa.orm.selectinload(Campaign.units))
        .order_by(Campaign.starts_on, Campaign.id)
    )
    walkable = []
    for campaign in campaigns:
        if not may_record_for(actor, campaign):
            continue
        units = sorted(campaign.units, key=lambda u: (u.assignee_id != actor.id, u.unit_code))
        walkable.append(
            {
                "id": campaign.id,
                "name": campaign.name,
                "units": [
                    {"id": u.id, "name": unit_name(u), "mine": u.assignee_id == actor.id} for u in units
                ],
                "species": [
                    {"id": s.id, "name_zh": s.name_zh, "name_sci": s.name_sci, "metrics": list(s.metrics)}
                    for s in campaign.species
                ],
            }
        )
    return walkable


def of_campaign(campaign_id: int, limit: int = 50) -> list[Route]:
    """The campaign's routes, newest first (without their points): the campaign page lists them."""
    return list(
        db.session.scalars(
            sa.select(Route)
            .options(sa.orm.defer(Route.points), sa.orm.defer(Route.geometry))
            .where(Route.campaign_id == campaign_id)
            .order_by(Route.started_at.desc(), Route.id.desc())
            .limit(limit)
        )
    )
