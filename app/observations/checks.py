"""Checking a record's values as a whole.

A record is checked the way a colleague back at the bureau would check it: the errors name the field and
say what to do (a point outside the district that would fall inside as GCJ-02 says so); what may be right
but deserves a second look becomes a flag (app/observations/flags.py), never a refusal, because the
surveyor cannot go back to the paddy to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app import metrics
from app.clock import CLOCK_SKEW, EARLIEST
from app.district.boundaries import inside_district, outline_covers, township_mismatch, village_mismatch
from app.district.models import Township, Village
from app.district.services import (
    find_townships,
    get_district,
    has_boundaries,
    resolve_village,
    township_at,
    township_by_id,
    village_at,
)
from app.errors import FieldErrors, InvalidInput
from app.extensions import db
from app.geo import areas
from app.geo.crs import CRS, distance_m, to_wgs84
from app.messages import invalid_fields_message
from app.sites.models import Site
from app.sites.services import degree_box
from app.species.models import Habitat, Species
from app.species.services import find_habitat, record_species

# API field → the species metric (species_lists/ `metrics`) it records.
METRIC_FIELDS = metrics.FIELD_KEYS


@dataclass
class Checked:
    """A record's values after checking, ready to store."""

    species: Species
    lon: float
    lat: float
    township: Township | None
    township_mismatch: bool
    habitat: Habitat | None
    values: dict[str, Any]
    village: Village | None = None
    village_mismatch: bool = False
    polygon: areas.Polygon | None = None


# A record's outline (发生范围) is drawn around or beside where it was made: one further than this from the
# record's point is a slip (an outline drawn on the wrong part of the map, or a position taken elsewhere),
# and would put its area into another site's and township's figures (docs/contract.md §2, Area).
OUTLINE_MAX_DISTANCE_M = 1000.0


def check_polygon(geometry: Any, crs: CRS, errors: FieldErrors) -> areas.Polygon | None:
    """An area polygon (docs/contract.md §2 Area) checked and converted to WGS-84, or None with the reason
    under `geometry` in `errors`: not a Polygon/MultiPolygon, a ring not closed or with fewer than 3
    distinct points, self-crossing, or a vertex outside the district (its boundary when loaded)."""
    if geometry is None:
        return None
    try:
        polygon = areas.parse(geometry, crs)
    except areas.PolygonError as error:
        errors.setdefault("geometry", []).append(_(error.reason, **error.values))
        return None
    district = get_district()
    # Its loaded outline (grown by the tolerance), else its box: every vertex must be in it, and the loaded
    # outline must cover the whole shape (an edge may cross a concave district's gap between two corners).
    if district is not None and (
        not all(inside_district(district, lon, lat) for lon, lat in polygon.vertices)
        or outline_covers(polygon.shape) is False
    ):
        errors.setdefault("geometry", []).append(
            _("The outline goes outside %(district)s; check its points and crs.", district=district.name)
        )
        return None
    return polygon


def _position_errors(lon: float, lat: float, crs: CRS, errors: FieldErrors) -> tuple[float, float]:
    """Convert to WGS-84 and check the district's bounds; returns the WGS-84 point."""
    wgs_lon, wgs_lat = to_wgs84(lon, lat, crs)
    district = get_district()
    if district is None or inside_district(district, wgs_lon, wgs_lat):
        return wgs_lon, wgs_lat
    hint = ""
    if crs is CRS.WGS84 and inside_district(district, *to_wgs84(lon, lat, CRS.GCJ02)):
        hint = _(
            'It would fall inside as a GCJ-02 point (AMap, Tencent, WeChat): send "crs": "gcj02" '
            "if it was copied from one of those maps."
        )
    elif crs is CRS.WGS84 and inside_district(district, *to_wgs84(lon, lat, CRS.BD09)):
        hint = _('It would fall inside as a BD-09 point (Baidu Maps): send "crs": "bd09".')
    message = _(
        "The point (%(lat).6f, %(lon).6f) is outside %(district)s.",
        lat=wgs_lat,
        lon=wgs_lon,
        district=district.name,
    )
    message = f"{message} {hint}".strip()
    errors.setdefault("latitude", []).append(message)
    errors.setdefault("longitude", []).append(message)
    return wgs_lon, wgs_lat


def _metric_errors(species: Species, values: dict[str, Any], errors: FieldErrors) -> None:
    detected = values["detected"]
    for field, metric in METRIC_FIELDS.items():
        value = values.get(field)
        if value is None:
            continue
        if not detected and value > 0:
            errors.setdefault(field, []).append(
                _("An absence record (detected = false) cannot have a %(field)s.", field=field)
            )
        elif metric not in species.metrics:
            errors.setdefault(field, []).append(
                _(
                    "%(field)s is not recorded for %(species)s; it records %(metrics)s.",
                    field=field,
                    species=species.name_zh,
                    metrics=", ".join(f for f, m in METRIC_FIELDS.items() if m in species.metrics),
                )
            )
    if not detected and values.get("severity") is not None:
        errors.setdefault("severity", []).append(_("An absence record cannot have a severity."))


# A typed area further than this from its polygon's is flagged (docs/contract.md §2 Area).
AREA_MISMATCH_RATIO = 0.2


def polygon_area(values: dict[str, Any], polygon: areas.Polygon | None) -> tuple[float | None, bool]:
    """The record's area (m²) and whether it disagrees with its polygon: the typed area when there is
    one, else the polygon's (a presence record only: an absence's polygon is where it was searched); a
    typed area more than 20 % off the polygon's is a mismatch."""
    typed = values.get("area_m2")
    if polygon is None:
        return typed, False
    if typed is None:
        return (round(polygon.area_m2, 2) if values.get("detected", True) else None), False
    return typed, abs(typed - polygon.area_m2) > AREA_MISMATCH_RATIO * polygon.area_m2


def derived_severity(species: Species, values: dict[str, Any]) -> int | None:
    """Severity 1–5 from the species' thresholds (four ascending upper bounds of levels 1–4)."""
    rule = species.severity or {}
    field = next((f for f, m in METRIC_FIELDS.items() if m == rule.get("metric")), None)
    value = values.get(field) if field else None
    thresholds = rule.get("thresholds") or []
    if value is None or len(thresholds) != 4:
        return None
    return 1 + sum(1 for bound in thresholds if value > bound)


def check_record(values: dict[str, Any], *, kept_species_id: int | None = None) -> Checked:
    """Check a record's values as a whole. Raises InvalidInput naming every field at fault.

    A retired species (merged, or gone from the files) is refused only when the record newly names it:
    `kept_species_id` is the species a record keeps (an edit of a record of it, a re-inspection at an
    existing site of it), which may be retired since, so that its pending work can still be done."""
    errors: FieldErrors = {}
    species = record_species(values["species_id"])
    if species is None or (species.retired_on is not None and species.id != kept_species_id):
        errors["species_id"] = [_("Unknown species; search GET /api/v1/species for its id.")]

    observed_at: datetime = values["observed_at"]
    now = datetime.now(UTC)
    if observed_at > now + CLOCK_SKEW:
        errors.setdefault("observed_at", []).append(_("is in the future; check the phone's date and time."))
    elif observed_at < EARLIEST:
        errors.setdefault("observed_at", []).append(_("is before 1990; check the year."))

    lon, lat = _position_errors(values["longitude"], values["latitude"], CRS(values["crs"]), errors)
    # A stored polygon kept through an edit is WGS-84 already, whatever crs the edit's point is in.
    polygon = check_polygon(values.get("geometry"), CRS(values.get("_geometry_crs", values["crs"])), errors)
    if polygon is not None and "latitude" not in errors:
        far = polygon.distance_m(lon, lat)
        if far > OUTLINE_MAX_DISTANCE_M:
            errors.setdefault("geometry", []).append(
                _(
                    "The outline lies %(km).1f km from the record's position; draw it where the record was "
                    "made, or correct the position.",
                    km=far / 1000,
                )
            )

    township, mismatch, village, village_flag = _place_errors(values, lon, lat, errors)

    habitat = None
    if values.get("habitat"):
        habitat = find_habitat(values["habitat"])
        if habitat is None:
            errors["habitat"] = [_("Unknown habitat; see GET /api/v1/habitats.")]

    if species is not None:
        _metric_errors(species, values, errors)
    if errors:
        raise InvalidInput(invalid_fields_message(errors), errors)
    assert species is not None  # noqa: S101 -- errors would have been raised
    return Checked(
        species=species,
        lon=lon,
        lat=lat,
        township=township,
        township_mismatch=mismatch,
        habitat=habitat,
        values=values,
        village=village,
        village_mismatch=village_flag,
        polygon=polygon,
    )


def _place_errors(
    values: dict[str, Any], lon: float, lat: float, errors: FieldErrors
) -> tuple[Township | None, bool, Village | None, bool]:
    """The record's township and village (named, or found from the point) and whether each disagrees with
    the point; problems are added to `errors`, a code this district cannot use among them, so that the
    record's other faults are named in the same answer."""
    try:
        return _township_and_village(values, lon, lat, errors)
    except InvalidInput as refused:
        for name, messages in refused.errors.items():
            errors.setdefault(name, []).extend(messages)
        return None, False, None, False


def _township_and_village(
    values: dict[str, Any], lon: float, lat: float, errors: FieldErrors
) -> tuple[Township | None, bool, Village | None, bool]:
    township: Township | None = None
    mismatch = False
    if values.get("township_code"):
        matches = find_townships(values["township_code"], with_aliases=False)
        if len(matches) == 1:
            township = matches[0]
            mismatch = township_mismatch(township.code, lon, lat)
        elif matches:
            errors["township_code"] = [
                _(
                    "%(name)s is now split between %(codes)s; send one code.",
                    name=values["township_code"],
                    codes=", ".join(f"{t.name_zh} {t.code}" for t in matches),
                )
            ]
        else:
            errors["township_code"] = [_("Unknown township; see GET /api/v1/townships.")]
    else:
        township = derive_township(lon, lat)
    township, village = resolve_village(
        values.get("village_code"),
        values.get("township_code"),
        township,
        errors,
        kept=values.get("_village_kept", False),
    )
    # A village named alone gives its township, which the point may lie outside: flagged as a named one is
    # (and as an edit, which sends the township the record then has, would flag it).
    if not values.get("township_code") and village is not None and township is not None:
        mismatch = township_mismatch(township.code, lon, lat)
    # With village polygons loaded: a given village the point is not in is flagged; none given, the point's.
    village_flag = village is not None and village_mismatch(village.code, lon, lat)
    if village is None and not values.get("village_code") and "township_code" not in errors:
        village = village_at(lon, lat, township)
        township = township or (village.township if village else None)
    return township, mismatch, village, village_flag


# Without boundaries, a point takes the township of the nearest site of the district that has one, when that
# site lies within this distance (Liangping's townships are 5–15 km across). Sites are the places the
# district's records were made (every presence record joins one), and far fewer rows than the records.
NEAREST_TOWNSHIP_MAX_M = 3000.0


NEAREST_TOWNSHIP_CANDIDATES = 20


def derive_township(lon: float, lat: float) -> Township | None:
    """The township of a position whose record names none (records made offline often do).

    With township boundaries loaded, the one containing the point. Without them, the township of the
    nearest site (within NEAREST_TOWNSHIP_MAX_M) that has one; None when there is none that close, and the
    record then waits for its surveyor to name it (a verifier cannot verify it without one). This is the
    one place the rule lives: the boundaries work replaces the fallback here.
    """
    if has_boundaries():
        return township_at(lon, lat)
    min_lon, min_lat, max_lon, max_lat = degree_box(lon, lat, NEAREST_TOWNSHIP_MAX_M)
    # Nearest first by a cheap planar measure, then the true distance on the few closest.
    planar = (Site.longitude - lon) * (Site.longitude - lon) + (Site.latitude - lat) * (Site.latitude - lat)
    rows = db.session.execute(
        sa.select(Site.longitude, Site.latitude, Site.township_id)
        .where(
            Site.township_id.is_not(None),
            Site.longitude.between(min_lon, max_lon),
            Site.latitude.between(min_lat, max_lat),
        )
        .order_by(planar)
        .limit(NEAREST_TOWNSHIP_CANDIDATES)
    ).all()
    best: tuple[float, int] | None = None
    for row_lon, row_lat, township_id in rows:
        distance = distance_m(lon, lat, row_lon, row_lat)
        if township_id is None or distance > NEAREST_TOWNSHIP_MAX_M:
            continue
        if best is None or distance < best[0]:
            best = (distance, township_id)
    return None if best is None else township_by_id(best[1])
