from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api import page_of, paginate
from app.sites import services
from app.sites.history import SiteHistory, site_history
from app.sites.schemas import SiteDetailSchema, SiteQueryArgs, SiteSchema

blp = Blueprint("Sites", __name__, description="Sites (发生点): places surveyed and treated over time")


@blp.route("/sites")
class Sites(MethodView):
    @blp.arguments(SiteQueryArgs, location="query")
    @blp.response(200, page_of(SiteSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Sites, most recently observed first"""
        filters = {k: v for k, v in args.items() if k not in {"page", "per_page"}}
        return paginate(services.filtered(filters), page=args["page"], per_page=args["per_page"])


@blp.route("/sites/<int:site_id>")
class SiteItem(MethodView):
    @blp.response(200, SiteDetailSchema)
    def get(self, site_id: int) -> SiteHistory:
        """A site with its observations, control operations and follow-ups in time order"""
        return site_history(services.get_site(site_id))
