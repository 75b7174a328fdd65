from __future__ import annotations

import marshmallow as ma

from app.api import ID_RANGE, LocalDateTime, PageArgs
from app.sites.models import SiteStatus


class SiteQueryArgs(PageArgs):
    species_id = ma.fields.Integer(validate=ID_RANGE)
    township_code = ma.fields.String(validate=ma.validate.Length(max=50))
    status = ma.fields.Enum(SiteStatus, by_value=True)


class SpeciesRefSchema(ma.Schema):
    id = ma.fields.Integer()
    name_zh = ma.fields.String()
    name_sci = ma.fields.String()


class SiteSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String(metadata={"description": "township code and serial, e.g. 500155101-0007"})
    species_id = ma.fields.Integer()
    species = ma.fields.Nested(SpeciesRefSchema)
    status = ma.fields.Enum(SiteStatus, by_value=True)
    latitude = ma.fields.Float()
    longitude = ma.fields.Float()
    extent = ma.fields.Dict(
        allow_none=True,
        metadata={"description": "the union of its records' area polygons (WGS-84 GeoJSON); null without"},
    )
    extent_area_m2 = ma.fields.Float(allow_none=True, metadata={"description": "the extent's area in m²"})
    township_code = ma.fields.Function(lambda s: s.township.code if s.township else None)
    township_name = ma.fields.Function(lambda s: s.township.name_zh if s.township else None)
    place_name = ma.fields.String(allow_none=True)
    habitat = ma.fields.Function(lambda s: s.habitat.code if s.habitat else None)
    organization = ma.fields.Function(lambda s: s.organization.code)
    first_observed_at = LocalDateTime()
    last_observed_at = LocalDateTime()
    created_at = LocalDateTime()
