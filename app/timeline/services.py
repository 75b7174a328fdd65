"""A site's history: its observations, control operations, follow-ups and plots on one timeline.

Shared by the API (`GET /api/v1/sites/{id}`) and the site page. It reads observations and control, so it sits
above both in the domain order (docs/architecture.md), not in sites.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from flask_babel import gettext as _

from app import metrics
from app.clock import local_zone
from app.control import follow_ups
from app.control import services as control
from app.control.follow_ups import FOLLOW_UP_LABELS
from app.control.models import ControlOperation, FollowUp
from app.observations import services as observations
from app.observations.models import Observation
from app.observations.review import STATUS_LABELS
from app.sites.models import Site
from app.surveys import plots as survey_plots
from app.surveys.models import Plot
from app.surveys.plot_figures import figures_of


@dataclass
class TimelineEntry:
    kind: str
    at: datetime
    id: int
    summary: str


@dataclass
class SiteHistory:
    """A site and what happened there; reads through to the site for its own fields."""

    site: Site
    observations: list[Observation]
    operations: list[ControlOperation] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.site, name)


def _observation_entry(o: Observation) -> TimelineEntry:
    if o.detected:
        figures = [
            f"{metric.phrase} {value:g}"
            for metric in metrics.EFFICACY
            if (value := getattr(o, metric.field)) is not None
        ]
        summary = _("found") + (f" ({', '.join(figures)})" if figures else "")
    else:
        summary = _("not found")
    return TimelineEntry("observation", o.observed_at, o.id, f"{summary}; {STATUS_LABELS[o.status]}")


def plot_summary(plot: Plot) -> str:
    """A plot's figures in one line: its size and quadrats, then each species' frequency, mean density
    and mean cover (docs/surveys.md, Plots)."""
    figures = figures_of(plot)
    parts = [
        _("plot of %(area)g m², %(n)d quadrats", area=round(plot.area_m2, 2), n=figures["quadrats"]),
    ]
    for row in figures["species"]:
        numbers = [_("frequency %(pct)g%%", pct=round(row["frequency_pct"], 1))]
        if row["mean_density_per_m2"] is not None:
            numbers.append(_("density %(value)g/m²", value=round(row["mean_density_per_m2"], 2)))
        if row["mean_cover_pct"] is not None:
            numbers.append(_("cover %(value)g%%", value=round(row["mean_cover_pct"], 1)))
        parts.append(f"{row['species_name_zh']} {', '.join(numbers)}")
    return "; ".join(parts)


def site_history(site: Site) -> SiteHistory:
    records = observations.at_site(site.id)
    operations = control.operations_at_site(site.id)
    scheduled = follow_ups.follow_ups_at_site(site.id)
    entries = [_observation_entry(o) for o in records]
    for operation in operations:
        entries.append(
            TimelineEntry("control_operation", operation.performed_at, operation.id, operation.method.name_zh)
        )
    for follow_up in scheduled:
        when = follow_up.completed_at or datetime.combine(follow_up.due_on, time(9), tzinfo=local_zone())
        summary = f"{follow_up.due_on.isoformat()} {FOLLOW_UP_LABELS[follow_up.status]}"
        entries.append(TimelineEntry("follow_up", when, follow_up.id, summary))
    laid = survey_plots.at_site(site.id)
    entries.extend(TimelineEntry("plot", plot.surveyed_at, plot.id, plot_summary(plot)) for plot in laid)
    timeline = sorted(entries, key=lambda e: (e.at, e.kind, e.id))
    return SiteHistory(
        site=site,
        observations=records,
        operations=operations,
        follow_ups=scheduled,
        plots=laid,
        timeline=timeline,
    )
