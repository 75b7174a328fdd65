from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import lazy_gettext as _l

from app import metrics, units
from app.api import ID_RANGE, MAX_ID, LocalDateTime, PageArgs, WorkDay
from app.geo.crs import CRS
from app.observations.models import Flag, PositionSource, ReviewStatus
from app.pages import local_path
from app.paging import PageNumberArgs
from app.photos.schemas import PhotoSchema
from app.sites.schemas import SpeciesRefSchema


def _range(metric: metrics.Metric) -> ma.validate.Range:
    return ma.validate.Range(min=metric.minimum, max=metric.maximum)


def GeometryField(**kwargs: Any) -> ma.fields.Dict:
    """An area polygon (docs/contract.md §2 Area): checked as a whole with the record (app/geo/areas.py)."""
    return ma.fields.Dict(
        allow_none=True,
        metadata={
            "description": "发生范围: a GeoJSON Polygon or MultiPolygon in `crs` (closed rings of "
            "[longitude, latitude], ≥ 3 distinct points, not crossing itself, inside the district); its "
            "geodesic area fills area_m2 when that is not given",
            "example": {
                "type": "Polygon",
                "coordinates": [[[107.8, 30.67], [107.801, 30.67], [107.801, 30.671], [107.8, 30.67]]],
            },
        },
        **kwargs,
    )


class MetricsFields(ma.Schema):
    """The survey metrics with their ranges (contract §2); null means "not measured". Which apply depends
    on the species (GET /api/v1/species/{id} `metrics`)."""

    area_m2 = ma.fields.Float(
        allow_none=True,
        validate=_range(metrics.AREA),
        metadata={"description": "发生面积 in m² (shown in 亩)"},
    )
    cover_pct = ma.fields.Float(allow_none=True, validate=_range(metrics.COVER))
    density_per_m2 = ma.fields.Float(allow_none=True, validate=_range(metrics.DENSITY))
    egg_masses_per_m2 = ma.fields.Float(allow_none=True, validate=_range(metrics.EGG_MASSES))
    count = ma.fields.Integer(allow_none=True, strict=True, validate=_range(metrics.COUNT))
    severity = ma.fields.Integer(
        allow_none=True,
        strict=True,
        validate=ma.validate.Range(min=metrics.SEVERITY_MIN, max=metrics.SEVERITY_MAX),
        metadata={"description": "1 轻发生 … 5 大发生; derived from the species' thresholds when omitted"},
    )


class ObservationFieldsArgs(MetricsFields):
    """Fields a surveyor sets, on create and on edit."""

    species_id = ma.fields.Integer(required=True, validate=ID_RANGE)
    detected = ma.fields.Boolean(
        load_default=True,
        metadata={"description": "false: the species was searched for here and not found (absence)"},
    )
    observed_at = LocalDateTime(
        required=True, metadata={"description": "ISO 8601; without an offset it is Asia/Shanghai time"}
    )
    latitude = ma.fields.Float(required=True, validate=ma.validate.Range(min=-90, max=90))
    longitude = ma.fields.Float(required=True, validate=ma.validate.Range(min=-180, max=180))
    crs = ma.fields.Enum(
        CRS,
        by_value=True,
        load_default=CRS.WGS84,
        metadata={"description": "the system latitude/longitude are in; gcj02 and bd09 are converted"},
    )
    geometry = GeometryField()
    accuracy_m = ma.fields.Float(allow_none=True, validate=ma.validate.Range(min=0, max=100_000))
    altitude_m = ma.fields.Float(allow_none=True, validate=ma.validate.Range(min=-500, max=9000))
    position_source = ma.fields.Enum(PositionSource, by_value=True, load_default=PositionSource.GPS)
    township_code = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(min=1, max=50),
        metadata={"description": "9-digit code (or name); derived from boundaries when omitted"},
    )
    village_code = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(min=1, max=50),
        metadata={"description": "12-digit code (or short name) of a village of the township; implies it"},
    )
    place_name = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    habitat = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(min=1, max=50),
        metadata={"description": "a code from GET /api/v1/habitats (place type or land class)"},
    )
    notes = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=5000))


class ObservationCreateArgs(ObservationFieldsArgs):
    client_uuid = ma.fields.UUID(
        required=True,
        metadata={"description": "made by the client once per record; retries send the same one"},
    )
    # docs/surveys.md: a record made for a survey campaign, and while a 踏查 route ran (the route's own
    # client_uuid: the route may reach the server after its records).
    campaign_id = ma.fields.Integer(
        allow_none=True, validate=ID_RANGE, metadata={"description": "the survey campaign it was made for"}
    )
    route_uuid = ma.fields.UUID(
        allow_none=True,
        metadata={"description": "client_uuid of the route that was running when it was made"},
    )


class ObservationUpdateArgs(ObservationFieldsArgs):
    """Any subset of the fields; the record is checked again as a whole."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=True, **kwargs)


class ObservationQueryArgs(PageArgs):
    species_id = ma.fields.Integer(validate=ID_RANGE)
    township_code = ma.fields.String(validate=ma.validate.Length(max=50))
    village_code = ma.fields.String(
        validate=ma.validate.Length(max=50), metadata={"description": "12-digit code (or short name)"}
    )
    status = ma.fields.Enum(ReviewStatus, by_value=True)
    detected = ma.fields.Boolean()
    from_ = WorkDay(data_key="from", metadata={"description": "first day (Asia/Shanghai)"})
    to = WorkDay(metadata={"description": "last day, inclusive (Asia/Shanghai)"})
    bbox = ma.fields.String(metadata={"description": "min_lon,min_lat,max_lon,max_lat (WGS-84)"})
    surveyor_id = ma.fields.Integer(validate=ID_RANGE)
    organization = ma.fields.String(validate=ma.validate.Length(max=64))
    site_id = ma.fields.Integer(validate=ID_RANGE)
    flag = ma.fields.Enum(Flag, by_value=True)

    @ma.validates("bbox")
    def _check_bbox(self, value: str, **kwargs: Any) -> None:
        parse_bbox(value)

    @ma.validates_schema
    def _check_range(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ma.ValidationError("must not be before from", "to")


class RecordFilterArgs(PageNumberArgs):
    """The records page's filters and page number (its query string, read by app/pages.py)."""

    scope = ma.fields.String(metadata={"description": "all: the district's records (desk roles)"})
    status = ma.fields.Enum(ReviewStatus, by_value=True, error_messages={"unknown": _l("Unknown status.")})
    species_id = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=MAX_ID, error=_l("Unknown species.")),
        error_messages={"invalid": _l("Unknown species.")},
    )
    township_code = ma.fields.String()


class GeoJSONQueryArgs(ObservationQueryArgs):
    # A map layer wants more points than a list page; still bounded.
    per_page = ma.fields.Integer(load_default=1000, validate=ma.validate.Range(min=1, max=5000))


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    try:
        parts = [float(p) for p in value.split(",")]
    except ValueError:
        raise ma.ValidationError("must be four numbers: min_lon,min_lat,max_lon,max_lat") from None
    if len(parts) != 4 or any(p != p for p in parts):
        raise ma.ValidationError("must be four numbers: min_lon,min_lat,max_lon,max_lat")
    min_lon, min_lat, max_lon, max_lat = parts
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ma.ValidationError("must have min ≤ max, longitudes within ±180 and latitudes within ±90")
    return min_lon, min_lat, max_lon, max_lat


class ReviewArgs(ma.Schema):
    decision = ma.fields.Enum(
        ReviewStatus,
        by_value=True,
        required=True,
        validate=ma.validate.OneOf([ReviewStatus.VERIFIED, ReviewStatus.REJECTED, ReviewStatus.RETURNED]),
        metadata={"description": "verified, rejected or returned"},
    )
    comment = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=2000),
        metadata={"description": "required to reject or return: the surveyor sees it"},
    )
    client_uuid = ma.fields.UUID(
        allow_none=True,
        metadata={"description": "made once per review; the same review sent again is not applied twice"},
    )


# ---------------------------------------------------------------------------------------------
# Output


class GpsSchema(ma.Schema):
    latitude = ma.fields.Float()
    longitude = ma.fields.Float()
    altitude_m = ma.fields.Float(allow_none=True)


class ObservationSchema(MetricsFields):
    id = ma.fields.Integer()
    client_uuid = ma.fields.UUID()
    species_id = ma.fields.Integer()
    species = ma.fields.Nested(SpeciesRefSchema)
    site_id = ma.fields.Integer(allow_none=True)
    site_code = ma.fields.Function(lambda o: o.site.code if o.site else None)
    detected = ma.fields.Boolean()
    observed_at = LocalDateTime()
    latitude = ma.fields.Float(metadata={"description": "WGS-84"})
    longitude = ma.fields.Float(metadata={"description": "WGS-84"})
    geometry = ma.fields.Dict(allow_none=True, metadata={"description": "the area polygon, WGS-84 GeoJSON"})
    geometry_area_m2 = ma.fields.Float(
        allow_none=True, metadata={"description": "the polygon's geodesic area in m² (even when typed)"}
    )
    accuracy_m = ma.fields.Float(allow_none=True)
    altitude_m = ma.fields.Float(allow_none=True)
    position_source = ma.fields.Enum(PositionSource, by_value=True)
    township_code = ma.fields.Function(lambda o: o.township.code if o.township else None)
    township_name = ma.fields.Function(lambda o: o.township.name_zh if o.township else None)
    village_code = ma.fields.Function(lambda o: o.village.code if o.village else None)
    village_name = ma.fields.Function(lambda o: o.village.short_name if o.village else None)
    place_name = ma.fields.String(allow_none=True)
    habitat = ma.fields.Function(lambda o: o.habitat.code if o.habitat else None)
    habitat_class = ma.fields.Function(lambda o: o.habitat.land_class.code if o.habitat else None)
    area_mu = ma.fields.Function(
        lambda o: units.to_mu(o.area_m2),
        metadata={"description": "area_m2 in 亩 (1 亩 = 666.67 m²)"},
    )
    status = ma.fields.Enum(ReviewStatus, by_value=True)
    flags = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([f.value for f in Flag])),
        metadata={"description": "things to look at again: " + ", ".join(f.value for f in Flag)},
    )
    duplicate_of_id = ma.fields.Integer(allow_none=True)
    review_comment = ma.fields.String(allow_none=True)
    reviewed_by_id = ma.fields.Integer(allow_none=True)
    reviewed_at = LocalDateTime(allow_none=True)
    surveyor_id = ma.fields.Integer()
    surveyor_name = ma.fields.Function(lambda o: o.surveyor.display_name)
    legacy_surveyor = ma.fields.String(
        allow_none=True,
        metadata={"description": "the surveyor a legacy workbook named when no colleague matched"},
    )
    organization = ma.fields.Function(lambda o: o.organization.code)
    photos = ma.fields.List(ma.fields.Nested(PhotoSchema))
    notes = ma.fields.String(allow_none=True)
    campaign_id = ma.fields.Integer(allow_none=True)
    route_uuid = ma.fields.UUID(allow_none=True)
    created_at = LocalDateTime()
    updated_at = LocalDateTime()


# The record pages' forms (a page's input, read by app/pages.py).


class ReviewForm(ReviewArgs):
    """The review form: the API's review, and the page to go back to."""

    next = ma.fields.String(validate=local_path)


class RecordEditArgs(ma.Schema):
    """The short edit form's query string: `quick` asks for it instead of the full record form."""

    quick = ma.fields.Boolean(error_messages={"invalid": _l("use 1 or 0")})


EDIT_TEXT_MAX = 10_000  # characters of one input; the API's own limits then apply (ObservationUpdateArgs)


EDIT_INPUTS = (
    "detected",
    *(metric.input_name for metric in metrics.METRICS),
    "severity",
    "place_name",
    "habitat",
    "notes",
)
# The short edit form's inputs, as typed (blank: cleared), read with their blanks; app/observations/views.py
# turns them into the API's PATCH fields, in the form's units, and the API's own limits then apply.
RecordEditForm = ma.Schema.from_dict(
    {
        name: ma.fields.String(
            validate=ma.validate.Length(max=EDIT_TEXT_MAX, error=_l("type at most 10000 characters"))
        )
        for name in EDIT_INPUTS
    },
    name="RecordEditForm",
)
