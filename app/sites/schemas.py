from __future__ import annotations

import marshmallow as ma

from app.api import ID_RANGE, LocalDateTime, PageArgs
from app.observations.schemas import ObservationSchema, SpeciesRefSchema
from app.sites.models import SiteStatus


class SiteQueryArgs(PageArgs):
    species_id = ma.fields.Integer(validate=ID_RANGE)
    township_code = ma.fields.String(validate=ma.validate.Length(max=50))
    status = ma.fields.Enum(SiteStatus, by_value=True)


class SiteSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String(metadata={"description": "township code and serial, e.g. 500155101-0007"})
    species_id = ma.fields.Integer()
    species = ma.fields.Nested(SpeciesRefSchema)
    status = ma.fields.Enum(SiteStatus, by_value=True)
    latitude = ma.fields.Float()
    longitude = ma.fields.Float()
    township_code = ma.fields.Function(lambda s: s.township.code if s.township else None)
    township_name = ma.fields.Function(lambda s: s.township.name_zh if s.township else None)
    place_name = ma.fields.String(allow_none=True)
    habitat = ma.fields.Function(lambda s: s.habitat.code if s.habitat else None)
    organization = ma.fields.Function(lambda s: s.organization.code)
    first_observed_at = LocalDateTime()
    last_observed_at = LocalDateTime()
    created_at = LocalDateTime()


class TimelineEntrySchema(ma.Schema):
    kind = ma.fields.String(metadata={"description": "observation, control_operation or follow_up"})
    at = LocalDateTime()
    id = ma.fields.Integer()
    summary = ma.fields.String()


class SiteDetailSchema(SiteSchema):
    """A site with its history (an `app.sites.api.SiteHistory`)."""

    observations = ma.fields.List(ma.fields.Nested(ObservationSchema))
    timeline = ma.fields.List(
        ma.fields.Nested(TimelineEntrySchema),
        metadata={"description": "everything that happened at the site, in time order"},
    )
