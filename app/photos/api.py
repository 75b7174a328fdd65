from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, send_file
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from flask_smorest.fields import Upload

from app.control.schemas import StagedPhotoSchema
from app.control.services import get_operation
from app.observations.schemas import PhotoSchema
from app.observations.services import get_observation
from app.photos import services
from app.photos.models import Photo

blp = Blueprint("Photos", __name__, description="Photos of observations")


class PhotoUploadArgs(ma.Schema):
    file = Upload(required=True, metadata={"description": "JPEG, PNG, WebP or HEIC"})


@blp.route("/observations/<int:observation_id>/photos")
class ObservationPhotos(MethodView):
    @blp.arguments(PhotoUploadArgs, location="files")
    @blp.response(201, PhotoSchema)
    @blp.alt_response(200, schema=PhotoSchema, description="The same photo was already attached")
    @blp.alt_response(409, description="The record has been reviewed")
    @blp.alt_response(422, description="A damaged or incomplete image")
    def post(self, args: dict[str, Any], observation_id: int) -> tuple[Photo, int]:
        """Attach a photo (multipart field `file`)

        The original is kept privately; display (≤ 1600 px) and thumbnail (≤ 320 px) copies are made
        without any metadata. EXIF time and GPS are read from the original; a photo whose GPS is far
        from the record's position flags the record `photo_gps_far`.
        """
        upload = args["file"]
        observation = get_observation(observation_id)
        photo, created = services.add_photo(
            actor=current_user, observation=observation, data=upload.read(), filename=upload.filename
        )
        return photo, 201 if created else 200


class StageArgs(ma.Schema):
    stage = ma.fields.String(
        load_default="before",
        validate=ma.validate.OneOf(["before", "after"]),
        metadata={"description": "before or after the treatment"},
    )


@blp.route("/control-operations/<int:operation_id>/photos")
class OperationPhotos(MethodView):
    @blp.arguments(PhotoUploadArgs, location="files")
    @blp.arguments(StageArgs, location="query")
    @blp.response(201, StagedPhotoSchema)
    @blp.alt_response(200, schema=StagedPhotoSchema, description="The same photo was already attached")
    @blp.alt_response(422, description="A damaged or incomplete image")
    def post(self, args: dict[str, Any], form: dict[str, Any], operation_id: int) -> tuple[Photo, int]:
        """Attach a before or after photo to a control operation (multipart `file`; `?stage=before|after`)"""
        upload = args["file"]
        photo, created = services.add_photo(
            actor=current_user,
            operation=get_operation(operation_id),
            stage=form["stage"],
            data=upload.read(),
            filename=upload.filename,
        )
        return photo, 201 if created else 200


@blp.route("/photos/<int:photo_id>/<any(thumb, display, original):variant>")
class PhotoFile(MethodView):
    @blp.alt_response(403, description="An original of another organization's record")
    @blp.doc(
        responses={
            "200": {
                "description": "The image: JPEG for thumb and display, the uploaded type for original",
                "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    )
    def get(self, photo_id: int, variant: str) -> Response:
        """A photo's thumbnail, display copy or original

        Thumbnails and display copies (no metadata) for everyone signed in; the original, with the
        camera's GPS, for the recording organization's staff and admins only, each download audited
        and never kept in the browser's cache.
        """
        photo = services.get_photo(photo_id)
        path, mimetype = services.file_of(photo, variant)
        if variant == "original":
            services.check_may_download_original(current_user, photo)
        response = send_file(path, mimetype=mimetype, etag=f"{photo.sha256}-{variant}", conditional=True)
        response.headers["Cache-Control"] = (
            "no-store" if variant == "original" else "private, max-age=86400, immutable"
        )
        return response
