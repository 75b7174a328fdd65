"""Surveys API: routes (踏查路线, docs/surveys.md, Routes)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from app.api import page_of, paginate
from app.errors import TooLarge
from app.surveys import routes as services
from app.surveys import tracks
from app.surveys.api import blp
from app.surveys.models import Route
from app.surveys.schemas.routes import RouteCreateArgs, RouteDetailSchema, RouteQueryArgs, RouteSchema


def _bounded_body() -> None:
    """A route body is at most MAX_BODY_BYTES (50,000 points fit): refused before it is read."""
    if (request.content_length or 0) > tracks.MAX_BODY_BYTES:
        raise TooLarge(
            _("A route may be at most %(mb)d MB.", mb=tracks.MAX_BODY_BYTES // (1024 * 1024)),
            {"points": [_("at most %(n)d points", n=tracks.MAX_POINTS)]},
        )


@blp.route("/routes")
class Routes(MethodView):
    @blp.arguments(RouteQueryArgs, location="query")
    @blp.response(200, page_of(RouteSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Routes walked (those of the organizations the caller acts for), newest first, without points"""
        filters = {k: v for k, v in args.items() if k not in {"page", "per_page"}}
        return paginate(
            services.filtered(current_user, filters), page=args["page"], per_page=args["per_page"]
        )

    @blp.arguments(RouteCreateArgs)
    @blp.response(201, RouteSchema)
    @blp.alt_response(200, schema=RouteSchema, description="A retry: the route stored the first time")
    @blp.alt_response(409, description="The client_uuid was already used for a different route")
    @blp.alt_response(413, description="More than the largest route body")
    def post(self, args: dict[str, Any]) -> tuple[Route, int]:
        """Store a walked route (its points, LineString, length and duration)

        Idempotent by `client_uuid`. Points are `{t, lat, lon, accuracy_m}` in time order, within the
        route's start and end and inside the district; a wrong one is named `points.<i>.<field>`. Fixes
        less accurate than the records' low-accuracy limit are kept and marked `poor`. The answer is
        the route's figures without its points (the phone has them): GET /routes/{id} has everything.
        """
        route, created = services.create_route(actor=current_user, args=args)
        return route, 201 if created else 200


@blp.before_request
def _limit_route_body() -> None:
    if request.method == "POST" and request.path.rstrip("/").endswith("/routes"):
        _bounded_body()


def _detail(route: Route) -> Route:
    """The route with the records made along it (a plain attribute the detail schema dumps)."""
    route.records = services.records_along(route)
    return route


@blp.route("/routes/<int:route_id>")
class RouteItem(MethodView):
    @blp.response(200, RouteDetailSchema)
    def get(self, route_id: int) -> Route:
        """One route with its LineString, figures, every point and the records made along it"""
        return _detail(services.get_route(current_user, route_id))


@blp.route("/routes/<int:route_id>/geojson")
class RouteGeoJSON(MethodView):
    @blp.response(200, description="A GeoJSON Feature: the route's LineString with its figures")
    def get(self, route_id: int) -> Response:
        """The route as a GeoJSON Feature (WGS-84), for maps and GIS"""
        route = services.get_route(current_user, route_id)
        properties = RouteSchema().dump(route)
        response = jsonify(
            {"type": "Feature", "id": route.id, "geometry": route.geometry, "properties": properties}
        )
        response.mimetype = "application/geo+json"
        return response
