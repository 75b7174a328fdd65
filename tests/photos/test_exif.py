"""EXIF time and GPS: what phones write, what broken firmware writes, and what an attacker writes."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.photos import exif

SHANGHAI = ZoneInfo("Asia/Shanghai")
R = Fraction  # Pillow's IFDRational is a numbers.Rational too


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- Time ---------------------------------------------------------------------------------------------


def test_time_without_offset_is_read_as_local_time() -> None:
    ifd = {exif.DATETIME_ORIGINAL: "2024:05:01 10:00:00"}
    assert exif.taken_at({}, ifd, SHANGHAI) == utc(2024, 5, 1, 2)


def test_time_with_offset_uses_the_offset_not_the_local_zone() -> None:
    ifd = {exif.DATETIME_ORIGINAL: "2024:05:01 10:00:00", exif.OFFSET_TIME_ORIGINAL: "-05:30"}
    assert exif.taken_at({}, ifd, SHANGHAI) == utc(2024, 5, 1, 15, 30)


def test_original_wins_then_digitized_then_datetime_each_with_its_own_offset() -> None:
    ifd0 = {exif.DATETIME: "2024:05:03 10:00:00"}
    both = {
        exif.DATETIME_ORIGINAL: "2024:05:01 10:00:00",
        exif.DATETIME_DIGITIZED: "2024:05:02 10:00:00",
        exif.OFFSET_TIME_DIGITIZED: "+00:00",
        exif.OFFSET_TIME: "+01:00",
    }
    assert exif.taken_at(ifd0, both, SHANGHAI) == utc(2024, 5, 1, 2)
    del both[exif.DATETIME_ORIGINAL]
    assert exif.taken_at(ifd0, both, SHANGHAI) == utc(2024, 5, 2, 10)
    del both[exif.DATETIME_DIGITIZED]
    assert exif.taken_at(ifd0, both, SHANGHAI) == utc(2024, 5, 3, 9)


def test_a_bad_original_falls_back_to_the_next_tag() -> None:
    ifd = {exif.DATETIME_ORIGINAL: "0000:00:00 00:00:00", exif.DATETIME_DIGITIZED: "2024:05:02 08:00:00"}
    assert exif.taken_at({}, ifd, SHANGHAI) == utc(2024, 5, 2, 0)


@pytest.mark.parametrize(
    "stamp",
    [
        "2024:02:30 10:00:00",  # no 30 February
        "2024:13:01 10:00:00",
        "2024:05:01 24:00:00",
        "0000:00:00 00:00:00",  # what cameras without a clock write
        "    :  :     :  :  ",  # the EXIF spec's "unknown"
        "",
        "yesterday",
        "2024:05:01",
        b"\xff\xfe",
        12345,
        ("2024:05:01 10:00:00",),
    ],
)
def test_impossible_or_malformed_times_give_none(stamp: Any) -> None:
    assert exif.taken_at({exif.DATETIME: stamp}, {exif.DATETIME_ORIGINAL: stamp}, SHANGHAI) is None


def test_padding_bytes_and_dashes_are_tolerated() -> None:
    ifd = {exif.DATETIME_ORIGINAL: b"2024-05-01 10:00:00\x00", exif.OFFSET_TIME_ORIGINAL: "+0800\x00"}
    assert exif.taken_at({}, ifd, SHANGHAI) == utc(2024, 5, 1, 2)


@pytest.mark.parametrize("offset", ["+25:00", "+08:75", "8", "Z", "+08:00:00"])
def test_a_nonsense_offset_is_ignored_in_favour_of_the_local_zone(offset: str) -> None:
    ifd = {exif.DATETIME_ORIGINAL: "2024:05:01 10:00:00", exif.OFFSET_TIME_ORIGINAL: offset}
    assert exif.taken_at({}, ifd, SHANGHAI) == utc(2024, 5, 1, 2)


# --- GPS ----------------------------------------------------------------------------------------------

LIANGPING = {
    exif.GPS_LATITUDE_REF: "N",
    exif.GPS_LATITUDE: (R(30), R(40), R(1234, 100)),
    exif.GPS_LONGITUDE_REF: "E",
    exif.GPS_LONGITUDE: (R(107), R(48), R(0)),
    exif.GPS_ALTITUDE_REF: b"\x00",
    exif.GPS_ALTITUDE: R(4555, 10),
}


def test_gps_degrees_minutes_seconds_become_decimal_degrees() -> None:
    fix = exif.gps_fix(LIANGPING)
    assert fix is not None
    assert fix.latitude == pytest.approx(30 + 40 / 60 + 12.34 / 3600)
    assert fix.longitude == pytest.approx(107.8)
    assert fix.altitude_m == pytest.approx(455.5)


def test_southern_western_and_below_sea_level_are_negative() -> None:
    fix = exif.gps_fix(
        {
            **LIANGPING,
            exif.GPS_LATITUDE_REF: "S",
            exif.GPS_LONGITUDE_REF: b"W\x00",
            exif.GPS_ALTITUDE_REF: 1,
            exif.GPS_ALTITUDE: R(430),
        }
    )
    assert fix is not None
    assert fix.latitude < 0 and fix.longitude == pytest.approx(-107.8) and fix.altitude_m == -430


def test_decimal_degrees_in_the_degrees_field_are_accepted() -> None:
    fix = exif.gps_fix({**LIANGPING, exif.GPS_LATITUDE: (R(306789, 10000), R(0), R(0))})
    assert fix is not None and fix.latitude == pytest.approx(30.6789)


@pytest.mark.parametrize(
    "change",
    [
        {exif.GPS_LATITUDE_REF: None},  # missing hemisphere: the sign is unknown
        {exif.GPS_LONGITUDE_REF: "X"},
        {exif.GPS_LATITUDE: None},
        {exif.GPS_LATITUDE: ()},
        {exif.GPS_LATITUDE: (R(91), R(0), R(0))},
        {exif.GPS_LONGITUDE: (R(180), R(0), R(1))},
        {exif.GPS_LATITUDE: (R(30), R(60), R(0))},  # 60 minutes
        {exif.GPS_LATITUDE: (R(30), R(40), R(-1))},
        {exif.GPS_LATITUDE: (float("nan"), R(0), R(0))},  # how Pillow reads n/0
        {exif.GPS_LATITUDE: ((30, 0), (40, 1), (0, 1))},  # a zero denominator, as a pair
        {exif.GPS_LATITUDE: ("30", "40", "0")},
        {exif.GPS_LATITUDE: 30.5},
        {exif.GPS_LATITUDE: (R(0),), exif.GPS_LONGITUDE: (R(0),)},  # "null island": no fix
    ],
)
def test_unusable_positions_give_none(change: dict[int, Any]) -> None:
    tags = {**LIANGPING, **change}
    assert exif.gps_fix({k: v for k, v in tags.items() if v is not None}) is None


@pytest.mark.parametrize(
    ("altitude", "ref", "expected"),
    [
        (R(4555, 10), None, 455.5),  # EXIF's default reference is sea level, upwards
        (float("nan"), 0, None),
        (R(20_000), 0, None),  # an aircraft, or a broken receiver
        (R(100), 7, None),
        (R(100), b"\x00\x01", None),
        ("100", 0, None),
    ],
)
def test_a_bad_altitude_leaves_the_position(altitude: Any, ref: Any, expected: float | None) -> None:
    tags = {**LIANGPING, exif.GPS_ALTITUDE: altitude, exif.GPS_ALTITUDE_REF: ref}
    fix = exif.gps_fix({k: v for k, v in tags.items() if v is not None})
    assert fix is not None
    assert (fix.latitude, fix.longitude) == pytest.approx((30.670094, 107.8))
    assert fix.altitude_m == expected


@pytest.mark.parametrize(("value", "expected"), [(6, 6), (1, 1), (0, 1), (9, 1), ("6", 1), (None, 1)])
def test_orientation_outside_one_to_eight_means_as_stored(value: Any, expected: int) -> None:
    assert exif.orientation({exif.ORIENTATION: value}) == expected


values = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.binary(max_size=30),
    st.tuples(st.integers(), st.integers()),
    st.lists(
        st.one_of(st.integers(), st.floats(), st.text(max_size=3), st.binary(max_size=3)), max_size=4
    ).map(tuple),
)
tag_maps = st.dictionaries(
    st.integers(min_value=0, max_value=0xFFFF) | st.sampled_from([1, 2, 3, 4, 5, 6]), values
)


@settings(max_examples=300, deadline=None)
@given(ifd0=tag_maps, exif_ifd=tag_maps, gps_ifd=tag_maps)
def test_nothing_a_file_can_say_makes_the_readers_raise(
    ifd0: dict[int, Any], exif_ifd: dict[int, Any], gps_ifd: dict[int, Any]
) -> None:
    exif.orientation(ifd0)
    moment = exif.taken_at(ifd0, exif_ifd, SHANGHAI)
    fix = exif.gps_fix(gps_ifd)
    assert moment is None or moment.tzinfo is UTC
    assert fix is None or (-90 <= fix.latitude <= 90 and -180 <= fix.longitude <= 180)
