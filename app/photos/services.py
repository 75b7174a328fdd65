"""Adding photos to observations, control operations and survey plots: process, store, de-duplicate.

Photos sit below observations and control in the domain order (docs/architecture.md): who may add a photo,
and what the record does with it (the photo-GPS flag), are their rules, applied by their own
`add_photo` before and after this one's; a photo names its parent by id.

The bytes are processed (app.photos.processing) before anything is written; the files are written
before the row, and removed again if the row does not land (the insert fails, or the request's unit of work
ends without committing: rolled back, app/uow.py, or closed by a worker stopped mid-request), so a
rejected or failed upload leaves no file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import policy
from app.accounts.models import User
from app.audit.services import record_event
from app.clock import local_zone
from app.errors import InvalidInput, NotFound, PermissionDenied, ServiceError
from app.extensions import db
from app.photos.models import Photo
from app.photos.processing import PhotoRejected, ProcessedPhoto, RejectReason, process_photo, sha256_of
from app.storage import LocalStorage, Storage, new_key

log = logging.getLogger(__name__)

VARIANTS = ("thumb", "display", "original")


class PayloadTooLarge(ServiceError):
    status_code = 413


class UnsupportedMediaType(ServiceError):
    status_code = 415


def storage() -> Storage:
    # Synced to the disk before the row is committed: the phone frees its copy once it hears 201, so a
    # power cut after the commit must not leave a row whose files are empty or gone.
    return LocalStorage(Path(current_app.config["IAS_STORAGE_DIR"]), fsync=True)


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


_UNCOMMITTED = "ias_photo_files_uncommitted"


def _discard_uncommitted(session: Session, transaction: Any) -> None:
    if transaction.nested or transaction.parent is not None:
        return  # a savepoint ended (a de-duplication race); the unit of work goes on
    for files in session.info.pop(_UNCOMMITTED, []):
        files.discard(storage())


def _keep_committed(session: Session) -> None:
    session.info.pop(_UNCOMMITTED, None)


def _discard_unless_committed(files: StoredFiles) -> None:
    """Remove the files again if the unit of work that holds their row ends without committing.

    Any end: a rollback (an error answer, a failed commit), and also a session closed with its
    transaction open, which is all a worker stopped mid-request gets (gunicorn's timeout turns into
    `sys.exit` wherever the request is: no error answer, no rollback). A commit keeps them first."""
    if not sa.event.contains(Session, "after_transaction_end", _discard_uncommitted):
        sa.event.listen(Session, "after_commit", _keep_committed)
        sa.event.listen(Session, "after_transaction_end", _discard_uncommitted)
    db.session().info.setdefault(_UNCOMMITTED, []).append(files)


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


@dataclass(frozen=True)
class Parent:
    """What a photo is attached to: an observation, a control operation before or after treatment, or a
    survey plot."""

    observation_id: int | None = None
    control_operation_id: int | None = None
    stage: str | None = None
    plot_id: int | None = None

    def where(self) -> sa.ColumnElement[bool]:
        if self.observation_id is not None:
            return Photo.observation_id == self.observation_id
        if self.plot_id is not None:
            return Photo.plot_id == self.plot_id
        assert self.control_operation_id is not None  # noqa: S101 -- one of the two is always set
        return sa.and_(Photo.control_operation_id == self.control_operation_id, Photo.stage == self.stage)


def _clean_filename(filename: str | None) -> str | None:
    """The name the client gave without control characters (PostgreSQL refuses NUL in text), at most 255
    characters; None when nothing is left."""
    cleaned = "".join(ch for ch in filename or "" if ch >= " " and ch != "\x7f")[:255]
    return cleaned or None


def find_photo(parent: Parent, sha256: str) -> Photo | None:
    return db.session.scalar(sa.select(Photo).where(parent.where(), Photo.sha256 == sha256))


def already_attached(parent: Parent, data: bytes) -> Photo | None:
    """The photo these bytes already are on `parent`, if any: a phone's retry after a lost answer.

    The parent's domain asks this before its own "may it still change?" rule (a record reviewed, a
    campaign ended since the first attempt): the retry is answered with the photo the server has, so the
    phone marks it sent instead of keeping it as refused. A photo whose files are gone (its commit
    reached the database but the answer failed, and the unit of work removed the files it had written)
    gets them back from these bytes, under its own keys. Raises what `add_photo` raises."""
    existing = find_photo(parent, sha256_of(data))
    if existing is not None:
        _restore_lost_files(existing, data)
    return existing


def _processed(data: bytes) -> ProcessedPhoto:
    config = current_app.config
    try:
        return process_photo(
            data,
            max_bytes=config["MAX_CONTENT_LENGTH"],
            max_pixels=config["IAS_PHOTO_MAX_PIXELS"],
            local_tz=local_zone(),
        )
    except PhotoRejected as exc:
        raise _rejection(exc) from exc


def _restore_lost_files(photo: Photo, data: bytes) -> None:
    store = storage()
    lost = [key for key in (photo.original_key, photo.display_key, photo.thumb_key) if not store.exists(key)]
    if not lost:
        return
    log.warning("Photo %s had lost %s; written again from the same bytes sent again", photo.id, lost)
    processed = _processed(data)
    content = {
        photo.original_key: data,
        photo.display_key: processed.display,
        photo.thumb_key: processed.thumbnail,
    }
    for key in lost:
        store.put(key, content[key])  # the row is committed already: these stay whatever this unit does


def add_photo(*, actor: User, parent: Parent, data: bytes, filename: str | None) -> tuple[Photo, bool]:
    """Process and attach a photo to an observation, or to a control operation (`stage` before/after).

    The parent's domain has checked that `actor` may. Returns (photo, created). The same bytes again
    return the existing photo (created False; see `already_attached`). Raises InvalidInput,
    PayloadTooLarge and UnsupportedMediaType. The files written are removed again when the unit of work
    ends without committing, so nothing is left behind.
    """
    existing = already_attached(parent, data)
    if existing is not None:
        return existing, False
    processed = _processed(data)
    store = storage()
    keys, files = _store(store, processed, data)
    try:
        with db.session.begin_nested():
            photo = Photo(
                observation_id=parent.observation_id,
                control_operation_id=parent.control_operation_id,
                plot_id=parent.plot_id,
                stage=parent.stage if parent.control_operation_id is not None else None,
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
        return existing, False
    except BaseException:
        files.discard(store)
        raise
    _discard_unless_committed(files)
    return photo, True


# Files older than this that no photo names are strays. An upload writes its files and commits its row
# within seconds; a day leaves every request still under way alone, whatever its clock.
STRAY_AFTER = timedelta(days=1)


def remove_stray_files(*, older_than: timedelta = STRAY_AFTER, now: datetime | None = None) -> int:
    """Delete the photo files no photo row names, and the temporary files of writes cut short, once older
    than `older_than`; returns how many.

    They are what an upload leaves when its process dies between writing the files and committing the
    row (killed, out of memory, a power cut): nothing serves them, but an original keeps the surveyor's
    GPS, so it must not stay on the disk for good. One variant's keys are held at a time (about 100 bytes
    a photo)."""
    cutoff = (now or datetime.now(UTC)).timestamp() - older_than.total_seconds()
    store = storage()
    removed = 0
    for variant, column in (
        ("original", Photo.original_key),
        ("display", Photo.display_key),
        ("thumb", Photo.thumb_key),
    ):
        stale = [f for f in store.files(f"photos/{variant}") if f.modified < cutoff]
        if not stale:
            continue
        named = set(db.session.scalars(sa.select(column)))
        for stray in (f for f in stale if f.temporary or f.name not in named):
            store.delete_file(stray)
            removed += 1
    if removed:
        log.warning("Removed %s photo files that no photo names (uploads cut short)", removed)
    return removed


def get_photo(photo_id: int) -> Photo:
    photo = db.session.get(Photo, photo_id)
    if photo is None:
        raise NotFound(_("No photo with id %(id)s.", id=photo_id))
    return photo


def _owner(photo: Photo) -> int | None:
    """The organization that recorded what the photo belongs to."""
    parent = photo.parent
    return parent.organization_id if parent is not None else None


def may_see_original(actor: User, photo: Photo) -> bool:
    """Whether `actor` may have the original and what was read from its EXIF position (see below)."""
    return policy.may_see_originals(actor, _owner(photo))


def check_may_download_original(actor: User, photo: Photo) -> None:
    """Originals keep the camera's full EXIF (GPS to the metre, the phone's make and time): only the
    recording organization's staff (its verifiers among them), the staff of the bureau it reports to
    (docs/contract.md §1: a bureau acts for its units) and admins may have them; everyone
    signed in may see the display copy and thumbnail, which carry no metadata. Each download of an
    original is audited. Raises PermissionDenied."""
    owner = _owner(photo)
    if not policy.may_see_originals(actor, owner):
        raise PermissionDenied(
            _(
                "Original photos are for the staff of the recording organization and of its bureau; "
                "open the display copy instead."
            )
        )
    record_event("photo_original_downloaded", "photo", photo.id, {"organization_id": owner})


def file_of(photo: Photo, variant: str) -> tuple[Path, str]:
    """The stored file of a variant and its media type. Raises NotFound when the file is not there (see
    `already_attached`: sending the photo again writes it back)."""
    key: dict[str, Any] = {
        "thumb": (photo.thumb_key, "image/jpeg"),
        "display": (photo.display_key, "image/jpeg"),
        "original": (photo.original_key, photo.mime_type),
    }
    path_key, mime = key[variant]
    path = storage().path(path_key)
    if not path.is_file():
        log.error("Photo %s: its %s file %s is missing", photo.id, variant, path_key)
        raise NotFound(
            _(
                "The file of photo %(id)s is missing on the server; the surveyor can send the photo again "
                "from the phone to restore it.",
                id=photo.id,
            )
        )
    return path, mime
