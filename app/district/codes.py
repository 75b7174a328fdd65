"""Administrative codes as people type them (docs/contract.md §2, Administrative units).

Pure: what the district knows is passed in as a `CodeBook`; nothing here reads the database.

- A township has a 9-digit NBS code; its 12-digit form ends in `000` and is the same unit
  (500155104 = 500155104000).
- A village or community (村/社区) has a 12-digit code whose first 9 digits are its township's, so a
  village code implies its township (500155104201 → 500155104).
- Codes of a former county (梁平县, 500228…) map to today's units where the district's data knows the
  mapping; otherwise they are refused with a message that names the old county, never guessed.
- Spaces inside a code and full-width digits (typed with a Chinese input method) are accepted.

`parse_code` returns None for text that is not a code at all (a name such as 梁山镇), which the caller
looks up by name.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask_babel import gettext as _

TOWNSHIP_DIGITS = 9
VILLAGE_DIGITS = 12
COUNTY_DIGITS = 6
TOWNSHIP_SUFFIX = "000"  # the 12-digit form of a township code


class CodeRefused(ValueError):
    """The text is a code, but not one this district can use; `message` says why, for a person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CodeBook:
    """What the district's data says about codes.

    `former_counties`: old county codes and their names ({"500228": "梁平县"}).
    `former_units`: old township or village codes (9 or 12 digits) and today's code of the same unit,
    for the units whose mapping is known.
    """

    district_code: str
    district_name: str
    former_counties: Mapping[str, str] = field(default_factory=dict)
    former_units: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UnitCode:
    """A township, and the village within it when the code named one."""

    township: str  # 9 digits
    village: str | None = None  # 12 digits
    former: str | None = None  # the former code the text carried, when it was mapped

    @property
    def level(self) -> str:
        return "village" if self.village else "township"


def _digits(text: str) -> str | None:
    # NFKC: full-width digits (５００１５５…) typed with a Chinese input method are digits too.
    compact = "".join(unicodedata.normalize("NFKC", text).split())
    return compact if compact.isascii() and compact.isdigit() else None


def _split(code: str) -> UnitCode | None:
    """A well-formed 9- or 12-digit code as a unit (no district check)."""
    if len(code) == TOWNSHIP_DIGITS:
        return UnitCode(township=code)
    if len(code) == VILLAGE_DIGITS:
        if code.endswith(TOWNSHIP_SUFFIX):
            return UnitCode(township=code[:TOWNSHIP_DIGITS])
        return UnitCode(township=code[:TOWNSHIP_DIGITS], village=code)
    return None


def normalize(code: str) -> str:
    """The canonical form of a township or village code: 9 digits for a township, 12 for a village."""
    unit = _split(code)
    if unit is None:
        return code
    return unit.village or unit.township


def parse_code(text: str, book: CodeBook) -> UnitCode | None:
    """The unit a typed code names, None when the text is not a code (a name), CodeRefused otherwise."""
    code = _digits(text)
    if code is None:
        return None
    county = code[:COUNTY_DIGITS]
    if county in book.former_counties:
        return _former(code, county, book)
    if len(code) == COUNTY_DIGITS:
        raise CodeRefused(
            _("%(code)s is a county's code; give a township's (9 digits) or a village's (12).", code=code)
        )
    unit = _split(code)
    if unit is None:
        raise CodeRefused(
            _(
                "%(code)s has %(n)d digits: a township's code has 9 (or 12 ending in 000), a village's 12.",
                code=code,
                n=len(code),
            )
        )
    if book.district_code and county != book.district_code:
        raise CodeRefused(
            _(
                "%(code)s is not a code of %(district)s (%(prefix)s…).",
                code=code,
                district=book.district_name,
                prefix=book.district_code,
            )
        )
    return unit


def _former(code: str, county: str, book: CodeBook) -> UnitCode:
    name = book.former_counties[county]
    today = book.former_units.get(normalize(code))
    if today is not None:
        unit = _split(today)
        if unit is not None and today[:COUNTY_DIGITS] == book.district_code:
            return UnitCode(township=unit.township, village=unit.village, former=code)
    raise CodeRefused(
        _(
            "%(code)s is a code of the former %(county)s (%(old)s); which unit it is today is not known "
            "here. Give today's code (%(prefix)s…) or the name.",
            code=code,
            county=name,
            old=county,
            prefix=book.district_code,
        )
    )
