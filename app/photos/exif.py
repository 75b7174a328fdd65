"""What a photo's EXIF says about when and where it was taken, read defensively.

EXIF is written by every kind of camera firmware and app, and by anyone who wants to; here it is
attacker-controlled input. These functions take the tag values already pulled out of the file (plain
mappings of tag number to value, so no imaging library is needed here) and return `None` for anything
missing, malformed or impossible. They never raise: a photo with bad EXIF is still a good photo, it
just says nothing about its time or place.

The photo's own GPS is corroboration only (phones strip it from photos picked in a browser); the
record's position comes from the device.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from numbers import Real
from typing import Any
from zoneinfo import ZoneInfo

# IFD0 tags.
ORIENTATION = 0x0112
DATETIME = 0x0132
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
# Exif IFD tags. OffsetTime belongs to DateTime, which itself lives in IFD0.
DATETIME_ORIGINAL = 0x9003
DATETIME_DIGITIZED = 0x9004
OFFSET_TIME = 0x9010
OFFSET_TIME_ORIGINAL = 0x9011
OFFSET_TIME_DIGITIZED = 0x9012
# GPS IFD tags.
GPS_LATITUDE_REF = 1
GPS_LATITUDE = 2
GPS_LONGITUDE_REF = 3
GPS_LONGITUDE = 4
GPS_ALTITUDE_REF = 5
GPS_ALTITUDE = 6

# Beyond this the receiver was broken, not the photographer on a mountain (or in a mine).
ALTITUDE_RANGE_M = (-1_000.0, 10_000.0)
# UTC offsets in use run from -12:00 to +14:00.
_MAX_OFFSET = timedelta(hours=14)

_DATETIME_RE = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET_RE = re.compile(r"([+-])(\d{2}):?(\d{2})")

Tags = Mapping[int, Any]


@dataclass(frozen=True)
class GpsFix:
    latitude: float
    longitude: float
    altitude_m: float | None


def orientation(ifd0: Tags) -> int:
    """The EXIF orientation (1–8); 1, "as stored", when absent or nonsense."""
    value = ifd0.get(ORIENTATION)
    if isinstance(value, int) and 1 <= value <= 8:
        return value
    return 1


def taken_at(ifd0: Tags, exif_ifd: Tags, local_tz: ZoneInfo) -> datetime | None:
    """When the photo was taken, in UTC.

    DateTimeOriginal is the shutter; DateTimeDigitized and DateTime are fallbacks that usually agree
    with it on phones. Each has its own offset tag (EXIF 2.31); cameras without one write local
    time, which here means `local_tz`.
    """
    candidates = (
        (exif_ifd.get(DATETIME_ORIGINAL), exif_ifd.get(OFFSET_TIME_ORIGINAL)),
        (exif_ifd.get(DATETIME_DIGITIZED), exif_ifd.get(OFFSET_TIME_DIGITIZED)),
        (ifd0.get(DATETIME), exif_ifd.get(OFFSET_TIME)),
    )
    for stamp, offset in candidates:
        local = _parse_datetime(stamp)
        if local is None:
            continue
        tz = _parse_offset(offset) or local_tz
        try:
            return local.replace(tzinfo=tz).astimezone(UTC)
        except (OverflowError, ValueError):  # year 1 minus an offset, and the like
            continue
    return None


def gps_fix(gps_ifd: Tags) -> GpsFix | None:
    """The position in the GPS IFD, or None unless both coordinates and their hemispheres make sense."""
    latitude = _coordinate(gps_ifd.get(GPS_LATITUDE), gps_ifd.get(GPS_LATITUDE_REF), "N", "S", 90.0)
    longitude = _coordinate(gps_ifd.get(GPS_LONGITUDE), gps_ifd.get(GPS_LONGITUDE_REF), "E", "W", 180.0)
    if latitude is None or longitude is None:
        return None
    if latitude == 0.0 and longitude == 0.0:  # "null island": a receiver without a fix writes zeros
        return None
    altitude = _altitude(gps_ifd.get(GPS_ALTITUDE), gps_ifd.get(GPS_ALTITUDE_REF))
    return GpsFix(latitude=latitude, longitude=longitude, altitude_m=altitude)


def _text(value: Any) -> str | None:
    """An ASCII tag as text: Pillow gives str, some writers bytes, padded with NULs or spaces."""
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 ")


def _parse_datetime(value: Any) -> datetime | None:
    """EXIF's "YYYY:MM:DD HH:MM:SS" as a naive datetime; blanks, zeros and impossible dates give None."""
    text = _text(value)
    match = _DATETIME_RE.fullmatch(text) if text else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - the caller adds the zone
    except ValueError:  # month 13, 30 February, year 0, hour 24 …
        return None


def _parse_offset(value: Any) -> timezone | None:
    text = _text(value)
    match = _OFFSET_RE.fullmatch(text) if text else None
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    if int(minutes) >= 60:
        return None
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    if offset > _MAX_OFFSET:
        return None
    return timezone(-offset if sign == "-" else offset)


def _number(value: Any) -> float | None:
    """A finite float from a rational; a zero denominator (NaN in Pillow) or anything else gives None."""
    if isinstance(value, tuple) and len(value) == 2:  # (numerator, denominator) from some readers
        numerator, denominator = value
        if not isinstance(numerator, Real) or not isinstance(denominator, Real) or denominator == 0:
            return None
        value = numerator / denominator
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    try:
        number = float(value)
    except (ArithmeticError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _coordinate(value: Any, ref: Any, positive: str, negative: str, limit: float) -> float | None:
    """Degrees, minutes, seconds and a hemisphere letter as signed decimal degrees."""
    hemisphere = _text(ref)
    if hemisphere is None or hemisphere.upper() not in (positive, negative):
        return None
    if not isinstance(value, tuple | list) or not 1 <= len(value) <= 3:
        return None
    parts = [_number(part) for part in value]
    if any(part is None or part < 0 for part in parts):
        return None
    numbers = [part for part in parts if part is not None]
    degrees, minutes, seconds = (*numbers, 0.0, 0.0)[:3]
    if minutes >= 60 or seconds >= 60:
        return None
    total = degrees + minutes / 60 + seconds / 3600
    if total > limit:
        return None
    return -total if hemisphere.upper() == negative else total


def _altitude(value: Any, ref: Any) -> float | None:
    metres = _number(value)
    if metres is None or metres < 0:
        return None
    # GPSAltitudeRef: 0 above sea level, 1 below; EXIF makes 0 the default when the tag is absent.
    if ref is None:
        ref = 0
    elif isinstance(ref, bytes) and len(ref) == 1:  # BYTE tags sometimes arrive undecoded
        ref = ref[0]
    if isinstance(ref, bool) or ref not in (0, 1):
        return None
    altitude = -metres if ref == 1 else metres
    low, high = ALTITUDE_RANGE_M
    return altitude if low <= altitude <= high else None
