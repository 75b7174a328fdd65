from __future__ import annotations

import marshmallow as ma
from flask import Response, send_file
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from flask_smorest.fields import Upload

from app.photos import services

# The uploads (POST /observations/{id}/photos, /control-operations/{id}/photos) are declared on this
# blueprint by observations' and control's APIs: who may add a photo is their rule (docs/architecture.md).
blp = Blueprint("Photos", __name__, description="Photos of observations")


class PhotoUploadArgs(ma.Schema):
    file = Upload(required=True, metadata={"description": "JPEG, PNG, WebP or HEIC"})


class StageArgs(ma.Schema):
    stage = ma.fields.String(
        load_default="before",
        validate=ma.validate.OneOf(["before", "after"]),
        metadata={"description": "before or after the treatment"},
    )


@blp.route("/photos/<int:photo_id>/<any(thumb, display, original):variant>")
class PhotoFile(MethodView):
    @blp.alt_response(403, description="An original of another organization's record")
    @blp.alt_response(404, description="No such photo, or its file is missing on the server")
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
        if variant == "original":
            services.check_may_download_original(current_user, photo)
        path, mimetype = services.file_of(photo, variant)  # a 404 drops the audit row with the request
        response = send_file(path, mimetype=mimetype, etag=f"{photo.sha256}-{variant}", conditional=True)
        response.headers["Cache-Control"] = (
            "no-store" if variant == "original" else "private, max-age=86400, immutable"
        )
        return response
