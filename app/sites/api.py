from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from sqlalchemy.orm import joinedload

from app.api import page_of, paginate
from app.clock import local_zone
from app.control import services as control
from app.control.services import FOLLOW_UP_LABELS
from app.district.services import find_townships
from app.errors import InvalidInput
from app.observations import services as observations
from app.observations.models import Observation
from app.observations.services import STATUS_LABELS
from app.sites import services
from app.sites.models import Site
from app.sites.schemas import SiteDetailSchema, SiteQueryArgs, SiteSchema

blp = Blueprint("Sites", __name__, description="Sites (发生点): places surveyed and treated over time")


@dataclass
class TimelineEntry:
    kind: str
    at: datetime
    id: int
    summary: str


@dataclass
class SiteHistory:
    """A site and what happened there; reads through to the site for its own fields."""

    site: Site
    observations: list[Observation]
    timeline: list[TimelineEntry] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.site, name)


def _observation_entry(o: Observation) -> TimelineEntry:
    if o.detected:
        figures = [
            f"{label} {value:g}"
            for label, value in (
                (_("density per m²"), o.density_per_m2),
                (_("egg masses per m²"), o.egg_masses_per_m2),
                (_("cover %"), o.cover_pct),
                (_("count"), o.count),
            )
            if value is not None
        ]
        summary = _("found") + (f" ({', '.join(figures)})" if figures else "")
    else:
        summary = _("not found")
    return TimelineEntry("observation", o.observed_at, o.id, f"{summary}; {STATUS_LABELS[o.status]}")


@blp.route("/sites")
class Sites(MethodView):
    @blp.arguments(SiteQueryArgs, location="query")
    @blp.response(200, page_of(SiteSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Sites, most recently observed first"""
        stmt = sa.select(Site).options(
            joinedload(Site.species),
            joinedload(Site.township),
            joinedload(Site.habitat),
            joinedload(Site.organization),
        )
        if "species_id" in args:
            stmt = stmt.where(Site.species_id == args["species_id"])
        if "status" in args:
            stmt = stmt.where(Site.status == args["status"])
        if "township_code" in args:
            townships = find_townships(args["township_code"])
            if not townships:
                raise InvalidInput.field("township_code", "unknown township")
            stmt = stmt.where(Site.township_id.in_([t.id for t in townships]))
        stmt = stmt.order_by(Site.last_observed_at.desc(), Site.id.desc())
        return paginate(stmt, page=args["page"], per_page=args["per_page"])


@blp.route("/sites/<int:site_id>")
class SiteItem(MethodView):
    @blp.response(200, SiteDetailSchema)
    def get(self, site_id: int) -> SiteHistory:
        """A site with its observations, control operations and follow-ups in time order"""
        site = services.get_site(site_id)
        records = observations.at_site(site.id)
        entries = [_observation_entry(o) for o in records]
        for operation in control.operations_at_site(site.id):
            entries.append(
                TimelineEntry(
                    "control_operation", operation.performed_at, operation.id, operation.method.name_zh
                )
            )
        for follow_up in control.follow_ups_at_site(site.id):
            when = follow_up.completed_at or datetime.combine(follow_up.due_on, time(9), tzinfo=local_zone())
            summary = f"{follow_up.due_on.isoformat()} {FOLLOW_UP_LABELS[follow_up.status]}"
            entries.append(TimelineEntry("follow_up", when, follow_up.id, summary))
        timeline = sorted(entries, key=lambda e: (e.at, e.kind, e.id))
        return SiteHistory(site=site, observations=records, timeline=timeline)
