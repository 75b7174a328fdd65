"""What the API says about a photo (of an observation, or of a control operation before or after it)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import url_for
from flask_login import current_user

from app.api import LocalDateTime
from app.photos.services import may_see_original


def _shows_exif_position(photo: Any) -> bool:
    """The position read from an original's EXIF is the original's (where the phone was, perhaps a
    home): only for those who may download the original, like the file itself (app/photos/services.py)."""
    return bool(current_user.is_authenticated) and may_see_original(current_user, photo)


class PhotoSchema(ma.Schema):
    id = ma.fields.Integer()
    observation_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "null on a control operation's or a plot's photo"}
    )
    plot_id = ma.fields.Integer(allow_none=True, metadata={"description": "the survey plot's photos only"})
    sha256 = ma.fields.String()
    mime_type = ma.fields.String()
    size_bytes = ma.fields.Integer()
    width = ma.fields.Integer()
    height = ma.fields.Integer()
    taken_at = LocalDateTime(allow_none=True)
    gps = ma.fields.Method(
        "_gps",
        metadata={
            "description": "from the photo's EXIF, when the phone kept it; null for those who may not "
            "have the original (docs/contract.md §6)"
        },
    )
    gps_distance_m = ma.fields.Float(
        allow_none=True,
        metadata={"description": "from the record's position to `gps` (m); null when `gps` is"},
    )
    thumb_url = ma.fields.Method("_thumb_url")
    display_url = ma.fields.Method("_display_url")
    original_url = ma.fields.Method("_original_url")
    created_at = LocalDateTime()

    def _gps(self, photo: Any) -> dict[str, Any] | None:
        if photo.gps_latitude is None:
            return None
        return {
            "latitude": photo.gps_latitude,
            "longitude": photo.gps_longitude,
            "altitude_m": photo.gps_altitude_m,
        }

    @ma.post_dump(pass_original=True)
    def _withhold_exif_position(self, data: dict[str, Any], photo: Any, **kwargs: Any) -> dict[str, Any]:
        if data.get("gps") is not None and not _shows_exif_position(photo):
            data["gps"] = data["gps_distance_m"] = None
        return data

    @staticmethod
    def _url(photo: Any, variant: str) -> str:
        return url_for("Photos.PhotoFile", photo_id=photo.id, variant=variant)

    def _thumb_url(self, photo: Any) -> str:
        return self._url(photo, "thumb")

    def _display_url(self, photo: Any) -> str:
        return self._url(photo, "display")

    def _original_url(self, photo: Any) -> str:
        return self._url(photo, "original")


class StagedPhotoSchema(PhotoSchema):
    stage = ma.fields.String(metadata={"description": "before or after the treatment"})
