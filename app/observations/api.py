from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from app.api import page_of, paginate
from app.errors import InvalidInput
from app.observations import create, review, services
from app.observations.models import Observation
from app.observations.schemas import (
    GeoJSONQueryArgs,
    ObservationCreateArgs,
    ObservationQueryArgs,
    ObservationSchema,
    ObservationUpdateArgs,
    ReviewArgs,
    parse_bbox,
)
from app.photos.api import PhotoUploadArgs
from app.photos.api import blp as photos_blp
from app.photos.models import Photo
from app.photos.schemas import PhotoSchema

blp = Blueprint("Observations", __name__, description="Field observations: presence and absence records")


def _filters(args: dict[str, Any]) -> dict[str, Any]:
    filters = {k: v for k, v in args.items() if k not in {"page", "per_page"}}
    if "bbox" in filters:
        filters["bbox"] = parse_bbox(filters["bbox"])
    return filters


@blp.route("/observations")
class Observations(MethodView):
    @blp.arguments(ObservationQueryArgs, location="query")
    @blp.response(200, page_of(ObservationSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Observations matching the filters, newest first

        `from`/`to` are days in Asia/Shanghai, `to` inclusive; `bbox` is
        min_lon,min_lat,max_lon,max_lat in WGS-84.
        """
        return paginate(services.filtered(_filters(args)), page=args["page"], per_page=args["per_page"])

    # An instance, made once: given the class, webargs makes a schema (deep-copying its fields) per request.
    @blp.arguments(ObservationCreateArgs())
    @blp.response(201, ObservationSchema)
    @blp.alt_response(200, schema=ObservationSchema, description="A retry: the record made the first time")
    @blp.alt_response(409, description="The client_uuid was already used for a different record")
    def post(self, args: dict[str, Any]) -> tuple[Observation, int]:
        """Record an observation (presence or absence)

        Idempotent by `client_uuid`: sending the same record again returns it with 200. Checks that
        may be wrong in good faith become `flags` (low_accuracy, possible_duplicate, …), not errors.
        """
        observation, created = create.create_observation(actor=current_user, args=args)
        return observation, 201 if created else 200


@blp.route("/observations/geojson")
class ObservationsGeoJSON(MethodView):
    @blp.arguments(GeoJSONQueryArgs, location="query")
    @blp.response(200, description="A GeoJSON FeatureCollection with `total`, `page` and `per_page`")
    def get(self, args: dict[str, Any]) -> Response:
        """Observations matching the filters as GeoJSON points (WGS-84), for maps"""
        page = paginate(services.filtered(_filters(args)), page=args["page"], per_page=args["per_page"])
        # One field for the page: building a schema per feature cost ~1.5 ms each (bench/list_query.py).
        observed_at = ObservationSchema().fields["observed_at"]
        features = [
            {
                "type": "Feature",
                "id": o.id,
                "geometry": {"type": "Point", "coordinates": [o.longitude, o.latitude]},
                "properties": {
                    "species_id": o.species_id,
                    "species": o.species.name_zh,
                    "detected": o.detected,
                    "status": o.status.value,
                    "observed_at": observed_at.serialize("observed_at", o),
                    "site_id": o.site_id,
                    "township_code": o.township.code if o.township else None,
                    "severity": o.severity,
                    "flags": o.flags,
                },
            }
            for o in page["items"]
        ]
        response = jsonify(
            {
                "type": "FeatureCollection",
                "features": features,
                "total": page["total"],
                "page": page["page"],
                "per_page": page["per_page"],
            }
        )
        response.mimetype = "application/geo+json"
        return response


@blp.route("/observations/<int:observation_id>")
class ObservationItem(MethodView):
    @blp.response(200, ObservationSchema)
    def get(self, observation_id: int) -> Observation:
        """One observation with its photos, flags and review"""
        return services.get_observation(observation_id)

    @blp.arguments(ObservationUpdateArgs)
    @blp.response(200, ObservationSchema)
    @blp.alt_response(409, description="Already verified or rejected")
    def patch(self, args: dict[str, Any], observation_id: int) -> Observation:
        """Edit a record (its surveyor, while submitted or returned); a returned record is resubmitted"""
        if not args:
            raise InvalidInput(_("Send at least one field to change."), {"_schema": [_("empty body")]})
        observation = services.update_observation(
            actor=current_user, observation=services.get_observation(observation_id), changes=args
        )
        return observation


@blp.route("/observations/<int:observation_id>/review")
class ObservationReview(MethodView):
    @blp.arguments(ReviewArgs)
    @blp.response(200, ObservationSchema)
    @blp.alt_response(409, description="The record is not awaiting review")
    def post(self, args: dict[str, Any], observation_id: int) -> Observation:
        """Verify, reject or return a record (a verifier of the organization that made it)

        Rejecting or returning needs a `comment`; the surveyor sees it and can edit a returned record.
        """
        observation = review.review_observation(
            actor=current_user,
            observation=services.get_observation(observation_id),
            decision=args["decision"],
            comment=args.get("comment"),
            client_uuid=args.get("client_uuid"),
        )
        return observation


@photos_blp.route("/observations/<int:observation_id>/photos")
class ObservationPhotos(MethodView):
    @photos_blp.arguments(PhotoUploadArgs, location="files")
    @photos_blp.response(201, PhotoSchema)
    @photos_blp.alt_response(200, schema=PhotoSchema, description="The same photo was already attached")
    @photos_blp.alt_response(409, description="The record has been reviewed")
    @photos_blp.alt_response(422, description="A damaged or incomplete image")
    def post(self, args: dict[str, Any], observation_id: int) -> tuple[Photo, int]:
        """Attach a photo (multipart field `file`)

        The original is kept privately; display (≤ 1600 px) and thumbnail (≤ 320 px) copies are made
        without any metadata. EXIF time and GPS are read from the original; a photo whose GPS is far
        from the record's position flags the record `photo_gps_far`.
        """
        upload = args["file"]
        photo, created = services.add_photo(
            actor=current_user,
            observation=services.get_observation(observation_id),
            data=upload.read(),
            filename=upload.filename,
        )
        return photo, 201 if created else 200
