"""Survey pages: the plot form on the phone (from a site's page, or a campaign's) and a plot's page
(docs/surveys.md, Plots). The form saves to the phone's outbox and sends to POST /api/v1/plots."""

from __future__ import annotations

from typing import cast

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.api import MAX_ID
from app.clock import local_today
from app.extensions import db
from app.sites import services as sites
from app.surveys import plots
from app.surveys.campaigns import filtered_campaigns, takes_part
from app.surveys.models import Campaign, PlotShape
from app.surveys.plot_figures import figures_of
from app.surveys.schemas.plots import MAX_QUADRATS, MAX_SPECIES_PER_QUADRAT
from app.surveys.views import bp

SHAPE_LABELS = {
    PlotShape.SQUARE: _l("Square"),
    PlotShape.RECTANGLE: _l("Rectangle"),
    PlotShape.CIRCLE: _l("Circle"),
    PlotShape.STRIP: _l("Strip (belt transect)"),
}


def _campaign_arg() -> Campaign | None:
    """?campaign_id= from a campaign's page: chosen in the form when the user takes part in it."""
    campaign_id = request.args.get("campaign_id", type=int)
    if campaign_id is None or not 1 <= campaign_id <= MAX_ID:
        return None
    campaign = db.session.get(Campaign, campaign_id)
    return campaign if campaign is not None and plots.may_survey_for(current_user, campaign) else None


# The running campaigns a plot form offers (the latest first): enough for any bureau's season.
CAMPAIGN_CHOICES = 50


def _running_campaigns() -> list[Campaign]:
    """The campaigns running today that the user takes part in: the form offers them."""
    stmt = filtered_campaigns({"active_on": local_today()}).limit(CAMPAIGN_CHOICES)
    running = cast("list[Campaign]", list(db.session.scalars(stmt).unique()))
    return [c for c in running if takes_part(current_user, c)]


@bp.route("/sites/<int:site_id>/plots/new")
@login_required
def new_plot(site_id: int) -> str:
    """The plot form: size, shape and habitat, then the quadrats one by one with each species' figures."""
    site = sites.get_site(site_id)
    return render_template(
        "surveys/plot_new.html",
        site=site,
        campaign=_campaign_arg(),
        campaigns=_running_campaigns(),
        shapes=[(shape.value, str(label)) for shape, label in SHAPE_LABELS.items()],
        max_quadrats=MAX_QUADRATS,
        max_species=MAX_SPECIES_PER_QUADRAT,
        title=_("Lay a plot"),
    )


@bp.route("/plots/<int:plot_id>")
@login_required
def plot_detail(plot_id: int) -> str:
    """A plot: its size, quadrats, figures per species and photos."""
    plot = plots.get_plot(plot_id)
    return render_template(
        "surveys/plot_detail.html",
        plot=plot,
        figures=figures_of(plot),
        shape_label=SHAPE_LABELS[plot.shape],
        title=_("Plot %(id)s", id=plot.id),
    )
