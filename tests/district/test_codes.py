"""Codes as people type them (app/district/codes.py): every accepted form and every refusal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask_babel import force_locale

from app.district.codes import CodeBook, CodeRefused, UnitCode, normalize, parse_code

BOOK = CodeBook(
    district_code="500155",
    district_name="梁平区",
    former_counties={"500228": "梁平县"},
    # A mapping made up for the test (Liangping's own old township codes are not known here).
    former_units={"500228104": "500155104", "500228104201": "500155104201"},
)


@pytest.fixture(autouse=True)
def _english(app: Flask) -> Iterator[None]:
    """The messages in English here; Chinese ones are checked through the API (test_villages.py)."""
    with force_locale("en"):
        yield


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500155104", UnitCode(township="500155104")),
        ("500155104000", UnitCode(township="500155104")),
        (" 500155104 ", UnitCode(township="500155104")),
        ("500155 104 000", UnitCode(township="500155104")),
        ("５００１５５１０４", UnitCode(township="500155104")),  # full-width, from a Chinese input method
        ("500155104201", UnitCode(township="500155104", village="500155104201")),
        ("500155001001", UnitCode(township="500155001", village="500155001001")),
    ],
)
def test_township_and_village_forms(text: str, expected: UnitCode) -> None:
    assert parse_code(text, BOOK) == expected


def test_a_village_code_implies_its_township() -> None:
    unit = parse_code("500155202204", BOOK)
    assert unit is not None and unit.township == "500155202" and unit.level == "village"


@pytest.mark.parametrize("text", ["梁山街道", "新口村", "500155一", ""])
def test_names_are_not_codes(text: str) -> None:
    assert parse_code(text, BOOK) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500228104", UnitCode(township="500155104", former="500228104")),
        ("500228104000", UnitCode(township="500155104", former="500228104000")),
        ("500228104201", UnitCode(township="500155104", village="500155104201", former="500228104201")),
    ],
)
def test_former_codes_map_where_the_mapping_is_known(text: str, expected: UnitCode) -> None:
    assert parse_code(text, BOOK) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("500228105", ["500228105", "梁平县", "500228", "500155"]),  # former township, mapping unknown
        ("500228104299", ["500228104299", "梁平县"]),  # former village, mapping unknown
        ("500228", ["500228", "梁平县"]),  # the former county itself
        ("500101001", ["500101001", "梁平区", "500155"]),  # another county's township
        ("500101001201", ["500101001201", "梁平区"]),  # another county's village
        ("500155", ["500155", "county"]),  # the district's own county code
        ("5001551040", ["5001551040", "10 digits"]),  # a digit too many
        ("50015510", ["50015510", "8 digits"]),  # a digit too few
    ],
)
def test_refusals_say_why(text: str, says: list[str]) -> None:
    with pytest.raises(CodeRefused) as excinfo:
        parse_code(text, BOOK)
    for part in says:
        assert part in excinfo.value.message


def test_a_mapping_to_another_county_is_not_followed() -> None:
    book = CodeBook("500155", "梁平区", {"500228": "梁平县"}, {"500228104": "500101104"})
    with pytest.raises(CodeRefused, match="梁平县"):
        parse_code("500228104", book)


def test_without_a_loaded_district_any_county_passes() -> None:
    assert parse_code("500101001", CodeBook("", "")) == UnitCode(township="500101001")


def test_normalize() -> None:
    assert normalize("500155104000") == "500155104"
    assert normalize("500155104201") == "500155104201"
    assert normalize("500155104") == "500155104"
    assert normalize("5001") == "5001"
