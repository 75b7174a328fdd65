"""Pages for sites: one site's history, and the map of records and sites."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.accounts.organizations import acts_for
from app.control.services import FOLLOW_UP_LABELS
from app.observations.services import STATUS_LABELS
from app.sites import services
from app.sites.history import site_history
from app.sites.models import SiteStatus

bp = Blueprint("sites", __name__)

SITE_STATUS_LABELS = {
    SiteStatus.ACTIVE: _l("active"),
    SiteStatus.UNDER_CONTROL: _l("under control"),
    SiteStatus.CLEARED: _l("cleared"),
    SiteStatus.REEMERGED: _l("re-emerged"),
}


@bp.route("/sites/<int:site_id>")
@login_required
def detail(site_id: int) -> str:
    """A site and everything that happened there, newest last (as the census reads it)."""
    site = services.get_site(site_id)
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
        title=site.code,
    )


@bp.route("/map", endpoint="map")
@login_required
def map_page() -> str:
    """Records and sites on a map (Leaflet), filtered by species and status; data from the signed-in API."""
    return render_template("sites/map.html", site_labels=SITE_STATUS_LABELS, title=_("Map"))
