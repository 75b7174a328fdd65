"""process_photo on files it must refuse, or must take despite their damage: the hostile set."""

from __future__ import annotations

import logging
import struct
import warnings
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image  # noqa: TID251 - tests build images with Pillow

from app.photos.processing import PhotoRejected, RejectReason
from tests.photos import images
from tests.photos.images import (
    big_jpeg,
    encode,
    marked,
    near,
    noise,
    opened,
    photo,
    process,
    rejection,
    small_jpeg,
)

# --- Refused files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"This is a field note, saved as photo.jpg by mistake.\n",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        noise(5000, b"not an image"),
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(100),  # a video
    ],
    ids=["empty", "text", "pdf", "noise", "mp4"],
)
def test_files_that_are_not_images_are_refused(data: bytes) -> None:
    assert rejection(data).reason is RejectReason.NOT_AN_IMAGE


@pytest.mark.parametrize("pillow_format", ["GIF", "BMP", "TIFF", "ICO", "AVIF", "JPEG2000", "PPM"])
def test_other_image_formats_are_refused_as_unsupported(pillow_format: str) -> None:
    error = rejection(encode(photo(64, 48), pillow_format))
    assert error.reason is RejectReason.UNSUPPORTED_TYPE


def test_svg_is_refused_as_unsupported() -> None:
    svg = b'\xef\xbb\xbf<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'
    assert rejection(svg).reason is RejectReason.UNSUPPORTED_TYPE


def test_the_byte_limit_is_inclusive() -> None:
    data = encode(photo(64, 48), "JPEG")
    assert process(data, max_bytes=len(data)).sha256
    error = rejection(data, max_bytes=len(data) - 1)
    assert error.reason is RejectReason.TOO_LARGE


def test_the_pixel_limit_is_inclusive() -> None:
    data = encode(photo(100, 50), "PNG")
    assert process(data, max_pixels=5000).width == 100
    assert rejection(data, max_pixels=4999).reason is RejectReason.TOO_MANY_PIXELS


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = images.png_bomb()  # half a megabyte that inflates to 900 million pixels
    assert len(bomb) < 1_000_000
    error = rejection(bomb)
    assert error.reason is RejectReason.TOO_MANY_PIXELS


@pytest.mark.parametrize("side", [100_000, 10_000, 7_500])
def test_a_huge_declared_size_is_refused_whatever_follows(side: int) -> None:
    # 10 G pixels (past Pillow's own hard limit), 100 M (where Pillow only warns: the warning must
    # not escape, and pytest would fail on it), 56 M (past ours alone).
    error = rejection(images.png_declaring(side, side, b"not even zlib"))
    assert error.reason is RejectReason.TOO_MANY_PIXELS


def test_the_pixel_limit_is_checked_before_decoding() -> None:
    """The same truncated file: refused for its size before decoding, for its damage after."""
    data = encode(Image.linear_gradient("L").resize((3000, 3000)), "PNG")
    cut = data[: len(data) // 2]
    assert rejection(cut, max_pixels=8_000_000).reason is RejectReason.TOO_MANY_PIXELS
    assert rejection(cut, max_pixels=10_000_000).reason is RejectReason.TRUNCATED


# --- Damaged files ------------------------------------------------------------------------------------


def _cut(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


@pytest.mark.parametrize("fraction", [0.5, 0.95])
@pytest.mark.parametrize(
    "source",
    [
        lambda: big_jpeg(),
        lambda: encode(photo(400, 300), "JPEG", progressive=True),
        lambda: encode(photo(400, 300), "PNG"),
        lambda: encode(photo(400, 300), "WEBP"),
        lambda: encode(photo(400, 300), "HEIF"),
    ],
    ids=["jpeg-drafted", "jpeg-progressive", "png", "webp", "heic"],
)
def test_truncated_files_are_refused(source: Callable[[], bytes], fraction: float) -> None:
    assert rejection(_cut(source(), fraction)).reason is RejectReason.TRUNCATED


def _garbled(data: bytes, start: int, length: int = 3000) -> bytes:
    return data[:start] + noise(length) + data[start + length :]


def test_garbage_in_a_jpeg_scan_is_refused_as_corrupt() -> None:
    data = big_jpeg()
    scan = data.index(b"\xff\xda")
    assert rejection(_garbled(data, scan + 2000)).reason is RejectReason.CORRUPT


def test_garbage_in_jpeg_huffman_tables_is_refused_as_corrupt() -> None:
    data = encode(photo(400, 300), "JPEG")
    table = data.index(b"\xff\xc4")
    damaged = data[: table + 5] + bytes(range(200, 225)) + data[table + 30 :]
    assert rejection(damaged).reason is RejectReason.CORRUPT


def test_garbage_in_png_image_data_is_refused_as_corrupt() -> None:
    data = encode(photo(400, 300), "PNG")
    assert rejection(_garbled(data, 1000, 2000)).reason is RejectReason.CORRUPT


def test_a_jpeg_signature_on_a_damaged_header_is_refused() -> None:
    data = encode(photo(400, 300), "JPEG")
    frame = data.index(b"\xff\xc0")
    damaged = data[:frame] + b"\xff\xc0\x00\x11\x08\x00\x00\x00\x00" + data[frame + 9 :]  # 0×0 pixels
    assert rejection(damaged).reason in (RejectReason.CORRUPT, RejectReason.TRUNCATED)


# --- Corrupt EXIF: the photo is still taken ----------------------------------------------------------


def _with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """`jpeg` with an APP1 segment holding `payload` right after the start-of-image marker."""
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


BAD_EXIF = [
    b"Exif\x00\x00" + noise(300, b"exif"),
    b"Exif\x00\x00II*\x00\xff\xff\xff\x7f",  # first IFD far past the end
    b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + bytes(40),  # 65535 entries announced
    b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x69\x87\x04\x00\x01\x00\x00\x00\x08\x00\x00\x00",  # loop
    b"Exif\x00\x00",
]


@pytest.mark.parametrize("payload", BAD_EXIF, ids=["noise", "offset", "count", "loop", "empty"])
def test_corrupt_exif_does_not_refuse_the_photo(payload: bytes) -> None:
    result = process(_with_app1(encode(marked(400, 300), "JPEG"), payload))
    assert result.taken_at is None and result.gps is None
    assert result.display_size == (400, 300)
    assert near(opened(result.display).getpixel((3, 3)), (255, 0, 0))


def test_pillow_warnings_are_logged_never_raised_nor_leaked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app.photos.processing")
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        bomb = rejection(images.png_declaring(10_000, 10_000, b""))  # Pillow warns: a possible bomb
        kept = process(_with_app1(small_jpeg(), BAD_EXIF[2]))  # Pillow warns: corrupt EXIF
    assert seen == []
    assert warnings.filters == filters
    assert bomb.reason is RejectReason.TOO_MANY_PIXELS
    assert kept.display_size == (64, 48)
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "decompression bomb" in logged and "Corrupt EXIF" in logged


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=400))
def test_no_exif_payload_refuses_a_good_photo(payload: bytes) -> None:
    result = process(_with_app1(small_jpeg(), b"Exif\x00\x00" + payload))
    assert result.display_size in ((64, 48), (48, 64))


# --- Odd corners --------------------------------------------------------------------------------------


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive") as caught:
        process(small_jpeg(), max_pixels=0)
    assert not isinstance(caught.value, PhotoRejected)


def test_the_reason_is_a_stable_code_for_the_api_layer() -> None:
    error = rejection(encode(photo(64, 48), "GIF"))
    assert error.reason == "unsupported_type"
    assert error.detail == "GIF"
    assert isinstance(error, ValueError)


def test_trailing_bytes_after_a_complete_webp_are_accepted() -> None:
    data = encode(photo(64, 48), "WEBP") + zlib.compress(b"trailer")
    assert process(data).format == "webp"
