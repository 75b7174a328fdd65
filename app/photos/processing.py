"""Uploaded photos: bytes in, a checked photo and two clean JPEG derivatives out.

An upload is hostile until it has been decoded, so the cheap checks run first and each one stops
the work before the next costs more:

1. the byte size;
2. the signature picks the format (never the file name or the declared type), and only JPEG, PNG,
   WebP and HEIC ever reach a decoder, and only the one decoder for that signature;
3. the pixel count in the header, before any pixel memory exists (decompression bombs);
4. the whole image is decoded. `verify()` checks almost nothing for JPEG, and a file that cannot
   be decoded now would be served broken later, so truncated and corrupt files are refused here.

The derivatives are encoded from pixels only, so nothing of the original's metadata (EXIF, GPS,
XMP, comments, colour profile) can leak into what other users see. Colours are converted to sRGB
first, so that dropping the profile does not shift them. Time and place are read from the
original's EXIF (`exif.py`), defensively: bad EXIF never refuses a photo.

Speed: a JPEG is decoded at the largest DCT scale (1/2, 1/4, 1/8) that still covers the display
size (`draft`). Every coefficient is still entropy-decoded, so truncation and corruption are still
found; only the inverse DCT shrinks. The thumbnail is made from the display image.

Pillow is imported here and nowhere else in the app (ruff's banned-api).
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import pillow_heif
from PIL import Image, ImageChops, ImageCms, ImageFile, UnidentifiedImageError  # noqa: TID251 - its one home

from app.photos import exif
from app.photos.exif import GpsFix

__all__ = ["GpsFix", "PhotoRejected", "ProcessedPhoto", "RejectReason", "process_photo", "sha256_of"]

log = logging.getLogger(__name__)

DISPLAY_MAX_PX = 1600
THUMBNAIL_MAX_PX = 320
JPEG_QUALITY = 85  # optimize=True would shave ~5 % off the files at a cost in time on every upload

# Only our own decoding uses pillow_heif. Embedded thumbnails, depth maps and auxiliary images are
# never used, so they are not parsed either; without thumbnails its `draft` can never substitute a
# thumbnail for the image, which would skip decoding it.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# One photo at a time per process: it bounds peak memory (a 50 MP decode is ~150 MB), and it makes
# `warnings.catch_warnings` safe, which on Python 3.11 swaps process-global state. Uploads are rare
# enough that the queue is short.
_LOCK = threading.Lock()

# ISO base media file brands (the `ftyp` box) of HEIC/HEIF stills, and of AVIF, refused.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_GENERIC_BRANDS = frozenset({b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
# Recognisable images we do not take: refused as `unsupported_type` rather than `not_an_image`.
_OTHER_IMAGE_SIGNATURES = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "BigTIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"\xff\x0a", "JPEG XL"),
    (b"qoif", "QOI"),
    *((f"P{n}".encode(), "PNM") for n in range(1, 8)),
)
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})

# The EXIF orientations as the transposition that displays the image upright (as ImageOps does it).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_CACHED_PROFILE_MAX_BYTES = 64 * 1024
# Which ICC colour space fits which pixel mode; a profile that does not fit is ignored.
_PROFILE_SPACE = {"RGB": "RGB ", "CMYK": "CMYK", "L": "GRAY"}
# Decoders report bad data with any of these.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, RuntimeError)


class RejectReason(StrEnum):
    UNSUPPORTED_TYPE = "unsupported_type"  # an image, but not JPEG, PNG, WebP or HEIC
    NOT_AN_IMAGE = "not_an_image"
    TOO_LARGE = "too_large"  # bytes
    TOO_MANY_PIXELS = "too_many_pixels"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"


class PhotoRejected(ValueError):
    """The upload is not a photo we take. The API layer words `reason` for people; `detail` is for logs."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ProcessedPhoto:
    sha256: str  # of the original bytes
    format: str  # "jpeg" | "png" | "webp" | "heic"
    mime_type: str
    extension: str  # for storing the original
    width: int  # upright, after the EXIF orientation
    height: int
    taken_at: datetime | None  # UTC
    gps: GpsFix | None
    display: bytes  # JPEG, no metadata at all
    thumbnail: bytes  # JPEG, no metadata at all
    display_size: tuple[int, int]
    thumbnail_size: tuple[int, int]


@dataclass(frozen=True)
class _Format:
    name: str
    mime_type: str
    extension: str
    pillow_id: str


_JPEG = _Format("jpeg", "image/jpeg", ".jpg", "JPEG")
_PNG = _Format("png", "image/png", ".png", "PNG")
_WEBP = _Format("webp", "image/webp", ".webp", "WEBP")
_HEIC = _Format("heic", "image/heic", ".heic", pillow_heif.HeifImageFile.format)


def sha256_of(data: bytes) -> str:
    """A photo's identity: the hex SHA-256 of the bytes as uploaded (cheap; no decoding)."""
    return hashlib.sha256(data).hexdigest()


def process_photo(data: bytes, *, max_bytes: int, max_pixels: int, local_tz: ZoneInfo) -> ProcessedPhoto:
    """Check and decode an uploaded photo, read its EXIF time and place, make its display image and thumbnail.

    `local_tz` is the zone of EXIF times written without an offset. Raises `PhotoRejected` for any
    upload that is not a whole, decodable JPEG, PNG, WebP or HEIC within the limits; nothing else
    is raised for bad input.
    """
    if max_bytes < 1 or max_pixels < 1:
        raise ValueError("max_bytes and max_pixels must be positive")
    if not data:
        raise PhotoRejected(RejectReason.NOT_AN_IMAGE, "empty file")
    if len(data) > max_bytes:
        raise PhotoRejected(RejectReason.TOO_LARGE, f"{len(data)} bytes > {max_bytes}")
    fmt = _sniff(data)
    with _LOCK, warnings.catch_warnings(record=True) as caught:
        # Pillow warns about damaged input (EXIF, MPO, APNG) and about large images; as warnings
        # these would either go to stderr or, under `-W error`, abort a decode that would otherwise
        # succeed. Recorded instead, for the log; our own limits decide.
        warnings.simplefilter("always")
        try:
            return _process(data, fmt, max_pixels=max_pixels, local_tz=local_tz)
        finally:
            for warning in caught:
                log.info("Photo decoder warning (%s): %s", fmt.name, warning.message)


def _process(data: bytes, fmt: _Format, *, max_pixels: int, local_tz: ZoneInfo) -> ProcessedPhoto:
    image = _open(data, fmt)
    stored_width, stored_height = image.size
    if stored_width * stored_height > max_pixels:
        raise PhotoRejected(
            RejectReason.TOO_MANY_PIXELS, f"{stored_width}×{stored_height} > {max_pixels} pixels"
        )
    display_size = _fit(image.size, DISPLAY_MAX_PX)
    box = None
    if fmt is _JPEG and (drafted := image.draft(None, display_size)) is not None:
        box = drafted[1]  # the whole image, in the reduced decoder's coordinates
    _decode(image, fmt)

    orientation, taken_at, gps = _read_exif(image, local_tz)
    profile = image.info.get("icc_profile")
    pixels = _flatten(image)
    display = pixels if pixels.size == display_size else _resize(pixels, display_size, box)
    display = _to_srgb(display, profile if isinstance(profile, bytes) else None)
    if orientation in _UPRIGHT:
        display = display.transpose(_UPRIGHT[orientation])
    thumbnail = _resize(display, _fit(display.size, THUMBNAIL_MAX_PX))

    upright = (stored_height, stored_width) if orientation >= 5 else (stored_width, stored_height)
    return ProcessedPhoto(
        sha256=sha256_of(data),
        format=fmt.name,
        mime_type=fmt.mime_type,
        extension=fmt.extension,
        width=upright[0],
        height=upright[1],
        taken_at=taken_at,
        gps=gps,
        display=_encode_jpeg(display),
        thumbnail=_encode_jpeg(thumbnail),
        display_size=display.size,
        thumbnail_size=thumbnail.size,
    )


# --- Which format, and is it all there ---------------------------------------------------------------


def _sniff(data: bytes) -> _Format:
    """The format from the file's signature; anything we do not decode is refused here."""
    if data.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        # libwebp reads the whole container at open and reports a short one only as "could not
        # create decoder object": the RIFF length says whether the file is all there.
        declared = int.from_bytes(data[4:8], "little") + 8
        if len(data) < declared:
            raise PhotoRejected(RejectReason.TRUNCATED, f"webp: {len(data)} of {declared} bytes")
        return _WEBP
    if data[4:8] == b"ftyp":
        fmt = _sniff_iso_media(data)
        _check_boxes_complete(data)
        return fmt
    if other := _other_image_format(data):
        raise PhotoRejected(RejectReason.UNSUPPORTED_TYPE, other)
    raise PhotoRejected(RejectReason.NOT_AN_IMAGE, f"unknown signature {data[:8]!r}")


def _sniff_iso_media(data: bytes) -> _Format:
    box_end = min(int.from_bytes(data[:4], "big"), len(data), 1024)
    major = data[8:12]
    brands = {major} | {data[i : i + 4] for i in range(16, box_end - 3, 4)}
    avif = bool(brands & _AVIF_BRANDS) and not brands & _HEIC_BRANDS
    if major in _HEIC_BRANDS or (major in _HEIF_GENERIC_BRANDS and not avif):
        return _HEIC
    if avif:
        raise PhotoRejected(RejectReason.UNSUPPORTED_TYPE, "AVIF")
    raise PhotoRejected(RejectReason.NOT_AN_IMAGE, f"ISO media file, brand {major!r}")  # a video


def _check_boxes_complete(data: bytes) -> None:
    """libheif reports a short file as a damaged one; the top-level box sizes say which it is."""
    position = 0
    while position + 8 <= len(data):
        size = int.from_bytes(data[position : position + 4], "big")
        if size == 1 and position + 16 <= len(data):  # a 64-bit size follows the type
            size = int.from_bytes(data[position + 8 : position + 16], "big")
        if size == 0:  # the last box, running to the end of the file
            return
        if size < 8:  # not a box at all: the decoder will call it corrupt
            return
        position += size
    if position != len(data):
        raise PhotoRejected(RejectReason.TRUNCATED, f"heic: boxes need {position} bytes, {len(data)} sent")


def _other_image_format(data: bytes) -> str | None:
    for signature, name in _OTHER_IMAGE_SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) and b"<svg" in head:
        return "SVG"
    return None


def _open(data: bytes, fmt: _Format) -> ImageFile.ImageFile:
    """Read the header only: size and mode, no pixels yet."""
    try:
        return Image.open(io.BytesIO(data), formats=[fmt.pillow_id])
    except Image.DecompressionBombError as error:  # Pillow's own hard limit, above ours
        raise PhotoRejected(RejectReason.TOO_MANY_PIXELS, str(error)) from error
    except UnidentifiedImageError as error:
        raise PhotoRejected(RejectReason.CORRUPT, f"{fmt.name} signature, unreadable header") from error
    except _DECODE_ERRORS as error:
        raise _decode_failure(fmt, error) from error


def _decode(image: ImageFile.ImageFile, fmt: _Format) -> None:
    """Decode every pixel (of the first frame): the only real proof that the file is whole."""
    try:
        image.load()
    except Image.DecompressionBombError as error:
        raise PhotoRejected(RejectReason.TOO_MANY_PIXELS, str(error)) from error
    except _DECODE_ERRORS as error:
        raise _decode_failure(fmt, error) from error


def _decode_failure(fmt: _Format, error: Exception) -> PhotoRejected:
    # The decoders' only signal for data that ran out: Pillow says "truncated", libheif "end of file".
    message = str(error).lower()
    truncated = isinstance(error, EOFError) or "truncated" in message or "end of file" in message
    reason = RejectReason.TRUNCATED if truncated else RejectReason.CORRUPT
    return PhotoRejected(reason, f"{fmt.name}: {type(error).__name__}: {error}")


# --- What the EXIF says -------------------------------------------------------------------------------


def _read_exif(image: Image.Image, local_tz: ZoneInfo) -> tuple[int, datetime | None, GpsFix | None]:
    """Orientation, time and position; each part read on its own so one bad IFD spoils only itself."""
    ifd0 = _tags(image.getexif)
    if not ifd0:
        return 1, None, None
    exif_data = image.getexif()  # parsed just now, and cached: this cannot fail
    exif_ifd = _tags(lambda: exif_data.get_ifd(exif.EXIF_IFD))
    gps_ifd = _tags(lambda: exif_data.get_ifd(exif.GPS_IFD))
    return exif.orientation(ifd0), exif.taken_at(ifd0, exif_ifd, local_tz), exif.gps_fix(gps_ifd)


def _tags(read: Callable[[], Mapping[int, Any]]) -> dict[int, Any]:
    """The tags of one IFD as a plain dict, or none at all if Pillow cannot parse them."""
    try:
        return dict(read())
    except Exception as error:
        # EXIF parsing of hostile bytes can fail in many ways (struct, value, type, recursion…);
        # a photo is never refused for its EXIF, it just says nothing.
        log.info("Ignoring unreadable EXIF: %s: %s", type(error).__name__, error)
        return {}


# --- Pixels -------------------------------------------------------------------------------------------


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """`size` scaled down (never up) so that its longer side is at most `longest`."""
    width, height = size
    if max(width, height) <= longest:
        return size
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _resize(
    image: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float] | None = None
) -> Image.Image:
    if image.size == size:
        return image
    # Steps of more than 2× start with a cheap box reduction, as Pillow's own `thumbnail` does: the
    # thumbnail (1600 → 320) costs ~10 ms instead of ~23 ms, and looks the same.
    return image.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=2.0)


def _flatten(image: Image.Image) -> Image.Image:
    """The pixels as RGB, L or CMYK: palettes expanded, alpha laid on white, 16-bit grey scaled to 8."""
    mode = image.mode
    if mode in ("RGB", "L", "CMYK"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I;16"):
        # convert("L") would clip everything above 255 to white; scale 0–65535 onto 0–255 instead.
        return image.convert("I").point(lambda value: value / 257).convert("L")
    if mode in ("P", "PA"):
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA"):
        base = mode[:-1]
        background = Image.new(base, image.size, "white")
        background.paste(image.convert(base), mask=image.getchannel("A"))
        return background
    raise PhotoRejected(RejectReason.UNSUPPORTED_TYPE, f"pixel mode {mode}")


def _to_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """The pixels in sRGB, so that they look the same once the profile is dropped.

    Greyscale without a profile stays greyscale; CMYK without one gets Pillow's plain conversion.
    """
    transform = None
    if profile:
        # Phones embed the same few-kilobyte profile in every photo: worth caching. Big ones (print
        # CMYK profiles) are rare here, and caching those would let uploads pin megabytes each.
        small = len(profile) <= _CACHED_PROFILE_MAX_BYTES
        transform = (_cached_transform_to_srgb if small else _transform_to_srgb)(profile, image.mode)
    if transform is not None:
        return transform.apply(image)
    return image.convert("RGB") if image.mode == "CMYK" else image


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@functools.cache
def _rgb_probe() -> Image.Image:
    """4096 colours spread over the RGB cube."""
    levels = range(0, 256, 17)
    probe = Image.new("RGB", (64, 64))
    probe.putdata([(red, green, blue) for red in levels for green in levels for blue in levels])
    return probe


def _transform_to_srgb(profile: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A transform from the embedded profile to sRGB; None if there is nothing to do, or nothing usable."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        if source.profile.xcolor_space != _PROFILE_SPACE.get(mode):
            log.info("Ignoring a %r colour profile on %s pixels", source.profile.xcolor_space, mode)
            return None
        transform = ImageCms.buildTransform(source, _srgb(), mode, "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as error:
        log.info("Ignoring an unusable colour profile: %s", error)
        return None
    if mode == "RGB":
        # Many phones embed sRGB itself (under many names). Where the transform moves no colour by
        # more than a level, skip it: the same pixels, ~40 ms saved on a display image.
        probe = _rgb_probe()
        difference = ImageChops.difference(transform.apply(probe), probe)
        if difference.point(lambda level: 255 if level > 1 else 0).getbbox() is None:
            return None
    return transform


_cached_transform_to_srgb = functools.lru_cache(maxsize=32)(_transform_to_srgb)


def _encode_jpeg(image: Image.Image) -> bytes:
    # Everything the JPEG encoder could copy from the source is named and emptied: it writes only
    # what it is given, but it does fall back on `info` for a comment.
    image.info = {}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, exif=b"", icc_profile=None, comment=b"", xmp=b"")
    return buffer.getvalue()
