"""Which site a record belongs to, and readable site codes.

A presence record joins the nearest site of its species within `IAS_SITE_RADIUS_M`, or opens a new one;
an absence record joins a site when it is within the radius (a re-inspection there) and never opens one.
Deciding "join or open" and taking the next serial must not race: on PostgreSQL a transaction-scoped
advisory lock per species and per code prefix serialises the decision; SQLite writers are already
serialised (app.db begins writing requests with BEGIN IMMEDIATE).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.accounts.models import User
from app.db import advisory_locks
from app.district.models import District, Township
from app.district.services import find_townships
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.geo import areas
from app.geo.crs import EARTH_RADIUS_M, distance_m
from app.sites.models import Site, SiteStatus
from app.species.models import Habitat, Species

METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180


def degree_box(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box that holds every point within `radius_m` of (lon, lat): an index-friendly prefilter."""
    d_lat = radius_m / METRES_PER_DEGREE
    d_lon = d_lat / max(math.cos(math.radians(lat)), 0.01)
    return lon - d_lon, lat - d_lat, lon + d_lon, lat + d_lat


def advisory_lock(name: str) -> None:
    """Hold a PostgreSQL advisory lock on `name` until the transaction ends (no-op elsewhere)."""
    advisory_locks(db.session(), name)  # not asked again when held (a create takes it first)


def species_lock(species_id: int) -> str:
    """The name of the lock on a species' sites, held while a record is placed (`site_for_record`)."""
    return f"site-species:{species_id}"


def sites_in_box(*columns: Any) -> sa.Select[Any]:
    """`columns` of the sites of a species in a box, with bind parameters (`box_params`): a statement a hot
    path builds once (app/observations/create.py)."""
    sites = Site.__table__
    return sa.select(*columns).where(
        sites.c.species_id == sa.bindparam("site_species_id"),
        sites.c.latitude.between(sa.bindparam("site_min_lat"), sa.bindparam("site_max_lat")),
        sites.c.longitude.between(sa.bindparam("site_min_lon"), sa.bindparam("site_max_lon")),
    )


def box_params(species_id: int, lon: float, lat: float, radius_m: float) -> dict[str, Any]:
    """The parameters of `sites_in_box`: the species and the box that holds every point within `radius_m`."""
    min_lon, min_lat, max_lon, max_lat = degree_box(lon, lat, radius_m)
    return {
        "site_species_id": species_id,
        "site_min_lat": min_lat,
        "site_max_lat": max_lat,
        "site_min_lon": min_lon,
        "site_max_lon": max_lon,
    }


def candidate_sites(species_id: int, lon: float, lat: float, radius_m: float) -> sa.Select[int, float, float]:
    """Ids and points of the species' sites in the box around (lon, lat), for `closest` to measure."""
    return sites_in_box(Site.id, Site.longitude, Site.latitude).params(
        box_params(species_id, lon, lat, radius_m)
    )


def closest(rows: Iterable[Sequence[Any]], lon: float, lat: float, radius_m: float) -> int | None:
    """The id of the row (id, lon, lat) nearest to (lon, lat) within `radius_m`, lowest id on a tie."""
    best: tuple[float, int] | None = None
    for row_id, row_lon, row_lat in rows:
        d = distance_m(lon, lat, row_lon, row_lat)
        if d <= radius_m and (best is None or (d, row_id) < best):
            best = (d, row_id)
    return best[1] if best else None


def nearest_site(species_id: int, lon: float, lat: float, radius_m: float) -> Site | None:
    found = closest(db.session.execute(candidate_sites(species_id, lon, lat, radius_m)), lon, lat, radius_m)
    return None if found is None else db.session.get(Site, found)


def _code_prefix(township: Township | None) -> str:
    if township is not None:
        return township.code
    district_code = db.session.scalar(sa.select(District.code).order_by(District.id).limit(1))
    return district_code or "000000"


def open_site(
    *,
    species: Species,
    lon: float,
    lat: float,
    observed_at: datetime,
    township: Township | None,
    habitat: Habitat | None,
    place_name: str | None,
    actor: User,
) -> Site:
    prefix = _code_prefix(township)
    advisory_lock(f"site-serial:{prefix}")
    serial = (
        db.session.scalar(sa.select(sa.func.max(Site.serial)).where(Site.code_prefix == prefix)) or 0
    ) + 1
    site = Site(
        code=f"{prefix}-{serial:04d}",
        code_prefix=prefix,
        serial=serial,
        species=species,
        township=township,
        organization_id=actor.organization_id,
        latitude=lat,
        longitude=lon,
        place_name=place_name,
        habitat=habitat,
        status=SiteStatus.ACTIVE,
        first_observed_at=observed_at,
        last_observed_at=observed_at,
    )
    db.session.add(site)
    return site


def site_for_record(
    *,
    species: Species,
    detected: bool,
    lon: float,
    lat: float,
    observed_at: datetime,
    township: Township | None,
    habitat: Habitat | None,
    place_name: str | None,
    actor: User,
    nearest: Callable[[float], Site | None] | None = None,
) -> Site | None:
    """The site a new record belongs to: the nearest within the radius, a new one, or none (absence).

    `nearest(radius_m)` finds the nearest site when the caller searches for it along with something else
    (observations does, with its duplicate search: one query); by default `nearest_site`.
    """
    advisory_lock(species_lock(species.id))
    radius = float(current_app.config["IAS_SITE_RADIUS_M"])
    site = nearest(radius) if nearest is not None else nearest_site(species.id, lon, lat, radius)
    if site is None:
        if not detected:
            return None
        return open_site(
            species=species,
            lon=lon,
            lat=lat,
            observed_at=observed_at,
            township=township,
            habitat=habitat,
            place_name=place_name,
            actor=actor,
        )
    record_visit(site, detected=detected, observed_at=observed_at)
    return site


def record_visit(site: Site, *, detected: bool, observed_at: datetime) -> None:
    """Keep the site's dates, and mark a cleared site where the species is found again as re-emerged."""
    site.first_observed_at = min(site.first_observed_at, observed_at)
    site.last_observed_at = max(site.last_observed_at, observed_at)
    if detected and site.status == SiteStatus.CLEARED:
        site.status = SiteStatus.REEMERGED


def refresh_status(site: Site, latest_detections: Callable[[int], Sequence[bool]]) -> None:
    """A treated site whose last IAS_CLEARED_AFTER_ABSENCES records are all absences is cleared.

    The records point at sites, not the reverse: `latest_detections(n)` (from observations) gives whether
    the species was found in each of the site's `n` latest records, newest first. Asked only of a site
    under control.
    """
    if site.status != SiteStatus.UNDER_CONTROL:
        return
    needed = int(current_app.config["IAS_CLEARED_AFTER_ABSENCES"])
    latest = latest_detections(needed)
    if len(latest) == needed and not any(latest):
        site.status = SiteStatus.CLEARED


def set_extent(site: Site, polygons: Iterable[dict[str, Any]]) -> None:
    """The site's extent: the union of its records' area polygons (WGS-84 GeoJSON) and its geodesic area
    (docs/contract.md §2 Area); none when no record carries one. The records are the caller's to give:
    sites know no records."""
    merged = areas.union(polygons)
    site.extent = None if merged is None else areas.to_geojson(merged)
    site.extent_area_m2 = None if merged is None else round(areas.geodesic_area_m2(merged), 2)


def mark_treated(site: Site) -> None:
    """A control operation puts an active or re-emerged site under control."""
    if site.status in (SiteStatus.ACTIVE, SiteStatus.REEMERGED):
        site.status = SiteStatus.UNDER_CONTROL


def get_site(site_id: int) -> Site:
    """Raises NotFound."""
    site = db.session.get(Site, site_id)
    if site is None:
        raise NotFound(_("No site with id %(id)s.", id=site_id))
    return site


def filtered(filters: dict[str, Any]) -> sa.Select[tuple[Site]]:
    """Sites matching the list filters, most recently observed first (the list and the GIS downloads).
    Raises InvalidInput for an unknown township."""
    stmt = sa.select(Site).options(
        sa.orm.joinedload(Site.species),
        sa.orm.joinedload(Site.township),
        sa.orm.joinedload(Site.habitat),
        sa.orm.joinedload(Site.organization),
    )
    if "species_id" in filters:
        stmt = stmt.where(Site.species_id == filters["species_id"])
    if "status" in filters:
        stmt = stmt.where(Site.status == filters["status"])
    if "township_code" in filters:
        townships = find_townships(filters["township_code"])
        if not townships:
            raise InvalidInput.field("township_code", "unknown township")
        stmt = stmt.where(Site.township_id.in_([t.id for t in townships]))
    return stmt.order_by(Site.last_observed_at.desc(), Site.id.desc())
