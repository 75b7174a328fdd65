from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.orm import joinedload

from app.api import page_of, paginate
from app.district.services import find_townships
from app.errors import InvalidInput
from app.sites.models import Site
from app.sites.schemas import SiteQueryArgs, SiteSchema

blp = Blueprint("Sites", __name__, description="Sites (发生点): places surveyed and treated over time")


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
