"""process_photo on good photos: formats, sizes, orientation, EXIF, colour, derivatives without metadata."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image, ImageCms  # noqa: TID251 - tests build and inspect images with Pillow

from app.photos.processing import sha256_of
from tests.photos import images
from tests.photos.images import (
    big_photo,
    dms,
    encode,
    exif,
    marked,
    near,
    opened,
    photo,
    process,
)

# --- Accepted formats ---------------------------------------------------------------------------------

FORMATS = [
    ("JPEG", "jpeg", "image/jpeg", ".jpg"),
    ("PNG", "png", "image/png", ".png"),
    ("WEBP", "webp", "image/webp", ".webp"),
    ("HEIF", "heic", "image/heic", ".heic"),
]


@pytest.mark.parametrize(("pillow_format", "name", "mime_type", "extension"), FORMATS)
def test_each_accepted_format_is_decoded_and_described(
    pillow_format: str, name: str, mime_type: str, extension: str
) -> None:
    data = encode(photo(400, 300), pillow_format)
    result = process(data)
    assert (result.format, result.mime_type, result.extension) == (name, mime_type, extension)
    assert (result.width, result.height) == (400, 300)
    assert result.sha256 == hashlib.sha256(data).hexdigest() == sha256_of(data)
    assert result.display_size == (400, 300)  # never upscaled
    assert result.thumbnail_size == (320, 240)
    assert opened(result.display).size == result.display_size
    assert opened(result.thumbnail).size == result.thumbnail_size
    assert result.taken_at is None and result.gps is None


@pytest.mark.parametrize("pillow_format", ["JPEG", "PNG"])
@pytest.mark.parametrize(
    ("size", "display", "thumbnail"),
    [((3400, 2200), (1600, 1035), (320, 207)), ((2200, 3400), (1035, 1600), (207, 320))],
)
def test_large_photos_are_bounded_on_their_longest_side(
    pillow_format: str, size: tuple[int, int], display: tuple[int, int], thumbnail: tuple[int, int]
) -> None:
    if pillow_format == "JPEG":
        source = big_photo() if size[0] > size[1] else big_photo().transpose(Image.Transpose.ROTATE_90)
    else:  # a gradient: quick to write as PNG, unlike noise
        source = Image.linear_gradient("L").resize(size).convert("RGB")
    result = process(encode(source, pillow_format))
    assert (result.width, result.height) == size
    assert result.display_size == display and opened(result.display).size == display
    assert result.thumbnail_size == thumbnail and opened(result.thumbnail).size == thumbnail


def test_a_tiny_photo_is_never_upscaled() -> None:
    result = process(encode(photo(90, 40), "JPEG"))
    assert result.display_size == result.thumbnail_size == (90, 40)


def test_the_display_image_keeps_the_picture() -> None:
    """Draft decoding and resizing change the scale, not the content: the quadrants keep their colours."""
    source = Image.new("RGB", (3200, 2400), (0, 0, 255))
    source.paste((255, 0, 0), (0, 0, 1600, 1200))
    source.paste((0, 255, 0), (1600, 1200, 3200, 2400))
    display = opened(process(encode(source, "JPEG", quality=95)).display)
    assert display.size == (1600, 1200)
    assert near(display.getpixel((400, 300)), (255, 0, 0))
    assert near(display.getpixel((1200, 900)), (0, 255, 0))
    assert near(display.getpixel((1200, 300)), (0, 0, 255))


# --- Orientation --------------------------------------------------------------------------------------

# Where the stored image's top-left corner ends up once the orientation is applied.
CORNER = {1: "tl", 2: "tr", 3: "br", 4: "bl", 5: "tl", 6: "tr", 7: "br", 8: "bl"}


def _red_corner(image: Image.Image) -> str:
    w, h = image.size
    corners = {"tl": (3, 3), "tr": (w - 4, 3), "bl": (3, h - 4), "br": (w - 4, h - 4)}
    red = [name for name, xy in corners.items() if near(image.getpixel(xy), (255, 0, 0), 40)]
    assert len(red) == 1, red
    return red[0]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_to_size_and_pixels(orientation: int) -> None:
    data = encode(marked(400, 300), "JPEG", quality=95, exif=exif(orientation=orientation))
    result = process(data)
    upright = (300, 400) if orientation >= 5 else (400, 300)
    assert (result.width, result.height) == upright
    assert result.display_size == upright
    assert result.thumbnail_size == ((240, 320) if orientation >= 5 else (320, 240))
    assert _red_corner(opened(result.display)) == CORNER[orientation]
    assert _red_corner(opened(result.thumbnail)) == CORNER[orientation]


def test_orientation_is_applied_to_a_drafted_jpeg() -> None:
    data = encode(marked(3400, 2200), "JPEG", quality=95, exif=exif(orientation=8))
    result = process(data)
    assert (result.width, result.height) == (2200, 3400)
    assert result.display_size == (1035, 1600)
    assert _red_corner(opened(result.display)) == "bl"


def test_heic_orientation_is_applied_once() -> None:
    # libheif turns the pixels itself and resets the EXIF orientation; turning again would be wrong.
    result = process(encode(marked(400, 300), "HEIF", exif=exif(orientation=6)))
    assert (result.width, result.height) == (300, 400)
    assert _red_corner(opened(result.display)) == "tr"


# --- EXIF time and place ------------------------------------------------------------------------------

GPS = {
    1: "N",
    2: dms(30, 40, 12.34),
    3: "E",
    4: dms(107, 48, 0),
    5: b"\x00",
    6: images.Rational(4555, 10),
}


@pytest.mark.parametrize("pillow_format", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_time_and_gps_come_from_the_exif(pillow_format: str) -> None:
    block = exif(original="2024:05:01 10:00:00", gps=GPS)
    result = process(encode(photo(200, 150), pillow_format, exif=block))
    assert result.taken_at == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)  # Asia/Shanghai, no offset given
    assert result.gps is not None
    assert result.gps.latitude == pytest.approx(30.670094, abs=1e-6)
    assert result.gps.longitude == pytest.approx(107.8)
    assert result.gps.altitude_m == pytest.approx(455.5)


def test_an_exif_offset_wins_over_the_local_zone() -> None:
    block = exif(original="2024:05:01 10:00:00", original_offset="+02:00")
    assert process(encode(photo(200, 150), "JPEG", exif=block)).taken_at == datetime(
        2024, 5, 1, 8, tzinfo=UTC
    )


def test_an_impossible_date_gives_no_time_and_still_the_photo() -> None:
    block = exif(original="2024:02:30 10:00:00", gps={**GPS, 2: (images.Rational(30, 0), 0, 0)})
    result = process(encode(photo(200, 150), "JPEG", exif=block))
    assert result.taken_at is None and result.gps is None
    assert result.display_size == (200, 150)


# --- Metadata never reaches the derivatives -----------------------------------------------------------

XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
EVERYTHING = {
    "exif": exif(orientation=1, original="2024:05:01 10:00:00", gps=GPS),
    "icc_profile": images.rgb_profile(images.ADOBE_RGB_D50, images.ADOBE_RGB_GAMMA, "Adobe RGB (1998)"),
}
# Markers a bare baseline JPEG needs: SOI, APP0 (JFIF), DQT, SOF0, DHT, SOS.
BARE_MARKERS = {0xD8, 0xE0, 0xDB, 0xC0, 0xC4, 0xDA}


@pytest.mark.parametrize(
    ("pillow_format", "extra"),
    [
        ("JPEG", {"comment": b"Shot by Zhang San, 13800138000", "xmp": XMP}),
        ("PNG", {}),
        ("WEBP", {"xmp": XMP}),
        ("HEIF", {"xmp": XMP}),
    ],
)
@pytest.mark.parametrize("profile", [True, False], ids=["converted", "as-decoded"])
def test_derivatives_carry_no_metadata_at_all(
    pillow_format: str, extra: dict[str, Any], profile: bool
) -> None:
    # Without a profile to convert, a small photo's display image is the decoded image itself,
    # with all the original's metadata in its `info`.
    metadata = EVERYTHING if profile else {"exif": EVERYTHING["exif"]}
    source = encode(photo(400, 300), pillow_format, **metadata, **extra)
    assert any(chunk in source for chunk in (b"Exif", b"eXIf", b"EXIF"))  # the source carries it all
    result = process(source)
    assert result.gps is not None  # ...and it was read from the original
    for jpeg in (result.display, result.thumbnail):
        for forbidden in (b"Exif", b"http://ns.adobe.com/xap", b"ICC_PROFILE", b"Zhang", b"<x:xmpmeta"):
            assert forbidden not in jpeg
        assert {marker for marker, _ in images.jpeg_segments(jpeg)} <= BARE_MARKERS  # no COM (0xFE), no APPn
        image = opened(jpeg)
        assert not set(image.info) & {"exif", "icc_profile", "comment", "xmp", "photoshop"}
        assert len(image.getexif()) == 0


# --- Colour -------------------------------------------------------------------------------------------


def _flat(colour: tuple[int, int, int], profile: bytes | None, pillow_format: str = "JPEG") -> bytes:
    params: dict[str, Any] = {"icc_profile": profile} if profile else {}
    if pillow_format == "JPEG":
        params["quality"] = 95
    return encode(Image.new("RGB", (64, 48), colour), pillow_format, **params)


def _centre(jpeg: bytes) -> Any:
    image = opened(jpeg).convert("RGB")
    return image.getpixel((image.width // 2, image.height // 2))


COLOUR = (200, 60, 40)


@pytest.mark.parametrize("pillow_format", ["JPEG", "PNG"])
def test_a_wide_gamut_profile_is_converted_to_srgb_before_it_is_dropped(pillow_format: str) -> None:
    adobe = images.rgb_profile(images.ADOBE_RGB_D50, images.ADOBE_RGB_GAMMA, "Adobe RGB (1998)")
    expected = images.expected_srgb(COLOUR, images.ADOBE_RGB_D50, images.ADOBE_RGB_GAMMA)
    assert expected == (231, 57, 34)  # worked out by hand: far from the stored numbers
    result = process(_flat(COLOUR, adobe, pillow_format))
    assert near(_centre(result.display), expected)
    assert near(_centre(result.thumbnail), expected)


def test_a_linear_profile_is_converted_too() -> None:
    linear = images.rgb_profile(images.SRGB_D50, 1.0, "linear sRGB")
    assert near(_centre(process(_flat((128, 128, 128), linear)).display), (188, 188, 188), 2)


@pytest.mark.parametrize(
    "profile",
    [
        None,
        SRGB_ICC,
        b"this is not an ICC profile",
        ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes(),  # does not fit RGB pixels
    ],
    ids=["none", "srgb", "garbage", "lab"],
)
def test_srgb_missing_or_unusable_profiles_leave_the_colours(profile: bytes | None) -> None:
    assert near(_centre(process(_flat(COLOUR, profile)).display), COLOUR)


# --- Pixel modes --------------------------------------------------------------------------------------


def _half_transparent(mode: str) -> Image.Image:
    image = Image.new("RGBA", (64, 48), (255, 0, 0, 255))
    image.paste((0, 0, 255, 0), (32, 0, 64, 48))  # blue, but fully transparent
    if mode == "LA":
        return image.convert("LA")
    if mode == "P":
        return image.quantize(colors=4, method=Image.Quantize.FASTOCTREE)
    return image


@pytest.mark.parametrize(
    ("mode", "pillow_format"), [("RGBA", "PNG"), ("RGBA", "WEBP"), ("LA", "PNG"), ("P", "PNG")]
)
def test_transparency_is_laid_on_white(mode: str, pillow_format: str) -> None:
    source = _half_transparent(mode)
    params = {"lossless": True} if pillow_format == "WEBP" else {}
    display = opened(process(encode(source, pillow_format, **params)).display).convert("RGB")
    opaque = (76, 76, 76) if mode == "LA" else (255, 0, 0)  # red in grey is 76
    assert near(display.getpixel((10, 24)), opaque)
    assert near(display.getpixel((54, 24)), (255, 255, 255))


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    source = Image.new("I;16", (64, 48), 0)
    source.paste(Image.new("I;16", (32, 48), 32768), (0, 0))
    assert source.getpixel((10, 24)) == 32768
    display = opened(process(encode(source, "PNG")).display)
    assert display.mode == "L"
    assert near(display.getpixel((10, 24)), (128,), 2)  # clipping would make it 255
    assert near(display.getpixel((54, 24)), (0,), 2)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (lambda: Image.new("CMYK", (64, 48), (0, 255, 255, 0)), (255, 0, 0)),
        (lambda: Image.new("L", (64, 48), 90), (90, 90, 90)),
        (lambda: Image.new("1", (64, 48), 1), (255, 255, 255)),
    ],
    ids=["cmyk-jpeg", "grey-jpeg", "bilevel-png"],
)
def test_other_modes_become_ordinary_jpegs(
    source: Callable[[], Image.Image], expected: tuple[int, ...]
) -> None:
    image = source()
    data = encode(
        image, "PNG" if image.mode == "1" else "JPEG", **({"quality": 95} if image.mode != "1" else {})
    )
    display = opened(process(data).display)
    assert display.mode in ("RGB", "L")
    assert near(display.convert("RGB").getpixel((32, 24)), expected)


@pytest.mark.parametrize("pillow_format", ["PNG", "WEBP"])
def test_an_animation_gives_its_first_frame(pillow_format: str) -> None:
    frames = [Image.new("RGB", (64, 48), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], pillow_format, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert near(_centre(process(data).display), (255, 0, 0))
