"""Adding photos to observations: process, store, de-duplicate, corroborate the position.

The bytes are processed (app.photos.processing) before anything is written; the files are written
before the row, and removed again if the row does not land, so a rejected or failed upload leaves no file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app import policy
from app.accounts.models import User
from app.audit.services import record_event
from app.clock import local_zone
from app.control.models import ControlOperation
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ServiceError
from app.extensions import db
from app.observations.models import Observation
from app.observations.services import EDITABLE, STATUS_LABELS, refresh_photo_flag
from app.photos.models import Photo
from app.photos.processing import PhotoRejected, ProcessedPhoto, RejectReason, process_photo, sha256_of
from app.storage import LocalStorage, Storage, new_key

VARIANTS = ("thumb", "display", "original")


class PayloadTooLarge(ServiceError):
    status_code = 413


class UnsupportedMediaType(ServiceError):
    status_code = 415


def storage() -> Storage:
    return LocalStorage(Path(current_app.config["IAS_STORAGE_DIR"]))


def _rejection(error: PhotoRejected) -> ServiceError:
    """What a person is told about a file that cannot be a photo, and with which status."""
    limit_mb = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    megapixels = current_app.config["IAS_PHOTO_MAX_PIXELS"] / 1_000_000
    messages: dict[RejectReason, tuple[type[ServiceError], str]] = {
        RejectReason.UNSUPPORTED_TYPE: (
            UnsupportedMediaType,
            _("Only JPEG, PNG, WebP and HEIC photos are accepted."),
        ),
        RejectReason.NOT_AN_IMAGE: (
            UnsupportedMediaType,
            _("This file is not an image. Only JPEG, PNG, WebP and HEIC photos are accepted."),
        ),
        RejectReason.TOO_LARGE: (PayloadTooLarge, _("The photo is larger than %(mb)s MB.", mb=limit_mb)),
        RejectReason.TOO_MANY_PIXELS: (
            PayloadTooLarge,
            _("The image is larger than %(mp)g megapixels.", mp=megapixels),
        ),
        RejectReason.TRUNCATED: (
            InvalidInput,
            _("The photo is incomplete (the upload was cut off?); send it again."),
        ),
        RejectReason.CORRUPT: (InvalidInput, _("The photo is damaged and cannot be read.")),
    }
    cls, message = messages[error.reason]
    return cls(message, {"file": [message]})


@dataclass
class StoredFiles:
    keys: list[str]

    def discard(self, store: Storage) -> None:
        for key in self.keys:
            store.delete(key)


def _store(store: Storage, processed: ProcessedPhoto, data: bytes) -> tuple[dict[str, str], StoredFiles]:
    keys = {
        "original_key": new_key("photos/original", processed.extension),
        "display_key": new_key("photos/display", ".jpg"),
        "thumb_key": new_key("photos/thumb", ".jpg"),
    }
    written = StoredFiles([])
    try:
        for name, content in (
            ("original_key", data),
            ("display_key", processed.display),
            ("thumb_key", processed.thumbnail),
        ):
            store.put(keys[name], content)
            written.keys.append(keys[name])
    except BaseException:
        written.discard(store)
        raise
    return keys, written


def _check_may_add(actor: User, observation: Observation) -> None:
    if not policy.may_add_record_photos(actor, observation):
        raise PermissionDenied(_("Only the surveyor who recorded it can add photos to this record."))
    if observation.status not in EDITABLE:
        raise Conflict(
            _(
                "This record has been %(status)s; photos can no longer be added.",
                status=STATUS_LABELS[observation.status],
            ),
            {"status": [observation.status.value]},
        )


@dataclass(frozen=True)
class Parent:
    """What a photo is attached to: an observation, or a control operation before or after treatment."""

    observation: Observation | None = None
    operation: ControlOperation | None = None
    stage: str | None = None

    def where(self) -> sa.ColumnElement[bool]:
        if self.observation is not None:
            return Photo.observation_id == self.observation.id
        assert self.operation is not None  # noqa: S101 -- one of the two is always set
        return sa.and_(Photo.control_operation_id == self.operation.id, Photo.stage == self.stage)


def _check_may_add_to_operation(actor: User, operation: ControlOperation) -> None:
    if not policy.may_add_operation_photos(actor, operation):
        raise PermissionDenied(_("Only the person who recorded the operation can add its photos."))


def _clean_filename(filename: str | None) -> str | None:
    """The name the client gave without control characters (PostgreSQL refuses NUL in text), at most 255
    characters; None when nothing is left."""
    cleaned = "".join(ch for ch in filename or "" if ch >= " " and ch != "\x7f")[:255]
    return cleaned or None


def find_photo(parent: Parent, sha256: str) -> Photo | None:
    return db.session.scalar(sa.select(Photo).where(parent.where(), Photo.sha256 == sha256))


def add_photo(
    *,
    actor: User,
    data: bytes,
    filename: str | None,
    observation: Observation | None = None,
    operation: ControlOperation | None = None,
    stage: str | None = None,
) -> tuple[Photo, bool, StoredFiles]:
    """Process and attach a photo to an observation, or to a control operation (`stage` before/after).

    Returns (photo, created, files written by this call). The same bytes again return the existing
    photo (created False). Raises PermissionDenied, Conflict, InvalidInput, PayloadTooLarge and
    UnsupportedMediaType. The caller commits, and on failure calls `files.discard(storage())` so that
    nothing is left behind.
    """
    parent = Parent(observation=observation, operation=operation, stage=stage)
    if observation is not None:
        _check_may_add(actor, observation)
    elif operation is not None:
        _check_may_add_to_operation(actor, operation)
    existing = find_photo(parent, sha256_of(data))
    if existing is not None:
        return existing, False, StoredFiles([])
    config = current_app.config
    try:
        processed = process_photo(
            data,
            max_bytes=config["MAX_CONTENT_LENGTH"],
            max_pixels=config["IAS_PHOTO_MAX_PIXELS"],
            local_tz=local_zone(),
        )
    except PhotoRejected as exc:
        raise _rejection(exc) from exc

    store = storage()
    keys, files = _store(store, processed, data)
    try:
        with db.session.begin_nested():
            photo = Photo(
                observation=observation,
                control_operation_id=operation.id if operation is not None else None,
                stage=stage if operation is not None else None,
                sha256=processed.sha256,
                mime_type=processed.mime_type,
                size_bytes=len(data),
                width=processed.width,
                height=processed.height,
                taken_at=processed.taken_at,
                original_filename=_clean_filename(filename),
                uploaded_by_id=actor.id,
                **keys,
            )
            if processed.gps is not None:
                photo.gps_latitude = processed.gps.latitude
                photo.gps_longitude = processed.gps.longitude
                photo.gps_altitude_m = processed.gps.altitude_m
            db.session.add(photo)
            db.session.flush()
    except IntegrityError:
        files.discard(store)
        existing = find_photo(parent, processed.sha256)
        if existing is None:
            raise
        return existing, False, StoredFiles([])
    except BaseException:
        files.discard(store)
        raise
    if observation is not None:
        refresh_photo_flag(observation)
    elif operation is not None:
        db.session.expire(operation, ["photos"])
    db.session.flush()
    return photo, True, files


def get_photo(photo_id: int) -> Photo:
    photo = db.session.get(Photo, photo_id)
    if photo is None:
        raise NotFound(_("No photo with id %(id)s.", id=photo_id))
    return photo


def check_may_download_original(actor: User, photo: Photo) -> None:
    """Originals keep the camera's full EXIF (GPS to the metre, the phone's make and time): only the
    recording organization's staff (its verifiers among them), the staff of the bureau it reports to
    (docs/contract.md §1: a bureau acts for its units) and admins may have them; everyone
    signed in may see the display copy and thumbnail, which carry no metadata. Each download of an
    original is audited (the caller commits). Raises PermissionDenied."""
    if photo.observation_id is not None:
        owner = db.session.scalar(
            sa.select(Observation.organization_id).where(Observation.id == photo.observation_id)
        )
    else:
        owner = db.session.scalar(
            sa.select(ControlOperation.organization_id).where(
                ControlOperation.id == photo.control_operation_id
            )
        )
    if not policy.may_see_originals(actor, owner):
        raise PermissionDenied(
            _(
                "Original photos are for the staff of the recording organization and of its bureau; "
                "open the display copy instead."
            )
        )
    record_event("photo_original_downloaded", "photo", photo.id, {"organization_id": owner})


def file_of(photo: Photo, variant: str) -> tuple[Path, str]:
    """The stored file of a variant and its media type."""
    key: dict[str, Any] = {
        "thumb": (photo.thumb_key, "image/jpeg"),
        "display": (photo.display_key, "image/jpeg"),
        "original": (photo.original_key, photo.mime_type),
    }
    path_key, mime = key[variant]
    return storage().path(path_key), mime
