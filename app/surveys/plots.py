"""Plots (样地) and their quadrats (样方): laying one at a site, editing it, its photos, and the plots a
census covers (docs/surveys.md, Plots). The figures are app/surveys/plot_figures.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app import policy
from app.accounts.models import User
from app.clock import day_end, day_start, local_today
from app.errors import Conflict, FieldErrors, InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.geo.crs import CRS
from app.idempotency import CreateOnce
from app.photos import services as photos
from app.photos.models import Photo
from app.sites.models import Site
from app.surveys.models import Campaign, Plot, PlotShape, Quadrat, QuadratRecord
from app.surveys.plot_checks import RECORD_FIELDS, CheckedPlot, check_plot, kept_of, plot_faults


def _clash(existing: Plot) -> Conflict:
    return Conflict(
        _(
            "A different plot was already sent with this client_uuid (plot %(id)s); "
            "make a new client_uuid for a new plot.",
            id=existing.id,
        ),
        {"client_uuid": [_("already used for plot %(id)s", id=existing.id)]},
    )


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
    once = CreateOnce(Plot, actor.organization_id, args["client_uuid"], args, _clash, sender_id=actor.id)
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
    errors, _checked = plot_faults(values, actor, faulty, kept_of(plot))
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
    checked = check_plot(values, actor, kept_of(plot))
    if "quadrats" in changes:
        plot.quadrats = []
        db.session.flush()  # the old quadrats go before the new ones take their numbers
    _apply(plot, values, checked, quadrats="quadrats" in changes)
    db.session.flush()
    return plot


def add_photo(*, actor: User, plot: Plot, data: bytes, filename: str | None) -> tuple[Photo, bool]:
    """Attach a photo to a plot its surveyor (or an admin) may still change. Returns (photo, created).

    The same bytes again are the photo already attached (created False), even once the campaign has
    ended: a retry after a lost answer."""
    parent = photos.Parent(plot_id=plot.id)
    if policy.may_add_record_photos(actor, plot):
        existing = photos.already_attached(parent, data)
        if existing is not None:
            return existing, False
    _check_editable(actor, plot, photos_too=True)
    photo, created = photos.add_photo(actor=actor, parent=parent, data=data, filename=filename)
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
