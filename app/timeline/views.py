"""The site page: a site and everything that happened there.

It keeps its place among the site pages (endpoint `sites.detail`, /sites/<id>), declared here on the sites
blueprint because the history reads observations and control, which sit above sites.
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user, login_required

from app import metrics
from app.accounts.organizations import acts_for
from app.control.follow_ups import FOLLOW_UP_LABELS
from app.observations.review import STATUS_LABELS
from app.sites import services as sites
from app.sites.views import SITE_STATUS_LABELS, bp
from app.timeline.services import site_history

__all__ = ["bp"]


@bp.route("/sites/<int:site_id>")
@login_required
def detail(site_id: int) -> str:
    """A site and everything that happened there, newest last (as the census reads it)."""
    site = sites.get_site(site_id)
    history = site_history(site)
    return render_template(
        "sites/detail.html",
        site=site,
        history=history,
        observations={o.id: o for o in history.observations},
        operations={o.id: o for o in history.operations},
        follow_ups={f.id: f for f in history.follow_ups},
        # Its organization's staff, and its bureau's for a unit's site (docs/contract.md §1).
        may_treat=acts_for(current_user, site.organization_id),
        site_labels=SITE_STATUS_LABELS,
        status_labels=STATUS_LABELS,
        follow_up_labels=FOLLOW_UP_LABELS,
        # A record's figures with their units, as the timeline's summary lists them (app/metrics.py).
        figures=metrics.EFFICACY,
        area=metrics.AREA,
        title=site.code,
    )
