"""Photos that are bombs, damaged, of the wrong type, polyglots, or carry garbage metadata."""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from typing import Any

from tests.photos.images import encode, noise, photo, png_bomb, png_chunk, png_declaring
from tests.reliability.corpus import Case


@functools.cache
def ordinary_jpeg() -> bytes:
    return encode(photo(640, 480), "JPEG", quality=85)


@functools.cache
def ordinary_png() -> bytes:
    return encode(photo(320, 240), "PNG")


def _with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """`jpeg` with a segment (APPn, COM …) right after the start-of-image marker."""
    return jpeg[:2] + bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def jpeg_declaring(width: int, height: int) -> bytes:
    """An ordinary JPEG whose frame header claims another size (a bomb, as far as its header says)."""
    data = bytearray(ordinary_jpeg())
    frame = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, frame + 5, height, width)
    return bytes(data)


def png_with_text_bomb() -> bytes:
    """A real 64×48 PNG with a zTXt chunk that inflates to 64 MB (Pillow's text chunk limit is 1 MB)."""
    compressed = zlib.compress(bytes(64 * 1024 * 1024), 9)
    chunk = png_chunk(b"zTXt", b"Comment\x00\x00" + compressed)
    data = encode(photo(64, 48), "PNG")
    return data[:33] + chunk + data[33:]  # after the signature and IHDR


def png_with_icc_bomb() -> bytes:
    """An iCCP chunk (colour profile) that inflates to 64 MB."""
    compressed = zlib.compress(bytes(64 * 1024 * 1024), 9)
    chunk = png_chunk(b"iCCP", b"bomb\x00\x00" + compressed)
    data = encode(photo(64, 48), "PNG")
    return data[:33] + chunk + data[33:]


def png_bad_crc() -> bytes:
    data = bytearray(ordinary_png())
    data[29] ^= 0xFF  # the IHDR chunk's CRC
    return bytes(data)


def jpeg_with_many_scans() -> bytes:
    """A progressive JPEG whose scans are repeated: a decoder must not spin on them."""
    data = encode(photo(256, 192), "JPEG", progressive=True)
    start = data.index(b"\xff\xda")
    end = data.rindex(b"\xff\xd9")
    return data[:start] + data[start:end] * 40 + data[end:]


def exif_garbage() -> bytes:
    return _with_segment(ordinary_jpeg(), 0xE1, b"Exif\x00\x00" + noise(2000, b"exif garbage"))


def exif_loop() -> bytes:
    loop = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x69\x87\x04\x00\x01\x00\x00\x00\x08\x00\x00\x00"
    return _with_segment(ordinary_jpeg(), 0xE1, loop)


def jpeg_html_polyglot() -> bytes:
    """A real JPEG with HTML in a comment and after the end: the derivatives must carry none of it."""
    html = b"<html><script>alert(document.cookie)</script></html>"
    return _with_segment(ordinary_jpeg(), 0xFE, html) + html


def gif_html_polyglot() -> bytes:
    return b"GIF89a/*\x00\x00" + b"*/=1;alert(document.domain)//<script>alert(1)</script>" + bytes(64)


def jpeg_zip_polyglot() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("payload.html", "<script>alert(1)</script>")
    return ordinary_jpeg() + archive.getvalue()


SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
    b"<script>alert(document.cookie)</script><rect width='100' height='100'/></svg>"
)
HTML = b"<!doctype html><html><body><script>fetch('/api/v1/users')</script></body></html>"


def _accepted(result: Any) -> None:
    assert result["sha256"] and result["width"] > 0 and result["height"] > 0


def _taken_without_exif(result: Any) -> None:
    _accepted(result)
    assert result["taken_at"] is None and result["gps"] is None


def photo_cases() -> list[Case]:
    too_large, refused, damaged = (413,), (415,), (422,)
    return [
        Case("png bomb", png_bomb, too_large, "bomb.png", "image/png"),
        Case("png declaring 10 G pixels", lambda: png_declaring(100_000, 100_000, b"x"), too_large, "a.png"),
        Case("jpeg declaring 65535²", lambda: jpeg_declaring(65_535, 65_535), too_large, "big.jpg"),
        Case("jpeg declaring 0×0", lambda: jpeg_declaring(0, 0), damaged, "zero.jpg", "image/jpeg"),
        Case("truncated jpeg", lambda: ordinary_jpeg()[: len(ordinary_jpeg()) // 2], damaged, "cut.jpg"),
        Case("jpeg header only", lambda: ordinary_jpeg()[:600], damaged, "head.jpg", "image/jpeg"),
        Case("truncated png", lambda: ordinary_png()[: len(ordinary_png()) // 2], damaged, "cut.png"),
        Case("png with a bad crc", png_bad_crc, damaged, "crc.png", "image/png"),
        Case("png text chunk bomb", png_with_text_bomb, damaged, "text.png", "image/png"),
        Case("png icc profile bomb", png_with_icc_bomb, damaged, "icc.png", "image/png"),
        Case("progressive jpeg, scans repeated", jpeg_with_many_scans, (201,), "scans.jpg", check=_accepted),
        Case("exif garbage", exif_garbage, (201,), "exif.jpg", "image/jpeg", _taken_without_exif),
        Case("exif loop", exif_loop, (201,), "loop.jpg", "image/jpeg", _taken_without_exif),
        Case("jpeg+html polyglot", jpeg_html_polyglot, (201,), "poly.jpg", "image/jpeg", _accepted),
        Case("jpeg+zip polyglot", jpeg_zip_polyglot, (201,), "poly2.jpg", "image/jpeg", _accepted),
        Case("gif/html polyglot", gif_html_polyglot, refused, "poly.gif", "image/gif"),
        Case("svg with script", lambda: SVG, refused, "map.svg", "image/svg+xml"),
        Case("svg named .jpg", lambda: SVG, refused, "photo.jpg", "image/jpeg"),
        Case("html named .jpg", lambda: HTML, refused, "photo.jpg", "image/jpeg"),
        Case(
            "pdf named .png",
            lambda: b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF",
            refused,
            "scan.png",
            "image/png",
        ),
        Case("zip named .heic", lambda: jpeg_zip_polyglot()[len(ordinary_jpeg()) :], refused, "x.heic"),
        Case("tiff named .jpg", lambda: encode(photo(64, 48), "TIFF"), refused, "photo.jpg", "image/jpeg"),
        Case("empty file", lambda: b"", refused, "empty.jpg", "image/jpeg"),
        Case("noise", lambda: noise(100_000, b"photo noise"), refused, "noise.jpg", "image/jpeg"),
        Case(
            "hostile file name",
            lambda: encode(photo(64, 48), "JPEG"),
            (201,),
            "../../../../etc/cron.d/x\x01.jpg" + "长" * 600,
            "image/jpeg",
            _accepted,
        ),
        # NUL is refused in every input (app/api.py), the file name included: 422 naming `file`.
        Case("file name with NUL", lambda: encode(photo(64, 48), "JPEG"), damaged, "x\x00.jpg", "image/jpeg"),
    ]
