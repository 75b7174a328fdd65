"""Loading, replacing and using the bureau's boundaries (docs/contract.md §2, Boundaries).

A load reads a file (app/geo/boundaries/), checks it against the units this district has and reports
before anything is written; a load with errors writes nothing, and `dry_run` only reports. A load replaces
the level's polygons as a whole, inside the caller's unit of work, so a failure leaves the previous ones.

Each process keeps one Locator (app/geo/locate.py) built from the loaded polygons and rebuilds it when the
newest load's `version` changes, so a replacement made by one worker is seen by every other at its next
record. Without polygons "inside the district" is the district's box (District.contains).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import shapely
import sqlalchemy as sa
from flask import current_app, g
from shapely.geometry.base import BaseGeometry

from app import refdata
from app.audit.services import current_actor, record_event
from app.district.events import BoundariesLoaded, Placed, Rechecked
from app.district.models import Boundary, BoundaryLevel, BoundaryLoad, District, Township, Village
from app.events import publish
from app.extensions import db
from app.geo.boundaries import (
    BoundaryFileError,
    Report,
    check_boundaries,
    from_geojson,
    read_boundary_file,
    to_geojson,
)
from app.geo.boundaries.report import LEVEL_WORDS, N_, Problem, says
from app.geo.locate import EMPTY, Locator

__all__ = ["BoundaryFileError", "BoundaryLoadError", "load_boundaries", "locator"]


class BoundaryLoadError(Exception):
    """The file was read but its check found errors; nothing was written. `report` says what."""

    def __init__(self, report: Report):
        super().__init__("; ".join(p.message for p in report.errors))
        self.report = report


def _setting(name: str) -> float:
    return float(current_app.config[name])


def max_bytes() -> int:
    return int(current_app.config["IAS_BOUNDARY_MAX_MB"] * 1024 * 1024)


# ---------------------------------------------------------------------------------------------
# Which codes a level has


def known_units(level: BoundaryLevel) -> dict[str, str]:
    """code → name of the units a file at `level` may name (villages: see `_village_code`)."""
    if level is BoundaryLevel.DISTRICT:
        return {d.code: d.name for d in db.session.scalars(sa.select(District))}
    rows = db.session.execute(sa.select(Township.code, Township.name_zh)).all()
    townships = {code: name for code, name in rows}
    if level is BoundaryLevel.TOWNSHIP:
        return townships
    rows = db.session.execute(sa.select(Village.code, Village.short_name)).all()
    return {code: name for code, name in rows}


def normalizer(level: BoundaryLevel, known: dict[str, str]) -> Callable[[str], str | None]:
    """How a code spelt in a file maps to a unit: 9- and 12-digit township forms, 6- and 12-digit district."""
    townships = set(known_units(BoundaryLevel.TOWNSHIP)) if level is BoundaryLevel.VILLAGE else set()

    def normalize(code: str) -> str | None:
        code = code.strip()
        if level is BoundaryLevel.DISTRICT and len(code) == 12 and code.endswith("000000"):
            code = code[:6]
        if level is BoundaryLevel.TOWNSHIP and len(code) == 12 and code.endswith("000"):
            code = code[:9]
        if level is BoundaryLevel.VILLAGE and not known:
            return _village_code(code, townships)
        return code if code in known else None

    return normalize


def _village_code(code: str, townships: set[str]) -> str | None:
    # Without the villages loaded (a district set up without villages.csv), a village polygon is keyed by
    # any 12-digit NBS code under one of this district's townships; the villages table joins by this code.
    if len(code) == 12 and code.isdigit() and code[:9] in townships and not code.endswith("000"):
        return code
    return None


# ---------------------------------------------------------------------------------------------
# Checking and loading


def _district_outline(
    district: dict[str, BaseGeometry], townships: dict[str, BaseGeometry]
) -> BaseGeometry | None:
    """The district's polygon; else its townships together when every township has one; else None.

    Some townships are not the district: taken as its outline, they would refuse every record of the
    others as outside the district, so until the last township is loaded the district's box stands.
    """
    if district:
        return shapely.union_all(list(district.values()))
    if townships and set(known_units(BoundaryLevel.TOWNSHIP)) <= set(townships):
        return shapely.union_all(list(townships.values()))
    return None


def outline() -> BaseGeometry | None:
    """The district's outline: its own polygon, else all its townships together, else None (the box)."""
    return _district_outline(_geometries(BoundaryLevel.DISTRICT), _geometries(BoundaryLevel.TOWNSHIP))


def _box() -> BaseGeometry | None:
    """The district's bounding box (with the buffer its points may fall outside it by), None before
    `flask district load`."""
    district = db.session.scalar(sa.select(District).limit(1))
    if district is None:
        return None
    b = district.buffer_deg
    return shapely.box(district.min_lon - b, district.min_lat - b, district.max_lon + b, district.max_lat + b)


def _check_outline(level: BoundaryLevel) -> tuple[BaseGeometry | None, bool]:
    """What a file at `level` is checked against, and whether that is only the district's box.

    Never the level's own polygons: they are what the file replaces, and a wrong first load would then
    refuse the right one as outside the district. Townships are checked against the district's polygon,
    else its box; villages against the district's outline (its polygon, or every township), else its box.
    """
    if level is BoundaryLevel.DISTRICT:
        return None, False
    district = _geometries(BoundaryLevel.DISTRICT)
    townships = {} if level is BoundaryLevel.TOWNSHIP else _geometries(BoundaryLevel.TOWNSHIP)
    found = _district_outline(district, townships)
    return (found, False) if found is not None else (_box(), True)


def check_file(
    data: bytes, filename: str, *, level: BoundaryLevel, code_field: str | None = None, crs: str | None = None
) -> Report:
    """Read and check a file; raises BoundaryFileError when it cannot be read at all."""
    source = read_boundary_file(data, filename, code_field=code_field, crs=crs, max_bytes=max_bytes())
    known = known_units(level)
    against, is_box = _check_outline(level)
    report = check_boundaries(
        source,
        level=level.value,
        known=known,
        normalize=normalizer(level, known),
        district=None if is_box else against,
        box=against if is_box else None,
        tolerance_m=_setting("IAS_BOUNDARY_CHECK_TOLERANCE_M"),
    )
    if level is BoundaryLevel.TOWNSHIP and report.units and len(report.units) < len(known):
        # Said in the report: the admin must know why records in the other townships are still taken by
        # the district's box (or polygon), and that the last township will change it.
        has_polygon = bool(_geometries(BoundaryLevel.DISTRICT))
        report.problems.append(
            Problem(
                "district_outline",
                "warning",
                says(
                    N_(
                        "%(loaded)s of %(expected)s townships have a polygon: until every township has one, "
                        "inside the district is the district's polygon, not these townships together"
                    )
                    if has_polygon
                    else N_(
                        "%(loaded)s of %(expected)s townships have a polygon: until every township has one, "
                        "inside the district is the district's bounding box, not these townships together"
                    ),
                    loaded=len(report.units),
                    expected=len(known),
                ),
            )
        )
    return report


def load_boundaries(
    data: bytes,
    filename: str,
    *,
    level: BoundaryLevel,
    code_field: str | None = None,
    crs: str | None = None,
    dry_run: bool = False,
) -> Report:
    """Check a file and, unless `dry_run`, replace the level's polygons with its units (in this unit of work).

    Raises BoundaryFileError (unreadable) or BoundaryLoadError (read, with errors); nothing is written then.
    """
    report = check_file(data, filename, level=level, code_field=code_field, crs=crs)
    if not report.ok:
        raise BoundaryLoadError(report)
    if dry_run:
        return report
    replaced = db.session.query(Boundary).filter(Boundary.level == level).delete(synchronize_session=False)
    actor_id, _label = current_actor()
    load = BoundaryLoad(
        level=level,
        version=uuid.uuid4().hex,
        filename=filename[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        format=report.format,
        crs=report.crs[:200],
        code_field=report.code_field[:100],
        units=len(report.units),
        features=report.features,
        warnings=[p.message for p in report.warnings],
        loaded_by_id=actor_id,
    )
    db.session.add(load)
    db.session.flush()
    for unit in report.units:
        min_lon, min_lat, max_lon, max_lat = unit.geometry.bounds
        db.session.add(
            Boundary(
                load_id=load.id,
                level=level,
                code=unit.code,
                name=(unit.name or "")[:100] or None,
                geometry=to_geojson(unit.geometry),
                area_m2=unit.area_m2,
                min_lon=min_lon,
                min_lat=min_lat,
                max_lon=max_lon,
                max_lat=max_lat,
            )
        )
    db.session.flush()
    g.pop("boundary_locator", None)  # this unit of work sees its own load at once
    # Records and sites made before these polygons with no unit of this level get the one their point
    # lies in (a higher domain does it: app/observations/handlers.py); one a surveyor named is left alone.
    answers = publish(BoundariesLoaded(level.value))
    placed = Placed(
        records=sum(a.records for a in answers if isinstance(a, Placed)),
        sites=sum(a.sites for a in answers if isinstance(a, Placed)),
        township_flagged=sum(a.township_flagged for a in answers if isinstance(a, Placed)),
    )
    if placed.records or placed.sites:
        report.problems.append(
            Problem(
                "placed",
                "warning",
                says(
                    N_(
                        "%(records)s records and %(sites)s sites made without a %(level)s now have the one "
                        "their point lies in."
                    ),
                    records=placed.records,
                    sites=placed.sites,
                    level=LEVEL_WORDS[level.value],
                ),
            )
        )
    if placed.township_flagged:
        report.problems.append(
            Problem(
                "placed_flagged",
                "warning",
                says(
                    N_(
                        "%(flagged)s of the records given a village were given its township too, which the "
                        "township polygons disagree with: they are flagged for a second look."
                    ),
                    flagged=placed.township_flagged,
                ),
            )
        )
    # A record whose named unit of this level the polygons now disagree with is flagged, and one they agree
    # with again loses its flag (the same handlers' domain); the unit it names is left as it is.
    rechecked = Rechecked(
        flagged=sum(a.flagged for a in answers if isinstance(a, Rechecked)),
        unflagged=sum(a.unflagged for a in answers if isinstance(a, Rechecked)),
    )
    if rechecked.flagged or rechecked.unflagged:
        report.problems.append(
            Problem(
                "rechecked",
                "warning",
                says(
                    N_(
                        "%(flagged)s records whose %(level)s these polygons disagree with are now flagged "
                        "for a second look; %(unflagged)s flagged before now agree with them and are no "
                        "longer flagged. The %(level)s each record names is left as it is."
                    ),
                    flagged=rechecked.flagged,
                    unflagged=rechecked.unflagged,
                    level=LEVEL_WORDS[level.value],
                ),
            )
        )
    record_event(
        "boundaries.load",
        "boundary_load",
        load.id,
        {
            "level": level.value,
            "filename": filename,
            "units": len(report.units),
            "replaced": replaced,
            "placed_records": placed.records,
            "placed_sites": placed.sites,
            "placed_township_flagged": placed.township_flagged,
            "flagged_records": rechecked.flagged,
            "unflagged_records": rechecked.unflagged,
        },
    )
    return report


# ---------------------------------------------------------------------------------------------
# What is loaded


@dataclass(frozen=True)
class LevelStatus:
    level: BoundaryLevel
    units: int
    load: BoundaryLoad | None


def status() -> list[LevelStatus]:
    """Per level: how many polygons are loaded and the load they came from (for the admin pages)."""
    rows = db.session.execute(sa.select(Boundary.level, sa.func.count()).group_by(Boundary.level)).all()
    counts: dict[BoundaryLevel, int] = {level: count for level, count in rows}
    result = []
    for level in BoundaryLevel:
        load = None
        if counts.get(level):
            load = db.session.scalar(
                sa.select(BoundaryLoad)
                .where(BoundaryLoad.level == level)
                .order_by(BoundaryLoad.id.desc())
                .limit(1)
            )
        result.append(LevelStatus(level, counts.get(level, 0), load))
    return result


def history(limit: int = 20) -> list[BoundaryLoad]:
    return list(db.session.scalars(sa.select(BoundaryLoad).order_by(BoundaryLoad.id.desc()).limit(limit)))


def _geometries(level: BoundaryLevel) -> dict[str, Any]:
    rows = db.session.execute(
        sa.select(Boundary.code, Boundary.geometry).where(Boundary.level == level)
    ).all()
    return {code: from_geojson(geometry) for code, geometry in rows}


# ---------------------------------------------------------------------------------------------
# The locator, per process


_cache: dict[str, Any] = {"version": None, "locator": EMPTY}
_lock = threading.Lock()


def current_version() -> str | None:
    """The newest load's version (one indexed row): changes whenever any level is loaded or replaced."""
    return db.session.scalar(sa.select(BoundaryLoad.version).order_by(BoundaryLoad.id.desc()).limit(1))


def locator() -> Locator:
    """The locator for the boundaries as loaded now; rebuilt only when they were replaced.

    The reference version is read once per request (or command), however many questions a record asks.
    """
    if "boundary_locator" in g:
        return g.boundary_locator
    g.boundary_locator = _current_locator()
    return g.boundary_locator


def _current_locator() -> Locator:
    # A load writes a new reference version (BoundaryLoad is reference data, app/refdata.py): the newest
    # load's version is asked again only then, and the request's one read of that version serves both.
    version = refdata.cached("boundary-version", current_version)
    if version is None:
        return EMPTY
    tolerance = _setting("IAS_BOUNDARY_TOLERANCE_M")
    key = f"{version}:{tolerance}"
    if _cache["version"] == key:
        return _cache["locator"]
    with _lock:
        if _cache["version"] != key:
            townships = _geometries(BoundaryLevel.TOWNSHIP)
            built = Locator(
                district=_district_outline(_geometries(BoundaryLevel.DISTRICT), townships),
                townships=townships,
                villages=_geometries(BoundaryLevel.VILLAGE),
                tolerance_m=tolerance,
            )
            _cache.update(version=key, locator=built)
    return _cache["locator"]


def has_outline() -> bool:
    """Whether "inside the district" is a loaded polygon (else the district's box stands)."""
    return locator().has_outline


def inside_district(district: District, lon: float, lat: float) -> bool:
    """Inside the district: its loaded outline (with the tolerance in metres), else its box."""
    inside = locator().inside(lon, lat)
    return district.contains(lon, lat) if inside is None else inside


def outline_covers(geometry: BaseGeometry) -> bool | None:
    """Whether the district's loaded outline (grown by the tolerance) covers the whole shape, edges and all:
    in a concave district a drawn outline may have every corner inside and an edge across the gap between
    them. None without a loaded outline (the box then, which is convex: its corners decide)."""
    outline = locator().outline
    return None if outline is None else bool(outline.covers(geometry))


def township_code_at(lon: float, lat: float) -> str | None:
    return locator().township_at(lon, lat)


def village_code_at(lon: float, lat: float) -> str | None:
    return locator().village_at(lon, lat)


def township_mismatch(code: str, lon: float, lat: float) -> bool:
    """A given township that has a polygon, and the point is not in it (nor within the tolerance)."""
    level = locator().townships
    return level is not None and level.holds(code, lon, lat) is False


def village_mismatch(code: str, lon: float, lat: float) -> bool:
    """A given village that has a polygon, and the point is not in it (nor within the tolerance)."""
    level = locator().villages
    return level is not None and level.holds(code, lon, lat) is False
