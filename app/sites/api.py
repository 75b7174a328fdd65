from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api import page_of, paginate
from app.sites import services
from app.sites.schemas import SiteQueryArgs, SiteSchema

blp = Blueprint("Sites", __name__, description="Sites (发生点): places surveyed and treated over time")


@blp.route("/sites")
class Sites(MethodView):
    @blp.arguments(SiteQueryArgs, location="query")
    @blp.response(200, page_of(SiteSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Sites, most recently observed first"""
        filters = {k: v for k, v in args.items() if k not in {"page", "per_page"}}
        return paginate(services.filtered(filters), page=args["page"], per_page=args["per_page"])
