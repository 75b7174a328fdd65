from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint

from app.api import PageArgs, page_of, paginate
from app.district import outlines, services
from app.district.schemas import DistrictSchema, TownshipSchema, VillageQueryArgs, VillageSchema
from app.errors import NotFound

blp = Blueprint("District", __name__, description="The district, its townships and villages")


@blp.route("/district")
class DistrictItem(MethodView):
    @blp.response(200, DistrictSchema)
    def get(self) -> Any:
        """The district this installation serves, with its bounds"""
        district = services.get_district()
        if district is None:
            raise NotFound(_("No district has been loaded; run `flask district load`."))
        return district


@blp.route("/townships")
class Townships(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, page_of(TownshipSchema))
    def get(self, page: int, per_page: int) -> dict[str, Any]:
        """The district's townships (街道, 镇, 乡) with codes and old names"""
        return paginate(services.list_townships(), page=page, per_page=per_page)


@blp.route("/villages")
class Villages(MethodView):
    @blp.arguments(VillageQueryArgs, location="query", as_kwargs=True)
    @blp.response(200, page_of(VillageSchema))
    def get(
        self, page: int, per_page: int, township_code: str | None = None, q: str | None = None
    ) -> dict[str, Any]:
        """The district's villages and communities (村/社区), of one township or by name when asked"""
        return paginate(services.list_villages(township_code, q), page=page, per_page=per_page)


class OutlineArgs(ma.Schema):
    zoom = ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(min=0, max=outlines.MAX_ZOOM),
        metadata={"description": "the map's zoom: the outlines are simplified to about a pixel at it"},
    )


@blp.route("/boundaries/outlines")
class Outlines(MethodView):
    @blp.arguments(OutlineArgs, location="query", as_kwargs=True)
    @blp.response(200, description="A GeoJSON FeatureCollection (`level`, `code`, `name`, `label` point)")
    @blp.alt_response(304, description="Not modified (If-None-Match names the current ETag)")
    def get(self, zoom: int) -> Response:
        """The loaded district, township (and from zoom 12 village) outlines for the maps, for `zoom`

        Simplified to about a pixel at `zoom`; cached by the boundaries' version (ETag); empty when none
        are loaded (docs/contract.md §2).
        """
        tag, body = outlines.outlines(zoom)
        if tag in request.if_none_match:
            response = Response(status=304)
        else:
            response = Response(body, mimetype="application/geo+json")
        response.set_etag(tag)
        response.headers["Cache-Control"] = "private, no-cache"
        return response
