"""Looking the district's units up: townships by code or old name, villages, the codes people type, and the
units a point lies in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from app import refdata
from app.district import boundaries
from app.district.codes import CodeBook, CodeRefused, UnitCode, parse_code
from app.district.models import (
    District,
    FormerUnit,
    Township,
    TownshipAlias,
    Village,
)
from app.errors import FieldErrors, InvalidInput
from app.extensions import db

T = TypeVar("T")


@dataclass(frozen=True)
class _Book:
    """The district's reference rows as this process keeps them (app/refdata.py): detached copies, handed
    to a request through `refdata.attach` (no SQL)."""

    district: District | None
    townships: dict[str, Township]  # by code
    township_ids: dict[int, Township]
    township_names: dict[str, list[Township]]  # by current name and by old name (aliases), by code
    villages: dict[str, Village]  # by code, each with its township
    code_book: CodeBook


def _book() -> _Book:
    return refdata.cached("district", _read_book)


def _read_book() -> _Book:
    districts = refdata.detached(sa.select(District).order_by(District.id).limit(1))
    district = districts[0] if districts else None
    townships = refdata.detached(sa.select(Township).order_by(Township.code))
    by_id = {t.id: t for t in townships}
    names: dict[str, list[Township]] = {}
    for township in townships:
        names.setdefault(township.name_zh, []).append(township)
    for name, township_id in db.session.execute(sa.select(TownshipAlias.name, TownshipAlias.township_id)):
        found = names.setdefault(name, [])
        if by_id[township_id] not in found:
            found.append(by_id[township_id])
    for found in names.values():
        found.sort(key=lambda t: t.code)
    villages = refdata.detached(sa.select(Village).options(joinedload(Village.township)))
    return _Book(
        district=district,
        townships={t.code: t for t in townships},
        township_ids=by_id,
        township_names=names,
        villages={v.code: v for v in villages},
        code_book=_read_code_book(district),
    )


def get_district() -> District | None:
    district = _book().district
    return None if district is None else refdata.attach(district)


def township_by_id(township_id: int) -> Township | None:
    township = _book().township_ids.get(township_id)
    return None if township is None else refdata.attach(township)


def village_by_code(code: str) -> Village | None:
    village = _book().villages.get(code)
    return None if village is None else refdata.attach(village)


def list_townships() -> sa.Select[tuple[Township]]:
    return sa.select(Township).options(selectinload(Township.aliases)).order_by(Township.code)


def township_at(lon: float, lat: float) -> Township | None:
    """The township whose loaded polygon holds the point (None without township polygons or outside them)."""
    code = boundaries.township_code_at(lon, lat)
    township = None if code is None else _book().townships.get(code)
    return None if township is None else refdata.attach(township)


def village_at(lon: float, lat: float, township: Township | None = None) -> Village | None:
    """The village whose loaded polygon holds the point, when it lies in `township` (if one is known)."""
    code = boundaries.village_code_at(lon, lat)
    if code is None:
        return None
    village = village_by_code(code)
    if village is None or (township is not None and village.township_id != township.id):
        return None
    return village


def has_boundaries() -> bool:
    """Whether township polygons are loaded (a record's township then comes from its point)."""
    return boundaries.locator().townships is not None


def find_townships(name_or_code: str, *, with_aliases: bool = True) -> list[Township]:
    """Townships a record's township refers to: by code, current name or an old name (may be several).

    `with_aliases=False` leaves the aliases unloaded (a record only needs the township itself). A code
    may be typed in any form app.district.codes reads; one this district cannot use raises InvalidInput (422).
    """
    text = name_or_code.strip()
    unit = parse_unit_code(text)  # 9- and 12-digit forms, a village's code, a former code mapped
    if with_aliases:  # their aliases too (lists and pages show them): read with them
        base = list_townships()
        if unit is not None:
            return list(db.session.scalars(base.where(Township.code == unit.township)))
        stmt = base.where(
            sa.or_(
                Township.name_zh == text,
                Township.id.in_(sa.select(TownshipAlias.township_id).where(TownshipAlias.name == text)),
            )
        )
        return list(db.session.scalars(stmt))
    book = _book()
    if unit is not None:
        found = book.townships.get(unit.township)
        return [] if found is None else [refdata.attach(found)]
    return [refdata.attach(t) for t in book.township_names.get(text, [])]


# ---------------------------------------------------------------------------------------------
# Villages (村/社区) and the codes of former units


def code_book() -> CodeBook:
    """What the loaded district data says about codes (for app.district.codes), kept per process."""
    return _book().code_book


def _read_code_book(district: District | None) -> CodeBook:
    if district is None:
        return CodeBook(district_code="", district_name="")
    counties = {code: code for code in district.former_codes}
    units: dict[str, str] = {}
    for code, name, today in db.session.execute(
        sa.select(FormerUnit.code, FormerUnit.name, FormerUnit.today_code)
    ):
        if len(code) == 6:
            counties[code] = name
        elif today:
            units[code] = today
    return CodeBook(
        district_code=district.code,
        district_name=district.name,
        former_counties=counties,
        former_units=units,
    )


def parse_unit_code(text: str, field_name: str = "township_code") -> UnitCode | None:
    """A typed township or village code as a unit; None for a name. Raises InvalidInput (422) naming the
    field when the text is a code this district cannot use (another county's, a former one not mapped)."""
    try:
        return parse_code(text, code_book())
    except CodeRefused as exc:
        raise InvalidInput.field(field_name, exc.message) from exc


def list_villages(township_code: str | None = None, q: str | None = None) -> sa.Select[tuple[Village]]:
    """The villages, by code; of one township when given (any form of its code, or its name), and whose
    short or official name contains `q` when given."""
    stmt = sa.select(Village).options(joinedload(Village.township)).order_by(Village.code)
    if q and q.strip():
        pattern = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            sa.or_(Village.short_name.like(pattern, escape="\\"), Village.name.like(pattern, escape="\\"))
        )
    if township_code:
        townships = find_townships(township_code)
        if not townships:
            raise InvalidInput.field("township_code", _("Unknown township; see GET /api/v1/townships."))
        stmt = stmt.where(Village.township_id.in_([t.id for t in townships]))
    return stmt


def find_village(text: str, township: Township | None = None) -> list[Village]:
    """Villages a record's village refers to: by code (any form people type) or by short or official name,
    within the township when given (short names repeat between townships: 和平村, 大兴村, 永和村)."""
    unit = parse_unit_code(text, "village_code")
    if unit is not None:
        if unit.village is None:
            raise InvalidInput.field(
                "village_code",
                _("%(code)s is a township's code; a village's code has 12 digits.", code=text.strip()),
            )
        village = village_by_code(unit.village)
        return [] if village is None else [village]
    name = text.strip()
    stmt = sa.select(Village).where(sa.or_(Village.short_name == name, Village.name == name))
    if township is not None:
        stmt = stmt.where(Village.township_id == township.id)
    return list(db.session.scalars(stmt.order_by(Village.code)))


def resolve_village(
    village_text: str | None,
    township_text: str | None,
    township: Township | None,
    errors: FieldErrors,
    *,
    kept: bool = False,
) -> tuple[Township | None, Village | None]:
    """A record's village, and its township when only the village was given.

    `township` is the one the record's `township_code` named (or derived from the point when none was
    given). A village code in `township_code` names that village too. A village outside the named township
    is refused on both fields; one `kept` from before an edit that moved the record is dropped instead.
    Problems are added to `errors`.
    """
    village: Village | None = None
    if village_text:
        matches = find_village(village_text, township if township_text else None)
        if len(matches) == 1:
            village = matches[0]
        elif matches:
            errors["village_code"] = [
                _(
                    "%(name)s is in several townships (%(townships)s); send the village's code or the "
                    "township.",
                    name=village_text.strip(),
                    townships=", ".join(f"{v.township.name_zh} {v.code}" for v in matches),
                )
            ]
            return township, None
        elif not kept:
            errors["village_code"] = [_("Unknown village; see GET /api/v1/villages.")]
            return township, None
    elif township_text:
        unit = parse_unit_code(township_text)
        if unit is not None and unit.village is not None:
            village = village_by_code(unit.village)
            if village is None:
                errors["township_code"] = [_("Unknown village; see GET /api/v1/villages.")]
    if village is None:
        return township, None
    if not township_text:
        return village.township, village
    if township is not None and village.township_id != township.id:
        if kept:
            return township, None
        message = _(
            "the village %(village)s (%(village_code)s) is not in the township %(township)s "
            "(%(township_code)s).",
            village=village.short_name,
            village_code=village.code,
            township=township.name_zh,
            township_code=township.code,
        )
        errors["township_code"] = [message]
        errors["village_code"] = [message]
        return township, None
    return township, village
