"""Test photos built in code (ordinary, hostile and colour-managed: no binary files are committed), and
helpers to process them and look at the result.

Importing app.photos.processing registers the HEIF codec with Pillow, which `encode(..., "HEIF")` needs.
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import zlib
from collections.abc import Sequence
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, TiffImagePlugin  # noqa: TID251 - tests build their images with Pillow

from app.photos.processing import PhotoRejected, ProcessedPhoto, process_photo

Rational = TiffImagePlugin.IFDRational
XYZ = tuple[float, float, float]


def photo(width: int = 400, height: int = 300, mode: str = "RGB") -> Image.Image:
    """Gradients and noise: it compresses like a photograph, not like a flat test card."""
    bands = [
        Image.linear_gradient("L").resize((width, height)),
        Image.radial_gradient("L").resize((width, height)),
        Image.linear_gradient("L").rotate(90).resize((width, height)),
    ]
    smooth = Image.merge("RGB", bands)
    noise = Image.merge("RGB", [Image.effect_noise((width, height), sigma) for sigma in (30, 40, 50)])
    return Image.blend(smooth, noise, 0.35).convert(mode)


def marked(width: int = 400, height: int = 300) -> Image.Image:
    """Grey, with a red square in the top-left corner: shows where the image has been turned."""
    image = Image.new("RGB", (width, height), (128, 128, 128))
    image.paste((255, 0, 0), (0, 0, width // 5, height // 5))
    return image


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def exif(
    *,
    orientation: int | None = None,
    original: str | None = None,
    original_offset: str | None = None,
    digitized: str | None = None,
    modified: str | None = None,
    gps: dict[int, Any] | None = None,
) -> bytes:
    """An EXIF block (for `save(exif=...)`) with IFD0, the Exif IFD and the GPS IFD as asked."""
    data = Image.Exif()
    if orientation is not None:
        data[0x0112] = orientation
    if modified is not None:
        data[0x0132] = modified
    exif_ifd = data.get_ifd(0x8769)
    if original is not None:
        exif_ifd[0x9003] = original
    if original_offset is not None:
        exif_ifd[0x9011] = original_offset
    if digitized is not None:
        exif_ifd[0x9004] = digitized
    if gps:
        data.get_ifd(0x8825).update(gps)
    return data.tobytes()


def dms(degrees: int, minutes: int, seconds: float) -> tuple[Rational, Rational, Rational]:
    sec = Fraction(seconds).limit_denominator(1000)
    return Rational(degrees, 1), Rational(minutes, 1), Rational(sec.numerator, sec.denominator)


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """The (marker, payload) segments of a JPEG up to the start of scan."""
    assert data[:2] == b"\xff\xd8"
    segments = [(0xD8, b"")]
    pos = 2
    while pos < len(data):
        assert data[pos] == 0xFF, f"not a marker at {pos}"
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        if marker == 0xDA:
            break
        pos += 2 + length
    return segments


# --- Hostile files ------------------------------------------------------------------------------------


def noise(length: int, seed: bytes = b"noise") -> bytes:
    """Random-looking bytes, the same on every run."""
    return hashlib.shake_256(seed).digest(length)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int, body: bytes, *, bit_depth: int = 8) -> bytes:
    """A greyscale PNG whose header says `width`×`height`, whatever `body` really holds."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")
    )


@functools.cache
def png_bomb(side: int = 30_000) -> bytes:
    """A real decompression bomb: ~0.5 MB of deflated zeros that inflate to side² one-bit pixels."""
    row = bytes(1 + (side + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(1)
    rows_per_chunk = 1000
    parts = [compressor.compress(row * rows_per_chunk) for _ in range(side // rows_per_chunk)]
    parts.append(compressor.compress(row * (side % rows_per_chunk)))
    parts.append(compressor.flush())
    return png_declaring(side, side, b"".join(parts), bit_depth=1)


# --- Colour profiles ----------------------------------------------------------------------------------

D50: XYZ = (0.9642, 1.0, 0.8249)
# Primaries as ICC colorants (XYZ, adapted to D50 with Bradford), as published by Bruce Lindbloom.
SRGB_D50: tuple[XYZ, XYZ, XYZ] = (
    (0.4360747, 0.2225045, 0.0139322),
    (0.3850649, 0.7168786, 0.0971045),
    (0.1430804, 0.0606169, 0.7141733),
)
ADOBE_RGB_D50: tuple[XYZ, XYZ, XYZ] = (
    (0.6097559, 0.3111242, 0.0194811),
    (0.2052401, 0.6256560, 0.0608902),
    (0.1492240, 0.0632197, 0.7448387),
)
ADOBE_RGB_GAMMA = 563 / 256  # 2.19921875, as the profile stores it


def rgb_profile(colorants: Sequence[XYZ], gamma: float, description: str) -> bytes:
    """A minimal ICC v2 matrix/TRC display profile (what phones and cameras embed for Display P3 or
    Adobe RGB), built from its colorants and one gamma for all three channels."""

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(value: XYZ) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(s15(v) for v in value)

    def padded(body: bytes) -> bytes:
        return body + b"\0" * (-len(body) % 4)

    text = description.encode("ascii") + b"\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0" * 3 + b"\0" * 67
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256))
    tags = [
        (b"desc", padded(desc)),
        (b"cprt", padded(b"text\0\0\0\0" + b"No copyright, test profile\0")),
        (b"wtpt", xyz(D50)),
        (b"rXYZ", xyz(colorants[0])),
        (b"gXYZ", xyz(colorants[1])),
        (b"bXYZ", xyz(colorants[2])),
        (b"rTRC", padded(curve)),
        (b"gTRC", padded(curve)),
        (b"bTRC", padded(curve)),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, bodies = b"", b""
    for signature, body in tags:
        table += signature + struct.pack(">II", offset + len(bodies), len(body))
        bodies += body
    size = offset + len(bodies)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"  # preferred CMM
        + struct.pack(">I", 0x02100000)  # version 2.1
        + b"mntrRGB XYZ "
        + b"\0" * 12  # date
        + b"acsp"
        + b"\0" * 24  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # perceptual
        + b"".join(s15(v) for v in D50)
        + b"\0" * 4  # creator
        + b"\0" * 44  # profile id, reserved
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + bodies


def _inverse(m: Sequence[Sequence[float]]) -> list[list[float]]:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return [
        [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
        [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
        [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
    ]


def expected_srgb(rgb: tuple[int, int, int], colorants: Sequence[XYZ], gamma: float) -> tuple[int, ...]:
    """What `rgb` in a matrix/TRC profile is in sRGB, worked out by hand (no colour engine involved)."""
    linear = [(v / 255) ** gamma for v in rgb]
    to_xyz = [[colorants[col][row] for col in range(3)] for row in range(3)]
    xyz = [sum(to_xyz[row][k] * linear[k] for k in range(3)) for row in range(3)]
    from_xyz = _inverse([[SRGB_D50[col][row] for col in range(3)] for row in range(3)])
    srgb_linear = [min(1.0, max(0.0, sum(from_xyz[row][k] * xyz[k] for k in range(3)))) for row in range(3)]

    def encoded(v: float) -> int:
        return round(255 * (12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055))

    return tuple(encoded(v) for v in srgb_linear)


# --- Processing, and looking at the result -------------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_PIXELS = 50_000_000
MAX_BYTES = 20 * 1024 * 1024


def process(data: bytes, **limits: Any) -> ProcessedPhoto:
    return process_photo(
        data,
        max_bytes=limits.get("max_bytes", MAX_BYTES),
        max_pixels=limits.get("max_pixels", MAX_PIXELS),
        local_tz=SHANGHAI,
    )


def rejection(data: bytes, **limits: Any) -> PhotoRejected:
    with pytest.raises(PhotoRejected) as caught:
        process(data, **limits)
    return caught.value


def opened(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    image.load()
    return image


def near(actual: Any, expected: tuple[int, ...], tolerance: int = 4) -> bool:
    values = actual if isinstance(actual, tuple) else (actual,)
    return all(abs(a - e) <= tolerance for a, e in zip(values, expected, strict=True))


@functools.cache
def big_photo() -> Image.Image:
    """Cached: noise at this size takes a second to make."""
    return photo(3400, 2200)


@functools.cache
def big_jpeg() -> bytes:
    """Big enough that the decoder works at half scale (draft)."""
    return encode(big_photo(), "JPEG", quality=90)


@functools.cache
def small_jpeg() -> bytes:
    return encode(photo(64, 48), "JPEG")
