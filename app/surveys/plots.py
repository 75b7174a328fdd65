"""Plots (样地) and their quadrats (样方): laying one at a site, editing it, its photos, and the plots a
census covers (docs/surveys.md, Plots). The figures are app/surveys/plot_figures.py.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app import policy
from app.accounts.models import User
from app.clock import CLOCK_SKEW, EARLIEST, day_end, day_start, local_today, local_zone
from app.district.boundaries import inside_district
from app.district.services import get_district
from app.errors import Conflict, FieldErrors, InvalidInput, NotFound, PermissionDenied, invalid_fields_message
from app.extensions import db
from app.geo.crs import CRS, to_wgs84
from app.idempotency import CreateOnce, fingerprint
from app.photos import services as photos
from app.photos.models import Photo
from app.sites.models import Site
from app.species.models import Habitat, Species
from app.species.services import find_habitat
from app.surveys.campaign_queries import takes_part
from app.surveys.models import Campaign, Plot, PlotShape, Quadrat, QuadratRecord

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


def _clash(existing: Plot) -> Conflict:
    return Conflict(
        _(
            "A different plot was already sent with this client_uuid (plot %(id)s); "
            "make a new client_uuid for a new plot.",
            id=existing.id,
        ),
        {"client_uuid": [_("already used for plot %(id)s", id=existing.id)]},
    )


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


def _kept(plot: Plot) -> Kept:
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


def _apply(plot: Plot, values: dict[str, Any], checked: CheckedPlot, *, quadrats: bool = True) -> None:
    plot.site = checked.site
    plot.campaign_id = checked.campaign.id if checked.campaign is not None else None
    plot.surveyed_at = values["surveyed_at"]
    plot.shape = PlotShape(values["shape"])
    circle = plot.shape is PlotShape.CIRCLE
    plot.radius_m = values.get("radius_m") if circle else None
    plot.length_m = None if circle else values.get("length_m")
    plot.width_m = None if circle else values.get("width_m")
    if plot.shape is PlotShape.SQUARE and plot.length_m is None:
        plot.length_m = plot.width_m
    if plot.shape is PlotShape.SQUARE and plot.length_m is not None:
        plot.width_m = plot.length_m
    plot.area_m2 = checked.area_m2
    # Where the plot was laid: as sent, else its site's position.
    plot.longitude = checked.lon if checked.lon is not None else checked.site.longitude
    plot.latitude = checked.lat if checked.lat is not None else checked.site.latitude
    plot.habitat = checked.habitat
    plot.notes = values.get("notes")
    if not quadrats:
        return
    plot.quadrats = [
        Quadrat(
            number=q["number"],
            size_m2=q["size_m2"],
            notes=q.get("notes"),
            records=[
                QuadratRecord(
                    species_id=r["species_id"],
                    species=checked.species[r["species_id"]],
                    **{name: r.get(name) for name in RECORD_FIELDS},
                )
                for r in q.get("records") or []
            ],
        )
        for q in values.get("quadrats") or []
    ]


def create_plot(*, actor: User, args: dict[str, Any]) -> tuple[Plot, bool]:
    """Lay a plot at a site with its quadrats, or return the one an earlier try of the same request made.

    Returns (plot, created). Raises InvalidInput naming each field, and Conflict when the client_uuid
    was used for different content. Any signed-in person may lay a plot at any site of the district
    (sites are the one shared census's, docs/surveys.md); the plot is the surveyor's organization's.
    """
    once = CreateOnce(
        Plot, actor.organization_id, args["client_uuid"], fingerprint(args, sender_id=actor.id), _clash
    )
    earlier = once.earlier()
    if earlier is not None:
        return earlier, False
    checked = check_plot(args, actor)

    def build() -> Plot:
        plot = Plot(
            client_uuid=args["client_uuid"],
            payload_sha256=once.payload,
            organization_id=actor.organization_id,
            surveyor_id=actor.id,
            surveyor=actor,
        )
        _apply(plot, args, checked)
        db.session.add(plot)
        db.session.flush()
        return plot

    return once.create(build)


def get_plot(plot_id: int) -> Plot:
    """Raises NotFound."""
    plot = db.session.get(Plot, plot_id)
    if plot is None:
        raise NotFound(_("No plot with id %(id)s.", id=plot_id))
    return plot


def closed_on(plot: Plot) -> date | None:
    """The last day a plot may be changed: its campaign's last day (None: no campaign, no end)."""
    if plot.campaign_id is None:
        return None
    campaign = db.session.get(Campaign, plot.campaign_id)
    return campaign.ends_on if campaign is not None else None


def may_edit(actor: User, plot: Plot) -> bool:
    """Whether the actor may change the plot now (the pages ask, the services enforce)."""
    closed = closed_on(plot)
    return policy.may_edit_record(actor, plot) and (closed is None or local_today() <= closed)


def check_editable(actor: User, plot: Plot) -> None:
    """Raises PermissionDenied (not its surveyor) or Conflict (its campaign has ended): the edit page."""
    _check_editable(actor, plot)


def _check_editable(actor: User, plot: Plot, *, photos_too: bool = False) -> None:
    allowed = policy.may_add_record_photos(actor, plot) if photos_too else policy.may_edit_record(actor, plot)
    if not allowed:
        raise PermissionDenied(_("Only the surveyor who laid the plot can change it."))
    closed = closed_on(plot)
    if closed is not None and local_today() > closed:
        raise Conflict(
            _(
                "The plot's campaign ended on %(day)s; its plots can no longer be changed.",
                day=closed.isoformat(),
            ),
            {"campaign_id": [_("ended on %(day)s", day=closed.isoformat())]},
        )


def _current_values(plot: Plot) -> dict[str, Any]:
    return {
        "site_id": plot.site_id,
        "campaign_id": plot.campaign_id,
        "surveyed_at": plot.surveyed_at,
        "shape": plot.shape,
        "length_m": plot.length_m,
        "width_m": plot.width_m,
        "radius_m": plot.radius_m,
        # Kept only for an irregular plot (no dimensions): else it is computed again.
        "area_m2": plot.area_m2
        if plot.length_m is None and plot.width_m is None and plot.radius_m is None
        else None,
        "latitude": plot.latitude,
        "longitude": plot.longitude,
        "crs": CRS.WGS84,
        "habitat": plot.habitat.code if plot.habitat else None,
        "notes": plot.notes,
        "quadrats": [
            {
                "number": q.number,
                "size_m2": q.size_m2,
                "notes": q.notes,
                "records": [
                    {"species_id": r.species_id, **{n: getattr(r, n) for n in RECORD_FIELDS}}
                    for r in q.records
                ],
            }
            for q in plot.quadrats
        ],
    }


def _edited_values(plot: Plot, changes: dict[str, Any]) -> dict[str, Any]:
    """The plot's values with the changes: a new shape or new dimensions drop the old ones."""
    values = _current_values(plot)
    if any(k in changes for k in ("shape", "length_m", "width_m", "radius_m", "area_m2")):
        for name in ("length_m", "width_m", "radius_m", "area_m2"):
            values[name] = None
    values.update(changes)
    return values


def edit_faults(actor: User, plot: Plot, changes: dict[str, Any], faulted: Collection[str]) -> FieldErrors:
    """What the plot's own checks find in an edit whose body the schema refused in part (`faulted`),
    judged on the changes that loaded; nothing for whoever may not edit the plot (they are told that)."""
    if not may_edit(actor, plot):
        return {}
    values = _edited_values(plot, changes)
    faulty = set(faulted)
    for name in ("length_m", "width_m", "radius_m", "area_m2", "shape", "latitude", "longitude"):
        if name in faulty:
            values.pop(name, None)  # the stored value is not what was sent: judge nothing by it
    lone = {"latitude", "longitude"} - set(changes) - faulty
    together = len(lone) == 1 and not faulty & {"latitude", "longitude"}
    if together:
        values.pop("latitude", None)
        values.pop("longitude", None)
    errors, _checked = plot_faults(values, actor, faulty, _kept(plot))
    if together:
        errors.setdefault(lone.pop(), []).append(_("send latitude and longitude together"))
    return errors


def update_plot(*, actor: User, plot: Plot, changes: dict[str, Any]) -> Plot:
    """Edit a plot (its surveyor, until its campaign ends); `quadrats`, when sent, replaces them all.
    A new shape or new dimensions drop the old ones. Raises PermissionDenied, Conflict, InvalidInput."""
    _check_editable(actor, plot)
    if ("latitude" in changes) != ("longitude" in changes):
        raise InvalidInput.field(
            "latitude" if "longitude" in changes else "longitude", _("send latitude and longitude together")
        )
    values = _edited_values(plot, changes)
    checked = check_plot(values, actor, _kept(plot))
    if "quadrats" in changes:
        plot.quadrats = []
        db.session.flush()  # the old quadrats go before the new ones take their numbers
    _apply(plot, values, checked, quadrats="quadrats" in changes)
    db.session.flush()
    return plot


def add_photo(*, actor: User, plot: Plot, data: bytes, filename: str | None) -> tuple[Photo, bool]:
    """Attach a photo to a plot its surveyor (or an admin) may still change. Returns (photo, created)."""
    _check_editable(actor, plot, photos_too=True)
    photo, created = photos.add_photo(
        actor=actor, parent=photos.Parent(plot_id=plot.id), data=data, filename=filename
    )
    if created:
        db.session.expire(plot, ["photos"])
    return photo, created


def filtered(filters: dict[str, Any]) -> sa.Select[tuple[Plot]]:
    """Plots matching the list filters, newest first. Their photos in one more query for the page, not
    one per plot (the quadrats and their records are loaded so already)."""
    stmt = sa.select(Plot).options(sa.orm.selectinload(Plot.photos))
    for name in ("site_id", "campaign_id", "surveyor_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Plot, name) == filters[name])
    return stmt.order_by(Plot.surveyed_at.desc(), Plot.id.desc())


def at_site(site_id: int) -> list[Plot]:
    """A site's plots in time order (its timeline)."""
    return list(
        db.session.scalars(sa.select(Plot).where(Plot.site_id == site_id).order_by(Plot.surveyed_at, Plot.id))
    )


def for_census(
    *,
    organization_ids: frozenset[int] | None,
    date_from: date | None = None,
    date_to: date | None = None,
    campaign_id: int | None = None,
    species_ids: frozenset[int] | None = None,
    township_ids: frozenset[int] | None = None,
) -> Iterator[Plot]:
    """The plots a census covers, in time order: of these organizations (None: the district's), surveyed
    in these local days (both inclusive), of this campaign when one is named, with `species_ids` only
    plots where one of those species was recorded, and with `township_ids` only plots whose site is in
    one of those townships."""
    stmt = sa.select(Plot)
    if organization_ids is not None:
        stmt = stmt.where(Plot.organization_id.in_(sorted(organization_ids)))
    if date_from is not None:
        stmt = stmt.where(Plot.surveyed_at >= day_start(date_from))
    if date_to is not None:
        stmt = stmt.where(Plot.surveyed_at < day_end(date_to))
    if campaign_id is not None:
        stmt = stmt.where(Plot.campaign_id == campaign_id)
    if species_ids is not None:
        stmt = stmt.where(
            sa.exists()
            .where(Quadrat.plot_id == Plot.id, QuadratRecord.quadrat_id == Quadrat.id)
            .where(QuadratRecord.species_id.in_(sorted(species_ids)))
        )
    if township_ids is not None:
        stmt = stmt.where(
            Plot.site_id.in_(sa.select(Site.id).where(Site.township_id.in_(sorted(township_ids))))
        )
    # Plots are tens to hundreds a season, each with a handful of quadrats (loaded in one more query).
    stmt = stmt.options(
        sa.orm.joinedload(Plot.site).joinedload(Site.township),
        sa.orm.selectinload(Plot.organization),
        sa.orm.selectinload(Plot.campaign),
    )
    yield from db.session.scalars(stmt.order_by(Plot.surveyed_at, Plot.id)).unique()
