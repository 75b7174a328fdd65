"""A site with its history, as GET /api/v1/sites/{id} answers."""

from __future__ import annotations

import marshmallow as ma

from app.api import LocalDateTime
from app.observations.schemas import ObservationSchema
from app.sites.schemas import SiteSchema


class TimelineEntrySchema(ma.Schema):
    kind = ma.fields.String(
        metadata={"description": "observation, control_operation, follow_up or plot (样地, with its figures)"}
    )
    at = LocalDateTime()
    id = ma.fields.Integer()
    summary = ma.fields.String()


class SiteDetailSchema(SiteSchema):
    """A site with its history (an `app.timeline.services.SiteHistory`)."""

    observations = ma.fields.List(ma.fields.Nested(ObservationSchema))
    timeline = ma.fields.List(
        ma.fields.Nested(TimelineEntrySchema),
        metadata={"description": "everything that happened at the site, in time order"},
    )
