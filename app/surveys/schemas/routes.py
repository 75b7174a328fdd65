"""Surveys schemas: routes (docs/surveys.md, Routes)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.api import ID_RANGE, LocalDateTime, PageArgs
from app.geo.crs import CRS
from app.surveys.tracks import MAX_PAUSES, MAX_POINTS


class RoutePointSchema(ma.Schema):
    """One GPS fix (documents the shape; the points are checked by app/surveys/routes.py in one loop)."""

    t = ma.fields.String(
        required=True, metadata={"description": "ISO 8601 time of the fix; without an offset Asia/Shanghai"}
    )
    lat = ma.fields.Float(required=True, metadata={"description": "latitude in `crs`"})
    lon = ma.fields.Float(required=True, metadata={"description": "longitude in `crs`"})
    accuracy_m = ma.fields.Float(allow_none=True, metadata={"description": "the fix's accuracy radius (m)"})


class PointList(ma.fields.List):  # type: ignore[type-arg]
    """The points as a list of raw objects: each is checked (and named `points.<i>.<field>` when wrong) by
    the service in one plain loop, which a 10,000-point route needs (docs/surveys.md, Routes)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ma.fields.Nested(RoutePointSchema), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        return value


class PauseSchema(ma.Schema):
    """A pause of the route (lunch, a call): no fixes are recorded and the time is not survey effort."""

    started_at = LocalDateTime(required=True)
    ended_at = LocalDateTime(required=True)


class RouteCreateArgs(ma.Schema):
    client_uuid = ma.fields.UUID(
        required=True, metadata={"description": "made by the phone once per route; retries send the same one"}
    )
    campaign_id = ma.fields.Integer(required=True, validate=ID_RANGE)
    unit_id = ma.fields.Integer(
        allow_none=True, validate=ID_RANGE, metadata={"description": "a unit of the campaign being walked"}
    )
    started_at = LocalDateTime(required=True)
    ended_at = LocalDateTime(required=True)
    points = PointList(
        required=True,
        validate=ma.validate.Length(min=2, max=MAX_POINTS),
        metadata={"description": f"the fixes in time order, 2 to {MAX_POINTS}"},
    )
    crs = ma.fields.Enum(
        CRS,
        by_value=True,
        load_default=CRS.WGS84,
        metadata={"description": "the system lat/lon are in; gcj02 and bd09 are converted"},
    )
    notes = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=5000))
    pauses = ma.fields.List(
        ma.fields.Nested(PauseSchema),
        allow_none=True,
        validate=ma.validate.Length(max=MAX_PAUSES),
        metadata={
            "description": "the pauses the phone recorded, in time order, inside the route and not "
            "overlapping; without them the moving time is the elapsed time"
        },
    )
    dropped_point_count = ma.fields.Integer(
        allow_none=True,
        validate=ma.validate.Range(min=0, max=10 * MAX_POINTS),
        metadata={"description": "fixes left out when sending again a route refused for them"},
    )


class RouteQueryArgs(PageArgs):
    campaign_id = ma.fields.Integer(validate=ID_RANGE)
    surveyor_id = ma.fields.Integer(validate=ID_RANGE)
    unit_id = ma.fields.Integer(validate=ID_RANGE)


class RouteRecordSchema(ma.Schema):
    id = ma.fields.Integer()
    species_id = ma.fields.Integer()
    species_name = ma.fields.Function(lambda o: o.species.name_zh)
    detected = ma.fields.Boolean()
    observed_at = LocalDateTime()
    latitude = ma.fields.Float()
    longitude = ma.fields.Float()


class RouteSchema(ma.Schema):
    """A route without its points (lists)."""

    id = ma.fields.Integer()
    client_uuid = ma.fields.UUID()
    campaign_id = ma.fields.Integer(allow_none=True)
    unit_id = ma.fields.Integer(allow_none=True)
    unit_code = ma.fields.Function(lambda r: r.unit.unit_code if r.unit else None)
    surveyor_id = ma.fields.Integer()
    surveyor_name = ma.fields.Function(lambda r: r.surveyor.display_name)
    organization_id = ma.fields.Integer()
    started_at = LocalDateTime()
    ended_at = LocalDateTime()
    length_m = ma.fields.Float(metadata={"description": "geodesic length through the good fixes (m)"})
    length_km = ma.fields.Function(lambda r: round(r.length_m / 1000, 2))
    duration_s = ma.fields.Integer(metadata={"description": "elapsed, from start to end (s)"})
    moving_s = ma.fields.Integer(
        metadata={"description": "the elapsed time less the pauses (s): the survey effort"}
    )
    pauses = ma.fields.List(
        ma.fields.Dict(),
        allow_none=True,
        metadata={"description": "[{started_at, ended_at}] in UTC, or null"},
    )
    dropped_point_count = ma.fields.Integer(
        metadata={"description": "fixes the surveyor left out when sending again a refused route"}
    )
    point_count = ma.fields.Integer()
    poor_point_count = ma.fields.Integer(
        metadata={"description": "fixes less accurate than the records' low-accuracy limit"}
    )
    bbox = ma.fields.Function(
        lambda r: None if r.min_lon is None else [r.min_lon, r.min_lat, r.max_lon, r.max_lat],
        metadata={"description": "min_lon, min_lat, max_lon, max_lat (WGS-84)"},
    )
    notes = ma.fields.String(allow_none=True)
    created_at = LocalDateTime()


class RouteDetailSchema(RouteSchema):
    geometry = ma.fields.Dict(metadata={"description": "GeoJSON LineString (WGS-84) through the good fixes"})
    points = ma.fields.List(
        ma.fields.Dict(),
        metadata={"description": "every fix as sent (WGS-84, UTC): t, lat, lon, accuracy_m, poor"},
    )
    records = ma.fields.List(
        ma.fields.Nested(RouteRecordSchema), metadata={"description": "records made along the route"}
    )
