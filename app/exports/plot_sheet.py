"""The census workbook's 样地调查 sheet: one row per plot and species, with the plot's figures computed
from its quadrats (docs/census.md, 样地调查; the figures: app/surveys/plot_figures.py).

A plot where no species was recorded is one row with empty species columns, so that every plot laid is
on the sheet. A plot's own columns (area, quadrats) repeat on each of its species' rows: the shipped
templates give them no `total` (a SUBTOTAL over them would count a plot once per species), only the
species' counts, whose 合计 under a filter by species is that species' count over the plots shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.exports.rows import Scope, local, mu
from app.surveys import plots
from app.surveys.models import PlotShape
from app.surveys.plot_figures import figures_of

SHAPE_ZH = {
    PlotShape.SQUARE: "正方形",
    PlotShape.RECTANGLE: "长方形",
    PlotShape.CIRCLE: "圆形",
    PlotShape.STRIP: "样带",
}

# The species' part of a row (the rest is the plot's).
_SPECIES_FIELDS = (
    "species_name_zh", "species_name_sci", "quadrats_present", "frequency_pct", "mean_density_per_m2",
    "mean_cover_pct", "mean_height_cm", "total_count",
)  # fmt: skip


def campaign_of(scope: Scope) -> int | None:
    """The campaign an export is for (`campaign_id` among its filters), if any."""
    value = scope.filters.get("campaign_id")
    return int(value) if value is not None else None


def plot_rows(scope: Scope) -> Iterator[dict[str, Any]]:
    """The census's plots (its organizations, its days, its campaign when it names one; with a species
    filter, that species' rows of the plots where it was recorded; with a township filter, the plots of
    those townships), in time order."""
    species_ids = scope.census.species_ids
    for plot in plots.for_census(
        organization_ids=scope.census.organization_ids,
        date_from=scope.date_from,
        date_to=scope.date_to,
        campaign_id=campaign_of(scope),
        species_ids=species_ids,
        township_ids=scope.census.township_ids,
    ):
        figures = figures_of(plot)
        site = plot.site
        base = {
            "plot_id": plot.id,
            "site_code": site.code,
            "township_name": site.township.name_zh if site.township else None,
            "surveyed_at": local(plot.surveyed_at),
            "surveyor": plot.surveyor.display_name,
            "organization": plot.organization.name,
            "campaign": plot.campaign.name if plot.campaign else None,
            "shape": SHAPE_ZH[plot.shape],
            "area_m2": plot.area_m2,
            "area_mu": mu(plot.area_m2),
            "quadrats": figures["quadrats"],
            "quadrat_area_m2": figures["quadrat_area_m2"],
            "habitat": plot.habitat.name_zh if plot.habitat else None,
            "latitude": plot.latitude,
            "longitude": plot.longitude,
            "notes": plot.notes,
        }
        species = [s for s in figures["species"] if species_ids is None or s["species_id"] in species_ids]
        if not species:
            yield {**base, **dict.fromkeys(_SPECIES_FIELDS)}
        for row in species:
            yield {**base, **{name: row[name] for name in _SPECIES_FIELDS}}
