"""A plot's values judged as a whole (docs/surveys.md, Plots): its site and campaign, its time, its area from
its shape and dimensions, its position, its habitat, and its quadrats and their records, every fault that
can be determined named in one answer. Laying and editing plots: app/surveys/plots.py.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import User
from app.clock import CLOCK_SKEW, EARLIEST, local_zone
from app.district.boundaries import inside_district
from app.district.services import get_district
from app.errors import FieldErrors, InvalidInput
from app.extensions import db
from app.geo.crs import CRS, to_wgs84
from app.messages import invalid_fields_message
from app.sites.models import Site
from app.species.models import Habitat, Species
from app.species.services import find_habitat
from app.surveys.campaign_queries import takes_part
from app.surveys.models import Campaign, Plot, PlotShape

RECORD_FIELDS = ("cover_pct", "density_per_m2", "height_cm", "count")
# Dimensions and a typed area may both be sent (the phone does): they must agree within this.
AREA_TOLERANCE = 0.01


@dataclass
class CheckedPlot:
    site: Site
    campaign: Campaign | None
    area_m2: float
    lon: float | None
    lat: float | None
    habitat: Habitat | None
    species: dict[int, Species]


def may_survey_for(actor: User, campaign: Campaign) -> bool:
    """Whether the actor lays plots for the campaign: whoever takes part in it (app/surveys/campaigns.py)."""
    return takes_part(actor, campaign)


def _area(values: dict[str, Any], found: FieldErrors) -> float | None:
    """The plot's area from its shape and dimensions (or the area typed for an irregular plot)."""
    errors: FieldErrors = {}
    shape = PlotShape(values["shape"])
    length, width, radius, typed = (values.get(k) for k in ("length_m", "width_m", "radius_m", "area_m2"))
    computed: float | None = None
    if shape is PlotShape.CIRCLE:
        for name in ("length_m", "width_m"):
            if values.get(name) is not None:
                errors.setdefault(name, []).append(_("A circular plot is laid by its radius (radius_m)."))
        if radius is not None:
            computed = math.pi * radius * radius
    else:
        if radius is not None:
            errors.setdefault("radius_m", []).append(_("Only a circular plot has a radius."))
        if shape is PlotShape.SQUARE:
            if length is not None and width is not None and abs(length - width) > 1e-9:
                errors.setdefault("width_m", []).append(_("A square's width is its length."))
            side = length if length is not None else width
            computed = None if side is None else side * side
        elif length is not None and width is not None:
            computed = length * width
        elif length is not None or width is not None:
            missing = "width_m" if width is None else "length_m"
            errors.setdefault(missing, []).append(_("A rectangle or a strip needs its length and width."))
    if computed is None and typed is None and not errors:
        field = "radius_m" if shape is PlotShape.CIRCLE else "length_m"
        errors.setdefault(field, []).append(_("Give the plot's dimensions (or its area, area_m2)."))
    if computed is not None and typed is not None and abs(computed - typed) > AREA_TOLERANCE * computed:
        errors.setdefault("area_m2", []).append(
            _("does not match the dimensions (%(area).2f m²).", area=computed)
        )
    if computed is not None and computed > 1_000_000:
        errors.setdefault("area_m2", []).append(_("A plot is at most 1 000 000 m² (100 ha)."))
    for name, messages in errors.items():
        found.setdefault(name, []).extend(messages)
    area = computed if computed is not None else typed
    return None if area is None else round(area, 4)


def _check_quadrats(
    quadrats: list[dict[str, Any]],
    area: float | None,
    errors: FieldErrors,
    kept: frozenset[int] = frozenset(),
) -> dict[int, Species]:
    """The quadrats' checks; their species must be current, or already the plot's (`kept`: an edit keeps a
    species retired since, as a record's edit does, docs/architecture.md)."""
    numbers: dict[int, int] = {}
    total = 0.0
    wanted: set[int] = set()
    sizes_known = True
    for i, quadrat in enumerate(quadrats):
        where = f"quadrats.{i}"
        number = quadrat.get("number")
        if number is not None and number in numbers:
            errors.setdefault(f"{where}.number", []).append(
                _(
                    "Quadrat %(n)s is already quadrat %(other)s of this plot.",
                    n=number,
                    other=numbers[number],
                )
            )
        if number is not None:
            numbers.setdefault(number, i)
        size = quadrat.get("size_m2")
        if size is None:  # refused by the schema (named there): the quadrats' total is not known
            sizes_known = False
            continue
        total += size
        if area is not None and size > area:
            errors.setdefault(f"{where}.size_m2", []).append(
                _(
                    "A quadrat (%(size)g m²) cannot be larger than its plot (%(area)g m²).",
                    size=size,
                    area=area,
                )
            )
    for i, quadrat in enumerate(quadrats):
        where = f"quadrats.{i}"
        seen: set[int] = set()
        for j, record in enumerate(quadrat.get("records") or []):
            species_id = record.get("species_id")
            if species_id is None:
                continue
            if species_id in seen:
                errors.setdefault(f"{where}.records.{j}.species_id", []).append(
                    _("This species is already recorded in this quadrat.")
                )
            seen.add(species_id)
            wanted.add(species_id)
    if (
        area is not None
        and sizes_known
        and total > area * (1 + 1e-9)
        and not any(k.endswith("size_m2") for k in errors)
    ):
        errors.setdefault("quadrats", []).append(
            _(
                "The quadrats together (%(total)g m²) are larger than the plot (%(area)g m²); "
                "quadrats are laid inside it without overlapping.",
                total=round(total, 4),
                area=area,
            )
        )
    found = {
        s.id: s
        for s in db.session.scalars(
            sa.select(Species).where(
                Species.id.in_(sorted(wanted)),
                sa.or_(Species.retired_on.is_(None), Species.id.in_(sorted(kept & wanted))),
            )
        )
    }
    for i, quadrat in enumerate(quadrats):
        for j, record in enumerate(quadrat.get("records") or []):
            if record.get("species_id") is not None and record["species_id"] not in found:
                errors.setdefault(f"quadrats.{i}.records.{j}.species_id", []).append(
                    _("Unknown species; search GET /api/v1/species for its id.")
                )
    return found


def _position(values: dict[str, Any], errors: FieldErrors) -> tuple[float | None, float | None]:
    lat, lon = values.get("latitude"), values.get("longitude")
    if lat is None and lon is None:
        return None, None
    if lat is None or lon is None:
        errors.setdefault("latitude" if lat is None else "longitude", []).append(
            _("send latitude and longitude together")
        )
        return None, None
    wgs_lon, wgs_lat = to_wgs84(lon, lat, CRS(values.get("crs") or CRS.WGS84))
    district = get_district()
    if district is not None and not inside_district(district, wgs_lon, wgs_lat):
        message = _(
            "The point (%(lat).6f, %(lon).6f) is outside %(district)s.",
            lat=wgs_lat,
            lon=wgs_lon,
            district=district.name,
        )
        errors.setdefault("latitude", []).append(message)
        errors.setdefault("longitude", []).append(message)
    return wgs_lon, wgs_lat


@dataclass(frozen=True)
class Kept:
    """What an edited plot already has and keeps even when retired from the registry since."""

    species_ids: frozenset[int] = frozenset()
    habitat: Habitat | None = None


def kept_of(plot: Plot) -> Kept:
    return Kept(frozenset(r.species_id for q in plot.quadrats for r in q.records), plot.habitat)


def plot_faults(
    values: dict[str, Any], actor: User, faulted: Collection[str] = (), kept: Kept | None = None
) -> tuple[FieldErrors, CheckedPlot | None]:
    """The faults of a plot's values as a whole, and the plot as checked when there are none.

    `values` may lack fields, or hold only those that loaded: a body the schema refused is judged on what
    did load, `faulted` naming the fields it refused (`quadrats.2.size_m2`), so that one answer names
    every fault that can be determined (docs/surveys.md, Plots) and none of them twice."""
    errors: FieldErrors = {}
    faulty = set(faulted)

    def refused(*names: str) -> bool:
        return any(n in faulty or any(f.startswith(f"{n}.") for f in faulty) for n in names)

    site = None
    if values.get("site_id") is not None:
        site = db.session.get(Site, values["site_id"])
        if site is None:
            errors["site_id"] = [_("No site with id %(id)s.", id=values["site_id"])]
    campaign = None
    if values.get("campaign_id") is not None:
        campaign = db.session.get(Campaign, values["campaign_id"])
        if campaign is None or not may_survey_for(actor, campaign):
            errors["campaign_id"] = [
                _("No campaign with id %(id)s of your bureau.", id=values["campaign_id"])
            ]
            campaign = None
    surveyed_at: datetime | None = values.get("surveyed_at")
    if surveyed_at is None:
        pass
    elif surveyed_at > datetime.now(UTC) + CLOCK_SKEW:
        errors.setdefault("surveyed_at", []).append(_("is in the future; check the phone's date and time."))
    elif surveyed_at < EARLIEST:
        errors.setdefault("surveyed_at", []).append(_("is before 1990; check the year."))
    elif campaign is not None:
        day = surveyed_at.astimezone(local_zone()).date()
        if not campaign.starts_on <= day <= campaign.ends_on:
            errors.setdefault("surveyed_at", []).append(
                _(
                    "is outside the campaign (%(start)s – %(end)s).",
                    start=campaign.starts_on.isoformat(),
                    end=campaign.ends_on.isoformat(),
                )
            )
    area = None
    if values.get("shape") is not None and not refused("shape", "length_m", "width_m", "radius_m", "area_m2"):
        area = _area(values, errors)
    lon, lat = (None, None)
    if not refused("latitude", "longitude", "crs"):
        lon, lat = _position(values, errors)
    habitat = site.habitat if site is not None else None
    kept = kept or Kept()
    if values.get("habitat") and not refused("habitat"):
        same = kept.habitat is not None and values["habitat"].strip().lower() == kept.habitat.code
        habitat = kept.habitat if same else find_habitat(values["habitat"])
        if habitat is None:
            errors["habitat"] = [_("Unknown habitat; see GET /api/v1/habitats.")]
    species: dict[int, Species] = {}
    if "quadrats" not in faulty:  # the list as a whole refused (too long, not a list): nothing to judge
        species = _check_quadrats(values.get("quadrats") or [], area, errors, kept.species_ids)
    for name in faulty:  # named already, by the schema
        errors.pop(name, None)
    if errors or faulty or site is None or area is None or values.get("surveyed_at") is None:
        return errors, None
    return errors, CheckedPlot(
        site=site, campaign=campaign, area_m2=area, lon=lon, lat=lat, habitat=habitat, species=species
    )


def check_plot(values: dict[str, Any], actor: User, kept: Kept | None = None) -> CheckedPlot:
    """Check a plot's values as a whole. Raises InvalidInput naming every field at fault."""
    errors, checked = plot_faults(values, actor, kept=kept)
    if errors or checked is None:
        # A plot's area is typed in m² (a record's, in 亩 on its form: the shared label says so).
        raise InvalidInput(invalid_fields_message(errors, {"area_m2": _("Plot area (m²)")}), errors)
    return checked
